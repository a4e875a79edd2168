//! What the read cache counts: hits and misses (striped per thread, and only once someone asked
//! for them), evictions (always).
//!
//! The hit and miss counters are striped per thread, so that threads reading at once do not
//! contend on one cache line, and they only run once someone has asked for the statistics
//! (`CacheLayer::stats`, `ObjectStore::cache_stats`, or a monitor that exports them): a cache
//! hit costs about 100 ns, and the count would add a few percent to every hit of a store nobody
//! watches.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// What the read cache has done and holds; see [`super::CacheLayer::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CacheStats {
    /// Reads answered with cached bytes (with or without a revalidation).
    pub hits: u64,
    /// Reads that had to fetch the value from the backend.
    pub misses: u64,
    /// Entries dropped to keep the cache within its capacity.
    pub evictions: u64,
    /// The bytes the cache holds (values, keys and a fixed overhead per entry).
    pub bytes: u64,
    /// The number of cached values.
    pub entries: u64,
}

/// Slots of a [`StripedCounter`]: enough that a few busy threads rarely share one.
const COUNTER_SLOTS: usize = 16;

/// A counter split over cache-line-sized slots, one picked per thread: an increment is one
/// uncontended relaxed atomic add; a read sums the slots.
#[derive(Debug, Default)]
pub(super) struct StripedCounter {
    slots: [Slot; COUNTER_SLOTS],
}

#[derive(Debug, Default)]
#[repr(align(128))]
struct Slot(AtomicU64);

impl StripedCounter {
    #[inline]
    pub(super) fn inc(&self) {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        thread_local! {
            // Const-initialised and without a destructor: reading it is a plain TLS load.
            static SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
        }
        let i = SLOT
            .try_with(|slot| {
                let mut i = slot.get();
                if i == usize::MAX {
                    i = NEXT.fetch_add(1, Ordering::Relaxed) % COUNTER_SLOTS;
                    slot.set(i);
                }
                i
            })
            .unwrap_or(0);
        self.slots[i].0.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn get(&self) -> u64 {
        self.slots.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

/// The cache's counters.
#[derive(Debug, Default)]
pub(super) struct Counters {
    /// Whether hits and misses are counted: set by the first `CacheLayer::stats`.
    pub(super) counting: AtomicBool,
    pub(super) hits: StripedCounter,
    pub(super) misses: StripedCounter,
    pub(super) evictions: AtomicU64,
}

impl Counters {
    #[inline]
    pub(super) fn hit(&self) {
        if self.counting.load(Ordering::Relaxed) {
            self.hits.inc();
        }
    }

    #[inline]
    pub(super) fn miss(&self) {
        if self.counting.load(Ordering::Relaxed) {
            self.misses.inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn striped_counters_add_up_across_threads() {
        let counter = Arc::new(StripedCounter::default());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let counter = counter.clone();
                std::thread::spawn(move || (0..10_000).for_each(|_| counter.inc()))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(counter.get(), 80_000);
    }
}
