//! Limits on bytes, objects and object size, enforced atomically.
//!
//! Usage is kept incrementally in a [`UsageLedger`]: the backend's shared one when it has one
//! (so every handle and, on local disk, every process counts against the same figures), else a
//! ledger of this layer counted once when the store opens. No save walks the whole store, unlike
//! LEAN.
//!
//! A save takes one of two paths:
//! - **Fast**, while usage is comfortably below every limit: the save reserves its bytes (the
//!   whole new size, not just the growth, and one object) in the ledger, writes, then releases the
//!   reservation. Reservations of every handle are in the shared ledger, so concurrent fast saves
//!   can never overshoot together.
//! - **Not growing**, near a limit, when the key already holds at least as many bytes as the save
//!   writes (an overwrite of the same size or smaller, such as a compare-and-swap of a counter):
//!   the save reserves its bytes and one object regardless of the margin (so exact decisions of
//!   other saves count it while it is in flight, also if another process deletes the key
//!   meanwhile and the save re-creates it), measures the key, and writes without a recount.
//! - **Exact**, when a save would bring usage within [`RECOUNT_MARGIN`] of a limit: it waits until
//!   no other save of this store is in flight, takes the backend's cross-process store lock when
//!   there is one, recounts usage from the backend (so objects that other programs added count
//!   too), resets the ledger to the recount, decides exactly, and writes while holding all that.
//!
//! Reaching a limit exactly is allowed; an overwrite counts at its new size; a save that does not
//! grow usage (a shrinking overwrite) is allowed even when the store is already over a limit.
//! Saves of the same key through one store are serialised, so the size an overwrite replaces is
//! the one it measured.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use tokio::sync::{Mutex as AsyncMutex, RwLock as AsyncRwLock};

use crate::error::{Error, LimitKind, Result};
use crate::key::{Key, KeyBuf};
use crate::options::Limits;
use crate::raw::backend::{
    Backend, ByteRange, ByteStream, Capabilities, GetOptions, GetResult, ObjectMeta, ObjectStream, PutMode, RangeRead,
    StoreLock, Usage, Version,
};
use crate::raw::ledger::{LedgerFigures, LocalLedger, UsageLedger};

/// Saves that would bring usage closer than this fraction of a limit take the exact path.
pub const RECOUNT_MARGIN: f64 = 0.10;

const KEY_STRIPES: usize = 256;

/// A [`Backend`] that refuses saves which would exceed [`Limits`].
#[derive(Debug)]
pub struct LimitsLayer {
    inner: Arc<dyn Backend>,
    limits: Limits,
    ledger: Arc<dyn UsageLedger>,
    /// True when the backend updates the ledger's committed figures itself.
    backend_counts: bool,
    /// Fast saves hold it shared; an exact save holds it alone.
    gate: AsyncRwLock<()>,
    /// Serialises saves and deletes of keys in the same stripe.
    keys: Box<[AsyncMutex<()>]>,
}

impl LimitsLayer {
    /// Wraps `inner`. Uses the backend's shared ledger, or counts usage once now.
    pub async fn new(inner: Arc<dyn Backend>, limits: Limits) -> Result<LimitsLayer> {
        let (ledger, backend_counts): (Arc<dyn UsageLedger>, bool) = match inner.usage_ledger() {
            Some(ledger) => (ledger, true),
            None => (Arc::new(LocalLedger::new(inner.usage().await?)), false),
        };
        Ok(LimitsLayer {
            inner,
            limits,
            ledger,
            backend_counts,
            gate: AsyncRwLock::new(()),
            keys: (0..KEY_STRIPES).map(|_| AsyncMutex::new(())).collect(),
        })
    }

    /// The usage the ledger holds now (no recount).
    pub fn counted(&self) -> Result<Usage> {
        Ok(self.ledger.read()?.usage())
    }

    fn key_lock(&self, key: &Key) -> &AsyncMutex<()> {
        &self.keys[(xxhash_rust::xxh3::xxh3_64(key.as_str().as_bytes()) % KEY_STRIPES as u64) as usize]
    }

