//! The read cache: a moka cache bounded in bytes, in front of any backend.
//!
//! Values are shared as `Bytes`, so nobody can change what the cache holds. What a cached value
//! is worth depends on [`CachePolicy`]: `Revalidate` asks the backend whether the cached version
//! is still current (a conditional get: a stat on disk, a 304 on S3) before serving it; `Trust`
//! serves it as is; `Ttl` trusts it for a while after each check.
//!
//! A read that raced a write must not put the older value back into the cache. Writes bump a
//! generation counter of the key's stripe; a read only fills the cache if the generation it saw
//! before asking the backend is still the current one.
//!
//! The layer counts what it does ([`CacheStats`], from [`CacheLayer::stats`]): a hit is a read
//! answered with cached bytes (by `get_ready`, or by `get`, including after a revalidation that
//! found the cached version current); a miss is a `get` that had to read the value from the
//! backend (nothing cached, or the cached version was stale). `head` and `get_ready` answering
//! `None` count neither (the facade follows a `None` with a `get`, which counts). Evictions are
//! entries dropped to stay within the capacity, not values replaced or invalidated by writes.
//! The hit and miss counters are striped per thread, so that threads reading at once do not
//! contend on one cache line, and they only run once someone has asked for the statistics
//! ([`CacheLayer::stats`], `ObjectStore::cache_stats`, or a monitor that exports them): a
//! cache hit costs about 100 ns, and the count would add a few percent to every hit of a store
//! nobody watches. Hits and misses are therefore counted from the first call on; evictions,
//! bytes and entries are always exact.

use std::cell::Cell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

use crate::error::{Error, Result};
use crate::key::{Key, KeyBuf};
use crate::options::{CacheOptions, CachePolicy};
use crate::raw::backend::{
    Backend, ByteRange, ByteStream, Capabilities, GetOptions, GetResult, Object, ObjectMeta, ObjectStream, PutMode,
    RangeRead, StoreLock, Usage, Version, chunked, resolve_range,
};
use crate::raw::ledger::UsageLedger;

const STRIPES: usize = 64;

/// What the read cache has done and holds; see [`CacheLayer::stats`].
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
struct StripedCounter {
    slots: [Slot; COUNTER_SLOTS],
}

#[derive(Debug, Default)]
#[repr(align(128))]
struct Slot(AtomicU64);

