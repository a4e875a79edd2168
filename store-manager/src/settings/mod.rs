//! Settings: the object store section of `settings.json`, with tier presets and one error
//! listing every problem.
//!
//! # Where the settings live
//!
//! [`Settings::from_json`] and [`Settings::from_file`] accept three shapes of document:
//!
//! 1. the bot's whole `settings.json`, with the object store's settings at
//!    `quantconnect.object_store`. Every other top-level section, and every other key inside
//!    `quantconnect`, belongs to the rest of the bot and is ignored;
//! 2. `{"object_store": {...}}`;
//! 3. the inner object itself, `{"tier": "5GB", ...}`.
//!
//! The rule: if the top level is an object with a key `quantconnect`, the settings are
//! `quantconnect.object_store` (which must then exist and be an object); else, if it has a key
//! `object_store` whose value is an object, the settings are that object; else the top level is
//! the settings object. A document whose top level is not an object is refused.
//!
//! # Fields
//!
//! Every field is optional; a missing field, or one set to `null`, takes its default. Field
//! paths below (and in error messages) are relative to the settings object.
//!
//! | field | type | default | meaning |
//! |-------|------|---------|---------|
//! | `enabled` | bool | `true` | `false`: the manager refuses to work |
//! | `tier` | string | `"5GB"` | the Object Store plan; sets the three limits below (see the table of tiers) |
//! | `max_storage_gb` | number > 0 | tier's | capacity of the whole store, in GB |
//! | `max_files` | integer > 0 | tier's | most objects the store may hold |
//! | `max_file_size_mb` | number > 0 | tier's | largest object, in MB; at most `max_storage_gb` |
//! | `compression_enabled` | bool | `true` | compress objects above the threshold |
//! | `compression_threshold_kb` | number ≥ 0 | `100` | objstore extension: compress objects larger than this, in KB (`0`: every object) |
//! | `compression_level` | integer | `1` | objstore extension: zstd level, `1..=19`, or a fast level `-7..=-1` (`0` is refused) |
//! | `auto_cleanup.enabled` | bool | `true` | clean up without being asked: a save refused by a quota first removes expired objects and tries again (and the monitor cleans up at the critical threshold) |
//! | `auto_cleanup.keep_days` | integer `0..=36500` | `90` | retention of the archive: an archived copy is removed by the first cleanup `keep_days` days after it was archived |
//! | `auto_cleanup.archive_before_delete` | bool | `true` | `cleanup_expired` copies an expired object, compressed, to `_archive/{category}/{key}` before deleting it |
//! | `storage_allocation` | object | `{}` (no quotas) | GB each category may use, by category name |
//! | `usage_monitoring.enabled` | bool | `true` | check usage periodically |
//! | `usage_monitoring.alert_threshold_pct` | number in (0, 100] | `80` | usage, in % of `max_storage_gb`, that raises a warning |
//! | `usage_monitoring.critical_threshold_pct` | number in (0, 100] | `90` | usage that raises a critical alert; above the warning threshold |
//! | `usage_monitoring.check_interval_hours` | number > 0 | `6` | hours between checks |
//!
//! Any other field, at any level, is an error (the message lists the known ones).
//!
//! # Units
//!
//! Sizes are binary, as the seed document computes them: 1 GB = 1024³ bytes, 1 MB = 1024² bytes,
//! 1 KB = 1024 bytes. [`Settings::max_storage_bytes`], [`Settings::max_file_size_bytes`],
//! [`Settings::compression_threshold_bytes`] and [`Settings::allocation_bytes`] do the arithmetic.
//!
//! # Tiers
//!
//! `tier` names are case-insensitive. A file that names a tier but leaves out `max_storage_gb`,
//! `max_files` or `max_file_size_mb` gets the tier's value for them; a field given explicitly
//! overrides the tier.
//!
//! | tier | names accepted | `max_storage_gb` | `max_files` | `max_file_size_mb` |
//! |------|----------------|------------------|-------------|--------------------|
//! | [`Tier::Free`] | `"free"`, `"50MB"` | 50/1024 (50 MB) | 1 000 | 45 |
//! | [`Tier::Gb2`] | `"2GB"` | 2 | 20 000 | 45 |
//! | [`Tier::Gb5`] | `"5GB"` | 5 | 50 000 | 45 |
//! | [`Tier::Gb10`] | `"10GB"` | 10 | 100 000 | 45 |
//!
//! # Storage allocation
//!
//! `storage_allocation` maps category names ([`Category::parse`]: the seven built-in ones, or a
//! custom name) to the **GB** that category may use, exactly as the seed's file does
//! (`"trading_state": 0.5` is 0.5 GB, a tenth of a 5 GB store). Each value is a number ≥ 0. A
//! category without an entry has no quota of its own. The allocations may not add up to more
//! than the store: their sum may not exceed `max_storage_gb`.
//! [`Settings::allocation_fraction`] gives a category's share of the store.
//!
//! # Errors
//!
//! Reading does not stop at the first problem: a [`SettingsError`] lists every problem found
//! (unknown fields, wrong JSON types, out-of-range values, limits that contradict each other),
//! each prefixed by its field's dotted path, e.g.
//! `auto_cleanup.keep_dayz: unknown field (known: enabled, keep_days, archive_before_delete)`.
//! [`Settings::validate`] runs the same value checks on settings built in code.
//!
//! # Example
//!
//! The seed document's `config/settings.json`:
//!
//! ```
//! use store_manager::category::Category;
//! use store_manager::settings::{Settings, Tier};
//!
//! let json = r#"
//! {
//!   "quantconnect": {
//!     "object_store": {
//!       "enabled": true,
//!       "tier": "5GB",
//!       "max_storage_gb": 5,
//!       "max_files": 50000,
//!       "max_file_size_mb": 45,
//!       "compression_enabled": true,
//!       "auto_cleanup": {
//!         "enabled": true,
//!         "keep_days": 90,
//!         "archive_before_delete": true
//!       },
//!       "storage_allocation": {
//!         "trading_state": 0.5,
//!         "options_greeks": 1.5,
//!         "llm_cache": 0.3,
//!         "backtest_results": 0.5,
//!         "ml_models": 1.5,
//!         "monitoring_data": 0.3,
//!         "research_data": 0.4
//!       },
//!       "usage_monitoring": {
//!         "enabled": true,
//!         "alert_threshold_pct": 80,
//!         "critical_threshold_pct": 90,
//!         "check_interval_hours": 6
//!       }
//!     }
//!   }
//! }
//! "#;
//!
//! let settings = Settings::from_json(json)?;
//! assert_eq!(settings.tier, Tier::Gb5);
//! assert_eq!(settings.max_storage_bytes(), 5 * 1024 * 1024 * 1024);
//! assert_eq!(settings.max_file_size_bytes(), 45 * 1024 * 1024);
//! assert_eq!(settings.auto_cleanup.keep_days, 90);
//! assert_eq!(settings.storage_allocation[&Category::OptionsGreeks], 1.5);
//! assert_eq!(settings.allocation_fraction(&Category::TradingState), Some(0.1));
//! assert_eq!(settings.compression_threshold_kb, 100.0); // not in the file: the default
//!
//! // Every problem is reported at once.
//! let err = Settings::from_json(r#"{"max_files": 2.5, "auto_cleanup": {"keep_dayz": 30}}"#).unwrap_err();
//! assert_eq!(err.problems.len(), 2);
//! assert!(err.to_string().starts_with("settings: 2 problems:\n  - "));
//! # Ok::<(), store_manager::settings::SettingsError>(())
//! ```