    /// The size of the object under `key` now, or `None`.
    async fn current_size(&self, key: &Key) -> Result<Option<u64>> {
        match self.inner.head(key).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reserves room for a save of `size` bytes if usage stays comfortably below every limit.
    /// The reservation is released when the guard drops, also when the save's future is
    /// dropped half-way (a timeout around a save must not leak room in a shared ledger).
    fn try_reserve(&self, size: u64) -> Result<Option<Reservation<'_>>> {
        self.reserve(size, true)
    }

    /// Reserves room for a save of `size` bytes and one object: when `only_if_comfortable`, only
    /// if usage stays comfortably below every limit (else `None`); otherwise always.
    fn reserve(&self, size: u64, only_if_comfortable: bool) -> Result<Option<Reservation<'_>>> {
        let comfortable = |used: u64, reserved: u64, add: u64, limit: Option<u64>| match limit {
            None => true,
            Some(limit) => {
                let threshold = (limit as f64 * (1.0 - RECOUNT_MARGIN)) as u64;
                used.saturating_add(reserved).saturating_add(add) <= threshold
            }
        };
        let mut admitted = false;
        self.ledger.update(&mut |f| {
            admitted = !only_if_comfortable
                || (comfortable(f.bytes, f.reserved_bytes, size, self.limits.max_bytes)
                    && comfortable(f.objects, f.reserved_objects, 1, self.limits.max_objects));
            if admitted {
                f.reserved_bytes += size;
                f.reserved_objects += 1;
            }
        })?;
        // Only build the guard when something was reserved: its drop releases a reservation.
        Ok(if admitted { Some(Reservation { layer: self, size }) } else { None })
    }

    /// Records a save in the ledger when the backend does not count its own saves.
    fn record(&self, old: Option<u64>, new: u64) -> Result<()> {
        if !self.backend_counts {
            self.ledger.update(&mut |f| f.apply(old, Some(new)))?;
        }
        Ok(())
    }

    fn exceeded(key: &Key, kind: LimitKind, used: u64, limit: u64, requested: u64) -> Error {
        Error::LimitExceeded { key: key.to_string(), kind, used, limit, requested }
    }

    /// The exact decision, against a fresh recount plus what other handles have in flight.
    fn check_exact(&self, key: &Key, f: &LedgerFigures, old: Option<u64>, size: u64) -> Result<()> {
        if let (Some(max), None) = (self.limits.max_objects, old) {
            let used = f.objects + f.reserved_objects;
            if used + 1 > max {
                return Err(Self::exceeded(key, LimitKind::Objects, used, max, 1));
            }
        }
        if let Some(max) = self.limits.max_bytes {
            let used = f.bytes + f.reserved_bytes;
            let after = used.saturating_sub(old.unwrap_or(0)).saturating_add(size);
            if size > old.unwrap_or(0) && after > max {
                return Err(Self::exceeded(key, LimitKind::Bytes, used, max, size));
            }
        }
        Ok(())
    }

    async fn put_exact(&self, key: &Key, body: Body, mode: &PutMode) -> Result<ObjectMeta> {
        let _alone = self.gate.write().await;
        let _store = self.inner.lock_store().await?;
        let recount = self.inner.usage().await?;
        let figures = self.ledger.update(&mut |f| {
            f.bytes = recount.bytes;
            f.objects = recount.objects;
        })?;
        let old = self.current_size(key).await?;
        let size = body.size();
        self.check_exact(key, &figures, old, size)?;
        let meta = self.write(key, body, mode).await?;
        self.record(old, size)?;
        Ok(meta)
    }

    /// Hands a body whose size is decided to the backend.
    async fn write(&self, key: &Key, body: Body, mode: &PutMode) -> Result<ObjectMeta> {
        match body {
            Body::Bytes(value) => self.inner.put(key, value, mode).await,
            Body::Stream(stream, size) => self.inner.put_stream(key, stream, Some(size), mode).await,
        }
    }

    /// A put of a known size: the fast, not-growing or exact path (see the module docs).
    async fn put_sized(&self, key: &Key, body: Body, mode: &PutMode) -> Result<ObjectMeta> {
        let size = body.size();
        if let Some(max) = self.limits.max_object_bytes {
            if size > max {
                return Err(Self::exceeded(key, LimitKind::ObjectSize, size, max, size));
            }
        }
        let _key = self.key_lock(key).lock().await;
        {
            let _shared = self.gate.read().await;
            if let Some(reservation) = self.try_reserve(size)? {
                let old = self.current_size(key).await?;
                let meta = self.write(key, body, mode).await?;
                drop(reservation);
                self.record(old, size)?;
                return Ok(meta);
            }
            // Near a limit: an overwrite that cannot grow usage needs no recount. Reserve first,
            // then measure, so that a delete of the key by another process in between leaves
            // the re-created object counted in flight.
            let reservation = self.reserve(size, false)?;
            let old = self.current_size(key).await?;
            if old.is_some_and(|old| old >= size) {
                let meta = self.write(key, body, mode).await?;
                drop(reservation);
                self.record(old, size)?;
                return Ok(meta);
            }
        }
        self.put_exact(key, body, mode).await
    }

    /// A streamed put of unknown size: one object is reserved at once, and bytes as they arrive;
    /// the stream fails (and the backend stores nothing) as soon as it would take usage past a
    /// limit, counting what other saves have in flight.
    async fn put_unsized(&self, key: &Key, body: ByteStream, mode: &PutMode) -> Result<ObjectMeta> {
        let _key = self.key_lock(key).lock().await;
        let _shared = self.gate.read().await;
        let old = self.current_size(key).await?;
        let limits = self.limits;
        let mut refused = None;
        self.ledger.update(&mut |f| {
            refused = match (limits.max_objects, old) {
                (Some(max), None) if f.objects + f.reserved_objects + 1 > max => {
                    Some((f.objects + f.reserved_objects, max))
                }
                _ => None,
            };
            if refused.is_none() {
                f.reserved_objects += 1;
            }
        })?;
        if let Some((used, max)) = refused {
            return Err(Self::exceeded(key, LimitKind::Objects, used, max, 1));
        }
        let growing = GrowingReservation::new(self.ledger.clone(), limits, KeyBuf::from(key), old.unwrap_or(0));
        let counted = growing.clone();
        let body = futures::StreamExt::boxed(futures::StreamExt::then(body, move |chunk| {
            let counted = counted.clone();
            async move {
                let chunk = chunk?;
                counted.grow(chunk.len() as u64)?;
                Ok(chunk)
            }
        }));
        let meta = self.inner.put_stream(key, body, None, mode).await;
        drop(growing);
        let meta = meta?;
        self.record(old, meta.size)?;
        Ok(meta)
    }
}

