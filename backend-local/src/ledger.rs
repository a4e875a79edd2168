//! The usage ledger of a folder, shared by every process that opens it.
//!
//! `.objstore/usage` holds a magic tag and four little-endian `u64`: bytes, objects, reserved
//! bytes, reserved objects. A change takes an exclusive `flock` on the file (and a mutex, since a
//! `flock` belongs to the open file, which the threads of this process share), reads, changes and
//! writes the figures. The file is a cache, not a source of truth: when a process opens the
//! folder and no other process has it open, the figures are rebuilt from a full count (which
//! also drops reservations that a crashed process left behind).

use std::os::fd::OwnedFd;
use std::sync::Mutex;

use rustix::fs::FlockOperation;
use rustix::io::{pread, pwrite};
use store_core::Result;
use store_core::raw::ledger::{LedgerFigures, UsageLedger};

use crate::error::os_error;
use crate::locks::retry_intr;

const MAGIC: &[u8; 8] = b"OBJSLDG1";
const LEN: usize = 8 + 4 * 8;

/// The ledger file of one folder.
#[derive(Debug)]
pub(crate) struct FileLedger {
    file: OwnedFd,
    threads: Mutex<()>,
}

struct Unlock<'a>(&'a OwnedFd);

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        if let Err(e) = retry_intr(|| rustix::fs::flock(self.0, FlockOperation::Unlock)) {
            tracing::error!(error = %e, "cannot unlock the usage ledger");
        }
    }
}

impl FileLedger {
    pub(crate) fn new(file: OwnedFd) -> FileLedger {
        FileLedger { file, threads: Mutex::new(()) }
    }

    /// Runs `f` on the figures with the file locked; `None` figures when the file holds none
    /// (new or damaged). Writes back what `f` returns, if anything.
    fn locked<T>(&self, f: impl FnOnce(Option<LedgerFigures>) -> (Option<LedgerFigures>, T)) -> Result<T> {
        let _threads = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        retry_intr(|| rustix::fs::flock(&self.file, FlockOperation::LockExclusive))
            .map_err(|e| os_error("cannot lock the usage ledger", e))?;
        let _unlock = Unlock(&self.file);
        let mut buf = [0u8; LEN];
        let n =
            retry_intr(|| pread(&self.file, &mut buf, 0)).map_err(|e| os_error("cannot read the usage ledger", e))?;
        let (write, out) = f(if n == LEN { decode(&buf) } else { None });
        if let Some(figures) = write {
            let bytes = encode(&figures);
            let written = retry_intr(|| pwrite(&self.file, &bytes, 0))
                .map_err(|e| os_error("cannot write the usage ledger", e))?;
            if written != LEN {
                return Err(os_error("cannot write the usage ledger (short write)", rustix::io::Errno::IO));
            }
        }
        Ok(out)
    }

    /// True when the file holds figures.
    pub(crate) fn is_valid(&self) -> Result<bool> {
        self.locked(|figures| (None, figures.is_some()))
    }

    /// Replaces the figures with a fresh count and no reservations.
    pub(crate) fn reset(&self, usage: store_core::Usage) -> Result<()> {
        let fresh = LedgerFigures { bytes: usage.bytes, objects: usage.objects, ..Default::default() };
        self.locked(|_| (Some(fresh), ()))
    }
}

impl UsageLedger for FileLedger {
    fn update(&self, change: &mut dyn FnMut(&mut LedgerFigures)) -> Result<LedgerFigures> {
        self.locked(|figures| {
            let mut figures = figures.unwrap_or_default();
            change(&mut figures);
            (Some(figures), figures)
        })
    }
}

fn encode(f: &LedgerFigures) -> [u8; LEN] {
    let mut out = [0u8; LEN];
    out[..8].copy_from_slice(MAGIC);
    for (i, v) in [f.bytes, f.objects, f.reserved_bytes, f.reserved_objects].into_iter().enumerate() {
        out[8 + i * 8..16 + i * 8].copy_from_slice(&v.to_le_bytes());
    }
    out
}

fn decode(buf: &[u8; LEN]) -> Option<LedgerFigures> {
    if &buf[..8] != MAGIC {
        return None;
    }
    let field = |i: usize| {
        let mut v = [0u8; 8];
        v.copy_from_slice(&buf[8 + i * 8..16 + i * 8]);
        u64::from_le_bytes(v)
    };
    Some(LedgerFigures { bytes: field(0), objects: field(1), reserved_bytes: field(2), reserved_objects: field(3) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let f = LedgerFigures { bytes: 1, objects: 2, reserved_bytes: 3, reserved_objects: u64::MAX };
        assert_eq!(decode(&encode(&f)), Some(f));
        let mut damaged = encode(&f);
        damaged[0] = b'x';
        assert_eq!(decode(&damaged), None);
    }
}
