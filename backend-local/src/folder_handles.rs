//! Open folders for revalidation: a key in a folder stated with one `fstatat` in its folder's
//! descriptor instead of a confined open of its whole path, for as long as the kernel reports
//! that nothing changed what the folder's path names.
//!
//! A revalidation must find the key's file exactly as a read does (beneath the root, see
//! `revalidate.rs`), and the only confined lookup of a path the kernel offers is an open
//! (`openat2(RESOLVE_BENEATH)`) followed by `fstat` and `close`: about twice a path `statx`. A
//! folder opened once and stated into afterwards costs one `fstatat` of the file's name, confined
//! by construction (one component, not following a symlink), provided the descriptor still is
//! the folder the path names. What keeps that true here:
//!
//! - A handle is made only for a folder whose every component is a real folder (opened with
//!   `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`) on a local file system (ext4, xfs, btrfs, tmpfs,
//!   overlay, f2fs, zfs: where every change goes through this kernel, which reports it).
//! - Every folder of the path gets an inotify watch for its own move, removal and change of
//!   attributes (`IN_MOVE_SELF | IN_DELETE_SELF | IN_ATTRIB`; the kernel adds unmounts and lost
//!   events). What a path names changes only when one of its folders is renamed, removed,
//!   replaced (the replaced folder loses its link: `IN_ATTRIB`, then `IN_DELETE_SELF`) or
//!   exchanged, or when its permissions change; each of these queues an event within the system
//!   call that makes it, in any process. After the watches are in place, the path is resolved
//!   again and must give the same folders, so a change made while they were being added is
//!   either seen there or queued.
//! - A removed folder is not reported while a handle holds it open (the kernel reports the
//!   removal when the last descriptor closes), but a removed folder has no entries and takes
//!   none: a handle of one never finds a file. So a name a handle does not find is looked up
//!   again by the confined open, which finds the folder made in its place, if any.
//! - Before using a handle, a revalidation asks how many bytes of events are queued (`FIONREAD`,
//!   one `ioctl`). Any at all: every handle of the process is dropped, a new inotify instance
//!   replaces the old one, and this revalidation takes the confined open. Events are never read,
//!   only counted, so a process forked with the instance sees the same queue: no process can
//!   consume an event another one needed.
//!
//! Not covered: a file system mounted over a folder of the path after its handle was made (the
//! mount itself reports nothing to inotify; only root can do it). Handles are bounded
//! ([`MAX_FOLDERS`] per store); a store needing more takes the confined open for the others.
//! Where inotify, `/proc` or `openat2` is missing, or the user's watch limit is reached, nothing
//! changes but the cost.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::{OnceLock, RwLock};

use rustix::fs::inotify::{self, CreateFlags, WatchFlags};
use rustix::fs::{self, AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat};

use crate::root::Root;

/// The most folders a store keeps open for revalidation.
pub(crate) const MAX_FOLDERS: usize = 64;

/// What a folder's watch reports: the changes to the folder itself that change what its path
/// names or who may look into it.
const WATCH: WatchFlags =
    WatchFlags::MOVE_SELF.union(WatchFlags::DELETE_SELF).union(WatchFlags::ATTRIB).union(WatchFlags::ONLYDIR);

/// Resolving a folder for a handle: beneath the root, and no symlink anywhere on the way (a
/// symlink's target changes without an event on any folder).
const REAL_FOLDERS: ResolveFlags =
    ResolveFlags::BENEATH.union(ResolveFlags::NO_SYMLINKS).union(ResolveFlags::NO_MAGICLINKS);

/// File systems whose every change goes through this kernel (`statfs` magic numbers).
const LOCAL_FILE_SYSTEMS: [u64; 7] = [
    0xEF53,      // ext2, ext3, ext4
    0x5846_5342, // xfs
    0x9123_683E, // btrfs
    0x0102_1994, // tmpfs
    0x794C_7630, // overlay
    0xF2F5_2010, // f2fs
    0x2FC1_2FC1, // zfs
];

