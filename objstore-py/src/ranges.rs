//! Reading parts of a value: the one place that decides how a byte range is fetched.
//!
//! Each range is one ranged read of the store (a `pread` on local disk, one `Range` GET on S3, a
//! slice of a cached value): the value's size and version are read first (`head`, free for a
//! cached value), then every range of the call concurrently, each conditional on that version,
//! so the ranges of one call never mix two values. [`RANGED_READS`] tells the fsspec layer that
//! it need not fetch whole objects.
//!
//! Ranges follow Python slicing: `start` and `end` may be negative (counted from the end),
//! `end` may be `None` (to the end), and both are clipped to the value, so a range past the end
//! is empty rather than an error.

use bytes::Bytes;
use objstore::ObjectStore;

/// True when ranges are fetched from storage as ranges (not cut from whole values).
pub const RANGED_READS: bool = true;

/// One byte range, as Python gives it.
#[derive(Debug, Clone, Copy)]
pub struct PyRange {
    pub start: i64,
    pub end: Option<i64>,
}

impl PyRange {
    /// The range within a value of `len` bytes, as `start..end` (empty when it is past the end).
    fn within(self, len: u64) -> std::ops::Range<usize> {
        let len = i64::try_from(len).unwrap_or(i64::MAX);
        let clip = |i: i64| if i < 0 { (len + i).max(0) } else { i.min(len) };
        let start = clip(self.start);
        let end = self.end.map_or(len, clip).max(start);
        (start as usize)..(end as usize)
    }
}

/// The bytes of each range of `key`'s value, in order.
pub async fn read_ranges(store: &ObjectStore, key: &str, ranges: &[PyRange]) -> objstore::Result<Vec<Bytes>> {
    let meta = store.head(key).await?;
    let version = &meta.version;
    let reads = ranges.iter().map(|r| {
        let range = r.within(meta.size);
        async move {
            if range.is_empty() {
                return Ok(Bytes::new());
            }
            let wanted = objstore::ByteRange::bounded(range.start as u64..range.end as u64);
            Ok(store.read_range_with(key, wanted, Some(version)).await?.bytes)
        }
    });
    futures::future::try_join_all(reads).await
}
