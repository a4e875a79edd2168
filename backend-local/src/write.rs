//! Saving and deleting: durable, atomic, exact under concurrency.
//!
//! A save writes a uniquely named temp file in the key's folder, stamps it with a modification
//! time that gives it a version of its own (see version.rs), flushes it (`fsync`; a buffered save
//! writes it out instead, see writeout.rs), then, holding the key's lock, checks the put mode
//! against the current file and renames the temp file over it, and counts the change in the
//! usage ledger. Once the lock is released a durable save flushes the folder (one `fsync` shared
//! by the saves renaming into it at the same time, see group_commit.rs) and, the first time, the
//! folders above it up to the root's parent (see durable_dirs.rs), so the new name is on disk
//! before the save returns. A reader sees the old file or the new one, never a part.
//!
//! A save is two steps, [`Inner::begin_save`] (folder and temp file) and [`Inner::commit_save`]
//! (stamp, flush, rename, count), with the value written in between: all at once for a put, or
//! chunk by chunk for a streamed put, whose value never sits in memory whole. A save dropped
//! between the steps leaves nothing: the temp file is unnamed until the commit.
//!
//! Temp files hold an exclusive `flock` while they live; the sweep at open removes only temp
//! files whose lock is free (their writer is gone).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use rustix::fs::{self, AtFlags, FileType, FlockOperation, Mode, OFlags, RenameFlags, Timespec, Timestamps};
use rustix::io::Errno;
use store_core::key::RESERVED_PREFIX;
use store_core::{Error, Key, KeyBuf, ObjectMeta, PutMode, Result, Version};

use crate::error::os_error;
use crate::locks::retry_intr;
use crate::root::Root;
use crate::version::{self, Mtime, VersionFields, modified_of, version_of};
use crate::writeout::write_out;
use crate::{Inner, durable_dirs, file_copy, group_commit, stat_object};

/// How many times a save starts over when its folder is removed under it.
const ATTEMPTS: usize = 8;

/// The name prefix of temp files.
pub(crate) fn temp_prefix() -> String {
    format!("{RESERVED_PREFIX}-tmp-")
}

/// A temp file being written; removed when dropped unless it was renamed into place.
///
/// It is created unnamed (`O_TMPFILE`) and locked before anyone can see it, and named only once
/// its content is on disk, so the sweep at open never finds a live temp file unlocked. Where
/// `O_TMPFILE` is not supported, it is created named and locked at once; the sweep then also
/// spares files whose writer's process still runs (see `walk::remove_if_abandoned`).
pub(crate) struct TempFile {
    dir: OwnedFd,
    fd: OwnedFd,
    /// Its name in `dir`, once it has one.
    name: Option<String>,
    placed: bool,
}

/// Whether `O_TMPFILE` works here: 0 unknown, 1 yes, 2 no.
static UNNAMED: AtomicU8 = AtomicU8::new(0);

/// A fresh temp file name: the prefix, this process's id, a counter.
fn temp_name() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    // Read once: after a fork the child shares the id in its names, and a clash is just an
    // EEXIST, answered with the next number.
    static PID: OnceLock<u32> = OnceLock::new();
    let pid = *PID.get_or_init(std::process::id);
    format!("{}{pid:x}-{:x}", temp_prefix(), SEQ.fetch_add(1, Ordering::Relaxed))
}