/// The process's inotify instance; replaced (its generation bumped) whenever it reports anything.
#[derive(Debug)]
struct Instance {
    fd: Option<OwnedFd>,
    generation: u64,
}

fn instance() -> &'static RwLock<Instance> {
    static INSTANCE: OnceLock<RwLock<Instance>> = OnceLock::new();
    INSTANCE.get_or_init(|| RwLock::new(Instance { fd: new_inotify(), generation: 0 }))
}

fn new_inotify() -> Option<OwnedFd> {
    match inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK) {
        Ok(fd) => Some(fd),
        Err(e) => {
            tracing::debug!(
                "no inotify instance for revalidation ({e}): keys in folders are stated by a confined open"
            );
            None
        }
    }
}

/// An open folder and the instance generation it was made under.
#[derive(Debug)]
struct Handle {
    fd: OwnedFd,
    generation: u64,
}

/// One store's open folders; see the module documentation.
#[derive(Debug, Default)]
pub(crate) struct FolderHandles {
    /// Looked up on every revalidation of a key in a folder: a fast hash (foldhash), not SipHash.
    folders: RwLock<HashMap<String, Handle, foldhash::fast::RandomState>>,
}

/// What a handle answered for a file name in its folder: the name's entry, not followed if it
/// is a symlink.
pub(crate) struct Stated(pub(crate) Stat);

impl FolderHandles {
    /// States `name` in `folder` (a path under `root`, without a trailing `/`) through the
    /// folder's handle: `None` when there is no current handle (this call then makes one for
    /// the next time, if it can), or the name is not in the folder, or the stat failed; the
    /// caller then takes the confined open.
    pub(crate) fn stat(&self, root: &Root, folder: &str, name: &str) -> Option<Stated> {
        let instance = instance().read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let inotify = instance.fd.as_ref()?;
        match rustix::io::ioctl_fionread(inotify) {
            Ok(0) => {}
            _ => {
                // Something changed (or cannot be told): start over with a new instance.
                let seen = instance.generation;
                drop(instance);
                renew(seen);
                return None;
            }
        }
        {
            let folders = self.folders.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(handle) = folders.get(folder).filter(|h| h.generation == instance.generation) {
                // A name not found (or any failure) is looked up again by the confined open: the
                // folder may have been removed and made again (see the module documentation).
                return fs::statat(&handle.fd, name, AtFlags::SYMLINK_NOFOLLOW).ok().map(Stated);
            }
        }
        if let Some(fd) = open_watched(root, folder, inotify) {
            let mut folders = self.folders.write().unwrap_or_else(|poisoned| poisoned.into_inner());
            if folders.len() < MAX_FOLDERS || folders.contains_key(folder) {
                folders.insert(folder.to_owned(), Handle { fd, generation: instance.generation });
            } else {
                // Full: make room by dropping the handles of older instances, if any.
                folders.retain(|_, h| h.generation == instance.generation);
                if folders.len() < MAX_FOLDERS {
                    folders.insert(folder.to_owned(), Handle { fd, generation: instance.generation });
                }
            }
        }
        None
    }

    /// How many folders this store holds open (for tests).
    #[cfg(test)]
    pub(crate) fn current(&self) -> usize {
        let generation = instance().read().unwrap_or_else(|poisoned| poisoned.into_inner()).generation;
        let folders = self.folders.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        folders.values().filter(|h| h.generation == generation).count()
    }
}

/// Replaces the instance of generation `seen` with a new one (unless another thread already did).
fn renew(seen: u64) {
    let mut instance = instance().write().unwrap_or_else(|poisoned| poisoned.into_inner());
    if instance.generation == seen {
        instance.fd = None; // Closes the old instance (and its watches) first.
        instance.fd = new_inotify();
        instance.generation += 1;
    }
}

