//! The values that cross the store's API and the Backend contract: versions, metadata, objects,
//! put modes, get options and answers, usage and capabilities.
//!
//! They are plain data: a backend fills them in, the facade hands them to users. A [`Version`]
//! is opaque and compared only for equality; an [`ObjectMeta`]'s version is the one of exactly
//! the bytes it describes.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use futures::stream::BoxStream;

use crate::error::Result;
use crate::key::KeyBuf;

/// An opaque token that changes whenever an object's value changes (an ETag on S3, a stat
/// fingerprint on disk, a counter in memory). Compare versions only for equality.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Version(Arc<str>);

impl Version {
    /// Wraps a backend's version string.
    pub fn new(s: impl Into<Arc<str>>) -> Version {
        Version(s.into())
    }

    /// The version as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({})", self.0)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a backend knows about a stored object without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The object's key.
    pub key: KeyBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its current version.
    pub version: Version,
    /// When it was last written, when the backend knows.
    pub modified: Option<SystemTime>,
}

/// A value together with its metadata.
#[derive(Debug, Clone)]
pub struct Object {
    /// The value.
    pub bytes: Bytes,
    /// Its metadata (the version is the one of exactly these bytes).
    pub meta: ObjectMeta,
}

/// How a put treats an object that may already be there.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PutMode {
    /// Replace whatever is there.
    #[default]
    Overwrite,
    /// Only create: fail with `AlreadyExists` when the key holds an object.
    Create,
    /// Compare-and-swap: replace only if the current version is this one, else `Precondition`
    /// (also when the object is gone).
    Update(Version),
}

/// Options of a get.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetOptions {
    /// Answer [`GetResult::NotModified`] instead of the value when the current version is this
    /// one (a conditional GET: how a cache revalidates cheaply).
    pub if_none_match: Option<Version>,
}

/// The answer to a get.
#[derive(Debug, Clone)]
pub enum GetResult {
    /// The current value.
    Found(Object),
    /// The version given in [`GetOptions::if_none_match`] is still current.
    NotModified,
}

/// How much a store holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Usage {
    /// Total size of all objects, in bytes.
    pub bytes: u64,
    /// Number of objects.
    pub objects: u64,
}

/// What a backend can do. The behaviour test kit skips (and says so) what a backend cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Objects live as files the caller can open ([`Backend::local_path`](crate::raw::Backend::local_path) answers `Some`).
    pub local_paths: bool,
    /// `PutMode::Create` and `PutMode::Update` work.
    pub conditional_put: bool,
    /// A key can be an object and a prefix of other keys at once (`a` and `a/b`). False on a
    /// file system, where `a` cannot be both a file and a folder.
    pub object_and_prefix: bool,
    /// The data outlives the process (another process, or a reopen, sees it).
    pub persistent: bool,
    /// [`Backend::lock_store`](crate::raw::Backend::lock_store) gives a lock that other processes respect.
    pub cross_process_lock: bool,
    /// Every handle on this storage shares its usage figures ([`Backend::usage_ledger`](crate::raw::Backend::usage_ledger)), so
    /// limits see other handles' saves at once. Without it (S3), they are seen at the next
    /// recount: near a limit, or when `usage()` is called.
    pub shared_usage: bool,
    /// A delete with `if_match` removes the object only while it holds that version, exactly
    /// (checked atomically with the delete). When false, the backend checks the version just
    /// before deleting, and a save landing in between can be lost (see the backend's docs).
    pub conditional_delete: bool,
}

/// What part of a value to read.
///
/// A range is refused ([`crate::Error::InvalidRange`]) when it is empty or reversed as written
/// (`start >= end`, `Last(0)`), or when it starts at or past the value's end (`Bounded`,
/// `From`; so also any such range of an empty value). An end past the value's end is clamped to
/// it (as HTTP and object_store do), and `Last(n)` reads the whole value when it is shorter than
/// `n` bytes (the empty value when it is empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteRange {
    /// Bytes `start..end`: `start` included, `end` excluded.
    Bounded {
        /// The first byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// From `start` to the end.
    From(u64),
    /// The last `n` bytes.
    Last(u64),
}