impl TempFile {
    fn create(dir: OwnedFd, mode: u32) -> std::result::Result<TempFile, Errno> {
        if UNNAMED.load(Ordering::Relaxed) != 2 {
            match fs::openat(&dir, ".", OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC, Mode::from_raw_mode(mode)) {
                Ok(fd) => {
                    UNNAMED.store(1, Ordering::Relaxed);
                    // Nobody else can open an unnamed file: the lock is free.
                    retry_intr(|| fs::flock(&fd, FlockOperation::NonBlockingLockExclusive))?;
                    return Ok(TempFile { dir, fd, name: None, placed: false });
                }
                Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL) => UNNAMED.store(2, Ordering::Relaxed),
                Err(e) => return Err(e),
            }
        }
        loop {
            let name = temp_name();
            let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC | OFlags::NOFOLLOW;
            match fs::openat(&dir, name.as_str(), flags, Mode::from_raw_mode(mode)) {
                Ok(fd) => {
                    let temp = TempFile { dir, fd, name: Some(name), placed: false };
                    retry_intr(|| fs::flock(&temp.fd, FlockOperation::NonBlockingLockExclusive))?;
                    return Ok(temp);
                }
                // A leftover of an earlier process with the same id: take the next name.
                Err(Errno::EXIST) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn write_all(&self, mut data: &[u8]) -> std::result::Result<(), Errno> {
        while !data.is_empty() {
            let n = retry_intr(|| rustix::io::write(&self.fd, data))?;
            if n == 0 {
                return Err(Errno::IO);
            }
            data = &data[n..];
        }
        Ok(())
    }

    /// Gives an unnamed temp file a name in its folder (still locked), ready to be renamed.
    fn name(&mut self) -> std::result::Result<&str, Errno> {
        while self.name.is_none() {
            let name = temp_name();
            let proc_path = format!("/proc/self/fd/{}", self.fd.as_raw_fd());
            let linked =
                match fs::linkat(fs::CWD, proc_path.as_str(), &self.dir, name.as_str(), AtFlags::SYMLINK_FOLLOW) {
                    // Without /proc, linking the descriptor itself needs CAP_DAC_READ_SEARCH.
                    Err(Errno::NOENT) if !std::path::Path::new("/proc/self/fd").exists() => {
                        fs::linkat(&self.fd, "", &self.dir, name.as_str(), AtFlags::EMPTY_PATH)
                    }
                    other => other,
                };
            match linked {
                Ok(()) => self.name = Some(name),
                Err(Errno::EXIST) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(self.name.as_deref().unwrap_or_default())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let (Some(name), false) = (&self.name, self.placed) {
            if let Err(e) = fs::unlinkat(&self.dir, name.as_str(), AtFlags::empty()) {
                tracing::warn!(file = %name, error = %e, "cannot remove a temp file; the next open removes it");
            }
        }
    }
}

/// A save in progress: its value is being written into an unnamed (or locked) temp file in the
/// key's folder. Dropping it before [`Inner::commit_save`] leaves nothing behind.
pub(crate) struct PendingSave {
    key: KeyBuf,
    temp: TempFile,
    written: u64,
}

impl PendingSave {
    /// Appends `data` to the value.
    pub(crate) fn write(&mut self, data: &[u8]) -> Result<()> {
        self.temp.write_all(data).map_err(|e| os_error(format!("cannot save '{}': cannot write", self.key), e))?;
        self.written += data.len() as u64;
        Ok(())
    }
}

impl PendingSave {
    /// Appends the first `len` bytes of `source` (read from its start, whatever its position),
    /// copied by the kernel where it can (see `file_copy.rs`). A source shorter than `len` is a
    /// `Conflict`: it changed while it was copied.
    pub(crate) fn copy_from(&mut self, source: &OwnedFd, len: u64) -> Result<()> {
        let copied = file_copy::copy_start(source, &self.temp.fd, len)
            .map_err(|e| os_error(format!("cannot save '{}': cannot copy its file", self.key), e))?;
        if copied < len {
            return Err(crate::read::changed_while_read(&self.key));
        }
        self.written += len;
        Ok(())
    }

    /// Appends the first `len` bytes of `source` through a buffer, for tests of the fallback.
    #[cfg(test)]
    pub(crate) fn copy_buffered_for_test(&mut self, source: &OwnedFd, len: u64) -> std::result::Result<(), Errno> {
        file_copy::copy_buffered(source, &self.temp.fd, 0, len)?;
        self.written += len;
        Ok(())
    }
}

/// What a commit could not do because the key's folder was removed under it.
enum CommitError {
    /// Start the save over (only a save that still has its value can).
    FolderGone(PendingSave),
    Failed(Error),
}

impl From<Error> for CommitError {
    fn from(e: Error) -> CommitError {
        CommitError::Failed(e)
    }
}

impl Inner {
    /// Saves `value` under `key` as `mode` allows. See the module documentation.
    pub(crate) fn put(&self, key: &Key, value: &[u8], mode: &PutMode) -> Result<ObjectMeta> {
        for _ in 0..ATTEMPTS {
            let mut pending = self.begin_save(key)?;
            pending.write(value)?;
            match self.try_commit(pending, mode) {
                Ok(meta) => return Ok(meta),
                // The folder was removed meanwhile (its last key deleted and the folder
                // reclaimed): start over.
                Err(CommitError::FolderGone(_)) => continue,
                Err(CommitError::Failed(e)) => return Err(e),
            }
        }
        Err(folder_kept_vanishing(key))
    }

    /// Starts a save of `key`: opens (creating) its folder and a temp file in it.
    pub(crate) fn begin_save(&self, key: &Key) -> Result<PendingSave> {
        for _ in 0..ATTEMPTS {
            let parent = self.root.parent(key, true, self.durable)?;
            match TempFile::create(parent.fd, self.modes.file) {
                Ok(temp) => return Ok(PendingSave { key: KeyBuf::from(key), temp, written: 0 }),
                // The folder was removed after we opened it: open it again.
                Err(Errno::NOENT) => continue,
                Err(e) => return Err(os_error(format!("cannot save '{key}': cannot create a temp file"), e)),
            }
        }
        Err(folder_kept_vanishing(key))
    }

    /// Finishes a save begun with [`Inner::begin_save`]: the value becomes `key`'s as `mode`
    /// allows, durably. When the key's folder was removed meanwhile, the temp file (still open)
    /// is placed in the folder made anew.
    pub(crate) fn commit_save(&self, pending: PendingSave, mode: &PutMode) -> Result<ObjectMeta> {
        let key = pending.key.clone();
        let mut pending = pending;
        for _ in 0..ATTEMPTS {
            match self.try_commit(pending, mode) {
                Ok(meta) => return Ok(meta),
                Err(CommitError::FolderGone(mut gone)) if gone.temp.name.is_none() => {
                    gone.temp.dir = self.root.parent(&key, true, self.durable)?.fd;
                    pending = gone;
                }
                Err(CommitError::FolderGone(_)) => break,
                Err(CommitError::Failed(e)) => return Err(e),
            }
        }
        Err(folder_kept_vanishing(&key))
    }

    fn try_commit(&self, pending: PendingSave, mode: &PutMode) -> std::result::Result<ObjectMeta, CommitError> {
        let durable = self.durable;
        let key = pending.key.clone();
        let ctx = |what: &str| format!("cannot save '{key}': {what}");
        let mut pending = pending;
        let temp = &mut pending.temp;
        // Stamped before the flush, so that its version is on disk with it (see version.rs).
        let mut st = None;
        let stamp =
            version::stamp(|t| stamp_file(&temp.fd, t, &mut st), || current_mtime(temp.dir.as_fd(), key.file_name()))
                .map_err(|e| os_error(ctx("cannot stamp"), e))?;
        // The value reaches the disk before its name does.
        if durable {
            fs::fsync(&temp.fd).map_err(|e| os_error(ctx("cannot flush to disk"), e))?;
        } else {
            write_out(&temp.fd).map_err(|e| os_error(ctx("cannot write out"), e))?;
        }
        let temp_name = match temp.name() {
            Ok(name) => name.to_string(),
            Err(Errno::NOENT) => return Err(CommitError::FolderGone(pending)),
            Err(e) => return Err(os_error(ctx("cannot name the temp file"), e).into()),
        };
        let mut temp = pending.temp;
        let meta = {
            let _key = self.lock_key(&key)?;
            if stamp.coarse {
                // Whole-second times: stay after the file in place, which a racing save may have
                // put there since the stamp.
                if let Some(floor) =
                    current_mtime(temp.dir.as_fd(), key.file_name()).map_err(|e| os_error(ctx("cannot stat"), e))?
                {
                    if floor >= stamp.stored {
                        version::stamp_after(|t| stamp_file(&temp.fd, t, &mut st), floor, stamp.stored)
                            .map_err(|e| os_error(ctx("cannot stamp"), e))?;
                        if durable {
                            fs::fsync(&temp.fd).map_err(|e| os_error(ctx("cannot flush to disk"), e))?;
                        }
                    }
                }
            }
            let st = st.ok_or_else(|| os_error(ctx("cannot stat"), Errno::IO))?;
            let meta = ObjectMeta {
                key: key.clone(),
                size: pending.written,
                version: version_of(&st),
                modified: modified_of(&st),
            };
            // Renamed and counted in one step of the usage ledger (see ledger.rs).
            self.count_change(|| {
                let previous = self.replace(&key, temp.dir.as_fd(), key.file_name(), &temp_name, mode)?;
                Ok((previous, Some(meta.size)))
            })?;
            temp.placed = true;
            meta
        };
        if durable {
            self.flush_folders(&key, temp.dir.as_fd())?;
        }
        Ok(meta)
    }

    /// After a durable save's rename: flushes the key's folder (shared with the saves renaming
    /// into it at the same time, see group_commit.rs) and, the first time, the folders above it
    /// (see durable_dirs.rs).
    fn flush_folders(&self, key: &Key, dir: BorrowedFd<'_>) -> Result<()> {
        let ctx = |what: &str| format!("cannot save '{key}': {what}");
        let id = durable_dirs::identity(dir).map_err(|e| os_error(ctx("cannot stat its folder"), e))?;
        group_commit::flush_folder(id, || fs::fsync(dir))
            .map_err(|e| os_error(ctx("cannot flush its folder to disk"), e))?;
        durable_dirs::ensure(&self.root, key.parent(), id).map_err(|(folder, e)| {
            let folder = if folder == ".." { "the store folder's parent".to_string() } else { format!("'{folder}/'") };
            os_error(ctx(&format!("cannot flush {folder} to disk")), e)
        })
    }

    /// With the key locked: checks `mode` against what is there and renames `temp` over it.
    /// Returns the size of the object replaced.
    fn replace(&self, key: &Key, dir: BorrowedFd<'_>, name: &str, temp: &str, mode: &PutMode) -> Result<Option<u64>> {
        let mut previous = self.object_at(key, dir, name)?;
        if matches!(previous, Current::Folder) {
            previous = if Root::remove_empty_tree(dir, name).map_err(|e| os_error(format!("cannot save '{key}'"), e))? {
                Current::Absent
            } else {
                return Err(Error::Conflict {
                    key: key.to_string(),
                    reason: "it is a folder holding other objects, and on local disk a folder cannot also be an \
                             object; choose another key"
                        .to_string(),
                });
            };
        }
        let flags = match (mode, &previous) {
            (PutMode::Create, Current::Object(_)) => return Err(Error::AlreadyExists { key: key.to_string() }),
            (PutMode::Create, _) => RenameFlags::NOREPLACE,
            (PutMode::Update(expected), Current::Object(st)) if version_of(st) == *expected => RenameFlags::empty(),
            (PutMode::Update(expected), _) => {
                return Err(Error::Precondition { key: key.to_string(), expected: expected.to_string() });
            }
            (PutMode::Overwrite, _) => RenameFlags::empty(),
        };
        match fs::renameat_with(dir, temp, dir, name, flags) {
            Ok(()) => Ok(previous.size()),
            Err(Errno::EXIST) => Err(Error::AlreadyExists { key: key.to_string() }),
            Err(Errno::ISDIR | Errno::NOTEMPTY) => Err(Error::Conflict {
                key: key.to_string(),
                reason: "a folder of that name appeared meanwhile; choose another key".to_string(),
            }),
            Err(e) => Err(os_error(format!("cannot save '{key}': cannot rename into place"), e)),
        }
    }

    /// What the key's name holds now.
    fn object_at(&self, key: &Key, dir: BorrowedFd<'_>, name: &str) -> Result<Current> {
        let kind = Root::kind_at(dir, name).map_err(|e| self.root.path_error(key, key.as_str(), e))?;
        Ok(match kind {
            None => Current::Absent,
            Some(st) => match FileType::from_raw_mode(st.st_mode) {
                FileType::Directory => Current::Folder,
                FileType::RegularFile => Current::Object(st),
                // A symlink is an object if it leads to a file inside the store.
                _ => match stat_object(&self.root, key.as_str()) {
                    Some(target) => Current::Object(target),
                    None => Current::Other,
                },
            },
        })
    }

    /// Deletes `key`'s object; `NotFound` when there is none. With `if_match`, only while the
    /// object holds that version (checked under the key's lock, which every save and delete of
    /// the key takes in every process), else `Precondition`.
    pub(crate) fn delete(&self, key: &Key, if_match: Option<&Version>) -> Result<()> {
        let parent = self.root.parent(key, false, false).map_err(|e| match e {
            Error::Conflict { .. } => Error::not_found(key),
            e => e,
        })?;
        {
            let _key = self.lock_key(key)?;
            let size = match self.object_at(key, parent.fd.as_fd(), parent.name)? {
                Current::Object(st) => match if_match {
                    Some(expected) if version_of(&st) != *expected => {
                        return Err(Error::Precondition { key: key.to_string(), expected: expected.to_string() });
                    }
                    _ => st.st_size as u64,
                },
                _ => return Err(Error::not_found(key)),
            };
            self.count_change(|| {
                fs::unlinkat(&parent.fd, parent.name, AtFlags::empty())
                    .map_err(|e| os_error(format!("cannot delete '{key}'"), e))?;
                Ok((Some(size), None))
            })?;
        }
        if self.durable {
            fs::fsync(&parent.fd).map_err(|e| os_error(format!("cannot flush the folder of '{key}'"), e))?;
        }
        Ok(())
    }
}

/// Sets the modification (and access) time of `fd` to `t`; returns the time the file system
/// stored, and keeps the file's stat in `st`.
fn stamp_file(fd: &OwnedFd, t: Mtime, st: &mut Option<fs::Stat>) -> std::result::Result<Mtime, Errno> {
    let t = Timespec { tv_sec: t.0, tv_nsec: t.1.into() };
    fs::futimens(fd, &Timestamps { last_access: t, last_modification: t })?;
    let stat = fs::fstat(fd)?;
    *st = Some(stat);
    Ok(stat.mtime())
}

/// The stored modification time of the regular file `name` in `dir`, if there is one.
fn current_mtime(dir: BorrowedFd<'_>, name: &str) -> std::result::Result<Option<Mtime>, Errno> {
    match Root::kind_at(dir, name)? {
        Some(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile => Ok(Some(st.mtime())),
        _ => Ok(None),
    }
}

/// What a key's name holds in its folder.
#[derive(Debug)]
enum Current {
    Absent,
    Object(fs::Stat),
    Folder,
    /// Something that is not an object (a dangling symlink, a device): replaced like an object
    /// but never counted.
    Other,
}

impl Current {
    fn size(&self) -> Option<u64> {
        match self {
            Current::Object(st) => Some(st.st_size as u64),
            _ => None,
        }
    }
}

fn folder_kept_vanishing(key: &Key) -> Error {
    Error::Conflict {
        key: key.to_string(),
        reason: "its folder kept being removed by concurrent deletes; try again".to_string(),
    }
}

/// How much of a streamed value is gathered before it is written to the temp file (one hand-off
/// to the blocking pool per chunk of this size).
const STREAM_WRITE_CHUNK: usize = 1 << 20;

/// A streamed put: the chunks go into the temp file as they arrive, then the same commit as a
/// put. Small chunks are gathered up to [`STREAM_WRITE_CHUNK`]; a chunk that size or larger is
/// written as it is (no copy). The next chunk is awaited while the last one is written, so a
/// stream that reads from disk (a file saved in place) reads and writes at once: at most two
/// chunks plus one gathered in memory. A stream that fails, yields other than `size` bytes, or
/// whose future is dropped, leaves nothing behind.
pub(crate) async fn put_stream(
    inner: &std::sync::Arc<Inner>,
    key: &Key,
    mut body: store_core::raw::ByteStream,
    size: Option<u64>,
    mode: &PutMode,
) -> Result<ObjectMeta> {
    use futures::StreamExt as _;
    use store_core::raw::backend::SizeCheck;
    use store_core::raw::io::offload;

    let key = KeyBuf::from(key);
    let mut pending = {
        let (inner, key) = (inner.clone(), key.clone());
        offload(move || inner.begin_save(&key)).await?
    };
    let mut check = SizeCheck::new(size);
    let mut gather = store_core::raw::gather::Gather::new(STREAM_WRITE_CHUNK);
    let mut next = body.next().await.transpose()?;
    loop {
        let end = next.is_none();
        if let Some(chunk) = &next {
            check.add(&key, chunk.len())?;
        }
        match (gather.push(next.take()), end) {
            (Some(piece), false) => {
                let write = offload(move || pending.write(&piece).map(|()| pending));
                let (written, following) = futures::join!(write, body.next());
                pending = written?;
                next = following.transpose()?;
            }
            (Some(piece), true) => {
                pending = offload(move || pending.write(&piece).map(|()| pending)).await?;
                break;
            }
            (None, true) => break,
            (None, false) => next = body.next().await.transpose()?,
        }
    }
    check.finish(&key)?;
    let (inner, mode) = (inner.clone(), mode.clone());
    offload(move || inner.commit_save(pending, &mode)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &std::path::Path) -> Vec<String> {
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect()
    }

    /// The sweep at open may remove any temp file it can lock, so a temp file must never be
    /// visible without its writer's lock: it is created unnamed and locked, and named later.
    #[test]
    fn a_temp_file_is_never_visible_unlocked() {
        let dir = tempfile::tempdir().unwrap();
        let dir_fd = fs::open(dir.path(), OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
        let mut temp = TempFile::create(dir_fd, 0o666).unwrap();
        assert!(names(dir.path()).is_empty(), "a temp file is visible before it is named");
        temp.write_all(b"data").unwrap();
        let name = temp.name().unwrap().to_string();
        assert_eq!(names(dir.path()), vec![name.clone()]);
        let other = std::fs::File::open(dir.path().join(&name)).unwrap();
        assert_eq!(
            fs::flock(&other, FlockOperation::NonBlockingLockExclusive),
            Err(Errno::WOULDBLOCK),
            "a named temp file is not locked by its writer"
        );
        drop(temp);
        assert!(names(dir.path()).is_empty(), "an unplaced temp file outlived its writer");
    }
}