/// Opens `folder` for a handle, with a watch on each of its folders, or `None` when it cannot be
/// made safely (a symlink on the way, a remote file system, no room for watches, a change while
/// it was made).
fn open_watched(root: &Root, folder: &str, inotify: &OwnedFd) -> Option<OwnedFd> {
    let prefixes = folder.match_indices('/').map(|(i, _)| &folder[..i]).chain([folder]);
    let mut watched: Vec<(&str, u64, u64)> = Vec::new();
    let mut last = None;
    for prefix in prefixes {
        let fd = open_real_folder(root, prefix)?;
        let st = fs::fstat(&fd).ok()?;
        let local = fs::fstatfs(&fd).is_ok_and(|sf| LOCAL_FILE_SYSTEMS.contains(&(sf.f_type as u64 & 0xFFFF_FFFF)));
        if !local {
            return None;
        }
        // The watch goes on the very folder opened: its descriptor's link in /proc.
        let link = format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd());
        inotify::add_watch(inotify, link.as_str(), WATCH).ok()?;
        watched.push((prefix, st.st_dev, st.st_ino));
        last = Some(fd);
    }
    // With every watch in place, the path must still name the same folders.
    for (prefix, dev, ino) in watched {
        let st = fs::fstat(open_real_folder(root, prefix)?).ok()?;
        if (st.st_dev, st.st_ino) != (dev, ino) {
            return None;
        }
    }
    last
}

fn open_real_folder(root: &Root, prefix: &str) -> Option<OwnedFd> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let fd = fs::openat2(&root.fd, prefix, flags, Mode::empty(), REAL_FOLDERS).ok()?;
    let st = fs::fstat(&fd).ok()?;
    (FileType::from_raw_mode(st.st_mode) == FileType::Directory).then_some(fd)
}

#[cfg(test)]
mod tests {
    //! Each case opens a folder's handle, changes what the folder's path names behind the
    //! store's back (in this process or another), and checks that the next revalidation gives
    //! what a read finds, never the old folder's file.

    #![allow(clippy::unwrap_used)]

    use std::path::Path;

    use bytes::Bytes;
    use store_core::raw::Backend;
    use store_core::{KeyBuf, PutMode, Version};

    use crate::{Durability, LocalBackend};

    fn key(s: &str) -> KeyBuf {
        KeyBuf::parse(s).unwrap()
    }

    /// A store with `a/b/k` saved and the handle of `a/b` open.
    async fn store_with_handle(dir: &Path) -> LocalBackend {
        let backend = LocalBackend::open(dir, Durability::Buffered).await.unwrap();
        backend.put(&key("a/b/k"), Bytes::from_static(b"old"), &PutMode::Overwrite).await.unwrap();
        assert!(opened(&backend), "no handle was made for a/b");
        assert_eq!(version(&backend, "a/b/k"), Ok(backend.head(&key("a/b/k")).await.unwrap().version));
        backend
    }

    /// Revalidates `a/b/k` until the handle of `a/b` is open (another test's change may renew
    /// the process's instance at any time, dropping every handle).
    fn opened(backend: &LocalBackend) -> bool {
        (0..100).any(|_| {
            let _ = backend.version_now(&key("a/b/k"));
            backend.inner.folders.current() == 1
        })
    }

    fn version(backend: &LocalBackend, k: &str) -> Result<Version, String> {
        backend.version_now(&key(k)).unwrap().map_err(|e| e.to_string())
    }

    /// What a read finds now: the version, or the error's text.
    async fn read(backend: &LocalBackend, k: &str) -> Result<Version, String> {
        backend.head(&key(k)).await.map(|m| m.version).map_err(|e| e.to_string())
    }

    fn write_new_tree(dir: &Path, folder: &str) {
        std::fs::create_dir_all(dir.join(folder).join("b")).unwrap();
        std::fs::write(dir.join(folder).join("b/k"), b"new, and longer").unwrap();
    }

