//! Statistics and health: what the store holds, how fast it grows, how close it is to full.

use std::collections::BTreeMap;

use serde::Serialize;
use store_manager::{Category, Settings};

/// How full the store is, judged with the settings' thresholds on bytes and on files (the
/// worse of the two counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Below the alert threshold (80 % by default).
    Healthy,
    /// At or above the alert threshold: suggest a cleanup.
    Warning,
    /// At or above the critical threshold (90 %): clean up expired objects now.
    Critical,
    /// At or above the limit: saves are refused until space is freed.
    Full,
}

impl Health {
    /// 0 healthy, 1 warning, 2 critical, 3 full (the `objstore_health_level` gauge).
    pub fn level(self) -> u8 {
        self as u8
    }

    /// The judgement for a usage ratio (0..1, the worse of bytes and files).
    pub fn judge(ratio: f64, settings: &Settings) -> Health {
        let monitoring = &settings.usage_monitoring;
        if ratio >= 1.0 {
            Health::Full
        } else if ratio * 100.0 >= monitoring.critical_threshold_pct {
            Health::Critical
        } else if ratio * 100.0 >= monitoring.alert_threshold_pct {
            Health::Warning
        } else {
            Health::Healthy
        }
    }
}

/// One category's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CategoryStats {
    /// Bytes it takes in the store.
    pub size_bytes: u64,
    /// The same in MB (binary).
    pub size_mb: f64,
    /// Files.
    pub files: u64,
    /// Its allocation in bytes, when it has one.
    pub quota_bytes: Option<u64>,
    /// Files that expired and wait for a cleanup.
    pub expired_files: u64,
}

/// The store's statistics (the seed's `get_statistics()`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statistics {
    /// Bytes the manager's objects take (categories and archive).
    pub current_usage_bytes: u64,
    /// The same in GB (binary).
    pub current_usage_gb: f64,
    /// `max_storage_gb` in bytes.
    pub max_storage_bytes: u64,
    /// Bytes in use, in percent of the limit.
    pub usage_pct: f64,
    /// Files.
    pub files: u64,
    /// `max_files`.
    pub max_files: u64,
    /// Files in use, in percent of the limit.
    pub files_pct: f64,
    /// Growth in GB a day, fitted over the last 7 days of the usage history (negative when
    /// shrinking).
    pub growth_rate_gb_per_day: f64,
    /// Days until full at that rate; `None` when usage is flat or shrinking.
    pub days_until_full: Option<f64>,
    /// Per category.
    pub by_category: BTreeMap<Category, CategoryStats>,
    /// The archive (`_archive/`), all categories together.
    pub archive: CategoryStats,
    /// Objects expired and not yet cleaned up, in every category.
    pub expired_files: u64,
    /// Bytes they take.
    pub expired_bytes: u64,
}

impl Statistics {
    /// The worse of bytes / limit and files / limit, as a ratio (1.0 = full).
    pub fn usage_ratio(&self) -> f64 {
        (self.usage_pct.max(self.files_pct)) / 100.0
    }
}

/// Bytes in a GB and a MB (binary, as the seed computes them).
pub const GB: f64 = 1024.0 * 1024.0 * 1024.0;
/// Bytes in a MB.
pub const MB: f64 = 1024.0 * 1024.0;

/// A percentage of `limit` (100 % when the limit is 0 and something is used).
pub fn pct(used: u64, limit: u64) -> f64 {
    if limit == 0 {
        return if used == 0 { 0.0 } else { 100.0 };
    }
    used as f64 * 100.0 / limit as f64
}
