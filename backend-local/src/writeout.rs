//! Buffered saves write their value out before the rename, so a power loss never leaves a
//! zero-length or partly written object in place of a saved one.
//!
//! Without it, a buffered save renames a file whose data is only in the page cache: the rename
//! may reach the disk first (XFS and btrfs, and ext4 for new names, which its `auto_da_alloc`
//! does not cover), and a power loss then leaves an object of length zero, or holes.
//! How the data is ordered before the rename depends on the file system (`fstatfs`, one call):
//! - ext4 and XFS: `sync_file_range(WAIT_BEFORE | WRITE | WAIT_AFTER)` writes the data to the
//!   device and waits for the write to end, which includes the allocation and size updates these
//!   file systems log when it ends, without a journal commit or a flush of the device's cache.
//!   The rename is logged after all of that, and every journal commit that carries it flushes the
//!   device's cache first: where the rename survives, the data does.
//! - tmpfs and ramfs: nothing (a power loss takes everything).
//! - any other (btrfs, whose file extents are inserted after the write ends; f2fs, network file
//!   systems, ...): `fdatasync`, which orders the data before the rename on every file system.
//!
//! What buffered mode does not promise: that a save survives a power loss (the rename may be
//! lost; the old value is then there), nor anything on ext2 (no journal: nothing is ordered).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use rustix::io::Errno;

/// File system magic numbers (`statfs.f_type`).
const EXT4: i64 = 0xEF53;
const XFS: i64 = 0x5846_5342;
const TMPFS: i64 = 0x0102_1994;
const RAMFS: i64 = 0x8584_58f6;

/// Writes `fd`'s data out so that it reaches the disk before a later rename does (see the module
/// documentation).
pub(crate) fn write_out(fd: impl AsFd) -> Result<(), Errno> {
    let kind = rustix::fs::fstatfs(&fd)?.f_type as i64;
    match kind {
        TMPFS | RAMFS => Ok(()),
        EXT4 | XFS => write_and_wait(fd.as_fd()),
        _ => rustix::fs::fdatasync(&fd),
    }
}

/// `sync_file_range(WAIT_BEFORE | WRITE | WAIT_AFTER)` over the whole file.
fn write_and_wait(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE | libc::SYNC_FILE_RANGE_WRITE | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    loop {
        // SAFETY: `sync_file_range` reads no memory of ours; `fd` is an open descriptor borrowed
        // for the call. (rustix does not wrap it.)
        #[allow(unsafe_code)]
        let r = unsafe { libc::sync_file_range(fd.as_raw_fd(), 0, 0, flags) };
        if r == 0 {
            return Ok(());
        }
        match Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO) {
            Errno::INTR => continue,
            // Not supported here (a seccomp sandbox): the portable way.
            Errno::NOSYS => return rustix::fs::fdatasync(fd),
            e => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_file_out() {
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::File::create(dir.path().join("f")).unwrap();
        std::io::Write::write_all(&mut &file, &[7u8; 10_000]).unwrap();
        write_out(&file).unwrap();
        write_out(std::fs::File::create(dir.path().join("empty")).unwrap()).unwrap();
    }
}
