//! Local files for backends whose objects are not files (memory, S3).
//!
//! `get_file_path(key)` downloads the current value into a staging folder and hands out that
//! path (a new key gets a path with no file). The store remembers a fingerprint (length and
//! hash) of what each handed-out file held; `persist()` uploads exactly the files that were
//! created or changed since, and `save_from_file(key)` uploads one. If a file is handed out again
//! while it holds changes not yet persisted, the changes are kept, not overwritten.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::key::{Key, KeyBuf};
use crate::raw::io::offload;

/// What a staged file held when the store last synchronised it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fingerprint {
    /// No file (a new key was handed out).
    Absent,
    /// A file of this length and xxh3 hash.
    Content { len: u64, hash: u64 },
}

impl Fingerprint {
    pub(crate) fn of(bytes: &[u8]) -> Fingerprint {
        Fingerprint::Content { len: bytes.len() as u64, hash: xxhash_rust::xxh3::xxh3_64(bytes) }
    }
}

/// The staging folder of one store (shared by its clones and project views).
#[derive(Debug)]
pub(crate) struct Staging {
    chosen: Option<PathBuf>,
    /// Created on first use when no folder was chosen; removed with the store.
    temp: OnceLock<std::result::Result<tempfile::TempDir, String>>,
    files: Mutex<HashMap<KeyBuf, Fingerprint>>,
}

impl Staging {
    pub(crate) fn new(chosen: Option<PathBuf>) -> Staging {
        Staging { chosen, temp: OnceLock::new(), files: Mutex::new(HashMap::new()) }
    }

    fn root(&self) -> Result<&Path> {
        if let Some(dir) = &self.chosen {
            return Ok(dir);
        }
        let temp = self
            .temp
            .get_or_init(|| tempfile::Builder::new().prefix("objstore-staging-").tempdir().map_err(|e| e.to_string()));
        match temp {
            Ok(dir) => Ok(dir.path()),
            Err(e) => Err(Error::io(
                "cannot create a staging folder for get_file_path (set one with StoreBuilder::staging_dir)",
                std::io::Error::other(e.clone()),
            )),
        }
    }

    fn files(&self) -> MutexGuard<'_, HashMap<KeyBuf, Fingerprint>> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where `key` is staged. Keys are valid, so the path stays inside the staging folder.
    pub(crate) fn path(&self, key: &Key) -> Result<PathBuf> {
        let mut path = self.root()?.to_path_buf();
        path.extend(key.segments());
        Ok(path)
    }

    /// Stages `current` (the store's value, or `None` for a new key) and returns the path.
    pub(crate) async fn hand_out(&self, key: &Key, current: Option<Bytes>) -> Result<PathBuf> {
        let path = self.path(key)?;
        let known = self.files().get(key).copied();
        let target = path.clone();
        let fingerprint = offload(move || stage_file(&target, known, current)).await?;
        self.files().insert(KeyBuf::from(key), fingerprint);
        Ok(path)
    }

    /// Records that the store now holds `bytes` for the staged `key`.
    pub(crate) fn synced(&self, key: &Key, bytes: &[u8]) {
        self.synced_as(key, Fingerprint::of(bytes));
    }

    /// Records that the store now holds content of `fingerprint` for the staged `key`.
    pub(crate) fn synced_as(&self, key: &Key, fingerprint: Fingerprint) {
        let mut files = self.files();
        if let Some(f) = files.get_mut(key) {
            *f = fingerprint;
        }
    }

    /// Staged files whose content differs from what the store was last given, with that content.
    pub(crate) async fn changed(self: &Arc<Self>) -> Result<Vec<(KeyBuf, Bytes)>> {
        let tracked: Vec<(KeyBuf, Fingerprint)> = self.files().iter().map(|(k, f)| (k.clone(), *f)).collect();
        let this = self.clone();
        offload(move || {
            let mut changed = Vec::new();
            for (key, fingerprint) in tracked {
                let path = this.path(&key)?;
                match std::fs::read(&path) {
                    Ok(bytes) if Fingerprint::of(&bytes) != fingerprint => changed.push((key, Bytes::from(bytes))),
                    Ok(_) => {}
                    // A staged file the user removed: nothing to upload (the key is not deleted).
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io(format!("cannot read staged file {}", path.display()), e)),
                }
            }
            Ok(changed)
        })
        .await
    }
}

/// Writes the store's value to `path` unless the file holds changes not yet persisted.
fn stage_file(path: &Path, known: Option<Fingerprint>, current: Option<Bytes>) -> Result<Fingerprint> {
    let ctx = |what: &str| format!("cannot {what} staged file {}", path.display());
    if let Some(known) = known {
        let on_disk = match std::fs::read(path) {
            Ok(bytes) => Fingerprint::of(&bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Fingerprint::Absent,
            Err(e) => return Err(Error::io(ctx("read"), e)),
        };
        if on_disk != known && on_disk != Fingerprint::Absent {
            // Local edits not persisted yet: keep them, and keep the old fingerprint so that
            // persist() still sees them as changed. (A file the user removed is not an edit:
            // it is staged again below.)
            return Ok(known);
        }
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(ctx("create the folder of"), e))?;
    }
    match current {
        None => match std::fs::remove_file(path) {
            Ok(()) => Ok(Fingerprint::Absent),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Fingerprint::Absent),
            Err(e) => Err(Error::io(ctx("remove stale"), e)),
        },
        Some(bytes) => {
            let dir = path.parent().unwrap_or(Path::new("."));
            let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(ctx("create"), e))?;
            tmp.write_all(&bytes).map_err(|e| Error::io(ctx("write"), e))?;
            tmp.persist(path).map_err(|e| Error::io(ctx("write"), e.error))?;
            Ok(Fingerprint::of(&bytes))
        }
    }
}