    #[tokio::test]
    async fn a_folder_renamed_away_and_replaced_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let backend = store_with_handle(dir.path()).await;
        std::fs::rename(dir.path().join("a"), dir.path().join("a-old")).unwrap();
        write_new_tree(dir.path(), "a");
        let now = version(&backend, "a/b/k");
        assert_eq!(now, read(&backend, "a/b/k").await, "stated the renamed folder's file");
    }

    #[tokio::test]
    async fn a_folder_renamed_by_another_process_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let backend = store_with_handle(dir.path()).await;
        let moved = std::process::Command::new("mv").arg("a").arg("a-old").current_dir(dir.path()).status().unwrap();
        assert!(moved.success());
        assert!(matches!(backend.version_now(&key("a/b/k")).unwrap(), Err(store_core::Error::NotFound { .. })));
        write_new_tree(dir.path(), "a");
        assert_eq!(version(&backend, "a/b/k"), read(&backend, "a/b/k").await);
    }

    #[tokio::test]
    async fn a_folder_exchanged_with_another_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let backend = store_with_handle(dir.path()).await;
        write_new_tree(dir.path(), "c");
        let root = rustix::fs::CWD;
        rustix::fs::renameat_with(
            root,
            dir.path().join("a/b"),
            root,
            dir.path().join("c/b"),
            rustix::fs::RenameFlags::EXCHANGE,
        )
        .unwrap();
        assert_eq!(version(&backend, "a/b/k"), read(&backend, "a/b/k").await);
        assert_eq!(&std::fs::read(dir.path().join("a/b/k")).unwrap()[..], b"new, and longer");
    }

    #[tokio::test]
    async fn a_folder_removed_and_made_again_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let backend = store_with_handle(dir.path()).await;
        std::fs::remove_dir_all(dir.path().join("a/b")).unwrap();
        assert!(matches!(backend.version_now(&key("a/b/k")).unwrap(), Err(store_core::Error::NotFound { .. })));
        std::fs::create_dir(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/k"), b"again").unwrap();
        assert_eq!(version(&backend, "a/b/k"), read(&backend, "a/b/k").await);
    }

    /// A folder replaced by a symlink out of the root: the stat must not follow it, with or
    /// without a handle made before.
    #[tokio::test]
    async fn a_folder_replaced_by_a_symlink_out_of_the_root_is_not_followed() {
        let outside = tempfile::tempdir().unwrap();
        write_new_tree(outside.path(), "a");
        let dir = tempfile::tempdir().unwrap();
        let backend = store_with_handle(dir.path()).await;
        std::fs::rename(dir.path().join("a"), dir.path().join("a-old")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("a"), dir.path().join("a")).unwrap();
        for _ in 0..3 {
            let answer = version(&backend, "a/b/k");
            assert!(answer.is_err(), "the stat followed a symlinked folder out of the root: {answer:?}");
        }
    }

    /// The store's own saves into a folder change nothing its watches report: the handle stays
    /// and answers what a read finds, save after save.
    #[tokio::test]
    async fn saves_into_the_folder_keep_its_handle_and_are_seen() {
        let dir = tempfile::tempdir().unwrap();
        let backend = store_with_handle(dir.path()).await;
        let mut kept = 0;
        for i in 0..20u8 {
            backend.put(&key("a/b/k"), Bytes::from(vec![i; 1 + usize::from(i)]), &PutMode::Overwrite).await.unwrap();
            backend.put(&key("a/b/other"), Bytes::from(vec![i; 3]), &PutMode::Overwrite).await.unwrap();
            backend.delete(&key("a/b/other"), None).await.unwrap();
            assert_eq!(version(&backend, "a/b/k"), read(&backend, "a/b/k").await);
            kept += usize::from(backend.inner.folders.current() == 1);
        }
        // Other tests of this process may renew the instance now and then; most rounds keep it.
        assert!(kept >= 10, "the handle was dropped by the store's own saves ({kept} of 20 rounds kept it)");
    }

    /// A folder whose permissions change drops every handle (a read may now be refused).
    #[tokio::test]
    async fn a_change_of_permissions_drops_the_handles() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let backend = store_with_handle(dir.path()).await;
        std::fs::set_permissions(dir.path().join("a"), std::fs::Permissions::from_mode(0o700)).unwrap();
        let _ = backend.version_now(&key("top"));
        let _ = backend.version_now(&key("a/b/k"));
        assert_eq!(backend.inner.folders.current(), 0, "a handle survived a change of its folder's permissions");
        assert_eq!(version(&backend, "a/b/k"), read(&backend, "a/b/k").await);
    }
}
