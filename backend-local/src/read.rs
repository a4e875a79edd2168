//! Reading: open beneath the root, check the version, read the whole file, a range of it
//! (`pread` into a buffer of exactly the range's size), or a stream of chunks.
//!
//! A read works on the open file, so a save that replaces the key meanwhile (a new inode,
//! renamed over the name) never mixes into it. A file another program changes in place while
//! a stream reads it is caught by its version, checked again after the last chunk: the stream
//! then ends with an error instead of yielding a mix. Buffers are sized from the file's size
//! with a fallible reservation, so a huge (sparse) file is an error, never an abort.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use store_core::raw::ByteStream;
use store_core::raw::io::offload;

use bytes::Bytes;
use rustix::fs::{self, FileType, OFlags};
use rustix::io::Errno;
use store_core::raw::backend::resolve_range;
use store_core::{ByteRange, Error, GetResult, Key, KeyBuf, Object, ObjectMeta, RangeRead, Result, Version};

use crate::Inner;
use crate::error::os_error;
use crate::locks::retry_intr;
use crate::version::{modified_of, version_of};

impl Inner {
    /// Opens `key`'s file with `flags` and stats it; `NotFound` unless it is a regular file.
    fn open_object(&self, key: &Key, flags: OFlags) -> Result<(OwnedFd, fs::Stat)> {
        let fd = match self.root.open_beneath(key.as_str(), flags) {
            Ok(fd) => fd,
            Err(Errno::NOENT | Errno::NOTDIR) => return Err(Error::not_found(key)),
            Err(e) => return Err(self.root.path_error(key, key.as_str(), e)),
        };
        let st = fs::fstat(&fd).map_err(|e| os_error(format!("cannot stat '{key}'"), e))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(Error::not_found(key));
        }
        Ok((fd, st))
    }

    /// Reads `key`, or answers `NotModified` when its version is `if_none_match`.
    pub(crate) fn get(&self, key: &Key, if_none_match: Option<&Version>) -> Result<GetResult> {
        match self.start_get(key, if_none_match, usize::MAX)? {
            GetStep::Done(result) => Ok(result),
            GetStep::Read(open) => open.read(key),
        }
    }

    /// Opens `key` and checks its version; reads it too when it is at most `read_limit` bytes.
    pub(crate) fn start_get(&self, key: &Key, if_none_match: Option<&Version>, read_limit: usize) -> Result<GetStep> {
        // O_NONBLOCK: opening a FIFO someone placed under the root must not hang.
        let (fd, st) = self.open_object(key, OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY)?;
        let version = version_of(&st);
        if if_none_match == Some(&version) {
            return Ok(GetStep::Done(GetResult::NotModified));
        }
        let open = OpenObject { fd, st, version };
        if st.st_size as u64 <= read_limit as u64 {
            Ok(GetStep::Done(open.read(key)?))
        } else {
            Ok(GetStep::Read(open))
        }
    }

    /// The metadata of `key`'s object.
    pub(crate) fn head(&self, key: &Key) -> Result<ObjectMeta> {
        let (_, st) = self.open_object(key, OFlags::PATH)?;
        Ok(ObjectMeta {
            key: KeyBuf::from(key),
            size: st.st_size as u64,
            version: version_of(&st),
            modified: modified_of(&st),
        })
    }
}

impl Inner {
    /// Opens `key` for reading, checking it still holds `if_match` (when given).
    pub(crate) fn open_current(&self, key: &Key, if_match: Option<&Version>) -> Result<OpenObject> {
        // O_NONBLOCK: opening a FIFO someone placed under the root must not hang.
        let (fd, st) = self.open_object(key, OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY)?;
        let version = version_of(&st);
        if let Some(expected) = if_match {
            if *expected != version {
                return Err(Error::Precondition { key: key.to_string(), expected: expected.to_string() });
            }
        }
        Ok(OpenObject { fd, st, version })
    }
}

/// Where a get stands after opening the file.
pub(crate) enum GetStep {
    /// Answered.
    Done(GetResult),
    /// Open and current, still to be read.
    Read(OpenObject),
}

/// An object's file, open, with its stat and version.
pub(crate) struct OpenObject {
    fd: OwnedFd,
    st: fs::Stat,
    version: Version,
}

impl OpenObject {
    /// The object's metadata.
    pub(crate) fn meta(&self, key: &Key) -> ObjectMeta {
        ObjectMeta {
            key: KeyBuf::from(key),
            size: self.st.st_size as u64,
            version: self.version.clone(),
            modified: modified_of(&self.st),
        }
    }

    /// Reads `range` (resolved against the file's size).
    pub(crate) fn read_range(&self, key: &Key, range: &ByteRange) -> Result<RangeRead> {
        let meta = self.meta(key);
        let range = resolve_range(key, range, meta.size)?;
        let bytes = self.pread_exact(key, range.start, range.end - range.start)?;
        Ok(RangeRead { bytes, range, meta })
    }

