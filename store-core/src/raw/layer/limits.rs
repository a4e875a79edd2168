//! Limits on bytes, objects and object size, enforced atomically, whoever writes.
//!
//! Usage is kept incrementally in a [`UsageLedger`]: the backend's shared one when it has one
//! (so every handle and, on local disk, every process counts against the same figures), else a
//! ledger of this layer counted once when the store opens. No save walks the whole store, unlike
//! LEAN: the ledger says when its figures may miss changes made around the store
//! ([`LedgerFigures::stale`]: files another program added, a save a killed process left
//! half-done), and only then does a decision recount.
//!
//! A save takes one of three paths:
//! - **Fast**, while usage (committed plus every handle's reservations) stays comfortably below
//!   every limit and the figures are fresh: the save reserves its bytes (the whole new size, not
//!   just the growth, and one object) in the ledger in the same atomic step that checks, writes,
//!   then releases the reservation.
//! - **Not growing**, near a limit, when the key already holds at least as many bytes as the save
//!   writes (an overwrite of the same size or smaller, such as a compare-and-swap of a counter):
//!   the save reserves its bytes and one object regardless of the margin (so exact decisions of
//!   other saves count it while it is in flight, also if another process deletes the key
//!   meanwhile and the save re-creates it), measures the key, and writes without a recount.
//! - **Exact**, when a save would bring usage within [`RECOUNT_MARGIN`] of a limit, or the
//!   figures are stale: it waits until no other save of this handle is in flight, takes the
//!   backend's cross-process store lock when there is one, and then, in one atomic step of the
//!   ledger, gives back the room of handles that are gone, recounts if the figures need it (a
//!   snapshot: no other save lands meanwhile), decides exactly against committed usage plus what
//!   every other handle has in flight, and reserves its room where every other decision sees it,
//!   before its first byte is written. It writes holding the locks (so that exact decisions near
//!   a limit follow one another, each seeing the last one landed), unless the recount found it
//!   comfortably below every limit after all.
//!
//! A save whose caller gives up (its future dropped, as a timeout does) goes on to its end as a
//! task of its own (see [`crate::raw::detach`]): its room stays reserved, and its key locked,
//! until its write has ended, since on local disk the write lands anyway.
//!
//! Files handed out for writing in place ([`Backend::local_path`] with `create_parents`, which
//! `get_file_path` asks for) are judged when they are saved: the save counts as replacing what
//! the key held when the file was handed out, not what the caller wrote in place meanwhile, so a
//! key that was absent counts as a new object and growth in place counts as growth. A new key
//! refused that way has its file removed (it was never admitted).
//!
//! Reaching a limit exactly is allowed; an overwrite counts at its new size; a save that does not
//! grow usage (a shrinking overwrite) is allowed even when the store is already over a limit.
//! Saves of the same key through one store are serialised, so the size an overwrite replaces is
//! the one it measured. No ledger call that may wait runs on an async runtime's thread: it is
//! tried without waiting there, and handed to the blocking pool when the ledger is busy.

use std::collections::HashMap;
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
    Backend, ByteRange, ByteStream, Capabilities, GetOptions, GetResult, Object, ObjectMeta, ObjectStream, PutMode,
    RangeRead, StoreLock, Usage, Version,
};
use crate::raw::detach::{cancel_on_drop, to_completion};
use crate::raw::io::{may_block_here, offload};
use crate::raw::ledger::{LedgerFigures, LocalLedger, UsageLedger};
use crate::raw::value_buffer::ValueAllocator;

/// Saves that would bring usage closer than this fraction of a limit take the exact path.
pub const RECOUNT_MARGIN: f64 = 0.10;

const KEY_STRIPES: usize = 256;

/// At most this many files handed out for writing in place are remembered (the oldest record
/// goes first; a save of a forgotten one counts as a plain overwrite).
const HANDED_OUT_RECORDS: usize = 65_536;

/// A [`Backend`] that refuses saves which would exceed [`Limits`].
#[derive(Debug)]
pub struct LimitsLayer {
    state: Arc<State>,
}

#[derive(Debug)]
struct State {
    inner: Arc<dyn Backend>,
    limits: Limits,
    ledger: Arc<dyn UsageLedger>,
    /// This layer's own ledger, when the backend shares none (it then counts saves itself).
    local: Option<Arc<LocalLedger>>,
    /// Fast saves hold it shared; an exact save holds it alone.
    gate: AsyncRwLock<()>,
    /// Serialises saves and deletes of keys in the same stripe.
    keys: Box<[AsyncMutex<()>]>,
    /// Keys handed out for writing in place, with their size then (`None`: no object).
    handed_out: std::sync::Mutex<HandedOut>,
}