/// What a put stores: bytes in memory, or a stream of a known size.
enum Body {
    Bytes(Bytes),
    Stream(ByteStream, u64),
}

impl Body {
    fn size(&self) -> u64 {
        match self {
            Body::Bytes(b) => b.len() as u64,
            Body::Stream(_, size) => *size,
        }
    }
}

/// The room a streamed put of unknown size holds in the ledger: one object from the start, and
/// its bytes as they arrive; all released when the last clone drops (the put ended, failed, or
/// its future was dropped).
#[derive(Clone)]
struct GrowingReservation(Arc<GrowingInner>);

struct GrowingInner {
    ledger: Arc<dyn UsageLedger>,
    limits: Limits,
    key: KeyBuf,
    /// The size of the object the put replaces.
    old: u64,
    /// Bytes reserved so far.
    bytes: std::sync::atomic::AtomicU64,
}

impl GrowingReservation {
    fn new(ledger: Arc<dyn UsageLedger>, limits: Limits, key: KeyBuf, old: u64) -> GrowingReservation {
        GrowingReservation(Arc::new(GrowingInner { ledger, limits, key, old, bytes: Default::default() }))
    }

    /// Reserves `more` bytes, or fails when the object or the store would pass a limit.
    fn grow(&self, more: u64) -> Result<()> {
        use std::sync::atomic::Ordering::Relaxed;
        let inner = &self.0;
        let total = inner.bytes.load(Relaxed).saturating_add(more);
        if let Some(max) = inner.limits.max_object_bytes {
            if total > max {
                return Err(LimitsLayer::exceeded(&inner.key, LimitKind::ObjectSize, total, max, total));
            }
        }
        let mut refused = None;
        inner.ledger.update(&mut |f| {
            // Others' reservations and ours so far are in `reserved_bytes`; the object this put
            // replaces leaves usage when it lands.
            let after = f.bytes.saturating_add(f.reserved_bytes).saturating_add(more).saturating_sub(inner.old);
            refused = inner.limits.max_bytes.filter(|max| total > inner.old && after > *max);
            if refused.is_none() {
                f.reserved_bytes += more;
            }
        })?;
        if let Some(max) = refused {
            let used = inner.ledger.read().map(|f| f.bytes + f.reserved_bytes).unwrap_or(0);
            return Err(LimitsLayer::exceeded(&inner.key, LimitKind::Bytes, used, max, total));
        }
        inner.bytes.store(total, Relaxed);
        Ok(())
    }
}