impl ByteRange {
    /// `start..end` as a range.
    pub fn bounded(range: Range<u64>) -> ByteRange {
        ByteRange::Bounded { start: range.start, end: range.end }
    }

    /// The bytes this range covers in a value of `size` bytes, or why it covers none.
    pub fn resolve(&self, size: u64) -> std::result::Result<Range<u64>, String> {
        match *self {
            ByteRange::Bounded { start, end } if start > end => {
                Err(format!("the range {start}..{end} is reversed (its start is after its end)"))
            }
            ByteRange::Bounded { start, end } if start == end => Err(format!("the range {start}..{end} is empty")),
            ByteRange::Bounded { start, .. } | ByteRange::From(start) if start >= size => {
                Err(format!("the range starts at byte {start}, at or past the end of the {size}-byte value"))
            }
            ByteRange::Bounded { start, end } => Ok(start..end.min(size)),
            ByteRange::From(start) => Ok(start..size),
            ByteRange::Last(0) => Err("the range of the last 0 bytes is empty".to_string()),
            ByteRange::Last(n) => Ok(size.saturating_sub(n)..size),
        }
    }
}

impl fmt::Display for ByteRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ByteRange::Bounded { start, end } => write!(f, "{start}..{end}"),
            ByteRange::From(start) => write!(f, "{start}.."),
            ByteRange::Last(n) => write!(f, "the last {n} bytes"),
        }
    }
}

impl From<Range<u64>> for ByteRange {
    fn from(range: Range<u64>) -> ByteRange {
        ByteRange::bounded(range)
    }
}

/// The answer to a ranged read.
#[derive(Debug, Clone)]
pub struct RangeRead {
    /// The bytes read.
    pub bytes: Bytes,
    /// Where they are in the value (the asked range, resolved and clamped).
    pub range: Range<u64>,
    /// The whole object's metadata: its full size and the version the bytes belong to.
    pub meta: ObjectMeta,
}

/// A value (or a range of it) being read as a stream of chunks.
pub struct ObjectStream {
    /// The whole object's metadata: its full size and the version the chunks belong to.
    pub meta: ObjectMeta,
    /// Where the chunks are in the value.
    pub range: Range<u64>,
    /// The chunks, in order; they add up to `range`'s length, or the stream ends with an error.
    pub body: BoxStream<'static, Result<Bytes>>,
}

impl fmt::Debug for ObjectStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStream").field("meta", &self.meta).field("range", &self.range).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_clamp_and_refuse() {
        assert_eq!(ByteRange::bounded(2..5).resolve(10), Ok(2..5));
        assert_eq!(ByteRange::bounded(8..50).resolve(10), Ok(8..10), "an end past the value is clamped");
        assert_eq!(ByteRange::From(3).resolve(10), Ok(3..10));
        assert_eq!(ByteRange::Last(4).resolve(10), Ok(6..10));
        assert_eq!(ByteRange::Last(40).resolve(10), Ok(0..10), "longer than the value: all of it");
        assert_eq!(ByteRange::Last(4).resolve(0), Ok(0..0), "the empty value");
        for refused in [
            ByteRange::Bounded { start: 5, end: 2 },
            ByteRange::bounded(3..3),
            ByteRange::bounded(10..12),
            ByteRange::From(10),
            ByteRange::From(0),
            ByteRange::Last(0),
        ] {
            let size = if refused == ByteRange::From(0) { 0 } else { 10 };
            assert!(refused.resolve(size).is_err(), "{refused} of {size} bytes was not refused");
        }
        assert!(ByteRange::Bounded { start: 5, end: 2 }.resolve(10).unwrap_err().contains("reversed"));
    }
}