#[derive(Debug, Default)]
struct HandedOut {
    sizes: HashMap<KeyBuf, Option<u64>>,
    order: std::collections::VecDeque<KeyBuf>,
}

impl LimitsLayer {
    /// Wraps `inner`. Uses the backend's shared ledger (and asks it to keep its figures fresh),
    /// or counts usage once now.
    pub async fn new(inner: Arc<dyn Backend>, limits: Limits) -> Result<LimitsLayer> {
        let (ledger, local): (Arc<dyn UsageLedger>, _) = match inner.usage_ledger() {
            Some(ledger) => {
                let fresh = ledger.clone();
                offload(move || fresh.keep_fresh()).await?;
                (ledger, None)
            }
            None => {
                let local = Arc::new(LocalLedger::new(inner.usage().await?));
                (local.clone(), Some(local))
            }
        };
        Ok(LimitsLayer {
            state: Arc::new(State {
                inner,
                limits,
                ledger,
                local,
                gate: AsyncRwLock::new(()),
                keys: (0..KEY_STRIPES).map(|_| AsyncMutex::new(())).collect(),
                handed_out: Default::default(),
            }),
        })
    }

    /// The usage the ledger holds now (no recount).
    pub fn counted(&self) -> Result<Usage> {
        Ok(self.state.ledger.read()?.usage())
    }
}

/// Why a decision refused a save.
#[derive(Debug, Clone, Copy)]
struct Refusal {
    kind: LimitKind,
    used: u64,
    limit: u64,
    requested: u64,
}

impl Refusal {
    fn error(self, key: &Key) -> Error {
        Error::LimitExceeded {
            key: key.to_string(),
            kind: self.kind,
            used: self.used,
            limit: self.limit,
            requested: self.requested,
        }
    }
}

/// True when `used` stays comfortably below `limit` (or there is none).
fn comfortable(used: u64, limit: Option<u64>) -> bool {
    limit.is_none_or(|limit| used <= (limit as f64 * (1.0 - RECOUNT_MARGIN)) as u64)
}

/// The exact decision for a save of `size` bytes under a key that holds `current` bytes now
/// (counted in `f`), judged as replacing `admitted` (the same, except for a file written in
/// place: what the key held when it was handed out).
fn check(
    limits: &Limits,
    f: &LedgerFigures,
    current: Option<u64>,
    admitted: Option<u64>,
    size: u64,
) -> std::result::Result<(), Refusal> {
    let others_bytes = f.bytes_in_use().saturating_sub(current.unwrap_or(0));
    let others_objects = f.objects_in_use().saturating_sub(u64::from(current.is_some()));
    if let (Some(limit), None) = (limits.max_objects, admitted) {
        if others_objects.saturating_add(1) > limit {
            return Err(Refusal { kind: LimitKind::Objects, used: others_objects, limit, requested: 1 });
        }
    }
    if let Some(limit) = limits.max_bytes {
        if size > admitted.unwrap_or(0) && others_bytes.saturating_add(size) > limit {
            let used = others_bytes.saturating_add(admitted.unwrap_or(0));
            return Err(Refusal { kind: LimitKind::Bytes, used, limit, requested: size });
        }
    }
    Ok(())
}

/// The result of an update closure that must have run.
fn ran<T>(out: Option<T>) -> Result<T> {
    out.ok_or_else(|| Error::io("the usage ledger skipped an update", std::io::ErrorKind::Other.into()))
}

/// Gives back a reservation from a place that cannot wait (a drop): at once when the ledger is
/// free, else on the blocking pool (or here, where blocking is allowed).
fn release_later(ledger: Arc<dyn UsageLedger>, bytes: u64, objects: u64) {
    let release = move |f: &mut LedgerFigures| f.release(bytes, objects);
    let warn = |e: Error| tracing::warn!(error = %e, "cannot release a reservation in the usage ledger");
    if !may_block_here() {
        match ledger.try_update(&mut { release }) {
            Ok(Some(_)) => return,
            Ok(None) => {}
            Err(e) => return warn(e),
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn_blocking(move || {
                if let Err(e) = ledger.update(&mut { release }) {
                    tracing::warn!(error = %e, "cannot release a reservation in the usage ledger");
                }
            });
            return;
        }
    }
    if let Err(e) = ledger.update(&mut { release }) {
        warn(e);
    }
}

/// Room reserved in the ledger for a save in flight. Release it with [`Reservation::release`];
/// dropped without that (a panic, a dropped future), it is released from the drop.
struct Reservation {
    state: Arc<State>,
    bytes: u64,
    objects: u64,
    armed: bool,
}

impl Reservation {
    fn new(state: &Arc<State>, bytes: u64, objects: u64) -> Reservation {
        Reservation { state: state.clone(), bytes, objects, armed: true }
    }

