//! Walking the folder tree: listings in key order, usage counts, and the sweep at open.
//!
//! The walk is depth-first and reads one folder at a time. Sorting each folder's entries with
//! folders compared as `name/` makes the walk's order the byte order of whole keys (`a-c` comes
//! before `a/b`, because `-` < `/`), so listings stream sorted without collecting every key.
//!
//! What is an object: a regular file (or a symlink that leads to one inside the root) whose name
//! can be a key segment. Names starting with `.objstore` (temp files, the internal folder), names
//! that are not UTF-8, hold `\` or control characters are not objects. Symlinked folders are not
//! followed.

use std::cmp::Ordering;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use rustix::fs::{self, AtFlags, FileType, FlockOperation, Mode, OFlags, RawDir, RawDirEntry};
use rustix::io::Errno;
use store_core::key::{is_reserved, is_segment};
use store_core::{KeyBuf, Result, Usage};

use crate::error::os_error;
use crate::locks::try_flock;
use crate::write::temp_prefix;
use crate::{Inner, stat_object};

/// An object found by a walk.
pub(crate) struct Found {
    pub(crate) key: KeyBuf,
    /// Present when the walk was asked for metadata.
    pub(crate) stat: Option<fs::Stat>,
}

/// A folder's entries: names in one buffer, sorted in key order.
struct Entry {
    start: u32,
    len: u32,
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Folder,
    File,
    Link,
}

struct Level {
    dir: OwnedFd,
    /// Length of the keys' prefix at this level in `Walker::path` (`""` or `"a/b/"`).
    prefix_len: usize,
    names: String,
    entries: Vec<Entry>,
    next: usize,
}

/// A sorted, lazy walk over the objects whose keys start with a prefix.
pub(crate) struct Walker {
    inner: Arc<Inner>,
    stack: Vec<Level>,
    with_stat: bool,
    started: Option<String>,
    /// The key being built: the current level's prefix, then a name.
    path: String,
    /// Where folders are read into (`getdents64`), allocated at the first folder.
    buffer: Vec<MaybeUninit<u8>>,
}

/// How many bytes of a folder's entries one `getdents64` reads: a folder of 1,000 keys in one or
/// two calls (rustix's `Dir` starts at 768 bytes and grows slowly: 144 calls for 10,000 keys in
/// folders of 1,000, against 34 for `ls`).
const READ_DIR_BUFFER: usize = 32 * 1024;

/// The next entry of a folder being read; a folder removed while it is read has no more.
fn next_entry<'a, Fd: AsFd>(dir: &'a mut RawDir<'_, Fd>) -> Option<std::result::Result<RawDirEntry<'a>, Errno>> {
    match dir.next()? {
        Err(Errno::NOENT) => None,
        other => Some(other),
    }
}

impl Walker {
    /// A walk over keys starting with `prefix` (normalised); with `with_stat`, each object's stat.
    /// Nothing is read until the first item is asked for.
    pub(crate) fn new(inner: Arc<Inner>, prefix: &str, with_stat: bool) -> Walker {
        Walker {
            inner,
            stack: Vec::new(),
            with_stat,
            started: Some(prefix.to_string()),
            path: String::new(),
            buffer: Vec::new(),
        }
    }

    fn start(&mut self, prefix: &str) -> Result<()> {
        let (dir, filter) = match prefix.rsplit_once('/') {
            Some((dir, filter)) => (dir, filter),
            None => ("", prefix),
        };
        let path = if dir.is_empty() { "." } else { dir };
        let fd = match self.inner.root.open_beneath(path, OFlags::RDONLY | OFlags::DIRECTORY) {
            Ok(fd) => fd,
            Err(Errno::NOENT | Errno::NOTDIR | Errno::XDEV | Errno::LOOP) => return Ok(()),
            Err(e) => return Err(os_error(format!("cannot list '{prefix}'"), e)),
        };
        self.path.clear();
        if !dir.is_empty() {
            self.path.push_str(dir);
            self.path.push('/');
        }
        self.push(fd, filter)
    }

