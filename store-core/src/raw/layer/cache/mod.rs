//! The read cache: a concurrent map bounded in bytes (`entries.rs`), in front of any backend.
//!
//! Values are shared as `Bytes`, so nobody can change what the cache holds. What a cached value
//! is worth depends on [`CachePolicy`]: `Revalidate` asks the backend whether the cached version
//! is still current before serving it (with [`Backend::version_now`] where the backend answers
//! it at once, one `stat` on local disk; else a conditional get, a 304 on S3); `Trust` serves it
//! as is; `Ttl` trusts it for a while after each check.
//!
//! Whatever the policy, the cache never holds a value of this process's own writes that the
//! backend no longer holds: writes and fills of a key are ordered as `order.rs` describes (a
//! write empties the entry when it starts and puts its value in at its end only if it ran
//! alone; a read fills only if no write ran beside it). Saves and deletes run to their end even
//! when their caller's future is dropped (see [`crate::raw::detach`]), so a save that lands
//! after its caller gave up still settles the entry; a write stopped midway (its runtime shutting
//! down) empties it.
//!
//! The layer counts what it does ([`CacheStats`], from [`CacheLayer::stats`]; see
//! `counters.rs`): a hit is a read answered with cached bytes (by `get_ready`, or by `get`,
//! including after a revalidation that found the cached version current); a miss is a `get` that
//! had to read the value from the backend (nothing cached, or the cached version was stale).
//! `head` and `get_ready` answering `None` count neither (the facade follows a `None` with a
//! `get`, which counts). Evictions are entries dropped to stay within the capacity, not values
//! replaced or invalidated by writes. Hits and misses are counted from the first call of
//! `stats` on; evictions, bytes and entries are always exact.

mod counters;
mod entries;
mod order;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

pub use self::counters::CacheStats;
use self::counters::Counters;
use self::entries::Entries;
use self::order::{ReadStart, Stripes, WriteStart};
use crate::error::{Error, Result};
use crate::key::{Key, KeyBuf};
use crate::options::{CacheOptions, CachePolicy};
use crate::raw::backend::{
    Backend, ByteRange, ByteStream, Capabilities, GetOptions, GetResult, Object, ObjectMeta, ObjectStream, PutMode,
    RangeRead, StoreLock, Usage, Version, chunked, not_modified_unasked, resolve_range, stream_to_file,
};
use crate::raw::detach::{cancel_on_drop, to_completion};
use crate::raw::ledger::UsageLedger;
use crate::raw::value_buffer::ValueAllocator;

/// A [`Backend`] that caches values read from or written to the one beneath it.
#[derive(Debug)]
pub struct CacheLayer {
    state: Arc<State>,
}

#[derive(Debug)]
struct State {
    inner: Arc<dyn Backend>,
    cache: Entries,
    options: CacheOptions,
    /// The order of writes and fills; see `order.rs`.
    stripes: Stripes,
    epoch: Instant,
    counters: Arc<Counters>,
}

#[derive(Debug)]
struct Cached {
    bytes: Bytes,
    meta: ObjectMeta,
    /// When the backend last confirmed this version, in nanoseconds since `State::epoch`.
    checked_at: AtomicU64,
}

impl CacheLayer {
    /// Wraps `inner` with a cache configured by `options`.
    pub fn new(inner: Arc<dyn Backend>, options: CacheOptions) -> CacheLayer {
        let counters = Arc::new(Counters::default());
        let cache = Entries::new(&options, counters.clone());
        let state = State { inner, cache, options, stripes: Stripes::new(), epoch: Instant::now(), counters };
        CacheLayer { state: Arc::new(state) }
    }