impl Drop for GrowingInner {
    fn drop(&mut self) {
        let bytes = *self.bytes.get_mut();
        let released = self.ledger.update(&mut |f| {
            f.reserved_bytes = f.reserved_bytes.saturating_sub(bytes);
            f.reserved_objects = f.reserved_objects.saturating_sub(1);
        });
        if let Err(e) = released {
            tracing::warn!(error = %e, "cannot release a streamed save's reservation in the usage ledger");
        }
    }
}

/// Room reserved in the ledger for a save in flight; released when dropped.
struct Reservation<'a> {
    layer: &'a LimitsLayer,
    size: u64,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let size = self.size;
        let released = self.layer.ledger.update(&mut |f| {
            f.reserved_bytes = f.reserved_bytes.saturating_sub(size);
            f.reserved_objects = f.reserved_objects.saturating_sub(1);
        });
        if let Err(e) = released {
            // The ledger over-counts until the next exact decision recounts it.
            tracing::warn!(error = %e, "cannot release a reservation in the usage ledger");
        }
    }
}

#[async_trait]
impl Backend for LimitsLayer {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn put(&self, key: &Key, value: Bytes, mode: &PutMode) -> Result<ObjectMeta> {
        self.put_sized(key, Body::Bytes(value), mode).await
    }

    async fn put_stream(&self, key: &Key, body: ByteStream, size: Option<u64>, mode: &PutMode) -> Result<ObjectMeta> {
        match size {
            Some(size) => self.put_sized(key, Body::Stream(body, size), mode).await,
            None => self.put_unsized(key, body, mode).await,
        }
    }

    async fn get(&self, key: &Key, opts: &GetOptions) -> Result<GetResult> {
        self.inner.get(key, opts).await
    }

    async fn get_range(&self, key: &Key, range: &ByteRange, if_match: Option<&Version>) -> Result<RangeRead> {
        self.inner.get_range(key, range, if_match).await
    }

    async fn get_stream(
        &self,
        key: &Key,
        range: Option<&ByteRange>,
        if_match: Option<&Version>,
    ) -> Result<ObjectStream> {
        self.inner.get_stream(key, range, if_match).await
    }

    fn get_ready(&self, key: &Key) -> Option<Bytes> {
        self.inner.get_ready(key)
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        self.inner.head(key).await
    }

