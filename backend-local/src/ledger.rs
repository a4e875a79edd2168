//! The usage ledger of a folder, shared by every process that opens it.
//!
//! `.objstore/usage` holds a header and a table of lease slots, each part with its own checksum:
//!
//! - **header** (64 bytes): magic `OBJSLDG2`, committed bytes and objects, flags (`stale`: the
//!   figures may miss changes made around the store; `committing`: a save is between its rename
//!   and its count), when the figures were last recounted, how many slots are in use, how many
//!   objects the store itself has deleted (see `watch.rs`), and an xxh3 checksum;
//! - **slots** (32 bytes each, up to [`MAX_SLOTS`]): the bytes and objects reserved by the saves
//!   in flight of one open handle, and a checksum.
//!
//! Every change takes an exclusive `flock` on the file (and a mutex, since a `flock` belongs to
//! the open file, which the threads of this process share), reads, changes and writes. A save's
//! rename happens inside that lock together with its count ([`FileLedger::change`]), so a
//! recount done under the lock ([`FileLedger::exact_update`]) is a snapshot that never drops or
//! doubles another process's save; the `committing` flag, written before the rename, tells the
//! next holder that a process died between its rename and its count (the figures are then
//! marked stale and recounted before the next exact decision).
//!
//! A slot belongs to the handle holding a one-byte open-file-description lock at its index in
//! `.objstore/leases`; the kernel releases it when the process dies. A handle's own reservations
//! are kept in its memory and written to its slot; the reservations of others are read from
//! theirs. An exact update first checks every other slot holding room: one whose lease is free
//! belongs to a handle that is gone, and its room is given back. Opening never resets anyone's
//! reservations: only a recount of the committed figures, which is always safe.
//!
//! Figures read from disk are checked: a header that is short, of another format or with a bad
//! checksum is not trusted (the figures are marked stale and recounted; a warning says so), and
//! arithmetic on them saturates. A slot with a bad checksum counts as empty (with a warning); its
//! owner rewrites it from memory at its next change.
//!
//! Files other programs add or change while the store is open are noticed by the watcher of
//! `watch.rs`, drained at every change of the ledger; where no watcher runs (no limits here, or
//! inotify unavailable), figures older than [`UNWATCHED_FRESHNESS`] count as stale for a
//! decision.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fs::FlockOperation;
use rustix::io::{Errno, pread, pwrite};
use store_core::raw::ledger::LedgerFigures;
use store_core::{Result, Usage};

use crate::error::os_error;
use crate::locks::retry_intr;
use crate::watch::Watcher;

const MAGIC: &[u8; 8] = b"OBJSLDG2";
/// The format before lease slots (figures only, no checksum): recounted, not trusted.
const OLD_MAGIC: &[u8; 8] = b"OBJSLDG1";
const HEADER: usize = 64;
const SLOT: usize = 32;
/// How many handles can have one folder open at once.
pub(crate) const MAX_SLOTS: usize = 4096;
/// Slots read with the header in one go (more are read only when more are in use).
const FIRST_READ_SLOTS: usize = 8;

const FLAG_STALE: u64 = 1;
const FLAG_COMMITTING: u64 = 2;

/// Without a watcher, figures recounted longer ago than this are stale for a decision: files
/// other programs add then count within this time.
pub(crate) const UNWATCHED_FRESHNESS: Duration = Duration::from_secs(5);

/// The decoded header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Header {
    bytes: u64,
    objects: u64,
    flags: u64,
    /// Milliseconds since the epoch.
    recounted_at: u64,
    slots: u32,
    /// Objects the store's handles have deleted, ever (wraps).
    deletes: u64,
}

/// One slot: the room one handle's saves in flight hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Slot {
    bytes: u64,
    objects: u64,
    owner: u64,
}

impl Slot {
    fn is_empty(&self) -> bool {
        self.bytes == 0 && self.objects == 0
    }
}

/// The ledger file of one folder.
#[derive(Debug)]
pub(crate) struct FileLedger {
    file: OwnedFd,
    leases: OwnedFd,
    slot: usize,
    state: Mutex<Own>,
    watcher: OnceLock<Option<Arc<Watcher>>>,
}

