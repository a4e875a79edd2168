//! Statistics and health: what the store holds, how fast it grows, how close it is to full.
//!
//! Invariant: the totals (bytes, files, and so health) count every object of the store the
//! manager works in: its categories, the archive and unmanaged objects, each also a row.

use std::collections::BTreeMap;

use serde::Serialize;
use store_manager::{Category, Settings, StoreCensus};

use crate::history::{self, History, Sample};

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

/// The store's statistics (the seed's `get_statistics()`): every object of the store the
/// manager works in (or of its view), managed or not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statistics {
    /// Bytes every object of the store takes: the categories, the archive and unmanaged objects
    /// (the manager's and monitor's own small files are listed apart, in `internal`).
    pub current_usage_bytes: u64,
    /// The same in GB (binary).
    pub current_usage_gb: f64,
    /// `max_storage_gb` in bytes.
    pub max_storage_bytes: u64,
    /// Bytes in use, in percent of the limit.
    pub usage_pct: f64,
    /// Objects (categories, archive and unmanaged).
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
    /// Objects outside the categories and the archive: plain saves (`ObjectStore::save`,
    /// `objstore put`) and other programs' files. They fill the store like any other.
    pub unmanaged: CategoryStats,
    /// The manager's and the monitor's own files (index snapshot, change marker, usage
    /// history): small, bounded, and not counted in the figures above.
    pub internal: CategoryStats,
    /// The project view the manager works in (`store.project(..)`): these figures count only
    /// it. `None`: the whole store.
    pub view: Option<String>,
    /// Objects expired and not yet cleaned up, in every category.
    pub expired_files: u64,
    /// Bytes they take.
    pub expired_bytes: u64,
}

impl CategoryStats {
    /// The row of an area that has no allocation.
    pub fn of(files: u64, bytes: u64) -> CategoryStats {
        CategoryStats { size_bytes: bytes, size_mb: bytes as f64 / MB, files, quota_bytes: None, expired_files: 0 }
    }
}

impl Statistics {
    /// The statistics of a census (see [`Manager::census`](store_manager::Manager::census)),
    /// with the growth fitted over `history` and the limits of `settings`, at `now_ms`.
    pub fn from_census(census: &StoreCensus, history: &History, settings: &Settings, now_ms: u64) -> Statistics {
        let mut by_category = BTreeMap::new();
        let (mut expired_files, mut expired_bytes) = (0, 0);
        for (category, u) in &census.categories {
            expired_files += u.expired_files;
            expired_bytes += u.expired_bytes;
            by_category.insert(
                category.clone(),
                CategoryStats {
                    size_bytes: u.stored_bytes,
                    size_mb: u.stored_bytes as f64 / MB,
                    files: u.files,
                    quota_bytes: u.allocation_bytes,
                    expired_files: u.expired_files,
                },
            );
        }
        let (bytes, files) = (census.bytes(), census.files());
        let max_bytes = settings.max_storage_bytes();
        let growth = history.growth_bytes_per_day(now_ms, Some(Sample { t_ms: now_ms, bytes, files }));
        Statistics {
            current_usage_bytes: bytes,
            current_usage_gb: bytes as f64 / GB,
            max_storage_bytes: max_bytes,
            usage_pct: pct(bytes, max_bytes),
            files,
            max_files: settings.max_files,
            files_pct: pct(files, settings.max_files),
            growth_rate_gb_per_day: growth / GB,
            days_until_full: history::days_until_full(bytes, max_bytes, growth),
            by_category,
            archive: CategoryStats::of(census.archive.files, census.archive.stored_bytes),
            unmanaged: CategoryStats::of(census.unmanaged.files, census.unmanaged.stored_bytes),
            internal: CategoryStats::of(census.internal.files, census.internal.stored_bytes),
            view: census.view.clone(),
            expired_files,
            expired_bytes,
        }
    }

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
