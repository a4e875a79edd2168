//! Locks that hold across threads and processes.
//!
//! - **Key locks** serialise the moment a save or delete replaces a key (check the current
//!   version, rename, count), so compare-and-swap is exact even between processes. Keys hash to
//!   one of [`KEY_STRIPES`] stripes; a stripe is a mutex in this process plus a one-byte
//!   open-file-description lock (`F_OFD_SETLKW`) at the stripe's offset in `.objstore/locks`,
//!   which other processes respect. OFD locks belong to the open file, not the thread, hence the
//!   mutex: it makes sure one thread of this process at a time holds a given byte.
//! - **The store lock** (`.objstore/store.lock`, `flock`) is taken by the limits layer for exact
//!   decisions near a limit.
//!
//! Every lock file is opened read-write and created with the modes of `modes.rs`: nobody who
//! may not write the store can open them, and so nobody but its writers can hold its locks
//! (`flock` and open-file-description locks work on a file opened only for reading). Every lock
//! call here may wait: callers run them where blocking is allowed (the blocking pool on an async
//! runtime).

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::{Mutex, MutexGuard};

use rustix::fs::{self, FlockOperation, Mode, OFlags};
use rustix::io::Errno;
use store_core::{Key, Result};

use crate::error::os_error;

/// How many key-lock stripes there are.
pub(crate) const KEY_STRIPES: usize = 1024;

/// The key locks of one store.
#[derive(Debug)]
pub(crate) struct KeyLocks {
    file: OwnedFd,
    stripes: Box<[Mutex<()>]>,
}

/// A held key lock; released when dropped.
pub(crate) struct KeyGuard<'a> {
    locks: &'a KeyLocks,
    stripe: usize,
    _mutex: MutexGuard<'a, ()>,
}

impl KeyLocks {
    pub(crate) fn new(file: OwnedFd) -> KeyLocks {
        KeyLocks { file, stripes: (0..KEY_STRIPES).map(|_| Mutex::new(())).collect() }
    }

    /// Blocks until this thread holds `key`'s stripe, in this process and across processes.
    pub(crate) fn lock(&self, key: &Key) -> Result<KeyGuard<'_>> {
        let stripe = (xxhash_rust::xxh3::xxh3_64(key.as_str().as_bytes()) % KEY_STRIPES as u64) as usize;
        // The mutex guards nothing but the lock byte; a poisoned one still serialises.
        let mutex = self.stripes[stripe].lock().unwrap_or_else(|p| p.into_inner());
        ofd_lock(&self.file, stripe, true).map_err(|e| os_error(format!("cannot lock '{key}'"), e))?;
        Ok(KeyGuard { locks: self, stripe, _mutex: mutex })
    }
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        if let Err(e) = ofd_lock(&self.locks.file, self.stripe, false) {
            // Closing the file would release it; an unlock failing means the descriptor is gone.
            tracing::error!(stripe = self.stripe, error = %e, "cannot release a key lock");
        }
    }
}

/// Takes (`lock`) or releases a write lock on one byte at `offset` of `file`, waiting as long
/// as another open file description holds it.
fn ofd_lock(file: &OwnedFd, offset: usize, lock: bool) -> std::result::Result<(), Errno> {
    let request = libc::flock {
        l_type: (if lock { libc::F_WRLCK } else { libc::F_UNLCK }) as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: offset as libc::off_t,
        l_len: 1,
        l_pid: 0,
    };
    retry_intr(|| {
        // SAFETY: `request` is a fully initialised `flock` that outlives the call, which only
        // reads it; `file` is an open descriptor for the whole call.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLKW, &request as *const libc::flock) };
        if rc == -1 { Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO)) } else { Ok(()) }
    })
}

/// Opens (creating it with `mode`) a file of the store's internal folder, read-write.
pub(crate) fn open_internal(dir: &OwnedFd, name: &str, mode: u32) -> std::result::Result<OwnedFd, Errno> {
    fs::openat(dir, name, OFlags::RDWR | OFlags::CREATE | OFlags::CLOEXEC | OFlags::NOFOLLOW, Mode::from_raw_mode(mode))
}

/// A `flock` held on an open file; released when dropped (the descriptor closes).
#[derive(Debug)]
pub(crate) struct Flock {
    _file: OwnedFd,
}

impl Flock {
    /// Waits for an exclusive `flock` on a fresh descriptor of `name` in `dir` (created with
    /// `mode`). A fresh descriptor makes the lock exclude other holders in this process too.
    pub(crate) fn exclusive(dir: &OwnedFd, name: &str, mode: u32) -> Result<Flock> {
        let file =
            open_internal(dir, name, mode).map_err(|e| os_error(format!("cannot open the store's {name} file"), e))?;
        retry_intr(|| fs::flock(&file, FlockOperation::LockExclusive))
            .map_err(|e| os_error(format!("cannot lock the store's {name} file"), e))?;
        Ok(Flock { _file: file })
    }
}

/// Runs a system call again while it is interrupted by a signal.
pub(crate) fn retry_intr<T>(mut f: impl FnMut() -> std::result::Result<T, Errno>) -> std::result::Result<T, Errno> {
    loop {
        match f() {
            Err(Errno::INTR) => continue,
            other => return other,
        }
    }
}

/// Takes a `flock` of `op` kind on `file`, without waiting when `op` is non-blocking. Returns
/// false when a non-blocking attempt found the lock taken.
pub(crate) fn try_flock(file: impl AsFd, op: FlockOperation) -> Result<bool> {
    match retry_intr(|| fs::flock(file.as_fd(), op)) {
        Ok(()) => Ok(true),
        Err(Errno::WOULDBLOCK) => Ok(false),
        Err(e) => Err(os_error("cannot lock a store file", e)),
    }
}
