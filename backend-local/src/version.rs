//! Versions of files: a fingerprint of the inode that changes with every save.
//!
//! A version is `inode-size-mtime` (`{ino:x}-{size:x}-{secs:x}.{nanos:09}`), read from a stat
//! alone: [`version_of`] takes a `stat` or a `statx` made with [`VERSION_MASK`], so a cache
//! revalidates with one call and both give the same string.
//!
//! Why it changes with every save:
//! - Every save writes a new inode (temp file + rename). While the key's file lives, no other
//!   file has its inode number; only an inode freed by an earlier save can come back.
//! - Each save stamps its file with a modification time ([`stamp`]). Where the file system keeps
//!   nanoseconds, the stamp is a time unique in this process (and, from the clock, later than any
//!   earlier save's in any process): no two saves of a key share one.
//! - Where it keeps whole seconds (ext4 with 128-byte inodes, ext2/3, FAT; seen when the stamp
//!   reads back truncated), inodes are reused at once and a second holds many saves, so the stamp
//!   is chosen strictly later than the stored time of the key's file in place (looked at before
//!   the flush, and again under the key's lock, when a racing save may have landed): the times of
//!   a key's successive files increase strictly, and a freed inode that comes back never brings
//!   back a version. The price: a key saved more than once a second gets modification times
//!   ahead of the clock, by one second per save beyond one a second; they fall back to the clock
//!   as the saves slow down.
//!
//! Other programs: a file renamed into place has a new inode, so its version is new. A change in
//! place, or a delete and re-create, of the same size within one tick of the file system's clock
//! (4 ms with sub-second times; a second where whole seconds are kept) is the only change a
//! revalidation can miss.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fs::{Stat, Statx, StatxFlags};
use rustix::io::Errno;
use store_core::Version;

/// A modification time as a file system stores it: seconds and nanoseconds since the epoch.
pub(crate) type Mtime = (i64, u32);

/// What a `statx` must ask for to make a version of its answer.
#[allow(dead_code)] // For revalidation by statx (read.rs).
pub(crate) const VERSION_MASK: StatxFlags = StatxFlags::INO.union(StatxFlags::SIZE).union(StatxFlags::MTIME);

/// The fields of a stat that a version is made of.
pub(crate) trait VersionFields {
    fn ino(&self) -> u64;
    fn size(&self) -> u64;
    fn mtime(&self) -> Mtime;
}

impl VersionFields for Stat {
    fn ino(&self) -> u64 {
        self.st_ino
    }
    fn size(&self) -> u64 {
        self.st_size as u64
    }
    fn mtime(&self) -> Mtime {
        (self.st_mtime, self.st_mtime_nsec as u32)
    }
}

impl VersionFields for Statx {
    fn ino(&self) -> u64 {
        self.stx_ino
    }
    fn size(&self) -> u64 {
        self.stx_size
    }
    fn mtime(&self) -> Mtime {
        (self.stx_mtime.tv_sec, self.stx_mtime.tv_nsec)
    }
}

/// The version of a file described by `st` (a `stat`, or a `statx` made with [`VERSION_MASK`]).
pub(crate) fn version_of(st: &impl VersionFields) -> Version {
    let (secs, nanos) = st.mtime();
    // Written by hand into a buffer on the stack (a revalidated cache hit makes one per read;
    // `format!` took a fifth of such a hit), exactly as
    // `format!("{:x}-{:x}-{:x}.{:09}", ino, size, secs, nanos)` writes it.
    let mut text = VersionText { bytes: [0; VERSION_MAX], len: 0 };
    text.hex(st.ino());
    text.push(b'-');
    text.hex(st.size());
    text.push(b'-');
    text.hex(secs as u64); // `{:x}` of an i64 writes its two's complement, as this cast does.
    text.push(b'.');
    text.nanos(nanos);
    Version::new(text.as_str())
}

/// The longest version: three 64-bit numbers in hex, two dashes, a dot and up to ten digits.
const VERSION_MAX: usize = 3 * 16 + 3 + 10;

/// A version being written.
struct VersionText {
    bytes: [u8; VERSION_MAX],
    len: usize,
}

