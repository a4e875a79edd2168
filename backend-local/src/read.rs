//! Reading: open beneath the root, check the version, read the whole file, a range of it
//! (`pread` into a buffer of exactly the range's size), or a stream of chunks.
//!
//! A read works on the open file, so a save that replaces the key meanwhile (a new inode,
//! renamed over the name) never mixes into it. A file another program changes in place while
//! a stream reads it is caught by its version, checked again after the last chunk: the stream
//! then ends with an error instead of yielding a mix. Buffers are sized from the file's size
//! with a fallible reservation, so a huge (sparse) file is an error, never an abort.
//!
//! On an async runtime's thread a whole-value read never waits for the disk there: it copies
//! what the page cache holds (`preadv2` with `RWF_NOWAIT`, 1 MiB slices with a yield between
//! them) and hands only the rest to the blocking pool (see [`Inner::get_async`]).

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use store_core::raw::ByteStream;
use store_core::raw::io::offload;
use store_core::raw::value_buffer::{ValueAllocator, ValueBuffer};

use bytes::Bytes;
use rustix::fs::{self, FileType, OFlags};
use rustix::io::{Errno, ReadWriteFlags};
use store_core::raw::backend::resolve_range;
use store_core::{ByteRange, Error, GetResult, Key, KeyBuf, Object, ObjectMeta, RangeRead, Result, Version};

use crate::Inner;

/// Reads up to this size run on an async runtime's thread whether or not the page cache holds
/// the file (a page-cache read costs microseconds, a hand-off to the blocking pool about 25 µs
/// here); larger ones go to the blocking pool.
pub(crate) const INLINE_READ_LIMIT: usize = 64 * 1024;

