//! The store's root folder and how keys become files beneath it, never outside.
//!
//! Every path is resolved relative to an open descriptor of the root with `openat2` and
//! `RESOLVE_BENEATH`: `..`, absolute symlinks and symlinks that climb out of the root fail with
//! `EXDEV` instead of being followed. Folders are created one level at a time with `mkdirat` and
//! opened with `O_NOFOLLOW`, so a folder that is a symlink is never written through.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{self, AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use store_core::{Error, Key, Result};

use crate::error::os_error;

/// The root folder, opened.
#[derive(Debug)]
pub(crate) struct Root {
    pub(crate) path: PathBuf,
    pub(crate) fd: OwnedFd,
    /// The mode folders are made with (see `modes.rs`).
    pub(crate) folder_mode: u32,
}

/// Flags for resolving paths under the root.
const BENEATH: ResolveFlags = ResolveFlags::BENEATH.union(ResolveFlags::NO_MAGICLINKS);

/// The folder that holds a key's file, opened, and the key's file name in it.
pub(crate) struct Parent<'k> {
    pub(crate) fd: OwnedFd,
    pub(crate) name: &'k str,
}

impl Root {
    /// Opens (creating it and its parents with `folder_mode` if needed) the root folder at `path`.
    pub(crate) fn open(path: &Path, folder_mode: u32) -> Result<Root> {
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), folder_mode)
            .create(path)
            .map_err(|e| Error::io(format!("cannot create the store folder {}", path.display()), e))?;
        let path = path
            .canonicalize()
            .map_err(|e| Error::io(format!("cannot resolve the store folder {}", path.display()), e))?;
        let fd = fs::open(&path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| os_error(format!("cannot open the store folder {}", path.display()), e))?;
        Ok(Root { path, fd, folder_mode })
    }

    /// Opens `relative` (a path under the root) with `flags`, refusing to leave the root.
    ///
    /// Uses `openat2(RESOLVE_BENEATH)`. Where that system call does not exist (kernels before
    /// 5.6, some sandboxes, valgrind), it opens one component at a time with `O_NOFOLLOW`
    /// instead, which refuses every symlink: stricter, and just as confined.
    pub(crate) fn open_beneath(&self, relative: &str, flags: OFlags) -> std::result::Result<OwnedFd, Errno> {
        static NO_OPENAT2: AtomicBool = AtomicBool::new(false);
        if !NO_OPENAT2.load(Ordering::Relaxed) {
            match openat2_beneath(&self.fd, relative, flags | OFlags::CLOEXEC) {
                Err(Errno::NOSYS) => {
                    tracing::info!("openat2 is not available: symlinks under the store root will not be followed");
                    NO_OPENAT2.store(true, Ordering::Relaxed);
                }
                other => return other,
            }
        }
        self.open_each_component(relative, flags)
    }

    /// `open_beneath` without `openat2`: every component opened with `O_NOFOLLOW`.
    fn open_each_component(&self, relative: &str, flags: OFlags) -> std::result::Result<OwnedFd, Errno> {
        let mut current: Option<OwnedFd> = None;
        let mut components = relative.split('/').filter(|c| !c.is_empty() && *c != ".").peekable();
        if components.peek().is_none() {
            return fs::openat(&self.fd, ".", flags | OFlags::CLOEXEC, Mode::empty());
        }
        while let Some(component) = components.next() {
            if component == ".." {
                return Err(Errno::XDEV);
            }
            let base = current.as_ref().map_or(self.fd.as_fd(), AsFd::as_fd);
            let last = components.peek().is_none();
            let component_flags =
                if last { flags } else { OFlags::PATH | OFlags::DIRECTORY } | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let fd = match fs::openat(base, component, component_flags, Mode::empty()) {
                // A symlink, refused rather than followed.
                Err(Errno::LOOP) => return Err(Errno::XDEV),
                other => other?,
            };
            if last && flags.contains(OFlags::PATH) {
                // O_PATH|O_NOFOLLOW opens a symlink itself instead of failing: refuse it here.
                let st = fs::fstat(&fd)?;
                if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
                    return Err(Errno::XDEV);
                }
            }
            current = Some(fd);
        }
        current.ok_or(Errno::NOENT)
    }

    /// The folder holding `key` and the key's last segment. With `create`, missing folders are
    /// made (and, when `durable`, each new folder's entry is flushed to disk).
    pub(crate) fn parent<'k>(&self, key: &'k Key, create: bool, durable: bool) -> Result<Parent<'k>> {
        let (dir, name) = (key.parent(), key.file_name());
        let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY;
        if dir.is_empty() {
            let fd = fs::openat(&self.fd, ".", dir_flags | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| os_error(format!("cannot open the store folder {}", self.path.display()), e))?;
            return Ok(Parent { fd, name });
        }
        match self.open_beneath(dir, dir_flags) {
            Ok(fd) => return Ok(Parent { fd, name }),
            Err(Errno::NOENT) if create => {}
            Err(e) => return Err(self.path_error(key, dir, e)),
        }
        // Create the missing folders one level at a time.
        let mut current = fs::openat(&self.fd, ".", dir_flags | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| os_error(format!("cannot open the store folder {}", self.path.display()), e))?;
        let mut walked = String::new();
        for segment in dir.split('/') {
            if !walked.is_empty() {
                walked.push('/');
            }
            walked.push_str(segment);
            let created = match fs::mkdirat(&current, segment, Mode::from_raw_mode(self.folder_mode)) {
                Ok(()) => true,
                Err(Errno::EXIST) => false,
                Err(e) => return Err(self.path_error(key, &walked, e)),
            };
            if created && durable {
                fs::fsync(&current).map_err(|e| os_error(format!("cannot flush folder of {key}"), e))?;
            }
            current = fs::openat(&current, segment, dir_flags | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| self.path_error(key, &walked, e))?;
            if created {
                // Watched before the save puts anything in it (see `watch.rs`).
                crate::watch::folder_made(self, &walked);
            }
        }
        Ok(Parent { fd: current, name })
    }

    /// An error for a failure while resolving `walked` (a prefix of `key`'s path).
    pub(crate) fn path_error(&self, key: &Key, walked: &str, e: Errno) -> Error {
        match e {
            Errno::NOTDIR => Error::Conflict {
                key: key.to_string(),
                reason: format!(
                    "a part of its path ('{}') is an object, and on local disk an object cannot also be a folder; \
                     delete it or choose another key",
                    first_file_in(self, walked).unwrap_or_else(|| walked.to_string())
                ),
            },
            Errno::XDEV | Errno::LOOP => Error::InvalidKey {
                key: key.to_string(),
                reason: format!(
                    "'{walked}' is a symbolic link that leads outside the store; keys never leave the root"
                ),
            },
            Errno::NAMETOOLONG => Error::InvalidKey {
                key: key.to_string(),
                reason: "a segment is longer than the file system allows (255 bytes); shorten it".to_string(),
            },
            Errno::NOENT => Error::not_found(key),
            e => os_error(format!("cannot reach '{key}' under {}", self.path.display()), e),
        }
    }

    /// The kind of what `name` is in `dir`, without following a symlink; `None` when absent.
    pub(crate) fn kind_at(dir: BorrowedFd<'_>, name: &str) -> std::result::Result<Option<fs::Stat>, Errno> {
        match fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(st)),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Removes `name` in `dir` if it is a folder holding nothing but empty folders. Returns
    /// whether it was removed. (Deleting a key leaves its folders; a later key of the same name
    /// as such a folder reclaims it.)
    pub(crate) fn remove_empty_tree(dir: BorrowedFd<'_>, name: &str) -> std::result::Result<bool, Errno> {
        let sub = match fs::openat(dir, name, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOTDIR | Errno::NOENT | Errno::LOOP) => return Ok(false),
            Err(e) => return Err(e),
        };
        let mut children = Vec::new();
        for entry in fs::Dir::read_from(&sub)? {
            let entry = entry?;
            let child = entry.file_name().to_bytes();
            if child == b"." || child == b".." {
                continue;
            }
            if entry.file_type() != FileType::Directory {
                return Ok(false);
            }
            children.push(String::from_utf8_lossy(child).into_owned());
        }
        for child in children {
            if !Self::remove_empty_tree(sub.as_fd(), &child)? {
                return Ok(false);
            }
        }
        match fs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
            Ok(()) => Ok(true),
            Err(Errno::NOTEMPTY | Errno::EXIST | Errno::NOENT) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// How many times an `openat2` that answered `EAGAIN` is tried again: at once for the first
