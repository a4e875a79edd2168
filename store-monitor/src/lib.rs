//! # store-monitor: statistics, growth, health actions and Prometheus metrics
//!
//! A [`Monitor`] watches a [`store_manager::Manager`]: what the store holds (in total and by
//! category; the totals count every object of the store the manager works in: its categories,
//! the archive and what lies outside them, "unmanaged", each its own row; a manager given a
//! project view is watched in that view, and the monitor names it), how fast it grows (a least-squares fit over the last 7 days of a usage history the
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
//! ## What a check and a scrape cost
//!
//! A check (and [`Monitor::get_statistics`]) is one scan of the store through the manager: one
//! listing (on S3 also one HEAD of the manager's change marker) plus the headers of the objects
//! that changed since the last scan; the usage history is read only when another process
//! changed it. A new process starts from the manager's index snapshot, so its first check reads
//! only what changed since the snapshot was written. `GET /metrics` ([`Monitor::scrape`])
//! serves the figures of the last check, or of a scan at most 30 s old
//! ([`Monitor::set_scrape_max_age`]); older, it scans once for every scrape waiting, and at most
//! [`MAX_WAITING_SCRAPES`] wait (the others get 503, retry). A failed scrape answers 500 with a
//! fixed text; the reason goes to the log (`tracing`), never to the unauthenticated client.
//!
//! ## Prometheus
//!
//! [`Monitor::registry`] holds gauges for usage and limits (total, per category with a series
//! for every built-in category even when empty, unmanaged objects and the archive; label
//! `category` only: never a key), the watched view (`objstore_monitor_info{view}`), the usage
//! ratio, health level, thresholds, growth and time
//! until full (`objstore_time_until_full_seconds`, `+Inf` when not growing), and cleanup counters. [`Monitor::serve_metrics`] serves
//! them on `GET /metrics`, with the read cache's hits, misses, evictions and size
//! ([`cache_metrics`]) when the store has a cache. Operation counters and latency histograms
//! come from store-metrics' [`OperationMetrics`](store_metrics::OperationMetrics), a layer on
//! the store's Backend stack (it needs no manager, so a plain store can use it alone); build the
//! store with it and give its registry to [`Monitor::with_registry`] to serve everything on one
//! endpoint, or let [`Monitor::with_operation_metrics`] put it on the manager's store (what
//! `objstore monitor` does: its operations are then the monitor's own).

pub mod error;
pub mod history;
mod metrics;
mod monitor;
pub mod report;
mod scrape;
mod serve;
pub mod stats;
pub mod suggest;

pub use error::{Error, Result};
pub use monitor::{CheckOutcome, Monitor};
/// The `prometheus` crate this one registers with (use it for registries, to match versions).
pub use prometheus;
pub use scrape::{DEFAULT_SCRAPE_MAX_AGE, MAX_WAITING_SCRAPES, ScrapeError};
pub use stats::{CategoryStats, Health, Statistics};
pub use store_metrics::cache_metrics;
/// The operation metrics layer, from store-metrics (kept here under its old name).
pub use store_metrics::operation_metrics as layer;
pub use suggest::{Action, Suggestions};
