//! What the manager says about a stored object, and what a save asks for.

use std::fmt;
use std::time::SystemTime;

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::category::Category;

/// The longest expiry a save may ask for: 36,500 days (100 years). Longer is refused rather than
/// stored (a time thousands of years ahead is a mistake, and past the year 9999 no RFC 3339
/// reader can parse it); an object that should not expire saves with no expiry at all.
pub const MAX_EXPIRE_DAYS: u32 = 36_500;

/// How a value is saved: its category, expiry, searchable metadata and compression.
///
/// ```
/// use store_manager::{Category, SaveOptions};
///
/// let opts = SaveOptions::new(Category::BacktestResults)
///     .expire_days(365)
///     .with_metadata("strategy", "two_part_spread")
///     .with_metadata("sharpe", 1.8);
/// assert_eq!(opts.metadata["sharpe"], 1.8);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SaveOptions {
    /// The category: its folder and its quota.
    pub category: Category,
    /// Days until the object expires (invisible to loads and lists, removed by cleanup), or
    /// `None` to keep it until it is deleted. At most [`MAX_EXPIRE_DAYS`]: a save asking for more
    /// is refused with [`crate::Error::InvalidExpiry`].
    pub expire_days: Option<u32>,
    /// Searchable metadata that travels with the object (see `Manager::find`).
    pub metadata: Map<String, Value>,
    /// Compress with zstd whatever the size (when it shrinks the value).
    pub force_compress: bool,
}

impl SaveOptions {
    /// Options for `category`: no expiry, no metadata, automatic compression.
    pub fn new(category: Category) -> SaveOptions {
        SaveOptions { category, expire_days: None, metadata: Map::new(), force_compress: false }
    }

    /// Expires the object after `days` days.
    pub fn expire_days(mut self, days: u32) -> SaveOptions {
        self.expire_days = Some(days);
        self
    }

    /// Adds one metadata entry.
    pub fn with_metadata(mut self, name: impl Into<String>, value: impl Into<Value>) -> SaveOptions {
        self.metadata.insert(name.into(), value.into());
        self
    }

    /// Compresses whatever the size.
    pub fn force_compress(mut self) -> SaveOptions {
        self.force_compress = true;
        self
    }
}

/// `ResearchData`, no expiry, no metadata: the catch-all for `SaveOptions { .., ..Default::default() }`.
impl Default for SaveOptions {
    fn default() -> SaveOptions {
        SaveOptions::new(Category::ResearchData)
    }
}

impl From<Category> for SaveOptions {
    fn from(category: Category) -> SaveOptions {
        SaveOptions::new(category)
    }
}

/// The xxh3-64 checksum of an object's original bytes (before compression). Displays as
/// `xxh3-64:` followed by 16 hex digits, as it is written in the stored header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Checksum(pub u64);

impl Checksum {
    /// The checksum of `data`.
    pub fn of(data: &[u8]) -> Checksum {
        Checksum(xxhash_rust::xxh3::xxh3_64(data))
    }

    /// Parses the `xxh3-64:…` form.
    pub fn parse(s: &str) -> Option<Checksum> {
        let hex = s.strip_prefix("xxh3-64:")?;
        if hex.len() != 16 {
            return None;
        }
        u64::from_str_radix(hex, 16).ok().map(Checksum)
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "xxh3-64:{:016x}", self.0)
    }
}

impl Serialize for Checksum {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// What the manager knows about one stored object, read from the object's own header.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredObject {
    /// The key it was saved under (without the category folder).
    pub key: String,
    /// Its category.
    pub category: Category,
    /// The value's size in bytes, before compression.
    pub size: u64,
    /// What it takes in the store, header included (this is what quotas count).
    pub stored_size: u64,
    /// True when the payload is zstd-compressed.
    pub compressed: bool,
    /// When it was saved (millisecond precision).
    #[serde(serialize_with = "rfc3339")]
    pub created: SystemTime,
    /// When it expires, if it does.
    #[serde(serialize_with = "rfc3339_opt")]
    pub expires: Option<SystemTime>,
    /// The metadata given at save time.
    pub metadata: Map<String, Value>,
    /// The checksum of the original bytes.
    pub checksum: Checksum,
}

impl StoredObject {
    /// True when the object has expired at `now`.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.expires.is_some_and(|at| at <= now)
    }
}

/// An expired object kept in the archive (see `Manager::cleanup_expired`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArchivedObject {
    /// The object as it was when it expired (`stored_size` is the archived copy's size).
    pub object: StoredObject,
    /// When it was archived.
    #[serde(serialize_with = "rfc3339")]
    pub archived: SystemTime,
    /// When the archived copy is removed (`archived` + `auto_cleanup.keep_days`).
    #[serde(serialize_with = "rfc3339")]
    pub purge_after: SystemTime,
}

/// How much one category holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CategoryUsage {
    /// Objects that count against the quota (live and expired, corrupt and foreign ones included).
    pub files: u64,
    /// Bytes they take in the store (what the quota counts).
    pub stored_bytes: u64,
    /// Their original size, before compression (managed objects only).
    pub original_bytes: u64,
    /// How many of the files have expired and wait for `cleanup_expired`.
    pub expired_files: u64,
    /// Bytes the expired ones take.
    pub expired_bytes: u64,
    /// The category's allocation in bytes, when the settings give one.
    pub allocation_bytes: Option<u64>,
}

impl CategoryUsage {
    /// The share of the allocation in use, in percent (None without an allocation).
    pub fn used_pct(&self) -> Option<f64> {
        self.allocation_bytes.map(|a| if a == 0 { 100.0 } else { self.stored_bytes as f64 * 100.0 / a as f64 })
    }
}

fn rfc3339<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::time::rfc3339_millis(*t))
}

fn rfc3339_opt<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => rfc3339(t, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn checksum_text_round_trips() {
        let c = Checksum::of(b"hello");
        let text = c.to_string();
        assert!(text.starts_with("xxh3-64:") && text.len() == 24, "{text}");
        assert_eq!(Checksum::parse(&text), Some(c));
        assert_eq!(Checksum::parse("xxh3-64:12"), None);
        assert_eq!(Checksum::parse("crc32:0000000000000000"), None);
    }
}