    /// Reads `len` bytes at `offset`; an error when the file turns out shorter (it was changed
    /// in place while being read).
    pub(crate) fn pread_exact(&self, key: &Key, offset: u64, len: u64) -> Result<Bytes> {
        let len = usize::try_from(len).map_err(|_| too_large(key, len))?;
        let mut buf: Vec<u8> = Vec::new();
        buf.try_reserve_exact(len).map_err(|_| too_large(key, len as u64))?;
        while buf.len() < len {
            let at = offset + buf.len() as u64;
            let n = retry_intr(|| rustix::io::pread(&self.fd, rustix::buffer::spare_capacity(&mut buf), at))
                .map_err(|e| os_error(format!("cannot read '{key}'"), e))?;
            if n == 0 {
                return Err(changed_while_read(key));
            }
        }
        // The spare capacity may exceed `len` by what the allocator rounded up.
        buf.truncate(len);
        Ok(Bytes::from(buf))
    }

    /// True when the file still holds the version it was opened with.
    pub(crate) fn unchanged(&self) -> bool {
        fs::fstat(&self.fd).map(|st| version_of(&st) == self.version).unwrap_or(false)
    }

    /// Reads the whole file.
    pub(crate) fn read(self, key: &Key) -> Result<GetResult> {
        let bytes =
            read_to_end(&self.fd, self.st.st_size as usize).map_err(|e| os_error(format!("cannot read '{key}'"), e))?;
        let meta = ObjectMeta {
            key: KeyBuf::from(key),
            size: bytes.len() as u64,
            version: self.version,
            modified: modified_of(&self.st),
        };
        Ok(GetResult::Found(Object { bytes, meta }))
    }
}

/// The error for a value too large to hold in memory.
fn too_large(key: &Key, len: u64) -> Error {
    Error::io(
        format!("cannot read '{key}': {len} bytes do not fit in memory; read it in ranges or as a stream"),
        std::io::ErrorKind::OutOfMemory.into(),
    )
}

/// The error for a file that changed while it was read.
pub(crate) fn changed_while_read(key: &Key) -> Error {
    Error::Conflict {
        key: key.to_string(),
        reason: "its file was changed in place by another program while it was being read; read it again".to_string(),
    }
}

/// Reads a file to its end, expecting about `hint` bytes (it may have grown meanwhile).
fn read_to_end(fd: &OwnedFd, hint: usize) -> std::result::Result<Bytes, Errno> {
    let mut buf: Vec<u8> = Vec::new();
    // A size from the file system is not a promise (a sparse file claims terabytes): a failed
    // reservation is an error, never an abort.
    buf.try_reserve_exact(hint).map_err(|_| Errno::NOMEM)?;
    loop {
        if buf.len() == buf.capacity() {
            // Full: probe for more before growing, so an exactly sized file costs no realloc.
            let mut probe = [0u8; 64];
            let n = retry_intr(|| rustix::io::read(fd, &mut probe))?;
            if n == 0 {
                return Ok(Bytes::from(buf));
            }
            buf.extend_from_slice(&probe[..n]);
            buf.try_reserve(buf.len().max(8192)).map_err(|_| Errno::NOMEM)?;
        }
        let n = retry_intr(|| rustix::io::read(fd, rustix::buffer::spare_capacity(&mut buf)))?;
        if n == 0 {
            return Ok(Bytes::from(buf));
        }
    }
}

/// How many bytes a chunk of a streamed read holds.
pub(crate) const STREAM_CHUNK: u64 = 1 << 20;

/// The chunks of `range` of an open object, read one at a time (on the blocking pool when on a
/// runtime). After the last chunk the file's version is checked again: a file changed in place
/// meanwhile ends the stream with an error rather than a mix of two values.
pub(crate) fn chunks(open: Arc<OpenObject>, key: KeyBuf, range: std::ops::Range<u64>) -> ByteStream {
    let end = range.end;
    let state = Some((open, key, range.start));
    stream::unfold(state, move |state| async move {
        let (open, key, pos) = state?;
        if pos >= end {
            return None;
        }
        let len = STREAM_CHUNK.min(end - pos);
        let read = {
            let (open, key) = (open.clone(), key.clone());
            offload(move || {
                let bytes = open.pread_exact(&key, pos, len)?;
                if pos + len >= end && !open.unchanged() {
                    return Err(changed_while_read(&key));
                }
                Ok(bytes)
            })
            .await
        };
        match read {
            Ok(bytes) => Some((Ok(bytes), Some((open, key, pos + len)))),
            // An error ends the stream.
            Err(e) => Some((Err(e), None)),
        }
    })
    .boxed()
}
