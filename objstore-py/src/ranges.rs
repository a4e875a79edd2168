//! Reading parts of a value: the one place that decides how a byte range is fetched.
//!
//! Today the store's contract reads whole values, so a range is cut from the whole value (a
//! cached value costs no I/O; a large one is read once per call, which is why the fsspec files
//! read a whole object once when [`RANGED_READS`] is false). When the facade gains a ranged
//! read, [`read_ranges`] calls it and [`RANGED_READS`] turns true; nothing else changes.
//!
//! Ranges follow Python slicing: `start` and `end` may be negative (counted from the end),
//! `end` may be `None` (to the end), and both are clipped to the value, so a range past the end
//! is empty rather than an error.

use bytes::Bytes;
use objstore::ObjectStore;

/// True when ranges are fetched from storage as ranges (not cut from whole values).
pub const RANGED_READS: bool = false;

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
    let whole = store.read_bytes(key).await?;
    Ok(ranges.iter().map(|r| whole.slice(r.within(whole.len() as u64))).collect())
}