/// What a session reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// The header, every slot in use, and the watch of other programs' changes.
    Full,
    /// The header alone (the committed figures).
    Header,
}

/// What only this handle knows.
#[derive(Debug, Default)]
struct Own {
    /// This handle's reservations (the truth; its slot on disk is a copy).
    reserved: Slot,
    /// A damage warning was logged (once per handle is enough).
    warned: bool,
}

/// The file, locked, read, with the changes made so far.
struct Session<'a> {
    ledger: &'a FileLedger,
    own: MutexGuard<'a, Own>,
    header: Header,
    header_valid: bool,
    others: Vec<(usize, Slot)>,
    header_dirty: bool,
    own_dirty: bool,
    cleared: Vec<usize>,
}

struct Unlock<'a>(&'a OwnedFd);

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        if let Err(e) = retry_intr(|| rustix::fs::flock(self.0, FlockOperation::Unlock)) {
            tracing::error!(error = %e, "cannot unlock the usage ledger");
        }
    }
}

/// This process's id, read once (a slot names its owner, for someone reading the file).
fn own_pid() -> u32 {
    static PID: OnceLock<u32> = OnceLock::new();
    *PID.get_or_init(std::process::id)
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl FileLedger {
    /// The ledger in `file`, with a slot leased in `leases` (see [`take_slot`]).
    pub(crate) fn new(file: OwnedFd, leases: OwnedFd, slot: usize) -> FileLedger {
        FileLedger { file, leases, slot, state: Mutex::new(Own::default()), watcher: OnceLock::new() }
    }

    /// Locks the file (waiting, or not when `wait` is false: `None` if busy) and reads it.
    fn session(&self, wait: bool, read: Read) -> Result<Option<(Session<'_>, Unlock<'_>)>> {
        let own = if wait {
            self.state.lock().unwrap_or_else(|p| p.into_inner())
        } else {
            match self.state.try_lock() {
                Ok(own) => own,
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => return Ok(None),
            }
        };
        let op = if wait { FlockOperation::LockExclusive } else { FlockOperation::NonBlockingLockExclusive };
        match retry_intr(|| rustix::fs::flock(&self.file, op)) {
            Ok(()) => {}
            Err(Errno::WOULDBLOCK) if !wait => return Ok(None),
            Err(e) => return Err(os_error("cannot lock the usage ledger", e)),
        }
        let unlock = Unlock(&self.file);
        let session = self.read(own, read)?;
        Ok(Some((session, unlock)))
    }

    fn read<'a>(&'a self, mut own: MutexGuard<'a, Own>, read: Read) -> Result<Session<'a>> {
        // The header and the first slots in one read; more only when more are in use.
        let first = if read == Read::Header { HEADER } else { HEADER + FIRST_READ_SLOTS * SLOT };
        let mut buf = vec![0u8; first];
        let mut filled = read_fill(&self.file, &mut buf, 0)?;
        let want = match decode_header(&buf[..filled.min(HEADER)]) {
            Some(h) => HEADER + (h.slots as usize).max(self.slot + 1) * SLOT,
            // Damaged: the slots in use are unknown, read all there are.
            None => HEADER + MAX_SLOTS * SLOT,
        };
        if read == Read::Full && want > buf.len() && filled == buf.len() {
            buf.resize(want, 0);
            filled += read_fill(&self.file, &mut buf[filled..], filled as u64)?;
        }
        let (header, header_valid) = match decode_header(&buf[..filled.min(HEADER)]) {
            Some(h) => (h, true),
            None => (Header { flags: FLAG_STALE, ..Header::default() }, filled == 0),
        };
        if !header_valid && !own.warned {
            own.warned = true;
            if buf.starts_with(OLD_MAGIC) {
                tracing::info!("the usage ledger has an older format; its figures will be recounted");
            } else {
                tracing::warn!("the usage ledger's header is damaged; its figures will be recounted");
            }
        }
        // A damaged header does not say how many slots are in use: read all there are.
        let in_use = if header_valid { header.slots as usize } else { (filled.saturating_sub(HEADER)) / SLOT };
        let mut others = Vec::new();
        for i in 0..in_use.min(MAX_SLOTS) {
            if i == self.slot {
                continue;
            }
            let at = HEADER + i * SLOT;
            if at + SLOT > filled {
                break;
            }
            match decode_slot(i, &buf[at..at + SLOT]) {
                Some(slot) if slot.is_empty() => {}
                Some(slot) => others.push((i, slot)),
                None => {
                    if !own.warned {
                        own.warned = true;
                        tracing::warn!(slot = i, "a slot of the usage ledger is damaged; its room is ignored");
                    }
                }
            }
        }
        let mut session = Session {
            ledger: self,
            own,
            header,
            header_valid,
            others,
            header_dirty: !header_valid,
            own_dirty: false,
            cleared: Vec::new(),
        };
        if session.header.slots as usize <= self.slot {
            session.header.slots = self.slot as u32 + 1;
            session.header_dirty = true;
            session.own_dirty = true;
        }
        if session.header.flags & FLAG_COMMITTING != 0 {
            // Whoever set it died between a rename and its count (the lock is ours now).
            tracing::warn!("a save was interrupted between its rename and its count; usage will be recounted");
            session.header.flags = (session.header.flags & !FLAG_COMMITTING) | FLAG_STALE;
            session.header_dirty = true;
        }
        if let (Read::Full, Some(Some(watcher))) = (read, self.watcher.get()) {
            if watcher.drain(session.header.deletes) {
                session.header.flags |= FLAG_STALE;
                session.header_dirty = true;
            }
        }
        Ok(session)
    }

    /// Runs `f` on the figures with the file locked, writing back what changed. `None` when
    /// `wait` is false and the ledger is busy.
    fn locked<T>(&self, wait: bool, f: impl FnOnce(&mut Session<'_>) -> Result<T>) -> Result<Option<T>> {
        self.locked_reading(wait, Read::Full, f)
    }

    fn locked_reading<T>(
        &self,
        wait: bool,
        read: Read,
        f: impl FnOnce(&mut Session<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        let Some((mut session, _unlock)) = self.session(wait, read)? else { return Ok(None) };
        let out = f(&mut session);
        session.write()?;
        out.map(Some)
    }

    /// `change` on the figures, as [`store_core::raw::ledger::UsageLedger::update`] (or its
    /// `try_update` when `wait` is false).
    pub(crate) fn update(
        &self,
        wait: bool,
        change: &mut dyn FnMut(&mut LedgerFigures),
    ) -> Result<Option<LedgerFigures>> {
        self.locked(wait, |s| Ok(s.apply(change)))
    }

    /// The update of an exact decision (see the trait's `exact_update`): reclaims the room of
    /// handles that are gone, recounts with `count` under the lock when asked or needed, then
    /// applies `change`.
    pub(crate) fn exact_update(
        &self,
        recount: bool,
        count: &dyn Fn() -> Result<Usage>,
        change: &mut dyn FnMut(&mut LedgerFigures),
    ) -> Result<LedgerFigures> {
        let figures = self.locked(true, |s| {
            s.reclaim();
            if recount || s.stale() {
                s.set_counted(count()?);
            }
            Ok(s.apply(change))
        })?;
        figures.ok_or_else(|| os_error("cannot lock the usage ledger", Errno::AGAIN))
    }

    /// Makes a change of one object under the ledger's lock: marks a save in progress, runs
    /// `change` (the rename or unlink; it returns the object's size before and after), and counts
    /// it. A failed `change` counts nothing.
    /// Only the header is read: a save's count needs no reservations, and the watch is drained
    /// by the decisions, not by every save.
    pub(crate) fn change(&self, change: impl FnOnce() -> Result<(Option<u64>, Option<u64>)>) -> Result<()> {
        let done = self.locked_reading(true, Read::Header, |s| {
            s.header.flags |= FLAG_COMMITTING;
            s.write_header()?;
            let changed = change();
            s.header.flags &= !FLAG_COMMITTING;
            s.header_dirty = true;
            let (old, new) = changed?;
            let mut figures = s.figures();
            figures.apply(old, new);
            s.header.bytes = figures.bytes;
            s.header.objects = figures.objects;
            if old.is_some() && new.is_none() {
                s.header.deletes = s.header.deletes.wrapping_add(1);
            }
            Ok(())
        })?;
        done.ok_or_else(|| os_error("cannot lock the usage ledger", Errno::AGAIN))
    }

    /// Joins the ledger at open: writes this handle's slot, reclaims those of handles that are
    /// gone, and says whether the committed figures should be recounted now (nobody else has the
    /// folder open, so files may have changed since anyone counted; or they are damaged or stale).
    pub(crate) fn join(&self) -> Result<bool> {
        let due = self.locked(true, |s| {
            s.own_dirty = true;
            let alone = s.reclaim();
            Ok(alone || !s.header_valid || s.header.flags & FLAG_STALE != 0)
        })?;
        Ok(due.unwrap_or(true))
    }

    /// Starts watching for changes other programs make (once per ledger; see `watch.rs`). A
    /// store the watcher cannot cover falls back to [`UNWATCHED_FRESHNESS`].
    pub(crate) fn keep_fresh(
        &self,
        start: impl FnOnce() -> Option<Arc<Watcher>>,
        count: &dyn Fn() -> Result<Usage>,
    ) -> Result<()> {
        if self.watcher.get().is_some() {
            return Ok(());
        }
        // Under the lock, so that the watcher's count of deletes starts from the ledger's, and
        // the count below is a snapshot.
        self.locked(true, |s| {
            let watcher = start();
            if let Some(w) = &watcher {
                w.start_counting(s.header.deletes);
                // What happened before the watch began is unknown to it: count now, so that
                // the first decision does not have to.
                s.set_counted(count()?);
            }
            let _ = self.watcher.set(watcher);
            Ok(())
        })?;
        Ok(())
    }

    /// True when a watcher covers the folder.
    fn watched(&self) -> bool {
        matches!(self.watcher.get(), Some(Some(w)) if w.healthy())
    }

    /// Clears this handle's slot when it closes, if the ledger is free right now (its
    /// reservations are none by then; a slot left behind is reclaimed by the next exact update,
    /// since its lease goes with the file). Never waits: a drop may run on an async thread.
    fn leave(&self) {
        let left = self.locked(false, |s| {
            s.own.reserved = Slot::default();
            s.own_dirty = true;
            Ok(())
        });
        if let Err(e) = left {
            tracing::warn!(error = %e, "cannot clear this handle's slot in the usage ledger");
        }
    }
}

impl Drop for FileLedger {
    fn drop(&mut self) {
        self.leave();
    }
}

impl Session<'_> {
    fn stale(&self) -> bool {
        if self.header.flags & FLAG_STALE != 0 {
            return true;
        }
        !self.ledger.watched()
            && now_ms().saturating_sub(self.header.recounted_at) > UNWATCHED_FRESHNESS.as_millis() as u64
    }

    fn figures(&self) -> LedgerFigures {
        let mut f = LedgerFigures {
            bytes: self.header.bytes,
            objects: self.header.objects,
            stale: self.stale(),
            ..LedgerFigures::default()
        };
        f.reserve(self.own.reserved.bytes, self.own.reserved.objects);
        for (_, slot) in &self.others {
            f.reserve(slot.bytes, slot.objects);
        }
        f
    }

    /// Applies `change` to the figures: committed figures to the header, a change of the
    /// reservations to this handle's slot, `stale` only ever set.
    fn apply(&mut self, change: &mut dyn FnMut(&mut LedgerFigures)) -> LedgerFigures {
        let before = self.figures();
        let mut after = before;
        change(&mut after);
        if (after.bytes, after.objects) != (before.bytes, before.objects) {
            self.header.bytes = after.bytes;
            self.header.objects = after.objects;
            self.header_dirty = true;
        }
        if after.stale && !before.stale {
            self.header.flags |= FLAG_STALE;
            self.header_dirty = true;
        }
        let own = &mut self.own.reserved;
        let (bytes, objects) = (own.bytes, own.objects);
        own.bytes = if after.reserved_bytes >= before.reserved_bytes {
            own.bytes.saturating_add(after.reserved_bytes - before.reserved_bytes)
        } else {
            own.bytes.saturating_sub(before.reserved_bytes - after.reserved_bytes)
        };
        own.objects = if after.reserved_objects >= before.reserved_objects {
            own.objects.saturating_add(after.reserved_objects - before.reserved_objects)
        } else {
            own.objects.saturating_sub(before.reserved_objects - after.reserved_objects)
        };
        if (own.bytes, own.objects) != (bytes, objects) {
            self.own_dirty = true;
        }
        self.figures()
    }

    /// Sets the committed figures to a fresh count, clearing `stale`.
    fn set_counted(&mut self, usage: Usage) {
        self.header.bytes = usage.bytes;
        self.header.objects = usage.objects;
        self.header.flags &= !FLAG_STALE;
        self.header.recounted_at = now_ms();
        self.header_dirty = true;
    }

    /// Gives back the room of handles that are gone (their lease is free). Returns true when no
    /// other handle holds a lease.
    fn reclaim(&mut self) -> bool {
        let leases = &self.ledger.leases;
        let mut alone = true;
        let in_use = self.header.slots as usize;
        let mut last_live = self.ledger.slot;
        for i in 0..in_use.min(MAX_SLOTS) {
            if i == self.ledger.slot {
                continue;
            }
            match lease_is_held(leases, i) {
                Ok(true) => {
                    alone = false;
                    last_live = last_live.max(i);
                }
                Ok(false) => {
                    if let Some(at) = self.others.iter().position(|(j, _)| *j == i) {
                        let (_, slot) = self.others.swap_remove(at);
                        tracing::info!(
                            slot = i,
                            bytes = slot.bytes,
                            objects = slot.objects,
                            "gave back the room a handle that is gone held in the usage ledger"
                        );
                        self.cleared.push(i);
                    }
                }
                Err(e) => {
                    // Unknown: keep its room (conservative) and count it as live.
                    tracing::warn!(slot = i, error = %e, "cannot check a lease of the usage ledger");
                    alone = false;
                    last_live = last_live.max(i);
                }
            }
        }
        let slots = (last_live + 1) as u32;
        if slots < self.header.slots {
            self.header.slots = slots;
            self.header_dirty = true;
        }
        alone
    }

    fn write_header(&mut self) -> Result<()> {
        write_at(&self.ledger.file, 0, &encode_header(&self.header))?;
        self.header_dirty = false;
        Ok(())
    }

    fn write(&mut self) -> Result<()> {
        for i in std::mem::take(&mut self.cleared) {
            write_at(&self.ledger.file, (HEADER + i * SLOT) as u64, &encode_slot(i, &Slot::default()))?;
        }
        if self.own_dirty {
            let i = self.ledger.slot;
            let slot = Slot { owner: u64::from(own_pid()), ..self.own.reserved };
            write_at(&self.ledger.file, (HEADER + i * SLOT) as u64, &encode_slot(i, &slot))?;
            self.own_dirty = false;
        }
        if self.header_dirty {
            self.write_header()?;
        }
        Ok(())
    }
}

/// Reads from `at` until `buf` is full or the file ends; returns how much was read.
fn read_fill(file: &OwnedFd, buf: &mut [u8], at: u64) -> Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let want = buf.len() - filled;
        let n = retry_intr(|| pread(file, &mut buf[filled..], at + filled as u64))
            .map_err(|e| os_error("cannot read the usage ledger", e))?;
        filled += n;
        // A regular file reads short only at its end.
        if n < want {
            break;
        }
    }
    Ok(filled)
}

