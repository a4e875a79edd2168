//! The store's own folder `.objstore/` and what it holds, for a process that may write the store;
//! and what a process that may only read it does instead.
//!
//! - `usage`: the usage ledger (`ledger.rs`), with this handle's lease slot;
//! - `leases`: one-byte locks that say which ledger slots belong to live handles;
//! - `locks`: the key locks (`locks.rs`); `store.lock`: the store lock of exact decisions.
//!
//! They are created with the modes of `modes.rs` (nobody who may not write the store may open
//! them), and tightened when an older version left them readable by others. Opening them is
//! also the test of write access: when the folder cannot be made or its files cannot be opened
//! for writing (a store owned by another user, a read-only mount), the store is opened
//! read-only instead: reads, listings and usage work, nothing is created or locked, and saves
//! and deletes fail with `PermissionDenied` saying why.
//!
//! [`SharedLedger`] is the ledger as the limits layer sees it (`Backend::usage_ledger`): it adds
//! to the file ledger what needs the whole store, a recount (a walk under the ledger's lock) and
//! the watcher of changes other programs make.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use rustix::fs::{self, Mode, OFlags};
use rustix::io::Errno;
use store_core::key::RESERVED_PREFIX;
use store_core::raw::ledger::{LedgerFigures, UsageLedger};
use store_core::{Error, Operation, Result};

use crate::error::os_error;
use crate::ledger::{FileLedger, take_slot};
use crate::locks::{KeyLocks, open_internal};
use crate::modes::{Modes, tighten};
use crate::root::Root;
use crate::watch::Watcher;
use crate::{Inner, walk};

/// The internal folder's name.
pub(crate) const INTERNAL: &str = RESERVED_PREFIX;

/// What a process that may write the store holds open.
#[derive(Debug)]
pub(crate) struct Writer {
    pub(crate) internal: OwnedFd,
    pub(crate) key_locks: KeyLocks,
    pub(crate) ledger: FileLedger,
}

/// Why [`Writer::open`] did not open the store for writing.
pub(crate) enum NotWritable {
    /// This process may only read the store: why, to say in refusals.
    ReadOnly(String),
    Failed(Error),
}

/// Whether `e` says "not allowed" (a permission, or a read-only file system).
fn denied(e: Errno) -> bool {
    matches!(e, Errno::ACCESS | Errno::PERM | Errno::ROFS)
}

impl Writer {
    /// Opens (creating them) the store's own folder and files.
    pub(crate) fn open(root: &Root, modes: &Modes) -> std::result::Result<Writer, NotWritable> {
        let place = format!("{}/{INTERNAL}", root.path.display());
        let read_only = |what: String, e: Errno| {
            NotWritable::ReadOnly(format!(
                "the store at {} is read-only for this process ({what}: {}); reading, listing and usage work, \
                 saves and deletes do not: open it as a user who may write the folder, on a read-write mount",
                root.path.display(),
                std::io::Error::from(e)
            ))
        };
        match fs::mkdirat(&root.fd, INTERNAL, Mode::from_raw_mode(modes.internal_folder)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) if denied(e) => return Err(read_only(format!("cannot create {place}"), e)),
            Err(e) => return Err(NotWritable::Failed(os_error(format!("cannot create {place}"), e))),
        }
        let internal = match fs::openat(
            &root.fd,
            INTERNAL,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(e) if denied(e) => return Err(read_only(format!("cannot open {place}"), e)),
            Err(e) => return Err(NotWritable::Failed(os_error(format!("cannot open {place}"), e))),
        };
        let open = |name: &str| match open_internal(&internal, name, modes.internal_file) {
            Ok(fd) => {
                tighten(&fd, name);
                Ok(fd)
            }
            Err(e) if denied(e) => Err(read_only(format!("cannot open {place}/{name} for writing"), e)),
            Err(e) => Err(NotWritable::Failed(os_error(format!("cannot open the store's {name} file"), e))),
        };
        let usage = open("usage")?;
        tighten(&internal, INTERNAL);
        let key_locks = KeyLocks::new(open("locks")?);
        let leases = open("leases")?;
        let slot = take_slot(&leases).map_err(NotWritable::Failed)?;
        Ok(Writer { internal, key_locks, ledger: FileLedger::new(usage, leases, slot) })
    }
}

impl Inner {
    /// What writing needs, or the refusal of `operation` on a store this process may only read.
    pub(crate) fn writer(&self, operation: Operation) -> Result<&Writer> {
        self.writer.as_ref().ok_or_else(|| self.refusal(operation))
    }

    /// `PermissionDenied` for `operation`, saying why the store is read-only here.
    pub(crate) fn refusal(&self, operation: Operation) -> Error {
        Error::PermissionDenied { operation, reason: self.read_only.clone() }
    }

    /// Holds `key`'s lock across threads and processes (see `locks.rs`).
    pub(crate) fn lock_key(&self, key: &store_core::Key) -> Result<crate::locks::KeyGuard<'_>> {
        self.writer(Operation::Write)?.key_locks.lock(key)
    }

    /// Makes a change of one object (a rename or an unlink, returning the object's size before
    /// and after) and counts it, atomically with respect to every recount (see `ledger.rs`).
    pub(crate) fn count_change(&self, change: impl FnOnce() -> Result<(Option<u64>, Option<u64>)>) -> Result<()> {
        self.writer(Operation::Write)?.ledger.change(change)
    }
}

/// The usage ledger handed to the limits layer: the file ledger, plus recounts and the watcher.
#[derive(Debug)]
pub(crate) struct SharedLedger(pub(crate) Arc<Inner>);

impl SharedLedger {
    fn ledger(&self) -> Result<&FileLedger> {
        Ok(&self.0.writer(Operation::Write)?.ledger)
    }
}

fn busy() -> Error {
    os_error("cannot lock the usage ledger", Errno::AGAIN)
}

impl UsageLedger for SharedLedger {
    fn update(&self, change: &mut dyn FnMut(&mut LedgerFigures)) -> Result<LedgerFigures> {
        self.ledger()?.update(true, change)?.ok_or_else(busy)
    }

    fn try_update(&self, change: &mut dyn FnMut(&mut LedgerFigures)) -> Result<Option<LedgerFigures>> {
        self.ledger()?.update(false, change)
    }

    fn exact_update(&self, recount: bool, change: &mut dyn FnMut(&mut LedgerFigures)) -> Result<Option<LedgerFigures>> {
        let count = || walk::count(self.0.clone());
        self.ledger()?.exact_update(recount, &count, change).map(Some)
    }

    fn keep_fresh(&self) -> Result<()> {
        let count = || walk::count(self.0.clone());
        self.ledger()?.keep_fresh(|| Watcher::of(&self.0.root), &count)
    }
}
