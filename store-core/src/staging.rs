//! Local files for backends whose objects are not files (memory, S3).
//!
//! `get_file_path(key)` downloads the current value into a staging folder and hands out that
//! path (a new key gets a path with no file). The store remembers a fingerprint (length and
//! hash) of what each handed-out file held; `persist()` uploads exactly the files that were
//! created or changed since, and `save_from_file(key)` uploads one. If a file is handed out again
//! while it holds changes not yet persisted, the changes are kept, not overwritten.
//!
//! The fingerprints are also written beside the staged files (`STAGING/.objstore-staged/KEY`, a
//! name no key can take), so that another process handing out the same file from the same
//! staging folder (the `objstore path` command run twice) keeps the first one's edits too. A file
//! that holds what the store holds is in sync whatever its record says.
//!
//! Folders made here are private (mode 0700): staged copies may hold what only the store's
//! readers should see.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
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

    /// One line for the record beside the staged files: `absent`, or `LEN HASH` (hex).
    fn to_record(self) -> String {
        match self {
            Fingerprint::Absent => "absent\n".to_string(),
            Fingerprint::Content { len, hash } => format!("{len} {hash:016x}\n"),
        }
    }

    /// A record written by [`Fingerprint::to_record`]; `None` for anything else.
    fn from_record(text: &str) -> Option<Fingerprint> {
        let text = text.trim();
        if text == "absent" {
            return Some(Fingerprint::Absent);
        }
        let (len, hash) = text.split_once(' ')?;
        Some(Fingerprint::Content { len: len.parse().ok()?, hash: u64::from_str_radix(hash, 16).ok()? })
    }
}

/// The folder, inside a staging folder, of the fingerprint records (reserved: no key starts
/// with `.objstore`).
const RECORDS: &str = ".objstore-staged";

/// Creates `dir` and its missing parents, each private to the user (0700).
pub(crate) fn create_private_dirs(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
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

    /// Where the fingerprint of the staged `key` is recorded.
    fn record_path(&self, key: &Key) -> Result<PathBuf> {
        let mut path = self.root()?.join(RECORDS);
        path.extend(key.segments());
        Ok(path)
    }

    /// Stages `current` (the store's value, or `None` for a new key) and returns the path.
    pub(crate) async fn hand_out(&self, key: &Key, current: Option<Bytes>) -> Result<PathBuf> {
        let path = self.path(key)?;
        let record = self.record_path(key)?;
        let known = self.files().get(key).copied();
        let target = path.clone();
        let fingerprint = offload(move || {
            let known = known.or_else(|| read_record(&record));
            let fingerprint = stage_file(&target, known, current)?;
            if known != Some(fingerprint) {
                write_record(&record, fingerprint)?;
            }
            Ok(fingerprint)
        })
        .await?;
        self.files().insert(KeyBuf::from(key), fingerprint);
        Ok(path)
    }

    /// Records that the store now holds `bytes` for the staged `key`.
    pub(crate) async fn synced(&self, key: &Key, bytes: &[u8]) -> Result<()> {
        self.synced_as(key, Fingerprint::of(bytes)).await
    }

    /// Records that the store now holds content of `fingerprint` for the staged `key` (also when
    /// another process handed the file out: the record beside it is what that process reads next).
    pub(crate) async fn synced_as(&self, key: &Key, fingerprint: Fingerprint) -> Result<()> {
        if let Some(f) = self.files().get_mut(key) {
            *f = fingerprint;
        }
        let record = self.record_path(key)?;
        offload(move || write_record(&record, fingerprint)).await
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

/// The fingerprint recorded at `record`, if there is a readable one.
fn read_record(record: &Path) -> Option<Fingerprint> {
    std::fs::read_to_string(record).ok().as_deref().and_then(Fingerprint::from_record)
}

/// Records `fingerprint` at `record` (written whole or not at all).
fn write_record(record: &Path, fingerprint: Fingerprint) -> Result<()> {
    let ctx = || format!("cannot record what the staged file holds in {}", record.display());
    let dir = record.parent().unwrap_or(Path::new("."));
    create_private_dirs(dir).map_err(|e| Error::io(ctx(), e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(ctx(), e))?;
    tmp.write_all(fingerprint.to_record().as_bytes()).map_err(|e| Error::io(ctx(), e))?;
    tmp.persist(record).map_err(|e| Error::io(ctx(), e.error))?;
    Ok(())
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
        let in_sync = current.as_deref().map(Fingerprint::of) == Some(on_disk);
        if on_disk != known && on_disk != Fingerprint::Absent && !in_sync {
            // Local edits not persisted yet: keep them, and keep the old fingerprint so that
            // persist() still sees them as changed. (A file the user removed is not an edit:
            // it is staged again below; a file that holds the store's value is in sync.)
            return Ok(known);
        }
    }
    if let Some(parent) = path.parent() {
        create_private_dirs(parent).map_err(|e| Error::io(ctx("create the folder of"), e))?;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::os::unix::fs::PermissionsExt;

    use crate::ObjectStore;

    /// Two handles with one staging folder, as two runs of a command: the second hand-out keeps
    /// the first one's edits; once they are saved, a value changed elsewhere is handed out.
    #[tokio::test]
    async fn a_second_process_keeps_edits_not_saved_yet() {
        let dir = tempfile::tempdir().unwrap();
        let staging = dir.path().join("staging");
        let open = || ObjectStore::builder("memory://staging-two-processes").staging_dir(&staging).build();
        let (first, second) = (open().await.unwrap(), open().await.unwrap());
        first.save("a/notes", "stored").await.unwrap();
        let path = first.get_file_path("a/notes").await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"stored");
        for folder in [staging.as_path(), path.parent().unwrap()] {
            assert_eq!(std::fs::metadata(folder).unwrap().permissions().mode() & 0o777, 0o700);
        }
        std::fs::write(&path, "edited").unwrap();
        assert_eq!(second.get_file_path("a/notes").await.unwrap(), path);
        assert_eq!(std::fs::read(&path).unwrap(), b"edited", "the second hand-out overwrote the edit");
        second.persist().await.unwrap();
        assert_eq!(first.read("a/notes").await.unwrap(), "edited");
        first.save("a/notes", "changed elsewhere").await.unwrap();
        let third = open().await.unwrap();
        third.get_file_path("a/notes").await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"changed elsewhere");
        assert_eq!(third.keys().await.unwrap(), ["a/notes"], "the records are not objects");
    }
}