fn write_at(file: &OwnedFd, at: u64, bytes: &[u8]) -> Result<()> {
    let written = retry_intr(|| pwrite(file, bytes, at)).map_err(|e| os_error("cannot write the usage ledger", e))?;
    if written != bytes.len() {
        return Err(os_error("cannot write the usage ledger (short write)", Errno::IO));
    }
    Ok(())
}

fn encode_header(h: &Header) -> [u8; HEADER] {
    let mut out = [0u8; HEADER];
    out[..8].copy_from_slice(MAGIC);
    out[8..16].copy_from_slice(&h.bytes.to_le_bytes());
    out[16..24].copy_from_slice(&h.objects.to_le_bytes());
    out[24..32].copy_from_slice(&h.flags.to_le_bytes());
    out[32..40].copy_from_slice(&h.recounted_at.to_le_bytes());
    out[40..44].copy_from_slice(&h.slots.to_le_bytes());
    out[48..56].copy_from_slice(&h.deletes.to_le_bytes());
    let sum = xxhash_rust::xxh3::xxh3_64(&out[..56]);
    out[56..].copy_from_slice(&sum.to_le_bytes());
    out
}

fn u64_at(buf: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(v)
}

/// The header, or `None` when it is short, of another format, damaged or implausible.
fn decode_header(buf: &[u8]) -> Option<Header> {
    if buf.len() < HEADER || &buf[..8] != MAGIC || u64_at(buf, 56) != xxhash_rust::xxh3::xxh3_64(&buf[..56]) {
        return None;
    }
    let mut slots = [0u8; 4];
    slots.copy_from_slice(&buf[40..44]);
    let header = Header {
        bytes: u64_at(buf, 8),
        objects: u64_at(buf, 16),
        flags: u64_at(buf, 24),
        recounted_at: u64_at(buf, 32),
        slots: u32::from_le_bytes(slots),
        deletes: u64_at(buf, 48),
    };
    (header.slots as usize <= MAX_SLOTS && header.flags & !(FLAG_STALE | FLAG_COMMITTING) == 0).then_some(header)
}