    /// What the cache has done (hits and misses since the first call of `stats`, evictions since
    /// it was made) and what it holds now (bytes, entries). The first call turns the hit and
    /// miss counters on (see the module documentation).
    pub fn stats(&self) -> CacheStats {
        let s = &self.state;
        s.counters.counting.store(true, Ordering::Relaxed);
        CacheStats {
            hits: s.counters.hits.get(),
            misses: s.counters.misses.get(),
            evictions: s.counters.evictions.load(Ordering::Relaxed),
            bytes: s.cache.weighted_size(),
            entries: s.cache.entry_count(),
        }
    }

    /// When cached values are served.
    pub fn policy(&self) -> CachePolicy {
        self.state.options.policy
    }

    /// Drops every cached value.
    pub fn clear(&self) {
        self.state.cache.clear();
    }

    /// Drops the cached value of one key (and keeps a read already under way from putting it
    /// back).
    pub fn forget(&self, key: &Key) {
        self.state.stripes.touch(key, || self.state.cache.invalidate(key));
    }

    /// The number of cached values.
    pub fn entry_count(&self) -> u64 {
        self.state.cache.entry_count()
    }

    /// The bytes the cache holds (values, keys and a fixed overhead per entry).
    pub fn weighted_size(&self) -> u64 {
        self.state.cache.weighted_size()
    }
}

/// A write under way: ends it as `order.rs` says, or, when dropped before it ended (its task
/// stopped), as a write whose outcome is unknown.
struct Writing<'a> {
    state: &'a State,
    key: &'a Key,
    start: Option<WriteStart>,
}

impl<'a> Writing<'a> {
    fn start(state: &'a State, key: &'a Key) -> Writing<'a> {
        let start = state.stripes.start_write(key, || state.cache.invalidate(key));
        Writing { state, key, start: Some(start) }
    }

    /// Ends the write: `written` is the value the backend now holds, `None` when it holds none
    /// or nobody knows what.
    fn end(mut self, written: Option<Object>) {
        let Some(start) = self.start.take() else { return };
        let (state, key) = (self.state, self.key);
        state.stripes.end_write(start, |ran_alone| match written {
            Some(o) if ran_alone && state.cacheable(o.bytes.len()) => {
                state.cache.insert(KeyBuf::from(key), state.entry(o.bytes, o.meta));
            }
            _ => state.cache.invalidate(key),
        });
    }
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        if let Some(start) = self.start.take() {
            let (state, key) = (self.state, self.key);
            state.stripes.end_write(start, |_| state.cache.invalidate(key));
        }
    }
}

impl State {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// True when `entry` may be served without asking the backend.
    #[inline]
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

    /// Stamps `entry` as confirmed current by the backend now. Only `Ttl` reads the stamp, so
    /// the other policies skip the clock (a revalidated hit is a `stat` and little else).
    #[inline]
    fn confirmed(&self, entry: &Cached) {
        if matches!(self.options.policy, CachePolicy::Ttl(_)) {
            entry.checked_at.store(self.now(), Ordering::Relaxed);
        }
    }

    fn cacheable(&self, len: usize) -> bool {
        len as u64 <= self.options.max_entry_bytes
    }

    fn entry(&self, bytes: Bytes, meta: ObjectMeta) -> Arc<Cached> {
        Arc::new(Cached { bytes, meta, checked_at: AtomicU64::new(self.now()) })
    }

    /// Fills the cache with what a read started at `start` got, if no write ran beside it.
    fn fill(&self, key: &Key, start: ReadStart, object: &Object) {
        if self.cacheable(object.bytes.len()) {
            self.stripes.fill(start, || {
                self.cache.insert(KeyBuf::from(key), self.entry(object.bytes.clone(), object.meta.clone()));
            });
        }
    }

    async fn put(&self, key: &Key, value: Bytes, mode: &PutMode) -> Result<ObjectMeta> {
        let writing = Writing::start(self, key);
        let result = self.inner.put(key, value.clone(), mode).await;
        // A failed put (a refused condition, an error) leaves the stored value unknown.
        writing.end(result.as_ref().ok().map(|meta| Object { bytes: value, meta: meta.clone() }));
        result
    }

