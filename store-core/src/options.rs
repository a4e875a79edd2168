//! The knobs of a store: limits, access, cache.

use std::time::Duration;

/// How much a store may hold. `None` means no limit; the default has none.
///
/// Limits are checked on every save, atomically (many tasks saving at once cannot push usage
/// past a limit), whatever the [`Access`]. Reaching a limit exactly is allowed; an overwrite counts
/// at its new size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Total bytes of all objects.
    pub max_bytes: Option<u64>,
    /// Number of objects.
    pub max_objects: Option<u64>,
    /// Size of one object.
    pub max_object_bytes: Option<u64>,
}

impl Limits {
    /// LEAN's defaults: 10 GiB and 10,000 files.
    pub const LEAN: Limits =
        Limits { max_bytes: Some(10 * 1024 * 1024 * 1024), max_objects: Some(10_000), max_object_bytes: None };

    /// True when no limit is set.
    pub fn is_unlimited(&self) -> bool {
        self.max_bytes.is_none() && self.max_objects.is_none() && self.max_object_bytes.is_none()
    }
}

/// What the current user may do. The default allows everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// Read values, check keys, list.
    pub read: bool,
    /// Save values.
    pub write: bool,
    /// Delete objects.
    pub delete: bool,
}

impl Default for Access {
    fn default() -> Access {
        Access { read: true, write: true, delete: true }
    }
}

impl Access {
    /// Read-only access.
    pub const READ_ONLY: Access = Access { read: true, write: false, delete: false };

    /// True when everything is allowed.
    pub fn is_full(&self) -> bool {
        self.read && self.write && self.delete
    }
}

/// When a cached value may be served without asking the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CachePolicy {
    /// Check the backend's version first (a stat on disk, a conditional GET on S3); a change
    /// made by another process is seen on the next read. The default.
    #[default]
    Revalidate,
    /// Serve cached values without checking (LEAN's behaviour; for hot loops over data no one
    /// else changes). `ObjectStore::clear` drops them.
    Trust,
    /// Trust a value for this long after it was last checked, then revalidate.
    Ttl(Duration),
}

/// The read cache: a concurrent cache bounded in bytes (entries evicted S3-FIFO-style).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheOptions {
    /// Most bytes the cache holds (values plus keys). `0` turns the cache off.
    pub capacity_bytes: u64,
    /// Values larger than this bypass the cache.
    pub max_entry_bytes: u64,
    /// When cached values are served; see [`CachePolicy`].
    pub policy: CachePolicy,
}

impl Default for CacheOptions {
    fn default() -> CacheOptions {
        CacheOptions {
            capacity_bytes: 128 * 1024 * 1024,
            max_entry_bytes: 8 * 1024 * 1024,
            policy: CachePolicy::Revalidate,
        }
    }
}

impl CacheOptions {
    /// No cache at all: every read goes to the backend.
    pub const DISABLED: CacheOptions =
        CacheOptions { capacity_bytes: 0, max_entry_bytes: 0, policy: CachePolicy::Revalidate };
}