fn slot_sum(i: usize, buf: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(&buf[..24], i as u64)
}

fn encode_slot(i: usize, slot: &Slot) -> [u8; SLOT] {
    let mut out = [0u8; SLOT];
    out[..8].copy_from_slice(&slot.bytes.to_le_bytes());
    out[8..16].copy_from_slice(&slot.objects.to_le_bytes());
    out[16..24].copy_from_slice(&slot.owner.to_le_bytes());
    let sum = slot_sum(i, &out);
    out[24..].copy_from_slice(&sum.to_le_bytes());
    out
}

/// Slot `i`, or `None` when damaged (all zeros is an empty slot never written).
fn decode_slot(i: usize, buf: &[u8]) -> Option<Slot> {
    if buf.iter().all(|&b| b == 0) {
        return Some(Slot::default());
    }
    (u64_at(buf, 24) == slot_sum(i, buf)).then(|| Slot {
        bytes: u64_at(buf, 0),
        objects: u64_at(buf, 8),
        owner: u64_at(buf, 16),
    })
}

// ----- leases ------------------------------------------------------------------------------

fn lease_request(kind: libc::c_int, slot: usize) -> libc::flock {
    libc::flock {
        l_type: kind as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: slot as libc::off_t,
        l_len: 1,
        l_pid: 0,
    }
}

