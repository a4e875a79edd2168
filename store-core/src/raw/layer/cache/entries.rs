//! The cached entries: a concurrent map bounded in bytes, with eviction, on `quick_cache`.
//!
//! Why not moka (which this layer used first): a hit is the whole cost of a `Trust` read and half
//! of a `Revalidate` one, and a moka hit records the access on a channel and, every so often,
//! runs its housekeeping inline on the reading thread; a profile of 10,000 keys read at random
//! put most of the hit's time there. A hit here takes the read lock of one shard, finds the key,
//! marks it referenced and clones an `Arc`; eviction (S3-FIFO-like: a small queue for new
//! entries, a main one, ghost keys) runs on the inserting thread, under the shard's write lock.
//!
//! Invariants:
//! - The bytes held ([`Entries::weighted_size`], each entry weighing its key, its value and a
//!   fixed 96 bytes) never exceed the capacity once an insert returns.
//! - An insert either holds the new value or holds nothing for the key afterwards: a value too
//!   heavy for a shard is not admitted, and the key's older value is removed with it. Only
//!   entries dropped to make room count as evictions, never values replaced or removed by the
//!   layer.
//! - Evicted values are dropped after the shard's lock is released, so freeing a large value
//!   never holds up readers of the shard.
//! - The shards are sized so that any value the layer may cache (`max_entry_bytes`, under the
//!   longest key) fits a shard, as long as it is at most 97 % of the whole capacity; a heavier
//!   one is not admitted (see above), so such a setting caches less, never wrongly.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use quick_cache::{Lifecycle, OptionsBuilder, Weighter};

use super::Cached;
use super::counters::Counters;
use crate::key::{Key, KeyBuf, MAX_KEY_BYTES};
use crate::options::CacheOptions;

/// What an entry costs beyond its key and value: the map's slot, the `Arc`, the metadata.
const ENTRY_OVERHEAD: u64 = 96;

/// The share of a shard that `quick_cache` lets one entry take (its "hot" allocation).
const SHARD_SHARE_FOR_ONE_ENTRY: f64 = 0.97;

/// The most shards: a few per core is enough for readers on different keys never to wait.
const MAX_SHARDS: usize = 64;

/// The average entry weight assumed when sizing the map (and its ghost keys) up front.
const TYPICAL_ENTRY_BYTES: u64 = 4096;

type Map = quick_cache::sync::Cache<KeyBuf, Arc<Cached>, EntryWeight, foldhash::fast::RandomState, CountEvictions>;

/// The cached entries; see the module documentation.
#[derive(Debug)]
pub(super) struct Entries {
    map: Map,
    /// The heaviest entry a shard admits.
    heaviest: u64,
}

impl Entries {
    pub(super) fn new(options: &CacheOptions, counters: Arc<Counters>) -> Entries {
        let capacity = options.capacity_bytes.max(1);
        let largest_entry = options.max_entry_bytes.saturating_add(ENTRY_OVERHEAD + MAX_KEY_BYTES as u64);
        let shards = shard_count(capacity, largest_entry);
        let estimated_items = usize::try_from((capacity / TYPICAL_ENTRY_BYTES).max(1)).unwrap_or(usize::MAX);
        #[allow(clippy::expect_used)] // `build` refuses only a capacity or an item estimate left unset.
        let built = OptionsBuilder::new()
            .shards(shards)
            .weight_capacity(capacity)
            .estimated_items_capacity(estimated_items)
            .build()
            .expect("the capacity and the item estimate are set");
        // A seeded fast hash: a hit is mostly hashing the key, and SipHash costs more than the rest
        // of it; the random seed keeps crafted keys from colliding.
        let map =
            Map::with_options(built, EntryWeight, foldhash::fast::RandomState::default(), CountEvictions(counters));
        let per_shard = capacity.div_ceil(map.num_shards() as u64);
        let heaviest = (per_shard as f64 * SHARD_SHARE_FOR_ONE_ENTRY) as u64;
        Entries { map, heaviest }
    }

    #[inline]
    pub(super) fn get(&self, key: &Key) -> Option<Arc<Cached>> {
        self.map.get(key)
    }

    pub(super) fn contains(&self, key: &Key) -> bool {
        self.map.contains_key(key)
    }

    /// Holds `value` for `key`, or, when it is too heavy for a shard, nothing for `key`.
    pub(super) fn insert(&self, key: KeyBuf, value: Arc<Cached>) {
        if EntryWeight.weight(&key, &value) > self.heaviest {
            self.map.remove(&*key);
        } else {
            self.map.insert(key, value);
        }
    }

    pub(super) fn invalidate(&self, key: &Key) {
        self.map.remove(key);
    }

    pub(super) fn clear(&self) {
        self.map.clear();
    }

    pub(super) fn weighted_size(&self) -> u64 {
        self.map.weight()
    }

    pub(super) fn entry_count(&self) -> u64 {
        self.map.len() as u64
    }
}

/// As many shards as cores allow (four per core, a power of two), but few enough that a shard
/// still holds the largest entry.
fn shard_count(capacity: u64, largest_entry: u64) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let wanted = (cores * 4).clamp(1, MAX_SHARDS);
    let fitting = (capacity as f64 * SHARD_SHARE_FOR_ONE_ENTRY / largest_entry.max(1) as f64) as usize;
    let mut shards = wanted.next_power_of_two();
    while shards > 1 && shards > fitting {
        shards /= 2;
    }
    shards
}

/// An entry weighs its key, its value and a fixed overhead.
#[derive(Debug, Clone, Copy)]
struct EntryWeight;

impl Weighter<KeyBuf, Arc<Cached>> for EntryWeight {
    fn weight(&self, key: &KeyBuf, value: &Arc<Cached>) -> u64 {
        (key.as_str().len() + value.bytes.len()) as u64 + ENTRY_OVERHEAD
    }
}

/// Counts entries dropped to make room, and drops them once the shard's lock is released.
#[derive(Debug, Clone)]
struct CountEvictions(Arc<Counters>);

impl Lifecycle<KeyBuf, Arc<Cached>> for CountEvictions {
    /// The entries evicted by one call, dropped when the call is done with the shard.
    type RequestState = Vec<Arc<Cached>>;

    fn on_evict(&self, evicted: &mut Self::RequestState, _key: KeyBuf, value: Arc<Cached>) {
        self.0.evictions.fetch_add(1, Ordering::Relaxed);
        evicted.push(value);
    }
}