    async fn put_stream(&self, key: &Key, body: ByteStream, size: Option<u64>, mode: &PutMode) -> Result<ObjectMeta> {
        // The value streams past without being held: the cache only forgets the key.
        let writing = Writing::start(self, key);
        let result = self.inner.put_stream(key, body, size, mode).await;
        writing.end(None);
        result
    }

    async fn put_in_place(&self, key: &Key, size: u64, mode: &PutMode) -> Result<ObjectMeta> {
        // As a streamed put: the value is not held, the cache only forgets the key.
        let writing = Writing::start(self, key);
        let result = self.inner.put_in_place(key, size, mode).await;
        writing.end(None);
        result
    }

    async fn delete(&self, key: &Key, if_match: Option<&Version>) -> Result<()> {
        let writing = Writing::start(self, key);
        let result = self.inner.delete(key, if_match).await;
        writing.end(None);
        result
    }

    /// What the backend says of a cached entry under `Revalidate` (or a `Ttl` that ran out), when
    /// it can say so at once ([`Backend::version_now`]): `Some(true)` when it is current (the
    /// entry is stamped as checked), `Some(false)` when it changed, `None` when the backend
    /// cannot tell without a read. An object that is gone empties the entry and is `NotFound`.
    fn still_current(&self, key: &Key, cached: &Cached) -> Result<Option<bool>> {
        match self.inner.version_now(key) {
            Some(Ok(version)) if version == cached.meta.version => {
                self.confirmed(cached);
                Ok(Some(true))
            }
            Some(Ok(_)) => Ok(Some(false)),
            Some(Err(e @ Error::NotFound { .. })) => {
                // Emptying an entry is never wrong, whatever writes run beside it.
                self.cache.invalidate(key);
                Err(e)
            }
            // Another failure: let the read itself say what went wrong.
            Some(Err(_)) | None => Ok(None),
        }
    }

