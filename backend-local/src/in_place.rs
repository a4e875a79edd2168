//! Saving a file written in place (LEAN's `GetFilePath` then `Save`): the key's own file becomes
//! its value, durably, through the same temp file and commit as every save.
//!
//! Invariants:
//! - The file is found exactly as a read finds it (beneath the root, a regular file; a FIFO or a
//!   symlink out of the root is `NotFound` or refused), and it is copied from that open file, so
//!   a name swapped meanwhile changes nothing.
//! - The copy is the kernel's (`copy_file_range`) into a temp file in the key's folder, then the
//!   commit of a put: fsync (when durable), stamp, rename, folder flush. The value never passes
//!   through this process's memory, and what readers see changes once, at the rename.
//! - The file must hold exactly the size the caller judged (limits decided on it), and the
//!   version it was opened with until the copy ends (nothing wrote to it meanwhile, which could
//!   mix two versions into the copy): otherwise a `Conflict` that saves nothing; the temp file is
//!   removed.

use store_core::{Error, Key, ObjectMeta, PutMode, Result};

use crate::Inner;
use crate::read::OpenObject;

impl Inner {
    /// Saves `key`'s own file, of `size` bytes, as its value (see the module docs).
    pub(crate) fn put_in_place(&self, key: &Key, size: u64, mode: &PutMode) -> Result<ObjectMeta> {
        let source = self.open_current(key, None)?;
        self.save_copy_of(key, source, size, mode)
    }

    /// Saves a copy of `source`, `key`'s own file opened for the save, judged at `size` bytes.
    pub(crate) fn save_copy_of(&self, key: &Key, source: OpenObject, size: u64, mode: &PutMode) -> Result<ObjectMeta> {
        if source.size() != size {
            return Err(changed_size(key, size, source.size()));
        }
        let mut pending = self.begin_save(key)?;
        pending.copy_from(source.fd(), size)?;
        // Written to while copied (grown, shrunk or rewritten in place): the copy may mix two
        // versions; the version the file was opened with tells.
        if !source.unchanged() {
            return Err(crate::read::changed_while_read(key));
        }
        self.commit_save(pending, mode)
    }
}