// How this module is laid out, one concern per file:
//
// - mod.rs (this file): the public types and constants with their documentation, and the names
//   of the fields of each JSON object. The manual above is the reference for the file format.
// - tiers.rs: `Tier`, its names and its preset limits.
// - defaults.rs: `Settings::for_tier` and the `Default` impls.
// - json.rs: the settings.json reader (`from_json`, `from_file`) and writer (`to_json`).
// - validate.rs: the value checks (`validate`) and the wording of their problems.
// - bytes.rs: sizes in bytes and the store-wide limits they imply.
// - error.rs: `SettingsError`, one error listing every problem.
// - tests.rs and single_source.rs: unit tests.
//
// The single-source rule: each default is written once in code, a tier limit in `Tier::preset`,
// the default tier by `#[default]` on `Tier`, every other field in `defaults.rs`. Everything else
// (the reader, `Settings::default`, a section's default) starts from those. The documentation
// (the tables above, the fields' docs) repeats the values for readers; single_source.rs checks
// that code, reader and documentation agree.

mod bytes;
mod defaults;
mod error;
mod json;
mod tiers;
mod validate;

#[cfg(test)]
mod single_source;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::category::Category;

pub use error::SettingsError;
pub use tiers::{Tier, TierPreset};

/// The longest retention `auto_cleanup.keep_days` accepts: 36 500 days (100 years).
pub const MAX_KEEP_DAYS: u32 = 36_500;

