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
use std::os::fd::AsFd;
use std::sync::Arc;

use rustix::fs::{self, AtFlags, Dir, FileType, FlockOperation, Mode, OFlags};
use rustix::io::Errno;
use store_core::key::RESERVED_PREFIX;
use store_core::{KeyBuf, Result, Usage};

use crate::errors::os_error;
use crate::locks::try_flock;
use crate::write::temp_prefix;
use crate::{Inner, stat_object};

/// An object found by a walk.
pub(crate) struct Found {
    pub(crate) key: KeyBuf,
    /// Present when the walk was asked for metadata.
    pub(crate) stat: Option<fs::Stat>,
}

struct Entry {
    name: String,
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Folder,
    File,
    Link,
}

struct Level {
    dir: Dir,
    /// The keys' prefix at this level: `""` or `"a/b/"`.
    prefix: String,
    entries: Vec<Entry>,
    next: usize,
}

/// A sorted, lazy walk over the objects whose keys start with a prefix.
pub(crate) struct Walker {
    inner: Arc<Inner>,
    stack: Vec<Level>,
    with_stat: bool,
    started: Option<String>,
}

impl Walker {
    /// A walk over keys starting with `prefix` (normalised); with `with_stat`, each object's stat.
    /// Nothing is read until the first item is asked for.
    pub(crate) fn new(inner: Arc<Inner>, prefix: &str, with_stat: bool) -> Walker {
        Walker { inner, stack: Vec::new(), with_stat, started: Some(prefix.to_string()) }
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
        let level_prefix = if dir.is_empty() { String::new() } else { format!("{dir}/") };
        self.push(fd, level_prefix, filter)
    }

    fn push(&mut self, fd: std::os::fd::OwnedFd, prefix: String, filter: &str) -> Result<()> {
        let mut dir = Dir::new(fd).map_err(|e| os_error(format!("cannot list '{prefix}'"), e))?;
        let mut entries = Vec::new();
        while let Some(entry) = dir.next() {
            let entry = entry.map_err(|e| os_error(format!("cannot list '{prefix}'"), e))?;
            let Some(name) = object_name(entry.file_name().to_bytes()) else { continue };
            if !name.starts_with(filter) {
                continue;
            }
            let mut file_type = entry.file_type();
            if file_type == FileType::Unknown {
                // Some file systems do not report types in listings.
                let dir_fd = dir.fd().map_err(|e| os_error("cannot list", e))?;
                match fs::statat(dir_fd, name, AtFlags::SYMLINK_NOFOLLOW) {
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
            entries.push(Entry { name: name.to_string(), kind });
        }
        entries.sort_unstable_by(key_order);
        self.stack.push(Level { dir, prefix, entries, next: 0 });
        Ok(())
    }
}

/// Orders entries as their keys order: a folder `x` as `x/`.
fn key_order(a: &Entry, b: &Entry) -> Ordering {
    let slash = |e: &Entry| if e.kind == Kind::Folder { Some(b'/') } else { None };
    a.name.bytes().chain(slash(a)).cmp(b.name.bytes().chain(slash(b)))
}

/// The name as a key segment, or `None` when this entry cannot be an object or folder of keys.
fn object_name(raw: &[u8]) -> Option<&str> {
    if raw == b"." || raw == b".." || raw.starts_with(RESERVED_PREFIX.as_bytes()) {
        return None;
    }
    let name = std::str::from_utf8(raw).ok()?;
    if name.contains('\\') || name.chars().any(char::is_control) {
        tracing::debug!(name, "ignoring a file whose name cannot be a key");
        return None;
    }
    Some(name)
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
            let path = format!("{}{}", level.prefix, entry.name);
            if entry.kind == Kind::Folder {
                let dir_fd = match level.dir.fd() {
                    Ok(fd) => fd,
                    Err(e) => return Some(Err(os_error("cannot list", e))),
                };
                let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                match fs::openat(dir_fd, entry.name.as_str(), flags, Mode::empty()) {
                    Ok(fd) => {
                        if let Err(e) = self.push(fd, format!("{path}/"), "") {
                            return Some(Err(e));
                        }
                    }
                    // Removed meanwhile, or a symlink to a folder (not followed).
                    Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => {}
                    Err(e) => return Some(Err(os_error(format!("cannot list '{path}'"), e))),
                }
                continue;
            }
            let stat = match (entry.kind, self.with_stat) {
                // Symlinks count only when they lead to a file inside the root.
                (Kind::Link, _) => match stat_object(&self.inner.root, &path) {
                    Some(st) => Some(st),
                    None => continue,
                },
                (_, false) => None,
                (_, true) => {
                    let dir_fd = match level.dir.fd() {
                        Ok(fd) => fd,
                        Err(e) => return Some(Err(os_error("cannot list", e))),
                    };
                    match fs::statat(dir_fd, entry.name.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
                        Ok(st) => Some(st),
                        // Removed since the folder was read.
                        Err(Errno::NOENT) => continue,
                        Err(e) => return Some(Err(os_error(format!("cannot stat '{path}'"), e))),
                    }
                }
            };
            return Some(Ok(Found { key: KeyBuf::from_valid(path), stat: if self.with_stat { stat } else { None } }));
        }
    }
}