    /// Reads the folder `fd` (whose keys start with `self.path`) and makes it the current level.
    fn push(&mut self, fd: OwnedFd, filter: &str) -> Result<()> {
        let ctx = |path: &str| format!("cannot list '{path}'");
        if self.buffer.is_empty() {
            self.buffer.resize(READ_DIR_BUFFER, MaybeUninit::uninit());
        }
        let mut dir = RawDir::new(&fd, &mut self.buffer);
        let mut names = String::new();
        let mut entries = Vec::new();
        while let Some(entry) = next_entry(&mut dir) {
            let entry = entry.map_err(|e| os_error(ctx(&self.path), e))?;
            let Some(name) = object_name(entry.file_name().to_bytes()) else { continue };
            if !name.starts_with(filter) {
                continue;
            }
            let mut file_type = entry.file_type();
            if file_type == FileType::Unknown {
                // Some file systems do not report types in listings.
                match fs::statat(&fd, name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) => file_type = FileType::from_raw_mode(st.st_mode),
                    Err(_) => continue,
                }
            }
            let kind = match file_type {
                FileType::Directory => Kind::Folder,
                FileType::RegularFile => Kind::File,
                FileType::Symlink => Kind::Link,
                _ => continue,
            };
            entries.push(Entry { start: names.len() as u32, len: name.len() as u32, kind });
            names.push_str(name);
        }
        entries.sort_unstable_by(|a, b| key_order(&names, a, b));
        self.stack.push(Level { dir: fd, prefix_len: self.path.len(), names, entries, next: 0 });
        Ok(())
    }
}

/// Orders entries as their keys order: a folder `x` as `x/`.
fn key_order(names: &str, a: &Entry, b: &Entry) -> Ordering {
    let (x, y) = (
        &names.as_bytes()[a.start as usize..(a.start + a.len) as usize],
        &names.as_bytes()[b.start as usize..(b.start + b.len) as usize],
    );
    let common = x.len().min(y.len());
    x[..common].cmp(&y[..common]).then_with(|| {
        let after = |s: &[u8], e: &Entry| s.get(common).copied().or((e.kind == Kind::Folder).then_some(b'/'));
        after(x, a).cmp(&after(y, b))
    })
}

/// The name as a key segment, or `None` when this entry cannot be an object or folder of keys
/// (the store's own files, names that are not UTF-8 or break the key rules).
fn object_name(raw: &[u8]) -> Option<&str> {
    let name = std::str::from_utf8(raw).ok()?;
    if is_segment(name) {
        return Some(name);
    }
    if name != "." && name != ".." && !is_reserved(name) {
        tracing::debug!(name, "ignoring a file whose name cannot be a key");
    }
    None
}

impl Iterator for Walker {
    type Item = Result<Found>;

    fn next(&mut self) -> Option<Result<Found>> {
        if let Some(prefix) = self.started.take() {
            if let Err(e) = self.start(&prefix) {
                return Some(Err(e));
            }
        }
        loop {
            let level = self.stack.last_mut()?;
            let Some(entry) = level.entries.get(level.next) else {
                self.stack.pop();
                continue;
            };
            level.next += 1;
            let kind = entry.kind;
            self.path.truncate(level.prefix_len);
            let name_range = entry.start as usize..(entry.start + entry.len) as usize;
            self.path.push_str(&level.names[name_range.clone()]);
            let dir_fd = level.dir.as_fd();
            let name = &level.names[name_range];
            if kind == Kind::Folder {
                let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                match fs::openat(dir_fd, name, flags, Mode::empty()) {
                    Ok(fd) => {
                        self.path.push('/');
                        if let Err(e) = self.push(fd, "") {
                            return Some(Err(e));
                        }
                    }
                    // Removed meanwhile, or a symlink to a folder (not followed).
                    Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => {}
                    Err(e) => return Some(Err(os_error(format!("cannot list '{}'", self.path), e))),
                }
                continue;
            }
            let stat = match (kind, self.with_stat) {
                // Symlinks count only when they lead to a file inside the root.
                (Kind::Link, _) => match stat_object(&self.inner.root, &self.path) {
                    Some(st) => Some(st),
                    None => continue,
                },
                (_, false) => None,
                (_, true) => match fs::statat(dir_fd, name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) => Some(st),
                    // Removed since the folder was read.
                    Err(Errno::NOENT) => continue,
                    Err(e) => return Some(Err(os_error(format!("cannot stat '{}'", self.path), e))),
                },
            };
            let stat = if self.with_stat { stat } else { None };
            return Some(Ok(Found { key: KeyBuf::from_valid(self.path.as_str()), stat }));
        }
    }
}

