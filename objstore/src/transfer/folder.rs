//! The folder side of an import: the walk that finds the files, and reading one with the stamp
//! that tells whether it changed.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bytes::Bytes;
use store_core::key::{MAX_KEY_BYTES, RESERVED_PREFIX, is_segment};

use super::plan::display;
use super::{Rejection, RejectionKind};
use crate::{Error, Result};

pub(super) struct FoundFile {
    pub(super) path: PathBuf,
    /// The path under the folder, with `/` separators.
    pub(super) relative: String,
    pub(super) size: u64,
    pub(super) modified: Option<SystemTime>,
}

#[derive(Default)]
pub(super) struct Walk {
    pub(super) files: Vec<FoundFile>,
    pub(super) rejections: Vec<Rejection>,
}

/// Every regular file under `root`, sorted by relative path, and what cannot be imported.
pub(super) fn walk_folder(root: &Path, exclude: Option<&Path>) -> Result<Walk> {
    let cannot = |e: io::Error| Error::io(format!("cannot import the folder '{}'", root.display()), e);
    let meta = std::fs::metadata(root).map_err(cannot)?;
    if !meta.is_dir() {
        return Err(cannot(io::Error::new(io::ErrorKind::NotADirectory, "not a folder")));
    }
    let mut walk = Walk::default();
    let mut pending = vec![(root.to_path_buf(), String::new())];
    while let Some((folder, relative)) = pending.pop() {
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) if folder == root => return Err(cannot(e)),
            Err(e) => {
                walk.rejections.push(unsupported(&folder, format!("cannot read the folder: {e}")));
                continue;
            }
        };
        for entry in entries {
            let entry = entry.map_err(cannot)?;
            let path = entry.path();
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                walk.rejections.push(Rejection::new(
                    display(&path),
                    RejectionKind::InvalidName,
                    "the name is not UTF-8, and keys are; rename the file",
                ));
                continue;
            };
            if name.starts_with(RESERVED_PREFIX) {
                continue;
            }
            if !is_segment(name) {
                walk.rejections.push(Rejection::new(display(&path), RejectionKind::InvalidName, segment_problem(name)));
                continue;
            }
            let relative = if relative.is_empty() { name.to_string() } else { format!("{relative}/{name}") };
            let file_type = match entry.file_type() {
                Ok(t) => t,
                Err(e) => {
                    walk.rejections.push(unsupported(&path, e.to_string()));
                    continue;
                }
            };
            if file_type.is_dir() {
                if exclude.is_none_or(|ex| path.canonicalize().ok().as_deref() != Some(ex)) {
                    pending.push((path, relative));
                }
                continue;
            }
            // Symbolic links are followed to files, never to folders (no loops).
            let meta = match std::fs::metadata(&path) {
                Ok(meta) => meta,
                Err(e) => {
                    walk.rejections.push(unsupported(&path, format!("cannot read: {e}")));
                    continue;
                }
            };
            if meta.is_file() {
                walk.files.push(FoundFile { path, relative, size: meta.len(), modified: meta.modified().ok() });
            } else if meta.is_dir() {
                walk.rejections
                    .push(unsupported(&path, "a symbolic link to a folder; links to folders are not followed"));
            } else {
                walk.rejections.push(unsupported(&path, "not a regular file (a socket, pipe or device)"));
            }
        }
    }
    walk.files.sort_unstable_by(|a, b| a.relative.cmp(&b.relative));
    Ok(walk)
}

fn unsupported(path: &Path, reason: impl Into<String>) -> Rejection {
    Rejection::new(display(path), RejectionKind::Unsupported, reason)
}

fn segment_problem(name: &str) -> String {
    if name.contains('\\') {
        return "a '\\' in a file name would become a key separator; rename the file".into();
    }
    if name.chars().any(char::is_control) {
        return "the name holds a control character, which keys may not; rename the file".into();
    }
    if name.len() > MAX_KEY_BYTES {
        return format!("the name is longer than a key may be ({MAX_KEY_BYTES} bytes)");
    }
    "the name cannot be part of a key; rename the file".into()
}

/// The size and modification time of an open file: what tells that it changed.
#[derive(PartialEq, Eq, Clone, Copy)]
pub(super) struct Stamp {
    pub(super) size: u64,
    modified: Option<SystemTime>,
}

pub(super) fn file_stamp(path: &Path) -> Option<Stamp> {
    std::fs::metadata(path).ok().map(|m| Stamp { size: m.len(), modified: m.modified().ok() })
}

pub(super) enum FileRead {
    Read(Bytes, Stamp),
    Gone,
    Rejected(Rejection),
}

/// A file opened for copying, with the stamp it had when it was opened.
pub(super) enum FileOpen {
    Open(std::fs::File, Stamp),
    Gone,
    Rejected(Rejection),
}

/// Opens a regular file for reading.
pub(super) fn open_file(path: &Path) -> Result<FileOpen> {
    let cannot = |e: io::Error| Error::io(format!("cannot read '{}'", path.display()), e);
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(FileOpen::Gone),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return Ok(FileOpen::Rejected(unsupported(path, format!("cannot read: {e}"))));
        }
        Err(e) => return Err(cannot(e)),
    };
    let meta = file.metadata().map_err(cannot)?;
    if !meta.is_file() {
        return Ok(FileOpen::Rejected(unsupported(path, "not a regular file")));
    }
    Ok(FileOpen::Open(file, Stamp { size: meta.len(), modified: meta.modified().ok() }))
}

/// Reads a whole file, with the stamp it had when it was opened.
pub(super) fn read_file(path: &Path) -> Result<FileRead> {
    let cannot = |e: io::Error| Error::io(format!("cannot read '{}'", path.display()), e);
    let (mut file, stamp) = match open_file(path)? {
        FileOpen::Open(file, stamp) => (file, stamp),
        FileOpen::Gone => return Ok(FileRead::Gone),
        FileOpen::Rejected(rejection) => return Ok(FileRead::Rejected(rejection)),
    };
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(usize::try_from(stamp.size).unwrap_or(0).saturating_add(1))
        .map_err(|_| cannot(io::Error::new(io::ErrorKind::OutOfMemory, "the file does not fit in memory")))?;
    file.read_to_end(&mut bytes).map_err(cannot)?;
    Ok(FileRead::Read(Bytes::from(bytes), stamp))
}