    /// The cached entry of `key` when it may serve a read now: fresh by the policy, or confirmed
    /// current by the backend (its version at once, else one `head`). Used by ranged and
    /// streamed reads, which never fill the cache.
    async fn servable(&self, key: &Key) -> Result<Option<Arc<Cached>>> {
        let Some(cached) = self.cache.get(key) else { return Ok(None) };
        if self.is_fresh(&cached) {
            return Ok(Some(cached));
        }
        match self.still_current(key, &cached)? {
            Some(true) => return Ok(Some(cached)),
            Some(false) => return Ok(None),
            None => {}
        }
        match self.inner.head(key).await {
            Ok(meta) if meta.version == cached.meta.version => {
                self.confirmed(&cached);
                Ok(Some(cached))
            }
            Ok(_) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn get(&self, key: &Key, opts: &GetOptions) -> Result<GetResult> {
        let cached = self.cache.get(key);
        if let Some(cached) = &cached {
            if self.is_fresh(cached) {
                self.counters.hit();
                return Ok(answer(cached, opts));
            }
            match self.still_current(key, cached) {
                Ok(Some(true)) => {
                    self.counters.hit();
                    return Ok(answer(cached, opts));
                }
                Ok(Some(false)) => return self.read_through(key, opts).await,
                Ok(None) => {}
                Err(e) => {
                    self.counters.miss();
                    return Err(e);
                }
            }
        }
        let Some(cached) = cached else { return self.read_through(key, opts).await };
        // Revalidate with a conditional get.
        let start = self.stripes.start_read(key);
        let revalidate = GetOptions { if_none_match: Some(cached.meta.version.clone()) };
        match self.inner.get(key, &revalidate).await {
            Ok(GetResult::NotModified) => {
                self.counters.hit();
                self.confirmed(&cached);
                Ok(answer(&cached, opts))
            }
            Ok(GetResult::Found(object)) => {
                self.counters.miss();
                self.fill(key, start, &object);
                if opts.if_none_match.as_ref() == Some(&object.meta.version) {
                    Ok(GetResult::NotModified)
                } else {
                    Ok(GetResult::Found(object))
                }
            }
            Err(e) => {
                self.counters.miss();
                if matches!(e, Error::NotFound { .. }) {
                    self.cache.invalidate(key);
                }
                Err(e)
            }
        }
    }

    /// A whole read into the caller's memory when nothing is cached for `key` (a miss, filling
    /// the cache as [`State::read_through`] does); a key with an entry takes the path of
    /// [`State::get`], which may answer from the entry (the caller then copies it).
    async fn get_into(&self, key: &Key, alloc: &dyn ValueAllocator) -> Result<Object> {
        if self.cache.contains(key) {
            return match self.get(key, &GetOptions::default()).await? {
                GetResult::Found(object) => Ok(object),
                GetResult::NotModified => Err(not_modified_unasked(self.inner.name(), key)),
            };
        }
        self.counters.miss();
        let start = self.stripes.start_read(key);
        let result = self.inner.get_into(key, alloc).await;
        match &result {
            Ok(object) => self.fill(key, start, object),
            Err(Error::NotFound { .. }) => self.cache.invalidate(key),
            _ => {}
        }
        result
    }

    /// A read from the backend, filling the cache with what it finds.
    async fn read_through(&self, key: &Key, opts: &GetOptions) -> Result<GetResult> {
        self.counters.miss();
        let start = self.stripes.start_read(key);
        let result = self.inner.get(key, opts).await;
        match &result {
            Ok(GetResult::Found(object)) => self.fill(key, start, object),
            Err(Error::NotFound { .. }) => self.cache.invalidate(key),
            _ => {}
        }
        result
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

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl Backend for CacheLayer {
    fn name(&self) -> &str {
        self.state.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.state.inner.capabilities()
    }

    async fn put(&self, key: &Key, value: Bytes, mode: &PutMode) -> Result<ObjectMeta> {
        // Run to the end even if this call is dropped: the backend's write may land anyway, and
        // the entry must follow it (inline when the facade already runs it so).
        let (state, key, mode) = (self.state.clone(), KeyBuf::from(key), mode.clone());
        to_completion(async move { state.put(&key, value, &mode).await }).await
    }

    async fn put_stream(&self, key: &Key, body: ByteStream, size: Option<u64>, mode: &PutMode) -> Result<ObjectMeta> {
        let (state, key, mode) = (self.state.clone(), KeyBuf::from(key), mode.clone());
        let (body, _cancel) = cancel_on_drop(body);
        to_completion(async move { state.put_stream(&key, body, size, &mode).await }).await
    }

    async fn get(&self, key: &Key, opts: &GetOptions) -> Result<GetResult> {
        self.state.get(key, opts).await
    }

    async fn put_in_place(&self, key: &Key, size: u64, mode: &PutMode) -> Result<ObjectMeta> {
        let (state, key, mode) = (self.state.clone(), KeyBuf::from(key), mode.clone());
        to_completion(async move { state.put_in_place(&key, size, &mode).await }).await
    }

    async fn get_into(&self, key: &Key, alloc: &dyn ValueAllocator) -> Result<Object> {
        self.state.get_into(key, alloc).await
    }

    async fn get_to_file(&self, key: &Key, file: Arc<std::fs::File>) -> Result<ObjectMeta> {
        // A cached value is written from memory; a read into a file never fills the cache.
        let s = &self.state;
        if let Some(cached) = s.servable(key).await? {
            s.counters.hit();
            let stream = ObjectStream {
                meta: cached.meta.clone(),
                range: 0..cached.meta.size,
                body: chunked(cached.bytes.clone(), 1 << 20),
            };
            return stream_to_file(key, stream, file).await;
        }
        s.counters.miss();
        s.inner.get_to_file(key, file).await
    }

    async fn get_range(&self, key: &Key, range: &ByteRange, if_match: Option<&Version>) -> Result<RangeRead> {
        // A range of a cached value costs no I/O (beyond a revalidation); a range read from the
        // backend is never cached, since the cache holds whole values only.
        let s = &self.state;
        if let Some(cached) = s.servable(key).await? {
            matches(key, &cached, if_match)?;
            s.counters.hit();
            let range = resolve_range(key, range, cached.meta.size)?;
            let bytes = cached.bytes.slice(range.start as usize..range.end as usize);
            return Ok(RangeRead { bytes, range, meta: cached.meta.clone() });
        }
        s.counters.miss();
        s.inner.get_range(key, range, if_match).await
    }

    async fn get_stream(
        &self,
        key: &Key,
        range: Option<&ByteRange>,
        if_match: Option<&Version>,
    ) -> Result<ObjectStream> {
        let s = &self.state;
        if let Some(cached) = s.servable(key).await? {
            matches(key, &cached, if_match)?;
            s.counters.hit();
            let range = match range {
                Some(range) => resolve_range(key, range, cached.meta.size)?,
                None => 0..cached.meta.size,
            };
            let bytes = cached.bytes.slice(range.start as usize..range.end as usize);
            return Ok(ObjectStream { meta: cached.meta.clone(), range, body: chunked(bytes, 1 << 20) });
        }
        s.counters.miss();
        s.inner.get_stream(key, range, if_match).await
    }

    fn get_ready(&self, key: &Key) -> Option<Bytes> {
        let s = &self.state;
        let cached = s.cache.get(key)?;
        if s.is_fresh(&cached) {
            s.counters.hit();
            return Some(cached.bytes.clone());
        }
        // A backend that tells its version at once (one stat on local disk) confirms the entry
        // here, on the calling thread, without the metadata a `get` would clone.
        match s.still_current(key, &cached) {
            Ok(Some(true)) => {
                s.counters.hit();
                Some(cached.bytes.clone())
            }
            Ok(Some(false)) => {
                // Changed: `get` reads it (emptying an entry is never wrong, see `order.rs`).
                s.cache.invalidate(key);
                None
            }
            // Gone (the entry is emptied), failed, or not answerable at once: `get` tells.
            Ok(None) | Err(_) => None,
        }
    }

    fn version_now(&self, key: &Key) -> Option<Result<Version>> {
        let s = &self.state;
        match s.cache.get(key) {
            Some(cached) if s.is_fresh(&cached) => Some(Ok(cached.meta.version.clone())),
            _ => s.inner.version_now(key),
        }
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        let s = &self.state;
        if let Some(cached) = s.cache.get(key) {
            if s.is_fresh(&cached) {
                return Ok(cached.meta.clone());
            }
        }
        s.inner.head(key).await
    }

    async fn delete(&self, key: &Key, if_match: Option<&Version>) -> Result<()> {
        let (state, key, if_match) = (self.state.clone(), KeyBuf::from(key), if_match.cloned());
        to_completion(async move { state.delete(&key, if_match.as_ref()).await }).await
    }

    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>> {
        self.state.inner.list(prefix)
    }

    fn list_keys(&self, prefix: &str) -> BoxStream<'static, Result<KeyBuf>> {
        self.state.inner.list_keys(prefix)
    }

    async fn usage(&self) -> Result<Usage> {
        self.state.inner.usage().await
    }

    async fn local_path(&self, key: &Key, create_parents: bool) -> Result<Option<PathBuf>> {
        self.state.inner.local_path(key, create_parents).await
    }

    fn usage_ledger(&self) -> Option<Arc<dyn UsageLedger>> {
        self.state.inner.usage_ledger()
    }

    async fn lock_store(&self) -> Result<Option<StoreLock>> {
        self.state.inner.lock_store().await
    }
}

#[cfg(test)]
mod tests;