impl StripedCounter {
    #[inline]
    fn inc(&self) {
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

    fn get(&self) -> u64 {
        self.slots.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

#[derive(Debug, Default)]
struct Counters {
    /// Whether hits and misses are counted: set by the first [`CacheLayer::stats`].
    counting: AtomicBool,
    hits: StripedCounter,
    misses: StripedCounter,
    evictions: AtomicU64,
}

impl Counters {
    #[inline]
    fn hit(&self) {
        if self.counting.load(Ordering::Relaxed) {
            self.hits.inc();
        }
    }

    #[inline]
    fn miss(&self) {
        if self.counting.load(Ordering::Relaxed) {
            self.misses.inc();
        }
    }
}

/// A [`Backend`] that caches values read from or written to the one beneath it.
#[derive(Debug)]
pub struct CacheLayer {
    inner: Arc<dyn Backend>,
    cache: moka::sync::Cache<KeyBuf, Arc<Cached>, foldhash::fast::RandomState>,
    options: CacheOptions,
    /// Write generation of each stripe of keys; see the module documentation.
    generations: Box<[Mutex<u64>]>,
    epoch: Instant,
    counters: Arc<Counters>,
}

#[derive(Debug)]
struct Cached {
    bytes: Bytes,
    meta: ObjectMeta,
    /// When the backend last confirmed this version, in nanoseconds since `CacheLayer::epoch`.
    checked_at: AtomicU64,
}

impl CacheLayer {
    /// Wraps `inner` with a cache configured by `options`.
    pub fn new(inner: Arc<dyn Backend>, options: CacheOptions) -> CacheLayer {
        let counters = Arc::new(Counters::default());
        let on_evict = counters.clone();
        let cache = moka::sync::Cache::builder()
            .max_capacity(options.capacity_bytes)
            .weigher(|k: &KeyBuf, v: &Arc<Cached>| {
                u32::try_from(k.as_str().len() + v.bytes.len() + 96).unwrap_or(u32::MAX)
            })
            // Called when moka removes an entry (during its housekeeping, not on the read path).
            .eviction_listener(move |_key, _value, cause: moka::notification::RemovalCause| {
                if cause.was_evicted() {
                    on_evict.evictions.fetch_add(1, Ordering::Relaxed);
                }
            })
            // A seeded fast hash: a cache hit is mostly hashing the key, and SipHash costs more
            // than the rest of our hit path; the random seed keeps crafted keys from colliding.
            .build_with_hasher(foldhash::fast::RandomState::default());
        CacheLayer {
            inner,
            cache,
            options,
            generations: (0..STRIPES).map(|_| Mutex::new(0)).collect(),
            epoch: Instant::now(),
            counters,
        }
    }

    /// What the cache has done (hits and misses since the first call of `stats`, evictions since
    /// it was made) and what it holds now (bytes, entries). The first call turns the hit and
    /// miss counters on (see the module documentation). Settles moka's pending housekeeping
    /// first, so the figures are current; meant for monitoring, not for a hot loop.
    pub fn stats(&self) -> CacheStats {
        self.counters.counting.store(true, Ordering::Relaxed);
        self.cache.run_pending_tasks();
        CacheStats {
            hits: self.counters.hits.get(),
            misses: self.counters.misses.get(),
            evictions: self.counters.evictions.load(Ordering::Relaxed),
            bytes: self.cache.weighted_size(),
            entries: self.cache.entry_count(),
        }
    }

    /// Drops every cached value.
    pub fn clear(&self) {
        self.cache.invalidate_all();
    }

    /// Drops the cached value of one key.
    pub fn forget(&self, key: &Key) {
        self.written(key, None);
    }

    /// The number of cached values.
    pub fn entry_count(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }

    /// The bytes the cache holds (values, keys and a fixed overhead per entry).
    pub fn weighted_size(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.weighted_size()
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn stripe(&self, key: &Key) -> MutexGuard<'_, u64> {
        let i = (xxhash_rust::xxh3::xxh3_64(key.as_str().as_bytes()) % STRIPES as u64) as usize;
        // The guarded value is a counter; a poisoned lock still holds a usable one.
        self.generations[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True when `entry` may be served without asking the backend.
    fn is_fresh(&self, entry: &Cached) -> bool {
        match self.options.policy {
            CachePolicy::Trust => true,
            CachePolicy::Revalidate => false,
            CachePolicy::Ttl(ttl) => {
                let age = self.now().saturating_sub(entry.checked_at.load(Ordering::Relaxed));
                u128::from(age) < ttl.as_nanos()
            }
        }
    }

    fn cacheable(&self, len: usize) -> bool {
        len as u64 <= self.options.max_entry_bytes
    }

    fn entry(&self, object: &Object) -> Arc<Cached> {
        Arc::new(Cached {
            bytes: object.bytes.clone(),
            meta: object.meta.clone(),
            checked_at: AtomicU64::new(self.now()),
        })
    }

    /// Fills the cache after a read, unless a write to the key's stripe happened since
    /// `generation` was taken.
    fn fill(&self, key: &Key, generation: u64, object: &Object) {
        if !self.cacheable(object.bytes.len()) {
            return;
        }
        let current = self.stripe(key);
        if *current == generation {
            self.cache.insert(KeyBuf::from(key), self.entry(object));
        }
    }

    /// Records a write (or a delete, `object == None`) and what the cache should now hold.
    fn written(&self, key: &Key, object: Option<&Object>) {
        let mut generation = self.stripe(key);
        *generation += 1;
        match object {
            Some(o) if self.cacheable(o.bytes.len()) => self.cache.insert(KeyBuf::from(key), self.entry(o)),
            _ => self.cache.invalidate(key),
        }
    }

    /// The cached entry of `key` when it may serve a read now: fresh by the policy, or (under
    /// `Revalidate`, or a `Ttl` that ran out) confirmed current by one `head` of the backend (a
    /// stat on disk, a HEAD on S3). Used by ranged and streamed reads, which never fill the cache.
    async fn servable(&self, key: &Key) -> Result<Option<Arc<Cached>>> {
        let Some(cached) = self.cache.get(key) else { return Ok(None) };
        if self.is_fresh(&cached) {
            return Ok(Some(cached));
        }
        match self.inner.head(key).await {
            Ok(meta) if meta.version == cached.meta.version => {
                cached.checked_at.store(self.now(), Ordering::Relaxed);
                Ok(Some(cached))
            }
            Ok(_) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Checks a cached entry against a read's `if_match`.
    fn matches(key: &Key, cached: &Cached, if_match: Option<&Version>) -> Result<()> {
        match if_match {
            Some(expected) if *expected != cached.meta.version => {
                Err(Error::Precondition { key: key.to_string(), expected: expected.to_string() })
            }
            _ => Ok(()),
        }
    }

    fn answer(cached: &Cached, opts: &GetOptions) -> GetResult {
        if opts.if_none_match.as_ref() == Some(&cached.meta.version) {
            GetResult::NotModified
        } else {
            GetResult::Found(Object { bytes: cached.bytes.clone(), meta: cached.meta.clone() })
        }
    }
}

#[async_trait]
impl Backend for CacheLayer {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn put(&self, key: &Key, value: Bytes, mode: &PutMode) -> Result<ObjectMeta> {
        match self.inner.put(key, value.clone(), mode).await {
            Ok(meta) => {
                self.written(key, Some(&Object { bytes: value, meta: meta.clone() }));
                Ok(meta)
            }
            Err(e) => {
                // A refused conditional put means our copy may be stale; any other failure
                // leaves the stored value unknown. Either way, forget it.
                self.written(key, None);
                Err(e)
            }
        }
    }

    async fn put_stream(&self, key: &Key, body: ByteStream, size: Option<u64>, mode: &PutMode) -> Result<ObjectMeta> {
        // The value streams past without being held, so the cache only forgets the key (after
        // the put, whatever its outcome: the stored value is new or unknown).
        let result = self.inner.put_stream(key, body, size, mode).await;
        self.written(key, None);
        result
    }

    async fn get(&self, key: &Key, opts: &GetOptions) -> Result<GetResult> {
        let cached = self.cache.get(key);
        if let Some(cached) = &cached {
            if self.is_fresh(cached) {
                self.counters.hit();
                return Ok(Self::answer(cached, opts));
            }
        }
        let generation = *self.stripe(key);
        let Some(cached) = cached else {
            self.counters.miss();
            let result = self.inner.get(key, opts).await?;
            if let GetResult::Found(object) = &result {
                self.fill(key, generation, object);
            }
            return Ok(result);
        };
        let revalidate = GetOptions { if_none_match: Some(cached.meta.version.clone()) };
        match self.inner.get(key, &revalidate).await {
            Ok(GetResult::NotModified) => {
                self.counters.hit();
                cached.checked_at.store(self.now(), Ordering::Relaxed);
                Ok(Self::answer(&cached, opts))
            }
            Ok(GetResult::Found(object)) => {
                self.counters.miss();
                self.fill(key, generation, &object);
                if opts.if_none_match.as_ref() == Some(&object.meta.version) {
                    Ok(GetResult::NotModified)
                } else {
                    Ok(GetResult::Found(object))
                }
            }
            Err(e) => {
                self.counters.miss();
                if matches!(e, Error::NotFound { .. }) {
                    let current = self.stripe(key);
                    if *current == generation {
                        self.cache.invalidate(key);
                    }
                }
                Err(e)
            }
        }
    }

    async fn get_range(&self, key: &Key, range: &ByteRange, if_match: Option<&Version>) -> Result<RangeRead> {
        // A range of a cached value costs no I/O (beyond a revalidation); a range read from the
        // backend is never cached, since the cache holds whole values only.
        if let Some(cached) = self.servable(key).await? {
            Self::matches(key, &cached, if_match)?;
            self.counters.hit();
            let range = resolve_range(key, range, cached.meta.size)?;
            let bytes = cached.bytes.slice(range.start as usize..range.end as usize);
            return Ok(RangeRead { bytes, range, meta: cached.meta.clone() });
        }
        self.counters.miss();
        self.inner.get_range(key, range, if_match).await
    }

    async fn get_stream(
        &self,
        key: &Key,
        range: Option<&ByteRange>,
        if_match: Option<&Version>,
    ) -> Result<ObjectStream> {
        if let Some(cached) = self.servable(key).await? {
            Self::matches(key, &cached, if_match)?;
            self.counters.hit();
            let range = match range {
                Some(range) => resolve_range(key, range, cached.meta.size)?,
                None => 0..cached.meta.size,
            };
            let bytes = cached.bytes.slice(range.start as usize..range.end as usize);
            return Ok(ObjectStream { meta: cached.meta.clone(), range, body: chunked(bytes, 1 << 20) });
        }
        self.counters.miss();
        self.inner.get_stream(key, range, if_match).await
    }

    fn get_ready(&self, key: &Key) -> Option<Bytes> {
        match self.cache.get(key) {
            Some(cached) if self.is_fresh(&cached) => {
                self.counters.hit();
                Some(cached.bytes.clone())
            }
            // Not answerable from here. (A backend that answers at once is asked through get(),
            // which fills the cache with the version it needs.)
            _ => None,
        }
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        if let Some(cached) = self.cache.get(key) {
            if self.is_fresh(&cached) {
                return Ok(cached.meta.clone());
            }
        }
        self.inner.head(key).await
    }

    async fn delete(&self, key: &Key, if_match: Option<&Version>) -> Result<()> {
        let result = self.inner.delete(key, if_match).await;
        self.written(key, None);
        result
    }

    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_keys(&self, prefix: &str) -> BoxStream<'static, Result<KeyBuf>> {
        self.inner.list_keys(prefix)
    }

    async fn usage(&self) -> Result<Usage> {
        self.inner.usage().await
    }

    async fn local_path(&self, key: &Key, create_parents: bool) -> Result<Option<PathBuf>> {
        self.inner.local_path(key, create_parents).await
    }

    fn usage_ledger(&self) -> Option<Arc<dyn UsageLedger>> {
        self.inner.usage_ledger()
    }

    async fn lock_store(&self) -> Result<Option<StoreLock>> {
        self.inner.lock_store().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::memory::MemoryBackend;

    fn layer(capacity_bytes: u64, max_entry_bytes: u64, policy: CachePolicy) -> (Arc<MemoryBackend>, CacheLayer) {
        let memory = Arc::new(MemoryBackend::new());
        let cache = CacheLayer::new(memory.clone(), CacheOptions { capacity_bytes, max_entry_bytes, policy });
        (memory, cache)
    }

    fn key(s: &str) -> KeyBuf {
        KeyBuf::parse(s).unwrap()
    }

    #[tokio::test]
    async fn stays_within_its_capacity_in_bytes() {
        let (_, cache) = layer(64 * 1024, 8 * 1024, CachePolicy::Trust);
        for i in 0..100 {
            cache.put(&key(&format!("k{i}")), Bytes::from(vec![0u8; 4096]), &PutMode::Overwrite).await.unwrap();
        }
        let held = cache.weighted_size();
        assert!(held <= 64 * 1024, "the cache holds {held} bytes, more than its capacity");
        assert!(cache.entry_count() >= 10, "the cache should hold about 15 entries of 4 KiB");
    }

    #[tokio::test]
    async fn large_values_bypass_it() {
        let (_, cache) = layer(1 << 20, 8 * 1024, CachePolicy::Trust);
        cache.put(&key("big"), Bytes::from(vec![1u8; 8 * 1024 + 1]), &PutMode::Overwrite).await.unwrap();
        cache.put(&key("small"), Bytes::from(vec![1u8; 100]), &PutMode::Overwrite).await.unwrap();
        let read = crate::raw::backend::get_object(&cache, &key("big")).await.unwrap();
        assert_eq!(read.bytes.len(), 8 * 1024 + 1);
        assert_eq!(cache.entry_count(), 1, "only the small value may be cached");
    }

    #[tokio::test]
    async fn trust_serves_the_cached_copy_and_forget_drops_it() {
        let (memory, cache) = layer(1 << 20, 1 << 20, CachePolicy::Trust);
        cache.put(&key("k"), Bytes::from_static(b"v1"), &PutMode::Overwrite).await.unwrap();
        // Changed beneath the cache, as another process would.
        memory.put(&key("k"), Bytes::from_static(b"v2"), &PutMode::Overwrite).await.unwrap();
        assert_eq!(&cache.get_ready(&key("k")).unwrap()[..], b"v1");
        cache.forget(&key("k"));
        assert!(cache.get_ready(&key("k")).is_none());
        let read = crate::raw::backend::get_object(&cache, &key("k")).await.unwrap();
        assert_eq!(&read.bytes[..], b"v2");
        assert_eq!(&cache.get_ready(&key("k")).unwrap()[..], b"v2");
    }

    #[tokio::test]
    async fn counts_hits_and_misses_under_trust() {
        let (memory, cache) = layer(1 << 20, 1 << 20, CachePolicy::Trust);
        assert_eq!(cache.stats(), CacheStats::default());
        cache.put(&key("k"), Bytes::from_static(b"v1"), &PutMode::Overwrite).await.unwrap();
        assert!(cache.get_ready(&key("k")).is_some());
        crate::raw::backend::get_object(&cache, &key("k")).await.unwrap();
        // Absent: get_ready counts nothing, get counts a miss.
        assert!(cache.get_ready(&key("nope")).is_none());
        assert!(crate::raw::backend::get_object(&cache, &key("nope")).await.is_err());
        // Read from the backend, then served from the cache.
        memory.put(&key("m"), Bytes::from_static(b"vm"), &PutMode::Overwrite).await.unwrap();
        crate::raw::backend::get_object(&cache, &key("m")).await.unwrap();
        assert!(cache.get_ready(&key("m")).is_some());
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.evictions), (3, 2, 0));
        assert_eq!(stats.entries, 2);
        assert_eq!(stats.bytes, cache.weighted_size());
        assert_eq!(stats.bytes, 2 * (1 + 2 + 96), "two one-byte keys with two-byte values");
    }

    #[tokio::test]
    async fn hits_and_misses_are_counted_from_the_first_stats_call() {
        let (_memory, cache) = layer(1 << 20, 1 << 20, CachePolicy::Trust);
        cache.put(&key("k"), Bytes::from_static(b"v1"), &PutMode::Overwrite).await.unwrap();
        assert!(cache.get_ready(&key("k")).is_some());
        assert!(crate::raw::backend::get_object(&cache, &key("nope")).await.is_err());
        let first = cache.stats();
        assert_eq!((first.hits, first.misses, first.entries), (0, 0, 1), "not counted before anyone asked");
        assert!(cache.get_ready(&key("k")).is_some());
        assert!(crate::raw::backend::get_object(&cache, &key("nope")).await.is_err());
        assert_eq!((cache.stats().hits, cache.stats().misses), (1, 1));
    }

    #[tokio::test]
    async fn a_revalidated_copy_is_a_hit_and_a_changed_one_a_miss() {
        let (memory, cache) = layer(1 << 20, 1 << 20, CachePolicy::Revalidate);
        assert_eq!(cache.stats(), CacheStats::default(), "counting starts");
        cache.put(&key("k"), Bytes::from_static(b"v1"), &PutMode::Overwrite).await.unwrap();
        // Revalidate never answers from get_ready.
        assert!(cache.get_ready(&key("k")).is_none());
        crate::raw::backend::get_object(&cache, &key("k")).await.unwrap();
        assert_eq!((cache.stats().hits, cache.stats().misses), (1, 0));
        memory.put(&key("k"), Bytes::from_static(b"v2"), &PutMode::Overwrite).await.unwrap();
        let read = crate::raw::backend::get_object(&cache, &key("k")).await.unwrap();
        assert_eq!(&read.bytes[..], b"v2");
        assert_eq!((cache.stats().hits, cache.stats().misses), (1, 1));
        memory.delete(&key("k"), None).await.unwrap();
        assert!(crate::raw::backend::get_object(&cache, &key("k")).await.is_err());
        assert_eq!((cache.stats().hits, cache.stats().misses), (1, 2));
    }

    #[tokio::test]
    async fn counts_evictions_but_not_overwrites_or_deletes() {
        let (_, cache) = layer(1 << 20, 1 << 20, CachePolicy::Trust);
        for i in 0..10u8 {
            cache.put(&key("same"), Bytes::from(vec![i; 100]), &PutMode::Overwrite).await.unwrap();
        }
        cache.delete(&key("same"), None).await.unwrap();
        cache.put(&key("other"), Bytes::from_static(b"x"), &PutMode::Overwrite).await.unwrap();
        cache.forget(&key("other"));
        assert_eq!(cache.stats().evictions, 0);
        assert_eq!(cache.stats().entries, 0);

        let (_, small) = layer(64 * 1024, 8 * 1024, CachePolicy::Trust);
        for i in 0..100 {
            small.put(&key(&format!("k{i}")), Bytes::from(vec![0u8; 4096]), &PutMode::Overwrite).await.unwrap();
        }
        let stats = small.stats();
        assert!(stats.bytes <= 64 * 1024, "holds {} bytes", stats.bytes);
        assert_eq!(stats.entries + stats.evictions, 100, "every value is either held or was evicted: {stats:?}");
    }

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

    #[tokio::test]
    async fn revalidate_answers_not_modified_without_rereading() {
        let (_, cache) = layer(1 << 20, 1 << 20, CachePolicy::Revalidate);
        let meta = cache.put(&key("k"), Bytes::from_static(b"v1"), &PutMode::Overwrite).await.unwrap();
        let opts = GetOptions { if_none_match: Some(meta.version) };
        assert!(matches!(cache.get(&key("k"), &opts).await.unwrap(), GetResult::NotModified));
    }
}