/// The fastest zstd level accepted in `compression_level` (negative levels are zstd's fast ones).
pub const MIN_COMPRESSION_LEVEL: i32 = -7;

/// The strongest zstd level accepted in `compression_level`.
pub const MAX_COMPRESSION_LEVEL: i32 = 19;

/// The fields of the settings object, in the order of the seed document.
const SETTINGS_FIELDS: [&str; 11] = [
    "enabled",
    "tier",
    "max_storage_gb",
    "max_files",
    "max_file_size_mb",
    "compression_enabled",
    "compression_threshold_kb",
    "compression_level",
    "auto_cleanup",
    "storage_allocation",
    "usage_monitoring",
];

/// The fields of `auto_cleanup`.
const AUTO_CLEANUP_FIELDS: [&str; 3] = ["enabled", "keep_days", "archive_before_delete"];

/// The fields of `usage_monitoring`.
const USAGE_MONITORING_FIELDS: [&str; 4] =
    ["enabled", "alert_threshold_pct", "critical_threshold_pct", "check_interval_hours"];

/// The object store's settings: the `quantconnect.object_store` section of settings.json.
///
/// See the [module documentation](self) for the file format, units and defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Whether the manager works at all; `false` makes it refuse. Default `true`.
    pub enabled: bool,
    /// The Object Store plan, whose preset fills in the limits the file leaves out. Default
    /// [`Tier::Gb5`].
    pub tier: Tier,
    /// Capacity of the whole store, in binary GB. Default: the tier's.
    pub max_storage_gb: f64,
    /// Most objects the store may hold. Default: the tier's.
    pub max_files: u64,
    /// Largest object, in binary MB. Default: the tier's (45).
    pub max_file_size_mb: f64,
    /// Whether objects above [`compression_threshold_kb`](Settings::compression_threshold_kb)
    /// are compressed. Default `true`.
    pub compression_enabled: bool,
    /// Objects larger than this many binary KB are compressed; `0` compresses every object.
    /// Default 100 (the seed's "automatic compression for objects >100KB").
    pub compression_threshold_kb: f64,
    /// The zstd level: `1..=19`, or a fast level `-7..=-1`. Default 1.
    pub compression_level: i32,
    /// Removal of expired objects.
    pub auto_cleanup: AutoCleanup,
    /// GB each category may use; a category without an entry has no quota of its own. Default
    /// empty.
    pub storage_allocation: BTreeMap<Category, f64>,
    /// Periodic usage checks and their alert thresholds.
    pub usage_monitoring: UsageMonitoring,
}

/// The `auto_cleanup` section: removal of expired objects.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoCleanup {
    /// Whether cleanups happen without being asked: a save refused by a quota first removes
    /// expired objects and tries again (the monitor also cleans up at its critical threshold).
    /// `cleanup_expired` works either way. Default `true`.
    pub enabled: bool,
    /// Retention of the archive, in days: an archived copy is removed by the first cleanup this
    /// long after it was archived; at most [`MAX_KEEP_DAYS`]. Default 90.
    pub keep_days: u32,
    /// Whether `cleanup_expired` copies an expired object, compressed, to
    /// `_archive/{category}/{key}` before deleting it. Default `true`.
    pub archive_before_delete: bool,
}

/// The `usage_monitoring` section: periodic usage checks.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageMonitoring {
    /// Whether usage is checked. Default `true`.
    pub enabled: bool,
    /// Usage, in percent of `max_storage_gb`, that raises a warning; in (0, 100]. Default 80.
    pub alert_threshold_pct: f64,
    /// Usage, in percent, that raises a critical alert; in (0, 100] and above
    /// [`alert_threshold_pct`](UsageMonitoring::alert_threshold_pct). Default 90.
    pub critical_threshold_pct: f64,
    /// Hours between checks; positive. Default 6.
    pub check_interval_hours: f64,
}