/// The error for a file that is not the size it was judged at.
fn changed_size(key: &Key, judged: u64, found: u64) -> Error {
    let now = if found > judged { format!("more than {judged}") } else { found.to_string() };
    Error::Conflict {
        key: key.to_string(),
        reason: format!(
            "its file was written to while it was being saved ({judged} bytes when the save began, {now} now); \
             save it again once nothing writes it"
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::Path;

    use store_core::raw::Backend;
    use store_core::testkit::noise;
    use store_core::{Error, KeyBuf, PutMode};

    use crate::{Durability, LocalBackend};

    fn key(s: &str) -> KeyBuf {
        KeyBuf::parse(s).unwrap()
    }

    /// Names in `dir` other than the store's internal folder (temp files would show here).
    fn leftovers(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != ".objstore")
            .collect();
        names.sort();
        names
    }

    /// A file written in place (by hand, as pandas writes it) becomes the value: the same bytes at
    /// every size, a new version, a new file (readers holding the old one keep the old bytes).
    #[tokio::test]
    async fn saves_the_file_written_in_place_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::open(dir.path(), Durability::Durable).await.unwrap();
        for (i, len) in [0usize, 1, 4096, 3 * 1024 * 1024 + 1].into_iter().enumerate() {
            let k = key(&format!("frames/f{i}.parquet"));
            let path = backend.local_path(&k, true).await.unwrap().unwrap();
            std::fs::write(&path, b"old").unwrap();
            let before = backend.head(&k).await.unwrap();
            let old_file = std::fs::File::open(&path).unwrap();
            let value = noise(len, 1);
            std::fs::write(&path, &value).unwrap();
            let meta = backend.put_in_place(&k, len as u64, &PutMode::Overwrite).await.unwrap();
            assert_eq!(meta.size, len as u64);
            assert_ne!(meta.version, before.version, "{len} bytes: the version did not change");
            let read = store_core::raw::get_object(&backend, &k).await.unwrap();
            assert!(read.bytes == value, "{len} bytes: other bytes were saved");
            use std::os::unix::fs::MetadataExt as _;
            assert_ne!(old_file.metadata().unwrap().ino(), std::fs::metadata(&path).unwrap().ino());
        }
        assert_eq!(leftovers(&dir.path().join("frames")).len(), 4, "temp files left behind");
    }

    /// A file that is not the size the save was judged at (written to meanwhile) saves nothing:
    /// `Conflict`, the file as it was, no temp file.
    #[tokio::test]
    async fn a_file_of_another_size_than_judged_is_a_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::open(dir.path(), Durability::Buffered).await.unwrap();
        let k = key("model.bin");
        let path = backend.local_path(&k, true).await.unwrap().unwrap();
        std::fs::write(&path, noise(10_000, 2)).unwrap();
        let before = backend.head(&k).await.unwrap();
        for judged in [9_999u64, 10_001, 0] {
            let answer = backend.put_in_place(&k, judged, &PutMode::Overwrite).await;
            assert!(matches!(answer, Err(Error::Conflict { .. })), "judged at {judged}: {answer:?}");
        }
        assert_eq!(backend.head(&k).await.unwrap().version, before.version, "a refused save changed the file");
        assert_eq!(leftovers(dir.path()), vec!["model.bin"]);
    }

    /// Another program rewriting the file in place (same size) between the open and the end of
    /// the copy: the save is a `Conflict` and saves nothing, never a mix of two versions.
    #[tokio::test]
    async fn a_file_rewritten_while_saved_is_a_conflict() {
        use std::os::unix::fs::FileExt as _;
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::open(dir.path(), Durability::Buffered).await.unwrap();
        let k = key("model.bin");
        let path = backend.local_path(&k, true).await.unwrap().unwrap();
        std::fs::write(&path, vec![b'a'; 100_000]).unwrap();
        let source = backend.inner.open_current(&k, None).unwrap();
        // Same size, other bytes in the first half: only the version tells.
        std::fs::OpenOptions::new().write(true).open(&path).unwrap().write_at(&[b'b'; 50_000], 0).unwrap();
        let answer = backend.inner.save_copy_of(&k, source, 100_000, &PutMode::Overwrite);
        assert!(matches!(answer, Err(Error::Conflict { .. })), "{answer:?}");
        assert_eq!(leftovers(dir.path()), vec!["model.bin"]);
    }

    /// Not a file beneath the root: a missing key, a FIFO, a symlink out of the root.
    #[tokio::test]
    async fn only_a_regular_file_beneath_the_root_is_saved() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"secret").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("link")).unwrap();
        crate::test_support::fifo(&dir.path().join("fifo"));
        let backend = LocalBackend::open(dir.path(), Durability::Buffered).await.unwrap();
        for (name, size) in [("absent", 0u64), ("fifo", 0), ("link", 6)] {
            let answer = backend.put_in_place(&key(name), size, &PutMode::Overwrite).await;
            assert!(answer.is_err(), "{name}: saved {answer:?}");
        }
        assert_eq!(std::fs::read(outside.path().join("secret")).unwrap(), b"secret");
        assert!(std::fs::symlink_metadata(dir.path().join("link")).unwrap().file_type().is_symlink());
    }

    /// The copy through a buffer (file systems without an in-kernel copy) saves the same bytes.
    #[tokio::test]
    async fn the_buffered_copy_saves_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::open(dir.path(), Durability::Buffered).await.unwrap();
        let source_path = dir.path().join("source.bin");
        let value = noise(2 * 1024 * 1024 + 7, 3);
        std::fs::write(&source_path, &value).unwrap();
        let source: std::os::fd::OwnedFd = std::fs::File::open(&source_path).unwrap().into();
        let k = key("copied");
        let inner = &backend.inner;
        let mut pending = inner.begin_save(&k).unwrap();
        pending.copy_buffered_for_test(&source, value.len() as u64).unwrap();
        inner.commit_save(pending, &PutMode::Overwrite).unwrap();
        assert!(store_core::raw::get_object(&backend, &k).await.unwrap().bytes == value);
    }
}