    async fn release(mut self) {
        self.armed = false;
        let (bytes, objects) = (self.bytes, self.objects);
        if let Err(e) = self.state.ledger_op(move |f| f.release(bytes, objects)).await {
            // The ledger over-counts until its figures are recounted.
            tracing::warn!(error = %e, "cannot release a reservation in the usage ledger");
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.armed {
            release_later(self.state.ledger.clone(), self.bytes, self.objects);
        }
    }
}

impl State {
    fn key_lock(&self, key: &Key) -> &AsyncMutex<()> {
        &self.keys[(xxhash_rust::xxh3::xxh3_64(key.as_str().as_bytes()) % KEY_STRIPES as u64) as usize]
    }

    /// The metadata of the object under `key` now, or `None`.
    async fn current(&self, key: &Key) -> Result<Option<ObjectMeta>> {
        match self.inner.head(key).await {
            Ok(meta) => Ok(Some(meta)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn current_size(&self, key: &Key) -> Result<Option<u64>> {
        Ok(self.current(key).await?.map(|m| m.size))
    }

    /// Runs `op` on the figures as one atomic update: tried without waiting on an async
    /// runtime's thread, handed to the blocking pool when the ledger is busy.
    async fn ledger_op<T: Send + 'static>(
        &self,
        mut op: impl FnMut(&mut LedgerFigures) -> T + Send + 'static,
    ) -> Result<(LedgerFigures, T)> {
        let mut out = None;
        if may_block_here() {
            let figures = self.ledger.update(&mut |f| out = Some(op(f)))?;
            return Ok((figures, ran(out)?));
        }
        if let Some(figures) = self.ledger.try_update(&mut |f| out = Some(op(f)))? {
            return Ok((figures, ran(out)?));
        }
        let ledger = self.ledger.clone();
        offload(move || {
            let mut out = None;
            let figures = ledger.update(&mut |f| out = Some(op(f)))?;
            Ok((figures, ran(out)?))
        })
        .await
    }

    /// Runs `op` as the exact update of a decision near a limit (see
    /// [`UsageLedger::exact_update`]), recounting first when `recount` or when the figures need
    /// it; on the blocking pool, since it may walk the storage.
    async fn exact_op<T: Send + 'static>(
        &self,
        recount: bool,
        mut op: impl FnMut(&mut LedgerFigures) -> T + Send + 'static,
    ) -> Result<(LedgerFigures, T)> {
        if let Some(local) = &self.local {
            // This layer's own ledger: only a recount sees what other processes saved, so every
            // exact decision recounts (as the README says of S3).
            let usage = self.inner.usage().await?;
            let mut out = None;
            let figures = local.recounted(usage, &mut |f| out = Some(op(f)));
            return Ok((figures, ran(out)?));
        }
        let ledger = self.ledger.clone();
        let (figures, out, mut op) = offload(move || {
            let mut out = None;
            let figures = ledger.exact_update(recount, &mut |f| out = Some(op(f)))?;
            Ok((figures, out, op))
        })
        .await?;
        if let (Some(figures), Some(out)) = (figures, out) {
            return Ok((figures, out));
        }
        // A shared ledger that cannot count the storage itself: count, set, then decide (not one
        // atomic step; no backend of this workspace takes this way).
        let usage = self.inner.usage().await?;
        self.ledger_op(move |f| {
            f.bytes = usage.bytes;
            f.objects = usage.objects;
            op(f)
        })
        .await
    }

    /// Takes the record of `key` handed out for writing in place: `Some(size then)`.
    fn take_handed_out(&self, key: &Key) -> Option<Option<u64>> {
        let mut handed = self.handed_out.lock().unwrap_or_else(|p| p.into_inner());
        let taken = handed.sizes.remove(key)?;
        handed.order.retain(|k| k.as_str() != key.as_str());
        Some(taken)
    }

    /// Records `key` as handed out for writing in place, holding `size` now (the first record
    /// stands until the key is saved or deleted).
    fn hand_out(&self, key: &Key, size: Option<u64>) {
        let mut handed = self.handed_out.lock().unwrap_or_else(|p| p.into_inner());
        let handed = &mut *handed;
        if handed.sizes.contains_key(key) {
            return;
        }
        if handed.sizes.len() >= HANDED_OUT_RECORDS {
            if let Some(oldest) = handed.order.pop_front() {
                handed.sizes.remove(&oldest);
                tracing::debug!(key = %oldest, "forgot the oldest file handed out for writing in place");
            }
        }
        handed.sizes.insert(KeyBuf::from(key), size);
        handed.order.push_back(KeyBuf::from(key));
    }

    /// Hands a body whose size is decided to the backend.
    async fn write(&self, key: &Key, body: Body, mode: &PutMode) -> Result<ObjectMeta> {
        match body {
            Body::Bytes(value) => self.inner.put(key, value, mode).await,
            Body::Stream(stream, size) => self.inner.put_stream(key, stream, Some(size), mode).await,
            Body::InPlace(size) => self.inner.put_in_place(key, size, mode).await,
        }
    }

    /// Records a save in the ledger when the backend does not count its own saves.
    async fn record(&self, old: Option<u64>, new: u64) -> Result<()> {
        if self.local.is_some() {
            self.ledger_op(move |f| f.apply(old, Some(new))).await?;
        }
        Ok(())
    }

    /// Writes with `reservation` held, then releases it and counts the save.
    async fn write_reserved(
        &self,
        key: &Key,
        body: Body,
        mode: &PutMode,
        reservation: Reservation,
        old: Option<u64>,
    ) -> Result<ObjectMeta> {
        let size = body.size();
        let written = self.write(key, body, mode).await;
        reservation.release().await;
        let meta = written?;
        self.record(old, size).await?;
        Ok(meta)
    }

    /// A put of a known size: the fast, not-growing or exact path (see the module docs).
    async fn put_sized(self: &Arc<Self>, key: &Key, body: Body, mode: &PutMode) -> Result<ObjectMeta> {
        let size = body.size();
        if let Some(max) = self.limits.max_object_bytes {
            if size > max {
                return Err(Refusal { kind: LimitKind::ObjectSize, used: size, limit: max, requested: size }.error(key));
            }
        }
        let _key = self.key_lock(key).lock().await;
        let handed = self.take_handed_out(key);
        let (result, keep_record) = self.put_locked(key, body, mode, handed).await;
        if let (Err(_), Some(size_then), true) = (&result, handed, keep_record) {
            // Not saved: the file written in place is still judged against the key's size then.
            self.hand_out(key, size_then);
        }
        result
    }

    /// [`State::put_sized`] with the key locked. Also says whether a record of a file handed out
    /// for writing in place still stands (false when its file was removed).
    async fn put_locked(
        self: &Arc<Self>,
        key: &Key,
        body: Body,
        mode: &PutMode,
        handed: Option<Option<u64>>,
    ) -> (Result<ObjectMeta>, bool) {
        let body = {
            let _shared = self.gate.read().await;
            match self.try_without_recount(key, body, mode, handed).await {
                Ok(Ok(meta)) => return (Ok(meta), true),
                Err(e) => return (Err(e), true),
                Ok(Err(body)) => body,
            }
        };
        self.put_exact(key, body, mode, handed).await
    }

    /// The fast and the not-growing path: `Ok(Err(body))` when the save needs the exact one.
    async fn try_without_recount(
        self: &Arc<Self>,
        key: &Key,
        body: Body,
        mode: &PutMode,
        handed: Option<Option<u64>>,
    ) -> Result<std::result::Result<ObjectMeta, Body>> {
        let size = body.size();
        let limits = self.limits;
        let (_, admitted) = self
            .ledger_op(move |f| {
                let fits = !f.stale
                    && comfortable(f.bytes_in_use().saturating_add(size), limits.max_bytes)
                    && comfortable(f.objects_in_use().saturating_add(1), limits.max_objects);
                if fits {
                    f.reserve(size, 1);
                }
                fits
            })
            .await?;
        if admitted {
            let reservation = Reservation::new(self, size, 1);
            let old = self.current_size(key).await?;
            let meta = self.write_reserved(key, body, mode, reservation, old).await?;
            if handed.is_some() {
                // What was written in place never went through the ledger: recount before the
                // next decision.
                self.ledger_op(|f| f.stale = true).await?;
            }
            return Ok(Ok(meta));
        }
        if handed.is_some() {
            // Growth happened in place: judged against the size when the file was handed out.
            return Ok(Err(body));
        }
        // Near a limit: an overwrite that cannot grow usage needs no recount. Reserve first,
        // then measure, so that a delete of the key by another process in between leaves the
        // re-created object counted in flight.
        self.ledger_op(move |f| f.reserve(size, 1)).await?;
        let reservation = Reservation::new(self, size, 1);
        let old = self.current_size(key).await?;
        if old.is_some_and(|old| old >= size) {
            return self.write_reserved(key, body, mode, reservation, old).await.map(Ok);
        }
        reservation.release().await;
        Ok(Err(body))
    }

    async fn put_exact(
        self: &Arc<Self>,
        key: &Key,
        body: Body,
        mode: &PutMode,
        handed: Option<Option<u64>>,
    ) -> (Result<ObjectMeta>, bool) {
        let alone = self.gate.write().await;
        let store = match self.inner.lock_store().await {
            Ok(lock) => lock,
            Err(e) => return (Err(e), true),
        };
        let current = match self.current(key).await {
            Ok(current) => current,
            Err(e) => return (Err(e), true),
        };
        let size = body.size();
        let current_size = current.as_ref().map(|m| m.size);
        let admitted = handed.unwrap_or(current_size);
        let limits = self.limits;
        let decided = self
            .exact_op(handed.is_some(), move |f| {
                // Far from every limit once counted (the figures were only stale), the save
                // need not keep others waiting while it writes.
                let far = comfortable(f.bytes_in_use().saturating_add(size), limits.max_bytes)
                    && comfortable(f.objects_in_use().saturating_add(1), limits.max_objects);
                let verdict = check(&limits, f, current_size, admitted, size);
                if verdict.is_ok() {
                    f.reserve(size, 1);
                }
                (verdict, far)
            })
            .await;
        if let Ok((_, (Ok(()), true))) = &decided {
            drop(store);
            drop(alone);
        }
        match decided.map(|(f, (verdict, _))| (f, verdict)) {
            Err(e) => (Err(e), true),
            Ok((_, Err(refusal))) => {
                let removed = match (&current, handed) {
                    (Some(meta), Some(None)) => self.remove_unadmitted(key, &meta.version).await,
                    _ => false,
                };
                (Err(refusal.error(key)), !removed)
            }
            Ok((_, Ok(()))) => {
                let reservation = Reservation::new(self, size, 1);
                (self.write_reserved(key, body, mode, reservation, current_size).await, true)
            }
        }
    }

    /// Removes the file of a key that had no object when it was handed out for writing in place
    /// and whose save was refused: it was never admitted. Only the version examined goes.
    async fn remove_unadmitted(&self, key: &Key, version: &Version) -> bool {
        match self.inner.delete(key, Some(version)).await {
            Ok(()) => {
                tracing::info!(%key, "removed a file written in place whose save a limit refused");
                true
            }
            Err(e) => {
                tracing::warn!(%key, error = %e, "cannot remove a file written in place whose save a limit refused");
                false
            }
        }
    }

    /// A streamed put of unknown size: one object is reserved at once, and bytes as they arrive;
    /// the stream fails (and the backend stores nothing) as soon as it would take usage past a
    /// limit, counting what other saves have in flight.
    async fn put_unsized(self: &Arc<Self>, key: &Key, body: ByteStream, mode: &PutMode) -> Result<ObjectMeta> {
        let _key = self.key_lock(key).lock().await;
        let handed = self.take_handed_out(key);
        let _shared = self.gate.read().await;
        let old = self.current_size(key).await?;
        let limits = self.limits;
        // Judged as replacing the size when handed out, for a file written in place.
        let admitted = handed.unwrap_or(old);
        let room = move |f: &mut LedgerFigures| -> Option<std::result::Result<(), Refusal>> {
            if f.stale {
                return None;
            }
            let others = f.objects_in_use().saturating_sub(u64::from(old.is_some()));
            let verdict = match (limits.max_objects, admitted) {
                (Some(limit), None) if others.saturating_add(1) > limit => {
                    Err(Refusal { kind: LimitKind::Objects, used: others, limit, requested: 1 })
                }
                _ => Ok(()),
            };
            if verdict.is_ok() {
                f.reserve(0, 1);
            }
            Some(verdict)
        };
        let verdict = match self.ledger_op(room).await?.1 {
            Some(verdict) => verdict,
            None => self.exact_op(false, move |f| room(f).unwrap_or(Ok(()))).await?.1,
        };
        if let Err(refusal) = verdict {
            if let Some(size_then) = handed {
                self.hand_out(key, size_then);
            }
            return Err(refusal.error(key));
        }
        let growing = GrowingReservation::new(self.clone(), KeyBuf::from(key), old.unwrap_or(0), admitted);
        let counted = growing.clone();
        let body = futures::StreamExt::boxed(futures::StreamExt::then(body, move |chunk| {
            let counted = counted.clone();
            async move {
                let chunk = chunk?;
                counted.grow(chunk.len() as u64).await?;
                Ok(chunk)
            }
        }));
        let meta = self.inner.put_stream(key, body, None, mode).await;
        growing.release().await;
        let meta = match meta {
            Ok(meta) => meta,
            Err(e) => {
                if let Some(size_then) = handed {
                    self.hand_out(key, size_then);
                }
                return Err(e);
            }
        };
        self.record(old, meta.size).await?;
        if handed.is_some() {
            self.ledger_op(|f| f.stale = true).await?;
        }
        Ok(meta)
    }

    async fn delete(&self, key: &Key, if_match: Option<&Version>) -> Result<()> {
        let _key = self.key_lock(key).lock().await;
        let _shared = self.gate.read().await;
        self.take_handed_out(key);
        let old = if self.local.is_some() { self.current_size(key).await? } else { None };
        self.inner.delete(key, if_match).await?;
        if self.local.is_some() {
            self.ledger_op(move |f| f.apply(old, None)).await?;
        }
        Ok(())
    }
}

/// What a put stores: bytes in memory, or a stream of a known size.
enum Body {
    Bytes(Bytes),
    Stream(ByteStream, u64),
    /// The key's own file, written in place, of this size.
    InPlace(u64),
}

impl Body {
    fn size(&self) -> u64 {
        match self {
            Body::Bytes(b) => b.len() as u64,
            Body::Stream(_, size) | Body::InPlace(size) => *size,
        }
    }
}

/// The room a streamed put of unknown size holds in the ledger: one object from the start, and
/// its bytes as they arrive; all released by [`GrowingReservation::release`], or when the last
/// clone drops (the put's future was dropped).
#[derive(Clone)]
struct GrowingReservation(Arc<GrowingInner>);

struct GrowingInner {
    state: Arc<State>,
    key: KeyBuf,
    /// The size of the object the put replaces.
    old: u64,
    /// The size the put is judged as replacing (see the module docs on files written in place).
    admitted: Option<u64>,
    /// Bytes reserved so far.
    bytes: std::sync::atomic::AtomicU64,
    released: std::sync::atomic::AtomicBool,
}

impl GrowingReservation {
    fn new(state: Arc<State>, key: KeyBuf, old: u64, admitted: Option<u64>) -> GrowingReservation {
        GrowingReservation(Arc::new(GrowingInner {
            state,
            key,
            old,
            admitted,
            bytes: Default::default(),
            released: Default::default(),
        }))
    }

