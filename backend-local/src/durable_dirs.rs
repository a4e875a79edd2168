//! Folders whose own name is known to be on disk, so that durable saves flush the folders above
//! their key's folder once per process, not at every save.
//!
//! A durable save is on disk when its value, its name in the key's folder, and the name of every
//! folder on the way from there up to the store's root, and the root's own name in its parent,
//! are. The key's folder is flushed by every save after its rename (`group_commit.rs`). A folder
//! this process makes has its parent flushed when it is made (`root.rs`); but a folder that was
//! already there may have been made by another process that has not flushed its parent yet, by a
//! buffered handle, or by another program, and the root's parent is never flushed by anyone. So
//! the first durable save into a folder not known durable flushes every folder above it, up to
//! and including the root's parent (stopping at the first one known durable, which it flushes
//! too: its child's name is in it), and then remembers them all.
//!
//! Invariants: a folder is remembered only after the flushes of every folder above it, up to a
//! known one or the root's parent, succeeded after this process saw it exist; folders are told
//! apart by device, inode and birth time where the file system keeps one ([`FolderId`]), so one
//! removed and made anew is a new folder (where no birth time is kept, a new folder that gets
//! the inode number of a removed one is taken for it). At most [`KNOWN_MAX`] folders are
//! remembered; beyond that the memory starts over (the flushes are done again, nothing is lost).

use std::collections::HashSet;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Mutex, OnceLock};

use rustix::fs::{self, AtFlags, Mode, OFlags, StatxFlags};
use rustix::io::Errno;

use crate::root::Root;

/// How many folders are remembered at most.
const KNOWN_MAX: usize = 1 << 16;

/// A folder's identity: device, inode and birth time (when the file system keeps one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FolderId {
    dev: (u32, u32),
    ino: u64,
    born: Option<(i64, u32)>,
}

impl FolderId {
    #[cfg(test)]
    pub(crate) fn for_tests(ino: u64) -> FolderId {
        FolderId { dev: (0, 0), ino, born: None }
    }
}

/// The identity of the open folder `dir` (one `statx`).
pub(crate) fn identity(dir: BorrowedFd<'_>) -> Result<FolderId, Errno> {
    let st = fs::statx(dir, "", AtFlags::EMPTY_PATH, StatxFlags::INO | StatxFlags::BTIME)?;
    let born = (st.stx_mask & StatxFlags::BTIME.bits() != 0).then_some((st.stx_btime.tv_sec, st.stx_btime.tv_nsec));
    Ok(FolderId { dev: (st.stx_dev_major, st.stx_dev_minor), ino: st.stx_ino, born })
}

fn known() -> &'static Mutex<HashSet<FolderId>> {
    static KNOWN: OnceLock<Mutex<HashSet<FolderId>>> = OnceLock::new();
    KNOWN.get_or_init(Default::default)
}

fn is_known(id: &FolderId) -> bool {
    known().lock().unwrap_or_else(|poisoned| poisoned.into_inner()).contains(id)
}

fn remember(ids: &[FolderId]) {
    let mut known = known().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if known.len() + ids.len() > KNOWN_MAX {
        known.clear();
    }
    known.extend(ids.iter().copied());
}

/// A failed flush: the folder (relative to the root; `..` for the root's parent) and the error.
pub(crate) type FlushFailed = (String, Errno);

/// Makes sure the names of `folder` (relative to the root, `""` for the root; its identity
/// `id`) and of every folder above it up to the root are on disk. See the module documentation.
pub(crate) fn ensure(root: &Root, folder: &str, id: FolderId) -> Result<(), FlushFailed> {
    if is_known(&id) {
        return Ok(());
    }
    let mut learned = vec![id];
    let mut below = folder;
    loop {
        let (above, fd) = open_above(root, below)?;
        fs::fsync(&fd).map_err(|e| (above.to_string(), e))?;
        if below.is_empty() {
            // The root's parent: the root's own name is on disk.
            break;
        }
        let above_id = identity(fd.as_fd()).map_err(|e| (above.to_string(), e))?;
        if is_known(&above_id) {
            break;
        }
        learned.push(above_id);
        below = above;
    }
    remember(&learned);
    Ok(())
}

/// The folder holding `below` (relative to the root; `""`, the root, is held by `..`), opened.
fn open_above<'a>(root: &Root, below: &'a str) -> Result<(&'a str, OwnedFd), FlushFailed> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let (above, opened) = match below.rsplit_once('/') {
        _ if below.is_empty() => ("..", fs::openat(&root.fd, "..", flags, Mode::empty())),
        None => ("", fs::openat(&root.fd, ".", flags, Mode::empty())),
        Some((above, _)) => (above, root.open_beneath(above, OFlags::RDONLY | OFlags::DIRECTORY)),
    };
    opened.map(|fd| (above, fd)).map_err(|e| (above.to_string(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_made_anew_is_a_new_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::create_dir(&path).unwrap();
        let first = identity(fs::open(&path, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap().as_fd());
        // Hold the first folder's inode so that the new one cannot reuse its number.
        let held = fs::open(&path, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
        std::fs::remove_dir(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        let second = identity(fs::open(&path, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap().as_fd());
        assert_ne!(first.unwrap(), second.unwrap());
        drop(held);
    }

    #[test]
    fn known_folders_are_flushed_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        let root = Root::open(dir.path(), 0o777).unwrap();
        let b = root.open_beneath("a/b", OFlags::RDONLY | OFlags::DIRECTORY).unwrap();
        let b_id = identity(b.as_fd()).unwrap();
        let a_id = identity(root.open_beneath("a", OFlags::RDONLY | OFlags::DIRECTORY).unwrap().as_fd()).unwrap();
        let root_id = identity(root.fd.as_fd()).unwrap();
        ensure(&root, "a/b", b_id).unwrap();
        assert!(is_known(&b_id) && is_known(&a_id) && is_known(&root_id));
    }
}
