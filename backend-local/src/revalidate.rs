//! Revalidation: the current version of a key's file with one confined `stat`, on the calling
//! thread (no hand-off), for a cache checking that what it holds is still current.
//!
//! The file is found exactly as a read finds it: beneath the root (`openat2` with
//! `RESOLVE_BENEATH`, or one component at a time where that is missing; see `root.rs`), so no
//! key and no symlink leads the stat outside the root. It is opened with `O_PATH` (no read
//! access needed, nothing read, a FIFO never blocks), stated, and closed. Anything but a regular
//! file is `NotFound`, as for a read; the version is the one reads give (`version.rs`). A key at
//! the top of the store (no `/`) is stated with one `fstatat` in the root's folder without
//! following symlinks, which is confined by itself and costs no open file; a symlink there takes
//! the confined open above. A key in a folder that the kernel watches is stated with one
//! `fstatat` in the folder's open descriptor instead (`folder_handles.rs` says when that
//! descriptor still is the folder its path names, and when there is one).

use rustix::fs::{self, AtFlags, FileType, OFlags};
use rustix::io::Errno;
use store_core::{Error, Key, Result, Version};

use crate::Inner;
use crate::error::os_error;
use crate::folder_handles::Stated;
use crate::version::version_of;

impl Inner {
    /// The version of `key`'s file now, or `NotFound`.
    pub(crate) fn version_now(&self, key: &Key) -> Result<Version> {
        if !key.as_str().contains('/') {
            // A key at the top: one `fstatat` in the root's folder, not following a symlink, is
            // confined by construction and allocates no open file.
            match fs::statat(&self.root.fd, key.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile => return Ok(version_of(&st)),
                // A symlink (which a read may follow beneath the root) takes the confined open.
                Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {}
                Ok(_) | Err(Errno::NOENT | Errno::NOTDIR) => return Err(Error::not_found(key)),
                Err(e) => return Err(self.root.path_error(key, key.as_str(), e)),
            }
        }
        // A key in a folder: one `fstatat` in the folder's handle while the kernel reports no
        // change to the folders of its path (see `folder_handles.rs`).
        if let Some(Stated(st)) = self.folders.stat(&self.root, key.parent(), key.file_name()) {
            match FileType::from_raw_mode(st.st_mode) {
                FileType::RegularFile => return Ok(version_of(&st)),
                // Followed beneath the root by the confined open below, as a read follows it.
                FileType::Symlink => {}
                _ => return Err(Error::not_found(key)),
            }
        }
        let fd = match self.root.open_beneath(key.as_str(), OFlags::PATH) {
            Ok(fd) => fd,
            Err(Errno::NOENT | Errno::NOTDIR) => return Err(Error::not_found(key)),
            Err(e) => return Err(self.root.path_error(key, key.as_str(), e)),
        };
        let st = fs::fstat(&fd).map_err(|e| os_error(format!("cannot stat '{key}'"), e))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(Error::not_found(key));
        }
        Ok(version_of(&st))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use bytes::Bytes;
    use store_core::raw::Backend;
    use store_core::{KeyBuf, PutMode};

    use crate::{Durability, LocalBackend};

    fn key(s: &str) -> KeyBuf {
        KeyBuf::parse(s).unwrap()
    }

    #[tokio::test]
    async fn gives_the_version_reads_give_and_not_found_for_what_is_not_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::open(dir.path(), Durability::Buffered).await.unwrap();
        let meta = backend.put(&key("a/b"), Bytes::from_static(b"v"), &PutMode::Overwrite).await.unwrap();
        assert_eq!(backend.version_now(&key("a/b")).unwrap().unwrap(), meta.version);
        assert_eq!(backend.head(&key("a/b")).await.unwrap().version, meta.version);
        for absent in ["a", "a/c", "a/b/c"] {
            let answer = backend.version_now(&key(absent)).unwrap();
            assert!(matches!(answer, Err(store_core::Error::NotFound { .. })), "{absent}: {answer:?}");
        }
    }

    /// A symlink at the top that stays beneath the root answers its target's version, as a
    /// read follows it; a FIFO or folder at the top is `NotFound`.
    #[tokio::test]
    async fn follows_a_symlink_at_the_top_only_beneath_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::open(dir.path(), Durability::Buffered).await.unwrap();
        let meta = backend.put(&key("a/b"), Bytes::from_static(b"v"), &PutMode::Overwrite).await.unwrap();
        std::os::unix::fs::symlink("a/b", dir.path().join("inside")).unwrap();
        assert_eq!(backend.version_now(&key("inside")).unwrap().unwrap(), meta.version);
        crate::test_support::fifo(&dir.path().join("fifo"));
        for not_a_file in ["fifo", "a"] {
            let answer = backend.version_now(&key(not_a_file)).unwrap();
            assert!(matches!(answer, Err(store_core::Error::NotFound { .. })), "{not_a_file}: {answer:?}");
        }
    }

    /// A symlink leading out of the root is not followed by the stat, in the last segment or in
    /// a folder above it.
    #[tokio::test]
    async fn never_stats_outside_the_root() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"s").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("link")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("folder")).unwrap();
        let backend = LocalBackend::open(dir.path(), Durability::Buffered).await.unwrap();
        for escaping in ["link", "folder/secret"] {
            let answer = backend.version_now(&key(escaping)).unwrap();
            assert!(answer.is_err(), "{escaping}: the stat followed a symlink out of the root: {answer:?}");
        }
    }
}