    /// Reserves `more` bytes, or fails when the object or the store would pass a limit.
    async fn grow(&self, more: u64) -> Result<()> {
        use std::sync::atomic::Ordering::Relaxed;
        let inner = &self.0;
        let total = inner.bytes.load(Relaxed).saturating_add(more);
        let limits = inner.state.limits;
        if let Some(max) = limits.max_object_bytes {
            if total > max {
                return Err(Refusal { kind: LimitKind::ObjectSize, used: total, limit: max, requested: total }
                    .error(&inner.key));
            }
        }
        let (old, admitted) = (inner.old, inner.admitted.unwrap_or(0));
        let room = move |f: &mut LedgerFigures| -> Option<std::result::Result<(), Refusal>> {
            if f.stale {
                return None;
            }
            // Others' reservations and ours so far are in `reserved_bytes`; the object this put
            // replaces leaves usage when it lands.
            let after = f.bytes_in_use().saturating_add(more).saturating_sub(old);
            let verdict = match limits.max_bytes {
                Some(limit) if total > admitted && after > limit => {
                    Err(Refusal { kind: LimitKind::Bytes, used: f.bytes_in_use(), limit, requested: total })
                }
                _ => Ok(()),
            };
            if verdict.is_ok() {
                f.reserve(more, 0);
            }
            Some(verdict)
        };
        let verdict = match inner.state.ledger_op(room).await?.1 {
            Some(verdict) => verdict,
            None => inner.state.exact_op(false, move |f| room(f).unwrap_or(Ok(()))).await?.1,
        };
        verdict.map_err(|refusal| refusal.error(&inner.key))?;
        inner.bytes.store(total, Relaxed);
        Ok(())
    }

