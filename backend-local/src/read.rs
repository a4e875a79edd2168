//! Reading: open beneath the root, check the version, read the whole file.

use std::os::fd::OwnedFd;

use bytes::Bytes;
use rustix::fs::{self, FileType, OFlags};
use rustix::io::Errno;
use store_core::{Error, GetResult, Key, KeyBuf, Object, ObjectMeta, Result, Version};

use crate::Inner;
use crate::errors::os_error;
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

/// Reads a file to its end, expecting about `hint` bytes (it may have grown meanwhile).
fn read_to_end(fd: &OwnedFd, hint: usize) -> std::result::Result<Bytes, Errno> {
    let mut buf: Vec<u8> = Vec::with_capacity(hint);
    loop {
        if buf.len() == buf.capacity() {
            // Full: probe for more before growing, so an exactly sized file costs no realloc.
            let mut probe = [0u8; 64];
            let n = retry_intr(|| rustix::io::read(fd, &mut probe))?;
            if n == 0 {
                return Ok(Bytes::from(buf));
            }
            buf.extend_from_slice(&probe[..n]);
            buf.reserve(buf.len().max(8192));
        }
        let n = retry_intr(|| rustix::io::read(fd, rustix::buffer::spare_capacity(&mut buf)))?;
        if n == 0 {
            return Ok(Bytes::from(buf));
        }
    }
}
