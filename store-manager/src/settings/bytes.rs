//! Sizes in bytes: the byte helpers of [`Settings`] and the store-wide limits they imply.
//!
//! Invariants: units are binary (1 GB = 1024³ bytes, 1 MB = 1024², 1 KB = 1024), as the seed
//! document computes them; a conversion rounds down and saturates (0 for a negative or NaN
//! amount, `u64::MAX` for one too large), so it never panics, even on settings that do not
//! validate.

use super::Settings;
use crate::category::Category;

/// Bytes in a GB (binary: 1024³).
const GB: f64 = 1024.0 * 1024.0 * 1024.0;
/// Bytes in a MB (binary: 1024²).
const MB: f64 = 1024.0 * 1024.0;
/// Bytes in a KB (binary).
const KB: f64 = 1024.0;

impl Settings {
    /// The store's capacity in bytes: `max_storage_gb × 1024³`, rounded down (0 when the value
    /// is not a positive number).
    pub fn max_storage_bytes(&self) -> u64 {
        to_bytes(self.max_storage_gb, GB)
    }

    /// The largest object in bytes: `max_file_size_mb × 1024²`, rounded down.
    pub fn max_file_size_bytes(&self) -> u64 {
        to_bytes(self.max_file_size_mb, MB)
    }

    /// The compression threshold in bytes: `compression_threshold_kb × 1024`, rounded down.
    /// Objects larger than this are compressed (when compression is enabled).
    pub fn compression_threshold_bytes(&self) -> u64 {
        to_bytes(self.compression_threshold_kb, KB)
    }

    /// The bytes allocated to `category`, rounded down; `None` when it has no allocation.
    pub fn allocation_bytes(&self, category: &Category) -> Option<u64> {
        self.storage_allocation.get(category).map(|&gb| to_bytes(gb, GB))
    }

    /// The share of the store allocated to `category`: its GB divided by `max_storage_gb`;
    /// `None` when it has no allocation.
    pub fn allocation_fraction(&self, category: &Category) -> Option<f64> {
        self.storage_allocation.get(category).map(|&gb| gb / self.max_storage_gb)
    }

    /// The store-wide limits these settings imply, for [`store_core::StoreBuilder::limits`]: give
    /// them to the store as well, and every write to it (the manager's and any other) stays
    /// within `max_storage_gb`, `max_files` and `max_file_size_mb`, exactly across processes on
    /// local disk.
    pub fn store_limits(&self) -> store_core::Limits {
        store_core::Limits {
            max_bytes: Some(self.max_storage_bytes()),
            max_objects: Some(self.max_files),
            max_object_bytes: Some(self.max_file_size_bytes()),
        }
    }
}

/// `amount` units of `unit` bytes, rounded down; 0 for negative or NaN amounts, `u64::MAX` when
/// too large. The unit is a power of two, so the product is exact.
fn to_bytes(amount: f64, unit: f64) -> u64 {
    // `as` saturates: negative and NaN give 0, too large gives u64::MAX.
    (amount * unit) as u64
}