    /// Gives back everything reserved.
    async fn release(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        let inner = &self.0;
        if inner.released.swap(true, Relaxed) {
            return;
        }
        let bytes = inner.bytes.load(Relaxed);
        if let Err(e) = inner.state.ledger_op(move |f| f.release(bytes, 1)).await {
            tracing::warn!(error = %e, "cannot release a streamed save's reservation in the usage ledger");
        }
    }
}

impl Drop for GrowingInner {
    fn drop(&mut self) {
        if !*self.released.get_mut() {
            release_later(self.state.ledger.clone(), *self.bytes.get_mut(), 1);
        }
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl Backend for LimitsLayer {
    fn name(&self) -> &str {
        self.state.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.state.inner.capabilities()
    }

    async fn put(&self, key: &Key, value: Bytes, mode: &PutMode) -> Result<ObjectMeta> {
        let (state, key, mode) = (self.state.clone(), KeyBuf::from(key), mode.clone());
        to_completion(async move { state.put_sized(&key, Body::Bytes(value), &mode).await }).await
    }

    async fn put_stream(&self, key: &Key, body: ByteStream, size: Option<u64>, mode: &PutMode) -> Result<ObjectMeta> {
        let (state, key, mode) = (self.state.clone(), KeyBuf::from(key), mode.clone());
        let (body, _cancel) = cancel_on_drop(body);
        to_completion(async move {
            match size {
                Some(size) => state.put_sized(&key, Body::Stream(body, size), &mode).await,
                None => state.put_unsized(&key, body, &mode).await,
            }
        })
        .await
    }

    async fn get(&self, key: &Key, opts: &GetOptions) -> Result<GetResult> {
        self.state.inner.get(key, opts).await
    }

    async fn put_in_place(&self, key: &Key, size: u64, mode: &PutMode) -> Result<ObjectMeta> {
        let (state, key, mode) = (self.state.clone(), KeyBuf::from(key), mode.clone());
        to_completion(async move { state.put_sized(&key, Body::InPlace(size), &mode).await }).await
    }

    async fn get_to_file(&self, key: &Key, file: Arc<std::fs::File>) -> Result<ObjectMeta> {
        self.state.inner.get_to_file(key, file).await
    }

    async fn get_into(&self, key: &Key, alloc: &dyn ValueAllocator) -> Result<Object> {
        self.state.inner.get_into(key, alloc).await
    }

    async fn get_range(&self, key: &Key, range: &ByteRange, if_match: Option<&Version>) -> Result<RangeRead> {
        self.state.inner.get_range(key, range, if_match).await
    }

    async fn get_stream(
        &self,
        key: &Key,
        range: Option<&ByteRange>,
        if_match: Option<&Version>,
    ) -> Result<ObjectStream> {
        self.state.inner.get_stream(key, range, if_match).await
    }

    fn get_ready(&self, key: &Key) -> Option<Bytes> {
        self.state.inner.get_ready(key)
    }

    fn version_now(&self, key: &Key) -> Option<Result<Version>> {
        self.state.inner.version_now(key)
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        self.state.inner.head(key).await
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
        let state = &self.state;
        let Some(local) = &state.local else { return state.inner.usage().await };
        // This layer keeps the figures itself: a recount is the moment to catch up with what
        // other writers did, when none of this store's saves is in flight (else just count).
        let Ok(_alone) = state.gate.try_write() else { return state.inner.usage().await };
        let usage = state.inner.usage().await?;
        local.recounted(usage, &mut |_| {});
        Ok(usage)
    }

    async fn local_path(&self, key: &Key, create_parents: bool) -> Result<Option<PathBuf>> {
        let path = self.state.inner.local_path(key, create_parents).await?;
        if create_parents && path.is_some() {
            // Handed out for writing in place: its save is judged against what it holds now.
            let size = self.state.current_size(key).await?;
            self.state.hand_out(key, size);
        }
        Ok(path)
    }

    fn usage_ledger(&self) -> Option<Arc<dyn UsageLedger>> {
        self.state.inner.usage_ledger()
    }

    async fn lock_store(&self) -> Result<Option<StoreLock>> {
        self.state.inner.lock_store().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::memory::MemoryBackend;

    async fn layer(limits: Limits) -> LimitsLayer {
        LimitsLayer::new(Arc::new(MemoryBackend::new()), limits).await.unwrap()
    }

    fn figures(layer: &LimitsLayer) -> LedgerFigures {
        layer.state.ledger.read().unwrap()
    }

    /// A refused fast-path attempt must not release anything: each one once released another
    /// save's reservation (the guard was built, and dropped, even when nothing was reserved),
    /// and concurrent saves under contention went past the limit.
    #[tokio::test]
    async fn a_refused_reservation_releases_nothing() {
        let layer = layer(Limits { max_objects: Some(10), ..Limits::default() }).await;
        let (state, key) = (layer.state.clone(), KeyBuf::parse("k").unwrap());
        state.ledger.update(&mut |f| f.reserve(1, 1)).unwrap();
        let first = Reservation::new(&state, 1, 1);
        state.ledger.update(&mut |f| f.objects = 8).unwrap();
        for _ in 0..5 {
            // Past the fast path's threshold: the exact path decides (and here admits: 8 + 1 + 1).
            let fast =
                state.try_without_recount(&key, Body::Bytes(Bytes::from_static(b"v")), &PutMode::Overwrite, None).await;
            assert!(matches!(fast, Ok(Err(_))), "past the fast path's threshold");
        }
        assert_eq!(figures(&layer).reserved_objects, 1, "a refusal released someone else's reservation");
        first.release().await;
        assert_eq!(figures(&layer).reserved_objects, 0);
    }

    /// At a limit, an overwrite that does not grow usage neither waits for the store to be alone
    /// nor recounts (the exact path would wait on the gate another save holds), while a growing
    /// one still takes the exact path and is refused.
    #[tokio::test]
    async fn an_overwrite_that_cannot_grow_usage_skips_the_exact_path() {
        use futures::FutureExt as _;
        let limits = Limits { max_bytes: Some(100), max_objects: Some(2), ..Limits::default() };
        let layer = layer(limits).await;
        let (a, b) = (KeyBuf::parse("a").unwrap(), KeyBuf::parse("b").unwrap());
        layer.put(&a, Bytes::from(vec![1u8; 60]), &PutMode::Overwrite).await.unwrap();
        layer.put(&b, Bytes::from(vec![2u8; 40]), &PutMode::Overwrite).await.unwrap();
        let in_flight = layer.state.gate.read().await;
        // Called below the detaching `put`, so that `now_or_never` sees whether it waited.
        let state = &layer.state;
        let put = |key: KeyBuf, value: Vec<u8>| async move {
            state.put_sized(&key, Body::Bytes(Bytes::from(value)), &PutMode::Overwrite).await
        };
        let same = put(a.clone(), vec![3u8; 60]).now_or_never();
        assert!(matches!(same, Some(Ok(_))), "a same-size overwrite at the limit waited or failed: {same:?}");
        let smaller = put(b.clone(), vec![4u8; 10]).now_or_never();
        assert!(matches!(smaller, Some(Ok(_))), "a shrinking overwrite waited or failed: {smaller:?}");
        let growing = put(b.clone(), vec![5u8; 50]).now_or_never();
        assert!(growing.is_none(), "a growing overwrite near the limit must take the exact path");
        drop(in_flight);
        let refused = layer.put(&b, Bytes::from(vec![5u8; 41]), &PutMode::Overwrite).await;
        assert!(matches!(refused, Err(Error::LimitExceeded { kind: LimitKind::Bytes, .. })), "{refused:?}");
        let fits = layer.put(&b, Bytes::from(vec![5u8; 40]), &PutMode::Overwrite).await;
        assert!(fits.is_ok(), "{fits:?}");
        let f = figures(&layer);
        assert_eq!((f.bytes, f.objects, f.reserved_bytes, f.reserved_objects), (100, 2, 0, 0));
    }

    /// Two handles on one shared ledger: a save deciding near the limit reserves its room before
    /// it writes, so the other handle's decision, made while it writes, counts it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_exact_decision_reserves_before_it_writes() {
        let backend = MemoryBackend::shared("limits-exact-reserves");
        let limits = Limits { max_bytes: Some(100), ..Limits::default() };
        let a = Arc::new(LimitsLayer::new(backend.clone(), limits).await.unwrap());
        let b = LimitsLayer::new(backend, limits).await.unwrap();
        let (started, wait_started) = tokio::sync::oneshot::channel();
        let (go, wait_go) = tokio::sync::oneshot::channel::<()>();
        let body = futures::StreamExt::boxed(futures::stream::once(async move {
            let _ = started.send(());
            let _ = wait_go.await;
            Ok(Bytes::from(vec![1u8; 95]))
        }));
        let key = KeyBuf::parse("a").unwrap();
        let saving = {
            let a = a.clone();
            tokio::spawn(async move { a.put_stream(&key, body, Some(95), &PutMode::Overwrite).await })
        };
        wait_started.await.unwrap();
        assert_eq!(figures(&b).reserved_bytes, 95, "the exact decision reserved nothing others see");
        let _ = go.send(());
        saving.await.unwrap().unwrap();
        let refused = b.put(&KeyBuf::parse("b").unwrap(), Bytes::from(vec![2u8; 85]), &PutMode::Overwrite).await;
        assert!(matches!(refused, Err(Error::LimitExceeded { kind: LimitKind::Bytes, .. })), "{refused:?}");
    }

    /// Stale figures (changes made around the store) are recounted before a decision, even one
    /// far from the limit by the ledger's figures.
    #[tokio::test]
    async fn stale_figures_are_recounted_before_a_decision() {
        let backend = MemoryBackend::shared("limits-stale");
        let layer =
            LimitsLayer::new(backend.clone(), Limits { max_objects: Some(10), ..Limits::default() }).await.unwrap();
        for i in 0..9 {
            backend.put(&KeyBuf::parse(&format!("k{i}")).unwrap(), Bytes::new(), &PutMode::Overwrite).await.unwrap();
        }
        // Pretend the ledger missed them, as it would miss another program's files.
        layer
            .state
            .ledger
            .update(&mut |f| {
                f.objects = 0;
                f.stale = true;
            })
            .unwrap();
        layer.put(&KeyBuf::parse("mine").unwrap(), Bytes::new(), &PutMode::Overwrite).await.unwrap();
        let refused = layer.put(&KeyBuf::parse("more").unwrap(), Bytes::new(), &PutMode::Overwrite).await;
        assert!(matches!(refused, Err(Error::LimitExceeded { kind: LimitKind::Objects, used: 10, .. })), "{refused:?}");
        assert!(!figures(&layer).stale);
    }
}