/// few, then after a pause of [`OPENAT2_PAUSE`] (under a storm of renames, about half a second
/// at most before the error is passed on).
const OPENAT2_RETRIES: usize = 500;
const OPENAT2_PAUSE: std::time::Duration = std::time::Duration::from_millis(1);

/// `openat2(RESOLVE_BENEATH)`, tried again when it answers `EAGAIN`: the kernel does so when a
/// `..` on the way (in the path or in a symlink's target) races a rename anywhere on the system,
/// and asks the caller to retry. Without the retry a read through such a symlink fails, or an
/// object briefly vanishes from a listing, whenever anything else renames (every save does).
fn openat2_beneath(dir: &OwnedFd, path: &str, flags: OFlags) -> std::result::Result<OwnedFd, Errno> {
    let mut tries = 0;
    loop {
        match fs::openat2(dir, path, flags, Mode::empty(), BENEATH) {
            Err(Errno::AGAIN) if tries < OPENAT2_RETRIES => {
                tries += 1;
                if tries < 16 {
                    std::thread::yield_now();
                } else {
                    std::thread::sleep(OPENAT2_PAUSE);
                }
            }
            other => return other,
        }
    }
}

/// The first segment of `walked` that is not a folder (for conflict messages).
fn first_file_in(root: &Root, walked: &str) -> Option<String> {
    let mut prefix = String::new();
    for segment in walked.split('/') {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(segment);
        match openat2_beneath(&root.fd, prefix.as_str(), OFlags::PATH | OFlags::CLOEXEC).and_then(fs::fstat) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) != FileType::Directory => return Some(prefix),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    /// The path used where `openat2` does not exist: confined, and no symlink is followed.
    #[test]
    fn component_walk_opens_files_and_refuses_links_and_escapes() {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/file"), "x").unwrap();
        symlink("file", dir.path().join("a/b/inside-link")).unwrap();
        symlink(outside.path(), dir.path().join("a/escape")).unwrap();
        let root = Root::open(dir.path(), 0o777).unwrap();
        let read = OFlags::RDONLY;

        assert!(root.open_each_component("a/b/file", read).is_ok());
        assert!(root.open_each_component("a/b/file", OFlags::PATH).is_ok());
        assert!(root.open_each_component("a/b", read | OFlags::DIRECTORY).is_ok());
        assert!(root.open_each_component(".", read | OFlags::DIRECTORY).is_ok());
        assert_eq!(root.open_each_component("a/b/missing", read).unwrap_err(), Errno::NOENT);
        assert_eq!(root.open_each_component("a/b/inside-link", read).unwrap_err(), Errno::XDEV);
        assert_eq!(root.open_each_component("a/b/inside-link", OFlags::PATH).unwrap_err(), Errno::XDEV);
        assert!(root.open_each_component("a/escape/anything", read).is_err());
        assert!(root.open_each_component("a/escape", OFlags::PATH).is_err());
        assert_eq!(root.open_each_component("a/../a/b/file", read).unwrap_err(), Errno::XDEV);
        assert_eq!(root.open_each_component("a/b/file/x", read).unwrap_err(), Errno::NOTDIR);
    }
}