/// Larger whole-value reads on an async runtime's thread copy from the page cache in slices of
/// this size (tens of µs each), yielding between them.
pub(crate) const CACHED_SLICE: usize = 1 << 20;
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

    /// Reads `key` on an async runtime's thread. Opens and stats it here, and reads a small file
    /// here too (microseconds from the page cache, less than a hand-off). A larger file is read
    /// here as long as the page cache holds it, never waiting for the disk (`RWF_NOWAIT`), in
    /// slices of [`CACHED_SLICE`] with a yield between them: a copy of tens of µs at a time, and
    /// no hand-off, whose wake-ups cost more than the copy at 1 MiB. What the cache does not hold
    /// is read on the blocking pool, into the same buffer: allocated here, so the caller's
    /// allocator arena both makes and frees it, as with `std::fs::read`.
    ///
    /// A read of several slices checks the file's version at the end, as a stream does: a file
    /// another program changed in place meanwhile is an error, never a mix of two values.
    pub(crate) async fn get_async(&self, key: &Key, if_none_match: Option<&Version>) -> Result<GetResult> {
        let open = match self.start_get(key, if_none_match, INLINE_READ_LIMIT)? {
            GetStep::Done(result) => return Ok(result),
            GetStep::Read(open) => open,
        };
        let mut buf = open.buffer(key)?;
        let mut slices = 0;
        loop {
            match open.read_cached_slice(&mut buf) {
                CachedSlice::More => {
                    slices += 1;
                    if buf.len() < buf.capacity() {
                        tokio::task::yield_now().await;
                    }
                }
                CachedSlice::End => {
                    if slices > 1 && !open.unchanged() {
                        return Err(changed_while_read(key));
                    }
                    return Ok(GetResult::Found(open.found(key, Bytes::from(buf))));
                }
                CachedSlice::NotCached => break,
            }
        }
        let key = KeyBuf::from(key);
        offload(move || open.finish(&key, buf)).await
    }

    /// Reads `key` whole into a buffer from `alloc` (see [`store_core::raw::value_buffer`]), or
    /// into one of its own when `alloc` declines. Blocks: for a thread that may.
    pub(crate) fn get_into(&self, key: &Key, alloc: &dyn ValueAllocator) -> Result<Object> {
        let open = self.open_current(key, None)?;
        match usize::try_from(open.size()).ok().and_then(|len| alloc.allocate(len)) {
            Some(buffer) => open.read_into(key, buffer),
            None => open.read_object(key),
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

    /// The open file.
    pub(crate) fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Copies the whole file into `out` at its position, by the kernel where it can (see
    /// `file_copy.rs`); then checks the file still holds the version it was opened with (a file
    /// changed in place meanwhile is an error, as for a stream). Blocks.
    pub(crate) fn copy_to(&self, key: &Key, out: &std::fs::File) -> Result<ObjectMeta> {
        let copied = crate::file_copy::copy_start(&self.fd, out, self.size())
            .map_err(|e| os_error(format!("cannot copy '{key}' out"), e))?;
        if copied != self.size() || !self.unchanged() {
            return Err(changed_while_read(key));
        }
        Ok(self.meta(key))
    }

    /// The file's size when it was opened.
    pub(crate) fn size(&self) -> u64 {
        self.st.st_size as u64
    }

    /// Reads the whole file.
    pub(crate) fn read(self, key: &Key) -> Result<GetResult> {
        self.read_object(key).map(GetResult::Found)
    }

    /// Reads the whole file, as the object it holds.
    fn read_object(self, key: &Key) -> Result<Object> {
        let buf = self.buffer(key)?;
        let bytes = read_to_end(&self.fd, buf).map_err(|e| os_error(format!("cannot read '{key}'"), e))?;
        Ok(self.found(key, bytes))
    }

    /// An empty buffer with room for the whole file. A size from the file system is not a promise
    /// (a sparse file claims terabytes): a failed reservation is an error, never an abort.
    pub(crate) fn buffer(&self, key: &Key) -> Result<Vec<u8>> {
        let size = self.size();
        let len = usize::try_from(size).map_err(|_| too_large(key, size))?;
        let mut buf: Vec<u8> = Vec::new();
        buf.try_reserve_exact(len).map_err(|_| too_large(key, size))?;
        Ok(buf)
    }

    /// Reads the rest of the file into `buf`, which holds its first `buf.len()` bytes.
    pub(crate) fn finish(self, key: &Key, buf: Vec<u8>) -> Result<GetResult> {
        let bytes = read_to_end(&self.fd, buf).map_err(|e| os_error(format!("cannot read '{key}'"), e))?;
        Ok(GetResult::Found(self.found(key, bytes)))
    }

    /// Reads the whole file into `buffer`, whose room is the file's size when opened. A file that
    /// turned out shorter (changed in place meanwhile) is what was read, as a plain read to the
    /// end answers; one that grew is read on into a buffer of our own.
    fn read_into(self, key: &Key, mut buffer: Box<dyn ValueBuffer>) -> Result<Object> {
        let read_error = |e| os_error(format!("cannot read '{key}'"), e);
        let room = buffer.room();
        let len = room.len();
        let mut filled = 0;
        while filled < len {
            let n = retry_intr(|| {
                rustix::io::pread(&self.fd, &mut room[filled..], filled as u64).map(|(done, _)| done.len())
            })
            .map_err(read_error)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        // SAFETY: `pread` wrote the first `filled` bytes of the room, and `filled <= len`.
        #[allow(unsafe_code)]
        let bytes = unsafe { buffer.into_bytes(filled) };
        if filled == len {
            let mut probe = [0u8; 64];
            let n = retry_intr(|| rustix::io::pread(&self.fd, &mut probe, len as u64)).map_err(read_error)?;
            if n > 0 {
                // Grown: go on in a buffer of our own, with what we have first.
                let mut buf = Vec::new();
                buf.try_reserve(len + n + 8192).map_err(|_| too_large(key, (len + n) as u64))?;
                buf.extend_from_slice(&bytes);
                buf.extend_from_slice(&probe[..n]);
                let bytes = read_to_end(&self.fd, buf).map_err(read_error)?;
                return Ok(self.found(key, bytes));
            }
        }
        Ok(self.found(key, bytes))
    }

    /// Reads the next slice of the file (at most [`CACHED_SLICE`] bytes) into `buf`, which holds
    /// its first `buf.len()` bytes and has room for all of them, if the page cache holds it: never
    /// waits for the disk (`RWF_NOWAIT`), so an async task may call it. At the size the file had
    /// when opened, it checks for more (the file may have grown meanwhile).
    fn read_cached_slice(&self, buf: &mut Vec<u8>) -> CachedSlice {
        let start = buf.len();
        let size = self.st.st_size as usize;
        if start >= size {
            let mut probe = [0u8; 64];
            let mut slices = [std::io::IoSliceMut::new(&mut probe)];
            let read = retry_intr(|| rustix::io::preadv2(&self.fd, &mut slices, start as u64, ReadWriteFlags::NOWAIT));
            return match read {
                Ok(0) => CachedSlice::End,
                // Grown: the blocking read takes it from here.
                Ok(n) if buf.try_reserve(n).is_ok() => {
                    buf.extend_from_slice(&probe[..n]);
                    CachedSlice::NotCached
                }
                _ => CachedSlice::NotCached,
            };
        }
        match nowait_read(&self.fd, buf, size.min(start + CACHED_SLICE) - start) {
            // Shorter than it was (changed meanwhile): this is all there is, as a plain read to
            // the end answers.
            Some(0) => CachedSlice::End,
            Some(_) => CachedSlice::More,
            // Not cached, no RWF_NOWAIT on this file system, or an error that the blocking read
            // meets again and reports.
            None => CachedSlice::NotCached,
        }
    }

    fn found(self, key: &Key, bytes: Bytes) -> Object {
        let meta = ObjectMeta {
            key: KeyBuf::from(key),
            size: bytes.len() as u64,
            version: self.version,
            modified: modified_of(&self.st),
        };
        Object { bytes, meta }
    }
}

/// What [`OpenObject::read_cached_slice`] did.
enum CachedSlice {
    /// Read a slice from the page cache.
    More,
    /// The file ends where the buffer does.
    End,
    /// The next bytes are not in the page cache (or cannot be read without blocking).
    NotCached,
}

/// `preadv2(RWF_NOWAIT)` of at most `max` bytes at offset `buf.len()` into `buf`'s unused room
/// (which must hold `max` bytes), appended to `buf`: the bytes read, or `None` when the data is
/// not in the page cache or the read failed. Reads into uninitialised room, as `std::fs::read`
/// does: zeroing it first costs a third of the copy.
fn nowait_read(fd: &OwnedFd, buf: &mut Vec<u8>, max: usize) -> Option<usize> {
    let spare = buf.spare_capacity_mut();
    let len = spare.len().min(max);
    let iov = libc::iovec { iov_base: spare.as_mut_ptr().cast(), iov_len: len };
    let offset = libc::off_t::try_from(buf.len()).ok()?;
    let n = retry_intr(|| {
        // SAFETY: `iov` points at `len` bytes of `buf`'s unused capacity, which are writable,
        // live for the whole call and referenced by nothing else (`buf` is borrowed mutably);
        // `fd` is an open descriptor for the whole call.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::preadv2(fd.as_raw_fd(), &iov, 1, offset, libc::RWF_NOWAIT) };
        match usize::try_from(rc) {
            Ok(n) => Ok(n.min(len)),
            Err(_) => Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO)),
        }
    })
    .ok()?;
    // SAFETY: the kernel wrote the first `n` (≤ `len`, within the capacity) bytes of the room.
    #[allow(unsafe_code)]
    unsafe {
        buf.set_len(buf.len() + n)
    };
    Some(n)
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

/// Reads a file to its end into `buf`, which holds its first `buf.len()` bytes and has room
/// for as many as the file was expected to hold (it may have grown meanwhile).
fn read_to_end(fd: &OwnedFd, mut buf: Vec<u8>) -> std::result::Result<Bytes, Errno> {
    loop {
        if buf.len() == buf.capacity() {
            // Full: probe for more before growing, so an exactly sized file costs no realloc.
            let mut probe = [0u8; 64];
            let n = retry_intr(|| rustix::io::pread(fd, &mut probe, buf.len() as u64))?;
            if n == 0 {
                return Ok(Bytes::from(buf));
            }
            buf.extend_from_slice(&probe[..n]);
            buf.try_reserve(buf.len().max(8192)).map_err(|_| Errno::NOMEM)?;
        }
        let at = buf.len() as u64;
        let n = retry_intr(|| rustix::io::pread(fd, rustix::buffer::spare_capacity(&mut buf), at))?;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Write as _;

    use bytes::Bytes;
    use store_core::raw::Backend;
    use store_core::{Error, KeyBuf, PutMode};

    use crate::{Durability, LocalBackend};

    /// A file another program changes in place while it is copied out is an error, never the
    /// old and new bytes mixed; a file left alone is copied whole.
    #[tokio::test]
    async fn a_copy_out_of_a_file_changed_meanwhile_is_a_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::open(dir.path(), Durability::Buffered).await.unwrap();
        let key = KeyBuf::parse("out/v").unwrap();
        backend.put(&key, Bytes::from(vec![7u8; 100_000]), &PutMode::Overwrite).await.unwrap();
        let open = backend.inner.open_current(&key, None).unwrap();
        let whole = tempfile::tempfile().unwrap();
        assert_eq!(open.copy_to(&key, &whole).unwrap().size, 100_000);
        assert_eq!(whole.metadata().unwrap().len(), 100_000);
        let mut in_place = std::fs::OpenOptions::new().append(true).open(dir.path().join("out/v")).unwrap();
        in_place.write_all(b"more").unwrap();
        let answer = open.copy_to(&key, &tempfile::tempfile().unwrap());
        assert!(matches!(answer, Err(Error::Conflict { .. })), "{answer:?}");
    }
}