/// Counts every object, and removes temp files whose writer is gone (their `flock` is free).
pub(crate) fn sweep(inner: &Inner) -> Result<Usage> {
    let mut usage = Usage::default();
    let root = fs::openat(&inner.root.fd, ".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| os_error("cannot open the store folder", e))?;
    sweep_dir(inner, root, String::new(), &mut usage)?;
    Ok(usage)
}

fn sweep_dir(inner: &Inner, fd: std::os::fd::OwnedFd, prefix: String, usage: &mut Usage) -> Result<()> {
    let ctx = |what: &str| format!("cannot sweep '{prefix}': {what}");
    let mut dir = Dir::new(fd).map_err(|e| os_error(ctx("cannot read"), e))?;
    let temp = temp_prefix();
    let mut folders = Vec::new();
    while let Some(entry) = dir.next() {
        let entry = entry.map_err(|e| os_error(ctx("cannot read"), e))?;
        let raw = entry.file_name().to_bytes();
        if raw.starts_with(temp.as_bytes()) {
            remove_if_abandoned(&dir, entry.file_name())?;
            continue;
        }
        let Some(name) = object_name(raw) else { continue };
        let dir_fd = dir.fd().map_err(|e| os_error(ctx("cannot read"), e))?;
        let st = match entry.file_type() {
            FileType::Directory => {
                folders.push(name.to_string());
                continue;
            }
            FileType::RegularFile => fs::statat(dir_fd, name, AtFlags::SYMLINK_NOFOLLOW).ok(),
            _ => stat_object(&inner.root, &format!("{prefix}{name}")),
        };
        if let Some(st) = st.filter(|st| FileType::from_raw_mode(st.st_mode) == FileType::RegularFile) {
            usage.bytes += st.st_size as u64;
            usage.objects += 1;
        }
    }
    let dir_fd = dir.fd().map_err(|e| os_error(ctx("cannot read"), e))?;
    for name in folders {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match fs::openat(dir_fd, name.as_str(), flags, Mode::empty()) {
            Ok(sub) => sweep_dir(inner, sub, format!("{prefix}{name}/"), usage)?,
            Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => {}
            Err(e) => return Err(os_error(ctx("cannot open a folder"), e)),
        }
    }
    Ok(())
}

/// Removes the temp file `name` in `dir` if no live writer holds its lock.
fn remove_if_abandoned(dir: &Dir, name: &std::ffi::CStr) -> Result<()> {
    let dir_fd = dir.fd().map_err(|e| os_error("cannot sweep", e))?;
    let file = match fs::openat(dir_fd, name, OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty()) {
        Ok(f) => f,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(os_error("cannot open a temp file to sweep it", e)),
    };
    if try_flock(file.as_fd(), FlockOperation::NonBlockingLockExclusive)? {
        match fs::unlinkat(dir_fd, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => {
                tracing::info!(file = ?name, "removed a temp file left by an interrupted save");
            }
            Err(e) => return Err(os_error("cannot remove a temp file", e)),
        }
    }
    Ok(())
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