    async fn delete(&self, key: &Key, if_match: Option<&Version>) -> Result<()> {
        let _key = self.key_lock(key).lock().await;
        let _shared = self.gate.read().await;
        let old = self.current_size(key).await?;
        self.inner.delete(key, if_match).await?;
        if !self.backend_counts {
            self.ledger.update(&mut |f| f.apply(old, None))?;
        }
        Ok(())
    }

    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_keys(&self, prefix: &str) -> BoxStream<'static, Result<KeyBuf>> {
        self.inner.list_keys(prefix)
    }

    async fn usage(&self) -> Result<Usage> {
        if self.backend_counts {
            return self.inner.usage().await;
        }
        // This layer keeps the figures itself: a recount is the moment to catch up with what
        // other writers did, when none of this store's saves is in flight (else just count).
        let Ok(_alone) = self.gate.try_write() else { return self.inner.usage().await };
        let usage = self.inner.usage().await?;
        self.ledger.update(&mut |f| {
            f.bytes = usage.bytes;
            f.objects = usage.objects;
        })?;
        Ok(usage)
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

    /// A refused fast-path attempt must not release anything: each one once released another
    /// save's reservation (the guard was built, and dropped, even when nothing was reserved),
    /// and concurrent saves under contention went past the limit.
    #[tokio::test]
    async fn a_refused_reservation_releases_nothing() {
        let layer =
            LimitsLayer::new(Arc::new(MemoryBackend::new()), Limits { max_objects: Some(10), ..Limits::default() })
                .await
                .unwrap();
        let first = layer.try_reserve(1).unwrap().expect("room for one");
        layer.ledger.update(&mut |f| f.objects = 8).unwrap();
        for _ in 0..5 {
            assert!(layer.try_reserve(1).unwrap().is_none(), "past the fast path's threshold");
        }
        assert_eq!(layer.ledger.read().unwrap().reserved_objects, 1, "a refusal released someone else's reservation");
        drop(first);
        assert_eq!(layer.ledger.read().unwrap().reserved_objects, 0);
    }

    /// At a limit, an overwrite that does not grow usage neither waits for the store to be alone
    /// nor recounts (the exact path would wait on the gate another save holds), while a growing
    /// one still takes the exact path and is refused.
    #[tokio::test]
    async fn an_overwrite_that_cannot_grow_usage_skips_the_exact_path() {
        use futures::FutureExt as _;
        let limits = Limits { max_bytes: Some(100), max_objects: Some(2), ..Limits::default() };
        let layer = LimitsLayer::new(Arc::new(MemoryBackend::new()), limits).await.unwrap();
        let (a, b) = (KeyBuf::parse("a").unwrap(), KeyBuf::parse("b").unwrap());
        layer.put(&a, Bytes::from(vec![1u8; 60]), &PutMode::Overwrite).await.unwrap();
        layer.put(&b, Bytes::from(vec![2u8; 40]), &PutMode::Overwrite).await.unwrap();
        let in_flight = layer.gate.read().await;
        let same = layer.put(&a, Bytes::from(vec![3u8; 60]), &PutMode::Overwrite).now_or_never();
        assert!(matches!(same, Some(Ok(_))), "a same-size overwrite at the limit waited or failed: {same:?}");
        let smaller = layer.put(&b, Bytes::from(vec![4u8; 10]), &PutMode::Overwrite).now_or_never();
        assert!(matches!(smaller, Some(Ok(_))), "a shrinking overwrite waited or failed: {smaller:?}");
        let growing = layer.put(&b, Bytes::from(vec![5u8; 50]), &PutMode::Overwrite).now_or_never();
        assert!(growing.is_none(), "a growing overwrite near the limit must take the exact path");
        drop(in_flight);
        let refused = layer.put(&b, Bytes::from(vec![5u8; 41]), &PutMode::Overwrite).await;
        assert!(matches!(refused, Err(Error::LimitExceeded { kind: LimitKind::Bytes, .. })), "{refused:?}");
        let fits = layer.put(&b, Bytes::from(vec![5u8; 40]), &PutMode::Overwrite).await;
        assert!(fits.is_ok(), "{fits:?}");
        let figures = layer.ledger.read().unwrap();
        assert_eq!((figures.bytes, figures.objects, figures.reserved_bytes, figures.reserved_objects), (100, 2, 0, 0));
    }
}
