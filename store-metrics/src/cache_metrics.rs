//! The read cache's counters as Prometheus metrics, read from
//! [`ObjectStore::cache_stats`] each time the registry is gathered (a scrape), so they are never
//! stale and cost nothing between scrapes.
//!
//! - `objstore_cache_hits_total`, `objstore_cache_misses_total`, `objstore_cache_evictions_total`
//!   (counters);
//! - `objstore_cache_bytes`, `objstore_cache_entries` (gauges: what the cache holds now).
//!
//! A store without a cache exports none of them.

use std::sync::Mutex;

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{IntCounter, IntGauge};
use store_core::ObjectStore;

/// A collector over one store's cache statistics.
pub struct CacheMetrics {
    store: ObjectStore,
    hits: IntCounter,
    misses: IntCounter,
    evictions: IntCounter,
    bytes: IntGauge,
    entries: IntGauge,
    /// Serialises collections, so two scrapes at once add each increment once.
    collecting: Mutex<()>,
}

impl CacheMetrics {
    /// The collector for `store`'s cache (register it with a registry).
    pub fn new(store: ObjectStore) -> prometheus::Result<CacheMetrics> {
        Ok(CacheMetrics {
            store,
            hits: IntCounter::new("objstore_cache_hits_total", "Reads answered from the read cache.")?,
            misses: IntCounter::new(
                "objstore_cache_misses_total",
                "Reads the read cache had to fetch from the backend (absent or stale).",
            )?,
            evictions: IntCounter::new(
                "objstore_cache_evictions_total",
                "Entries the read cache dropped to stay within its capacity.",
            )?,
            bytes: IntGauge::new("objstore_cache_bytes", "Bytes the read cache holds (values, keys, overhead).")?,
            entries: IntGauge::new("objstore_cache_entries", "Values the read cache holds.")?,
            collecting: Mutex::new(()),
        })
    }

    fn parts(&self) -> [&dyn Collector; 5] {
        [&self.hits, &self.misses, &self.evictions, &self.bytes, &self.entries]
    }
}

/// Raises `counter` to `total` (the cache's counts only grow).
fn catch_up(counter: &IntCounter, total: u64) {
    counter.inc_by(total.saturating_sub(counter.get()));
}

impl Collector for CacheMetrics {
    fn desc(&self) -> Vec<&Desc> {
        self.parts().into_iter().flat_map(|c| c.desc()).collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let Some(stats) = self.store.cache_stats() else {
            return Vec::new();
        };
        let _one_at_a_time = self.collecting.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        catch_up(&self.hits, stats.hits);
        catch_up(&self.misses, stats.misses);
        catch_up(&self.evictions, stats.evictions);
        self.bytes.set(i64::try_from(stats.bytes).unwrap_or(i64::MAX));
        self.entries.set(i64::try_from(stats.entries).unwrap_or(i64::MAX));
        self.parts().into_iter().flat_map(|c| c.collect()).collect()
    }
}
