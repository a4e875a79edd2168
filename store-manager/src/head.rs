//! Reading what the index needs of an object: its 16-byte prefix and its header, by ranged reads
//! through the store, never the payload and never a file by its path.
//!
//! One ranged read from byte 0 is sized to hold the prefix and a typical header (512 bytes at
//! first, then the largest header end this manager has seen, rounded up to a power of two, at
//! most 64 KiB); the prefix gives the header's length, and when the header reaches past that
//! read, a second ranged read, conditional on the first one's version, fetches the rest. So a
//! header costs one request, typically, and never more than [`format::MAX_HEADER_LEN`] bytes.
//!
//! Invariants: the bytes returned belong to one version of the object (the second read is
//! conditional; a change in between starts over, at most [`ATTEMPTS`] times); the metadata is
//! the whole object's (its full size and that version). On local disk the backend opens the
//! file beneath the root without following links out of it and without blocking on a FIFO.

use std::sync::atomic::Ordering;

use bytes::{Bytes, BytesMut};
use store_core::{Error, Object, ObjectMeta};

use crate::format;
use crate::manager::Manager;

/// The first read's size before any header was seen.
pub(crate) const FIRST_READ: u64 = 512;
/// The first read's largest size.
const FIRST_READ_MAX: u64 = 64 * 1024;
/// Tries when the object changes between the two reads of one header.
const ATTEMPTS: usize = 3;

impl Manager {
    /// The first bytes of `store_key`, at least its prefix and whole header when it is a managed
    /// object (fewer when it is not, or is damaged: decoding them says which). `listed`, the
    /// listing's metadata when there is one, spares the read of an empty object.
    pub(crate) async fn read_head(&self, store_key: &str, listed: Option<&ObjectMeta>) -> store_core::Result<Object> {
        if let Some(meta) = listed.filter(|m| m.size == 0) {
            return Ok(Object { bytes: Bytes::new(), meta: meta.clone() });
        }
        let store = &self.inner.store;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let first_len = self.inner.head_read_len.load(Ordering::Relaxed);
            let first = match store.read_range_with(store_key, 0..first_len, None).await {
                Ok(read) => read,
                // Only an empty object has no byte 0 (it was emptied since it was listed).
                Err(Error::InvalidRange { .. }) => {
                    let meta = store.head(store_key).await?;
                    return Ok(Object { bytes: Bytes::new(), meta });
                }
                Err(e) => return Err(e),
            };
            let end = match format::header_end(&first.bytes, first.meta.size) {
                Ok(Some(end)) => end,
                // Not managed, or a damaged prefix: decoding what was read says so.
                Ok(None) | Err(_) => return Ok(Object { bytes: first.bytes, meta: first.meta }),
            };
            self.learn_header_end(end as u64);
            if end <= first.bytes.len() {
                return Ok(Object { bytes: first.bytes, meta: first.meta });
            }
            let have = first.bytes.len() as u64;
            match store.read_range_with(store_key, have..end as u64, Some(&first.meta.version)).await {
                Ok(rest) => {
                    let mut bytes = BytesMut::with_capacity(end);
                    bytes.extend_from_slice(&first.bytes);
                    bytes.extend_from_slice(&rest.bytes);
                    return Ok(Object { bytes: bytes.freeze(), meta: first.meta });
                }
                Err(Error::Precondition { .. }) if attempt < ATTEMPTS => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Sizes later first reads to hold a header that ends at `end`.
    fn learn_header_end(&self, end: u64) {
        let wanted = end.next_power_of_two().clamp(FIRST_READ, FIRST_READ_MAX);
        self.inner.head_read_len.fetch_max(wanted, Ordering::Relaxed);
    }
}
