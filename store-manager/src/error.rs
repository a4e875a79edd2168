//! The manager's one error type. Every variant says what went wrong and what to do next.

use crate::category::{Category, InvalidCategory};
use crate::settings::SettingsError;

/// `Result` with the manager's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which quota a save would break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quota {
    /// The category's `storage_allocation`.
    Category(Category),
    /// The store's `max_storage_gb`.
    Storage,
    /// The store's `max_files`.
    Files,
}

/// Everything the manager can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store underneath failed (I/O, permissions, bad key, ...): its error says what to do.
    #[error(transparent)]
    Store(#[from] store_core::Error),

    /// The settings are invalid; the error lists every problem.
    #[error(transparent)]
    Settings(#[from] SettingsError),

    /// The category cannot be used.
    #[error("{0}; custom categories are lowercase names such as \"fx_rates\"")]
    InvalidCategory(#[from] InvalidCategory),

    /// A save asked for an expiry longer than [`crate::object::MAX_EXPIRE_DAYS`]. Nothing was
    /// changed.
    #[error(
        "cannot save '{key}' to expire in {days} days: the longest expiry is {max_days} days (100 years); \
         save it without an expiry to keep it until it is deleted"
    )]
    InvalidExpiry {
        /// The key being saved.
        key: String,
        /// The days asked for.
        days: u32,
        /// The longest expiry, [`crate::object::MAX_EXPIRE_DAYS`].
        max_days: u32,
    },

    /// The settings say `"enabled": false`.
    #[error("the Object Store is disabled in the settings (\"enabled\": false); set \"enabled\": true to use it")]
    Disabled,

    /// One object is larger than `max_file_size_mb`, after compression.
    #[error(
        "Object too large: {}MB > {}MB ('{key}'{}); enable compression (force_compress), split it into chunks, \
         or raise max_file_size_mb",
        mb1(*stored_size), mb_limit(*limit), original_note(*stored_size, *size)
    )]
    ObjectTooLarge {
        /// The key being saved.
        key: String,
        /// The value's size before compression.
        size: u64,
        /// What it would take in the store (after compression, with its header).
        stored_size: u64,
        /// The limit in bytes.
        limit: u64,
    },

    /// Saving would take a category or the store past a quota. Nothing was changed.
    #[error("{}", quota_message(quota, key, *used, *requested, *limit))]
    QuotaExceeded {
        /// The key being saved.
        key: String,
        /// Which quota.
        quota: Quota,
        /// What is in use now (bytes, or files for [`Quota::Files`]), including saves in flight.
        used: u64,
        /// What the save needs on top of that.
        requested: u64,
        /// The quota.
        limit: u64,
    },

    /// Saves are refused (the monitor found the store full); reads and deletes keep working.
    #[error(
        "saves are refused: {reason}; free space first (cleanup_expired, delete old objects, or a larger tier); \
         reads and deletes keep working"
    )]
    SavesRefused {
        /// Why, as the monitor put it.
        reason: String,
    },

    /// A stored object is damaged: bad header, truncated payload, checksum mismatch.
    #[error(
        "the stored object '{key}' is corrupt ({reason}); delete it and save it again, or restore it from a backup"
    )]
    Corrupt {
        /// The manager key (`category/key` in the store).
        key: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The object under this key was not written by the manager (it has no manager header).
    #[error(
        "'{key}' holds an object the manager did not write (no manager header); read it with the plain \
         ObjectStore (read_bytes(\"{key}\")) or save it again through the manager"
    )]
    NotManaged {
        /// The object's key in the store.
        key: String,
    },

    /// A value could not be turned into JSON, or a stored value back into the requested type.
    #[error("cannot {} '{key}' as JSON: {message}", if *writing { "save" } else { "load" })]
    Serialization {
        /// The key.
        key: String,
        /// True while saving.
        writing: bool,
        /// What serde said.
        message: String,
    },
}

impl Error {
    /// True when the store reported that the object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Store(e) if e.is_not_found())
    }
}

/// Megabytes (binary, as the seed computes them) with one decimal.
fn mb1(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / MB)
}

/// A limit in megabytes, without decimals when it is whole.
fn mb_limit(bytes: u64) -> String {
    let mb = bytes as f64 / MB;
    if (mb - mb.round()).abs() < 1e-9 { format!("{}", mb.round()) } else { format!("{mb:.1}") }
}

fn original_note(stored: u64, size: u64) -> String {
    if stored < size { format!(", {}MB before compression", mb1(size)) } else { String::new() }
}

const MB: f64 = 1024.0 * 1024.0;

fn quota_message(quota: &Quota, key: &str, used: u64, requested: u64, limit: u64) -> String {
    match quota {
        Quota::Category(category) => format!(
            "Category quota exceeded: '{category}' uses {}MB + {}MB for '{key}' > {}MB allocated; delete old \
             objects (list_keys gives the oldest first), run cleanup_expired, or raise storage_allocation.{category}",
            mb1(used),
            mb1(requested),
            mb_limit(limit)
        ),
        Quota::Storage => format!(
            "Storage full: {}MB used + {}MB for '{key}' > {}MB (max_storage_gb); run cleanup_expired, delete \
             objects, or move to a larger tier",
            mb1(used),
            mb1(requested),
            mb_limit(limit)
        ),
        Quota::Files => format!(
            "File limit reached: {used}/{limit} files (max_files), cannot add '{key}'; delete objects, run \
             cleanup_expired, or move to a larger tier"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_large_reads_like_the_seed() {
        let e = Error::ObjectTooLarge {
            key: "big".into(),
            size: (52.3 * MB) as u64,
            stored_size: (52.3 * MB) as u64,
            limit: 45 * 1024 * 1024,
        };
        assert!(e.to_string().starts_with("Object too large: 52.3MB > 45MB ('big')"), "{e}");
        let e = Error::ObjectTooLarge {
            key: "z".into(),
            size: 80 * 1024 * 1024,
            stored_size: 50 * 1024 * 1024,
            limit: 45 * 1024 * 1024,
        };
        assert!(e.to_string().contains("50.0MB > 45MB ('z', 80.0MB before compression)"), "{e}");
    }

    #[test]
    fn quota_messages_name_the_quota() {
        let e = Error::QuotaExceeded {
            key: "k".into(),
            quota: Quota::Category(Category::LlmCache),
            used: 300 * 1024 * 1024,
            requested: 1024 * 1024,
            limit: 300 * 1024 * 1024,
        };
        assert!(e.to_string().contains("'llm_cache' uses 300.0MB + 1.0MB for 'k' > 300MB"), "{e}");
        let e = Error::QuotaExceeded { key: "k".into(), quota: Quota::Files, used: 10, requested: 1, limit: 10 };
        assert!(e.to_string().starts_with("File limit reached: 10/10 files"), "{e}");
    }
}
