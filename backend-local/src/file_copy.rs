//! Copying the start of one open file into another: by the kernel (`copy_file_range`: no byte
//! passes through this process; a reflink where the file system shares extents), or through a
//! buffer where the file systems cannot (another file system, an old kernel).
//!
//! Invariants: the source is read from offset 0 by position (its file offset is not used or
//! moved); the destination is written at its current position, in order; the copy stops at the
//! source's end, and the caller compares the count with what it expected (a file that shrank
//! while copied gives less).

use std::os::fd::AsFd;

use rustix::fs;
use rustix::io::Errno;

use crate::locks::retry_intr;

/// Copies bytes `0..len` of `source` into `out` at its position; the number copied (less than
/// `len` when the source is shorter).
pub(crate) fn copy_start(source: impl AsFd, out: impl AsFd, len: u64) -> Result<u64, Errno> {
    let (source, out) = (source.as_fd(), out.as_fd());
    let mut at = 0u64;
    while at < len {
        let want = usize::try_from(len - at).unwrap_or(usize::MAX).min(1 << 30);
        match retry_intr(|| fs::copy_file_range(source, Some(&mut at), out, None, want)) {
            Ok(0) => break,
            Ok(_) => {}
            // No in-kernel copy between these files: through a buffer, from where it stopped.
            Err(Errno::XDEV | Errno::NOSYS | Errno::OPNOTSUPP | Errno::INVAL) => {
                return copy_buffered(source, out, at, len);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(at)
}

/// Copies bytes `from..len` of `source` into `out` at its position through a buffer; where the
/// copy ended.
pub(crate) fn copy_buffered(source: impl AsFd, out: impl AsFd, from: u64, len: u64) -> Result<u64, Errno> {
    let mut buf = vec![0u8; 1 << 20];
    let mut at = from;
    while at < len {
        let want = usize::try_from(len - at).unwrap_or(usize::MAX).min(buf.len());
        let n = retry_intr(|| rustix::io::pread(&source, &mut buf[..want], at))?;
        if n == 0 {
            break;
        }
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            match retry_intr(|| rustix::io::write(&out, rest))? {
                0 => return Err(Errno::IO),
                written => rest = &rest[written..],
            }
        }
        at += n as u64;
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::{Read as _, Seek as _, SeekFrom};

    use store_core::testkit::noise;

    use super::*;

    fn content(file: &mut std::fs::File) -> Vec<u8> {
        let mut all = Vec::new();
        file.seek(SeekFrom::Start(0)).unwrap();
        file.read_to_end(&mut all).unwrap();
        all
    }

    /// Both ways copy the same bytes, after what the destination held, and stop at the source's
    /// end when asked for more.
    #[test]
    fn kernel_and_buffered_copies_give_the_same_bytes() {
        let value = noise(2 * 1024 * 1024 + 7, 3);
        let mut source = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut source, &value).unwrap();
        for buffered in [false, true] {
            let mut out = tempfile::tempfile().unwrap();
            std::io::Write::write_all(&mut out, b"head").unwrap();
            let len = value.len() as u64;
            let copied = if buffered { copy_buffered(&source, &out, 0, len) } else { copy_start(&source, &out, len) };
            assert_eq!(copied.unwrap(), len);
            let all = content(&mut out);
            assert!(all[..4] == *b"head" && all[4..] == value[..], "buffered: {buffered}");
            let more =
                if buffered { copy_buffered(&source, &out, 0, len + 10) } else { copy_start(&source, &out, len + 10) };
            assert_eq!(more.unwrap(), len, "buffered: {buffered}: a copy past the end");
        }
    }
}