impl VersionText {
    fn push(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    /// `n` in lower-case hex without leading zeros (`0` for zero).
    fn hex(&mut self, n: u64) {
        let digits = (64 - n.leading_zeros()).div_ceil(4).max(1);
        for i in (0..digits).rev() {
            self.push(b"0123456789abcdef"[(n >> (4 * i)) as usize & 0xF]);
        }
    }

    /// `n` in decimal, at least nine digits (zeros in front).
    fn nanos(&mut self, n: u32) {
        let digits = n.checked_ilog10().map_or(1, |d| d + 1).max(9);
        for i in (0..digits).rev() {
            self.push(b'0' + (n / 10u32.pow(i) % 10) as u8);
        }
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits, letters, '-' and '.' are written.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

/// The modification time of a file described by `st`.
pub(crate) fn modified_of(st: &impl VersionFields) -> Option<SystemTime> {
    let (secs, nanos) = st.mtime();
    UNIX_EPOCH.checked_add(Duration::new(u64::try_from(secs).ok()?, nanos))
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

/// A time unique in this process, as an [`Mtime`].
fn unique_now() -> Mtime {
    let nanos = unique_now_nanos();
    ((nanos / 1_000_000_000) as i64, (nanos % 1_000_000_000) as u32)
}

/// How a new file was stamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// The modification time the file system stored.
    pub(crate) stored: Mtime,
    /// The file system dropped part of the time asked for (it keeps whole seconds, or coarser):
    /// the stamp had to be put after the key's current file's, and must stay so until the rename.
    pub(crate) coarse: bool,
}

/// Stamps a new file of a key. `set` sets the file's modification time and returns the one the
/// file system stored; `current` returns the stored time of the key's file in place, if any (it
/// is asked only where the file system keeps less than nanoseconds). See the module
/// documentation.
pub(crate) fn stamp(
    mut set: impl FnMut(Mtime) -> Result<Mtime, Errno>,
    current: impl FnOnce() -> Result<Option<Mtime>, Errno>,
) -> Result<Stamp, Errno> {
    let wanted = unique_now();
    let stored = set(wanted)?;
    if stored == wanted {
        return Ok(Stamp { stored, coarse: false });
    }
    let stored = match current()? {
        Some(floor) => stamp_after(set, floor, stored)?,
        None => stored,
    };
    Ok(Stamp { stored, coarse: true })
}

/// Restamps a file whose stored time is `stored` so that it is strictly later than `floor`, in
/// whole seconds (a file system that keeps 2 s, as FAT, takes two tries). Returns the stored time.
pub(crate) fn stamp_after(
    mut set: impl FnMut(Mtime) -> Result<Mtime, Errno>,
    floor: Mtime,
    mut stored: Mtime,
) -> Result<Mtime, Errno> {
    let mut next = floor.0.saturating_add(1);
    while stored <= floor && next <= floor.0.saturating_add(4) {
        stored = set((next, 0))?;
        next += 1;
    }
    if stored <= floor {
        tracing::warn!(?floor, ?stored, "cannot stamp a file later than the one it replaces: its version may repeat");
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fields(u64, u64, Mtime);

    impl VersionFields for Fields {
        fn ino(&self) -> u64 {
            self.0
        }
        fn size(&self) -> u64 {
            self.1
        }
        fn mtime(&self) -> Mtime {
            self.2
        }
    }

    #[test]
    fn versions_are_written_as_format_writes_them() {
        let numbers = [0, 1, 9, 10, 15, 16, 255, 256, 0xdead_beef, u64::MAX >> 4, u64::MAX - 1, u64::MAX];
        let seconds = [0, 1, -1, 59, 1_700_000_000, i64::MAX, i64::MIN, 253_402_300_799, -62_135_596_800];
        let nanos = [0, 1, 9, 10, 999_999, 1_000_000, 123_456_789, 999_999_999, 1_000_000_000, u32::MAX];
        for &ino in &numbers {
            for &size in &numbers[..6] {
                for &secs in &seconds {
                    for &nano in &nanos {
                        let expected = format!("{ino:x}-{size:x}-{secs:x}.{nano:09}");
                        assert_eq!(version_of(&Fields(ino, size, (secs, nano))).as_str(), expected);
                    }
                }
            }
        }
    }

    #[test]
    fn stamps_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            assert!(seen.insert(unique_now()));
        }
    }

    /// A file system that keeps `granularity` seconds: what `set` stores.
    fn truncating(granularity: i64) -> impl FnMut(Mtime) -> Result<Mtime, Errno> {
        move |(secs, _)| Ok((secs - secs.rem_euclid(granularity), 0))
    }

    #[test]
    fn sub_second_file_systems_keep_the_unique_stamp_and_never_look_at_the_current_file() {
        let stamp = stamp(Ok, || panic!("the current file was looked at")).unwrap();
        assert!(!stamp.coarse);
    }

    #[test]
    fn whole_second_stamps_increase_strictly_per_key() {
        for granularity in [1, 2] {
            // Many saves of one key within the same second: each stored time is later than the
            // one before, however far ahead of the clock that goes.
            let mut current: Option<Mtime> = None;
            for _ in 0..20 {
                let stamp = stamp(truncating(granularity), || Ok(current)).unwrap();
                assert!(stamp.coarse);
                if let Some(before) = current {
                    assert!(stamp.stored > before, "granularity {granularity}: {stamp:?} after {before:?}");
                }
                current = Some(stamp.stored);
            }
        }
    }

    #[test]
    fn a_current_file_in_the_past_costs_nothing_extra() {
        let mut sets = 0;
        let set = |t: Mtime| {
            sets += 1;
            truncating(1)(t)
        };
        let stamp = stamp(set, || Ok(Some((1, 0)))).unwrap();
        assert!(stamp.stored.0 > 1_000_000_000);
        assert_eq!(sets, 1);
    }

    #[test]
    fn versions_from_stat_and_statx_agree() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello").unwrap();
        let st = rustix::fs::stat(&path).unwrap();
        let stx = rustix::fs::statx(rustix::fs::CWD, &path, rustix::fs::AtFlags::empty(), VERSION_MASK).unwrap();
        assert_eq!(version_of(&st), version_of(&stx));
        assert_eq!(modified_of(&st), modified_of(&stx));
    }
}
