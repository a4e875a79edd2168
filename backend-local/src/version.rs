//! Versions of files: a fingerprint of the inode that changes whenever the value does.
//!
//! A version is `inode-size-mtime`. Every save writes a new inode (temp file + rename) and stamps
//! it with a modification time that is unique in this process and has nanosecond precision, so
//! two saves never share a version even within one tick of the kernel's coarse clock. Files that
//! other programs change in place get the kernel's timestamp; two in-place changes of the same size
//! within one clock tick (about 4 ms) are the only changes a revalidation can miss.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fs::{Stat, Timespec, Timestamps};
use store_core::Version;

/// The version of a file described by `st`.
pub(crate) fn version_of(st: &Stat) -> Version {
    Version::new(format!("{:x}-{:x}-{:x}.{:09}", st.st_ino, st.st_size, st.st_mtime, st.st_mtime_nsec))
}

/// The modification time of a file described by `st`.
pub(crate) fn modified_of(st: &Stat) -> Option<SystemTime> {
    let secs = u64::try_from(st.st_mtime).ok()?;
    UNIX_EPOCH.checked_add(Duration::new(secs, u32::try_from(st.st_mtime_nsec).ok()?))
}

/// Now, in nanoseconds since the epoch, strictly increasing across calls in this process.
fn unique_now_nanos() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// Timestamps that give a newly written file a unique modification time.
pub(crate) fn unique_timestamps() -> Timestamps {
    let nanos = unique_now_nanos();
    let t = Timespec { tv_sec: (nanos / 1_000_000_000) as i64, tv_nsec: (nanos % 1_000_000_000) as i64 };
    Timestamps { last_access: t, last_modification: t }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let t = unique_timestamps().last_modification;
            assert!(seen.insert((t.tv_sec, t.tv_nsec)));
        }
    }
}
