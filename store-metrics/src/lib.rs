//! # store-metrics: what a store does, as Prometheus metrics
//!
//! Two collectors for any [`store_core::ObjectStore`], plain or managed, that need nothing but
//! store-core and the `prometheus` crate (no manager, no HTTP server):
//!
//! - [`operation_metrics`]: [`OperationMetrics`] makes a layer for the store's Backend stack
//!   that counts and times every operation (`objstore_operations_total`,
//!   `objstore_operation_duration_seconds`), labelled by operation and result only, never by key.
//! - [`cache_metrics`]: [`CacheMetrics`] exports the read cache's hits, misses, evictions and
//!   size, read from the store at each scrape.
//!
//! ```
//! use store_core::ObjectStore;
//! use store_metrics::{CacheMetrics, OperationMetrics};
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let registry = prometheus::Registry::new();
//! let operations = OperationMetrics::new(&registry).unwrap();
//! let store = ObjectStore::builder("memory://").layer(operations.layer()).build().await?;
//! registry.register(Box::new(CacheMetrics::new(store.clone()).unwrap())).unwrap();
//! store.save("prices/spy", "[]").await?;
//! let text = prometheus::TextEncoder::new().encode_to_string(&registry.gather()).unwrap();
//! assert!(text.contains(r#"objstore_operations_total{operation="put",result="ok"} 1"#));
//! assert!(text.contains("objstore_cache_entries 1"));
//! # Ok::<(), store_core::Error>(()) }).unwrap();
//! ```
//!
//! Serve the registry from your own HTTP endpoint, or hand it to store-monitor's
//! `Monitor::with_registry`, which adds the quota and health metrics of a managed store and
//! serves them all on one `/metrics`.

pub mod cache_metrics;
pub mod operation_metrics;

pub use cache_metrics::CacheMetrics;
pub use operation_metrics::{MetricsLayer, OperationMetrics};
/// The `prometheus` crate this one registers with (use it for registries, to match versions).
pub use prometheus;
