//! # store-monitor: statistics, growth, health actions and Prometheus metrics
//!
//! A [`Monitor`] watches a [`store_manager::Manager`]: what the store holds (in total and by
//! category), how fast it grows (a least-squares fit over the last 7 days of a usage history the
//! monitor keeps in the store itself, `_monitor/usage_history.json`, bounded to 360 samples and
//! 90 days), how close it is to full, and what to do about it.
//!
//! ```
//! use store_manager::{Category, Manager, SaveOptions, Settings};
//! use store_monitor::{Health, Monitor};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let manager = Manager::new(store_core::open("memory://").await?, Settings::default());
//! manager.save("trading_state_2025-01-15", &[1, 2, 3], SaveOptions::new(Category::TradingState)).await?;
//! let monitor = Monitor::new(manager);
//! let outcome = monitor.check().await?;          // sample, judge, act
//! assert_eq!(outcome.health, Health::Healthy);
//! assert!(monitor.report().await?.contains("OBJECT STORE STATISTICS"));
//! assert!(monitor.metrics_text().await?.contains("objstore_storage_used_bytes"));
//! # Ok::<(), store_monitor::Error>(()) }).unwrap();
//! ```
//!
//! ## Health and actions
//!
//! Health uses `usage_monitoring` from the settings (warning at 80 %, critical at 90 % by
//! default) on bytes and on files, whichever is worse; 100 % is full. [`Monitor::check`] acts:
//! a warning is logged with a suggestion; at critical it runs `cleanup_expired` and reports what
//! it freed; when full (after that cleanup) it makes the manager refuse saves
//! (`store_manager::Error::SavesRefused`) until a later check finds room, while reads and deletes
//! keep working. Every action is logged with `tracing`.
//!
//! ## Prometheus
//!
//! [`Monitor::registry`] holds gauges for usage and limits (total and per category, label
//! `category` only: never a key), the usage ratio, health level, thresholds, growth and time
//! until full (`objstore_time_until_full_seconds`, `+Inf` when not growing), and cleanup counters. [`Monitor::serve_metrics`] serves
//! them on `GET /metrics`, with the read cache's hits, misses, evictions and size
//! ([`cache_metrics`]) when the store has a cache. Operation counters and latency histograms
//! come from store-metrics' [`OperationMetrics`](store_metrics::OperationMetrics), a layer on
//! the store's Backend stack (it needs no manager, so a plain store can use it alone); build the
//! store with it and give its registry to [`Monitor::with_registry`] to serve everything on one
//! endpoint.

pub mod error;
pub mod history;
mod metrics;
mod monitor;
pub mod report;
mod serve;
pub mod stats;
pub mod suggest;

pub use error::{Error, Result};
pub use monitor::{CheckOutcome, Monitor};
/// The `prometheus` crate this one registers with (use it for registries, to match versions).
pub use prometheus;
pub use stats::{CategoryStats, Health, Statistics};
pub use store_metrics::cache_metrics;
/// The operation metrics layer, from store-metrics (kept here under its old name).
pub use store_metrics::operation_metrics as layer;
pub use suggest::{Action, Suggestions};
