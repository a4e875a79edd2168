//! zstd with reused contexts: one compression and one decompression context per thread, so
//! small objects do not pay for setting a context up on every call.

use std::cell::RefCell;
use std::io;

use zstd::bulk::{Compressor, Decompressor};

thread_local! {
    static COMPRESSOR: RefCell<Option<(i32, Compressor<'static>)>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<Decompressor<'static>>> = const { RefCell::new(None) };
}

/// The most `data.len()` bytes can grow to when compressed.
pub fn compress_bound(len: usize) -> usize {
    zstd::zstd_safe::compress_bound(len)
}

/// Compresses `data` at `level` and appends one zstd frame (with the content size) to `out`,
/// which must have room for [`compress_bound`] more bytes.
pub fn compress_into(data: &[u8], level: i32, out: &mut Vec<u8>) -> io::Result<()> {
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let compressor = match &mut *slot {
            Some((l, c)) if *l == level => c,
            _ => {
                *slot = None;
                let c = Compressor::new(level)?;
                &mut slot.insert((level, c)).1
            }
        };
        let mut cursor = io::Cursor::new(std::mem::take(out));
        cursor.set_position(cursor.get_ref().len() as u64);
        let written = compressor.compress_to_buffer(data, &mut cursor);
        *out = cursor.into_inner();
        written.map(|_| ())
    })
}

/// The original size a zstd frame declares, when it declares one.
pub fn frame_content_size(frame: &[u8]) -> Option<u64> {
    zstd::zstd_safe::get_frame_content_size(frame).ok().flatten()
}

/// Decompresses one zstd frame that must hold exactly `size` bytes.
pub fn decompress(frame: &[u8], size: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    out.try_reserve_exact(size).map_err(|_| io::Error::other(format!("cannot allocate {size} bytes")))?;
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let decompressor = match &mut *slot {
            Some(d) => d,
            None => slot.insert(Decompressor::new()?),
        };
        decompressor.decompress_to_buffer(frame, &mut out)
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn appends_after_existing_bytes_and_round_trips() {
        let data = b"{\"symbol\":\"SPY\",\"delta\":0.5}".repeat(100);
        let mut out = b"HEADER".to_vec();
        out.reserve(compress_bound(data.len()));
        compress_into(&data, 1, &mut out).unwrap();
        assert_eq!(&out[..6], b"HEADER");
        assert!(out.len() < data.len() / 4);
        assert_eq!(frame_content_size(&out[6..]), Some(data.len() as u64));
        assert_eq!(decompress(&out[6..], data.len()).unwrap(), data);
        // A level change rebuilds the context.
        let mut again = Vec::with_capacity(compress_bound(data.len()));
        compress_into(&data, 3, &mut again).unwrap();
        assert_eq!(decompress(&again, data.len()).unwrap(), data);
    }

    #[test]
    fn bad_frames_fail() {
        let mut out = Vec::with_capacity(compress_bound(1000));
        compress_into(&[7u8; 1000], 1, &mut out).unwrap();
        assert!(decompress(&out[..out.len() - 3], 1000).is_err());
        assert!(decompress(&out, 999).is_err());
        assert!(decompress(b"not zstd at all", 10).is_err());
    }
}