fn fcntl_lock(file: &OwnedFd, cmd: libc::c_int, request: &mut libc::flock) -> std::result::Result<(), Errno> {
    retry_intr(|| {
        // SAFETY: `request` is a fully initialised `flock` that outlives the call (which may write
        // it, for F_OFD_GETLK); `file` is an open descriptor for the whole call.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::fcntl(file.as_fd().as_raw_fd(), cmd, request as *mut libc::flock) };
        if rc == -1 { Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO)) } else { Ok(()) }
    })
}

/// Leases the first free slot of `leases` (a one-byte open-file-description lock, released by
/// the kernel with the file: when the handle closes or its process dies).
pub(crate) fn take_slot(leases: &OwnedFd) -> Result<usize> {
    for slot in 0..MAX_SLOTS {
        match fcntl_lock(leases, libc::F_OFD_SETLK, &mut lease_request(libc::F_WRLCK, slot)) {
            Ok(()) => return Ok(slot),
            Err(Errno::AGAIN | Errno::ACCESS) => continue,
            Err(e) => return Err(os_error("cannot lease a slot of the usage ledger", e)),
        }
    }
    Err(os_error(format!("cannot open the store: {MAX_SLOTS} handles have it open already"), Errno::MFILE))
}

/// True when a handle holds the lease of `slot`.
fn lease_is_held(leases: &OwnedFd, slot: usize) -> std::result::Result<bool, Errno> {
    let mut request = lease_request(libc::F_WRLCK, slot);
    fcntl_lock(leases, libc::F_OFD_GETLK, &mut request)?;
    Ok(i32::from(request.l_type) != libc::F_UNLCK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_slots_round_trip_and_damage_is_caught() {
        let h = Header { bytes: 1, objects: 2, flags: FLAG_STALE, recounted_at: 3, slots: 4, deletes: 5 };
        let bytes = encode_header(&h);
        assert_eq!(decode_header(&bytes), Some(h));
        for at in 0..HEADER {
            let mut damaged = bytes;
            damaged[at] ^= 0x40;
            assert_eq!(decode_header(&damaged), None, "byte {at}");
        }
        assert_eq!(decode_header(&bytes[..HEADER - 1]), None);
        let s = Slot { bytes: u64::MAX, objects: 7, owner: 9 };
        let bytes = encode_slot(3, &s);
        assert_eq!(decode_slot(3, &bytes), Some(s));
        assert_eq!(decode_slot(4, &bytes), None, "a slot copied to another index");
        assert_eq!(decode_slot(5, &[0u8; SLOT]), Some(Slot::default()));
        for at in 0..SLOT {
            let mut damaged = bytes;
            damaged[at] ^= 1;
            assert_eq!(decode_slot(3, &damaged), None, "byte {at}");
        }
    }

    fn ledger_in(dir: &std::path::Path) -> FileLedger {
        let open = |name: &str| -> OwnedFd {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(dir.join(name))
                .unwrap()
                .into()
        };
        let leases = open("leases");
        let slot = take_slot(&leases).unwrap();
        FileLedger::new(open("usage"), leases, slot)
    }

    /// Without a watcher, figures recounted longer ago than UNWATCHED_FRESHNESS are stale for a
    /// decision, and an exact update recounts them; a handle's reservations survive a recount.
    #[test]
    fn unwatched_figures_go_stale_with_age_and_recounts_keep_reservations() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = ledger_in(dir.path());
        let counted = || Ok(Usage { bytes: 10, objects: 1 });
        let f = ledger.exact_update(true, &counted, &mut |f| f.reserve(5, 1)).unwrap();
        assert_eq!((f.bytes, f.objects, f.reserved_bytes, f.stale), (10, 1, 5, false));
        // Counted long ago.
        let mut header = decode_header(&std::fs::read(dir.path().join("usage")).unwrap()[..HEADER]).unwrap();
        header.recounted_at = 1;
        std::fs::OpenOptions::new()
            .write(true)
            .open(dir.path().join("usage"))
            .map(|f| {
                std::os::unix::fs::FileExt::write_all_at(&f, &encode_header(&header), 0).unwrap();
            })
            .unwrap();
        assert!(ledger.update(true, &mut |_| {}).unwrap().unwrap().stale);
        let recounted = || Ok(Usage { bytes: 20, objects: 2 });
        let f = ledger.exact_update(false, &recounted, &mut |_| {}).unwrap();
        assert_eq!((f.bytes, f.objects, f.reserved_bytes, f.reserved_objects, f.stale), (20, 2, 5, 1, false));
    }

    /// A save between its rename and its count when its process died: the next holder of the
    /// lock sees the mark and the figures go stale.
    #[test]
    fn an_interrupted_count_makes_the_figures_stale() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = ledger_in(dir.path());
        ledger.exact_update(true, &|| Ok(Usage::default()), &mut |_| {}).unwrap();
        let mut header = decode_header(&std::fs::read(dir.path().join("usage")).unwrap()[..HEADER]).unwrap();
        header.flags |= FLAG_COMMITTING;
        let file = std::fs::OpenOptions::new().write(true).open(dir.path().join("usage")).unwrap();
        std::os::unix::fs::FileExt::write_all_at(&file, &encode_header(&header), 0).unwrap();
        let f = ledger.update(true, &mut |_| {}).unwrap().unwrap();
        assert!(f.stale, "an interrupted count went unnoticed");
        let header = decode_header(&std::fs::read(dir.path().join("usage")).unwrap()[..HEADER]).unwrap();
        assert_eq!(header.flags & FLAG_COMMITTING, 0);
    }

    /// The format is the one the module documentation gives (a reader in another language can
    /// rely on it).
    #[test]
    fn the_header_layout_is_fixed() {
        let h = Header { bytes: 0x0102, objects: 3, flags: 0, recounted_at: 0, slots: 1, deletes: 0 };
        let b = encode_header(&h);
        assert_eq!(&b[..8], b"OBJSLDG2");
        assert_eq!(&b[8..10], &[0x02, 0x01]);
        assert_eq!(b[16], 3);
        assert_eq!(b[40], 1);
    }
}