/// Counts every object, and removes temp files whose writer is gone (their `flock` is free).
/// Anything else named like a temp file (a folder, a FIFO) is left alone, and a temp file that
/// cannot be removed is logged, never an error: the sweep never keeps a store from opening.
pub(crate) fn sweep(inner: &Inner) -> Result<Usage> {
    let mut usage = Usage::default();
    let root = fs::openat(&inner.root.fd, ".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| os_error("cannot open the store folder", e))?;
    let mut buffer = vec![MaybeUninit::uninit(); READ_DIR_BUFFER];
    sweep_dir(inner, root, String::new(), &mut usage, &mut buffer)?;
    Ok(usage)
}

fn sweep_dir(
    inner: &Inner,
    fd: OwnedFd,
    prefix: String,
    usage: &mut Usage,
    buffer: &mut [MaybeUninit<u8>],
) -> Result<()> {
    let ctx = |what: &str| format!("cannot sweep '{prefix}': {what}");
    let mut dir = RawDir::new(&fd, buffer);
    let temp = temp_prefix();
    let mut folders = Vec::new();
    while let Some(entry) = next_entry(&mut dir) {
        let entry = entry.map_err(|e| os_error(ctx("cannot read"), e))?;
        let raw = entry.file_name().to_bytes();
        if raw.starts_with(temp.as_bytes()) {
            // Only regular files are the store's temp files; a folder or a FIFO of that name is
            // someone else's (and opening a FIFO would wait for a writer).
            let is_file = match entry.file_type() {
                FileType::RegularFile => true,
                FileType::Unknown => fs::statat(&fd, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW)
                    .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::RegularFile),
                _ => false,
            };
            if is_file {
                remove_if_abandoned(fd.as_fd(), entry.file_name())?;
            } else {
                tracing::warn!(folder = %prefix, name = ?entry.file_name(), "left alone something named like a temp file that is not a file");
            }
            continue;
        }
        let Some(name) = object_name(raw) else { continue };
        let st = match entry.file_type() {
            FileType::Directory => {
                folders.push(name.to_string());
                continue;
            }
            FileType::RegularFile => fs::statat(&fd, name, AtFlags::SYMLINK_NOFOLLOW).ok(),
            _ => stat_object(&inner.root, &format!("{prefix}{name}")),
        };
        if let Some(st) = st.filter(|st| FileType::from_raw_mode(st.st_mode) == FileType::RegularFile) {
            usage.bytes += st.st_size as u64;
            usage.objects += 1;
        }
    }
    for name in folders {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match fs::openat(&fd, name.as_str(), flags, Mode::empty()) {
            Ok(sub) => sweep_dir(inner, sub, format!("{prefix}{name}/"), usage, buffer)?,
            Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => {}
            Err(e) => return Err(os_error(ctx("cannot open a folder"), e)),
        }
    }
    Ok(())
}

/// A temp file younger than this, whose writer's process still runs, is never swept.
const YOUNG: Duration = Duration::from_secs(60);

/// Removes the temp file `name` in `dir` if its writer is gone: nobody holds its lock, and its
/// writer's process (the id in its name) no longer runs or the file is older than a minute.
/// (Writers lock temp files before naming them; the process check also covers file systems
/// without `O_TMPFILE`, where a file is named a moment before it is locked.)
fn remove_if_abandoned(dir_fd: BorrowedFd<'_>, name: &std::ffi::CStr) -> Result<()> {
    // O_NONBLOCK: should it have become a FIFO since it was listed, opening it must not wait.
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let file = match fs::openat(dir_fd, name, flags, Mode::empty()) {
        Ok(f) => f,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => {
            tracing::warn!(file = ?name, error = %e, "cannot open a temp file to sweep it; left alone");
            return Ok(());
        }
    };
    if fs::fstat(&file).map(|st| FileType::from_raw_mode(st.st_mode) != FileType::RegularFile).unwrap_or(true) {
        return Ok(());
    }
    if !try_flock(file.as_fd(), FlockOperation::NonBlockingLockExclusive)? {
        return Ok(());
    }
    let writer_runs = writer_pid(name).is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
    let young = fs::fstat(&file)
        .ok()
        .and_then(|st| crate::version::modified_of(&st))
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age < YOUNG);
    if writer_runs && young {
        return Ok(());
    }
    match fs::unlinkat(dir_fd, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => {
            tracing::info!(file = ?name, "removed a temp file left by an interrupted save");
        }
        // Invisible anyway: a temp file that cannot be removed (a folder this user may not
        // write) must not keep the store from opening.
        Err(e) => tracing::warn!(file = ?name, error = %e, "cannot remove a temp file left by an interrupted save"),
    }
    Ok(())
}

/// The process id in a temp file's name (`.objstore-tmp-PID-SEQ`, hexadecimal).
fn writer_pid(name: &std::ffi::CStr) -> Option<u32> {
    let name = name.to_str().ok()?;
    let rest = name.strip_prefix(temp_prefix().as_str())?;
    u32::from_str_radix(rest.split('-').next()?, 16).ok()
}

/// Sums the objects the walker finds.
pub(crate) fn count(inner: Arc<Inner>) -> Result<Usage> {
    let mut usage = Usage::default();
    for found in Walker::new(inner, "", true) {
        let found = found?;
        usage.objects += 1;
        usage.bytes += found.stat.map_or(0, |st| st.st_size as u64);
    }
    Ok(usage)
}
