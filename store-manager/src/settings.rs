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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::category::Category;

/// Bytes in a GB (binary: 1024³).
const GB: f64 = 1024.0 * 1024.0 * 1024.0;
/// Bytes in a MB (binary: 1024²).
const MB: f64 = 1024.0 * 1024.0;
/// Bytes in a KB (binary).
const KB: f64 = 1024.0;

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

/// A QuantConnect Object Store plan. Its [`preset`](Tier::preset) gives the default limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Tier {
    /// The free 50 MB tier (`"free"` or `"50MB"`).
    Free,
    /// The 2 GB tier (`"2GB"`).
    Gb2,
    /// The 5 GB tier (`"5GB"`), the seed document's and the default.
    #[default]
    Gb5,
    /// The 10 GB tier (`"10GB"`).
    Gb10,
}

/// The limits a [`Tier`] sets when the file does not give them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TierPreset {
    /// Capacity of the store, in binary GB.
    pub max_storage_gb: f64,
    /// Most objects the store may hold.
    pub max_files: u64,
    /// Largest object, in binary MB.
    pub max_file_size_mb: f64,
}

impl Tier {
    /// Every tier, smallest first.
    pub const ALL: [Tier; 4] = [Tier::Free, Tier::Gb2, Tier::Gb5, Tier::Gb10];

    /// Every name `tier` accepts in settings.json (compared case-insensitively).
    pub const ACCEPTED_NAMES: [&'static str; 5] = ["free", "50MB", "2GB", "5GB", "10GB"];

    /// The tier's name in settings.json: `"free"`, `"2GB"`, `"5GB"` or `"10GB"`.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Gb2 => "2GB",
            Tier::Gb5 => "5GB",
            Tier::Gb10 => "10GB",
        }
    }

    /// The tier named `name`, ignoring case: one of [`Tier::ACCEPTED_NAMES`]; `None` for any
    /// other name.
    pub fn parse(name: &str) -> Option<Tier> {
        match name.to_ascii_lowercase().as_str() {
            "free" | "50mb" => Some(Tier::Free),
            "2gb" => Some(Tier::Gb2),
            "5gb" => Some(Tier::Gb5),
            "10gb" => Some(Tier::Gb10),
            _ => None,
        }
    }

    /// The limits of the tier (see the table in the module documentation).
    pub fn preset(self) -> TierPreset {
        let (max_storage_gb, max_files) = match self {
            Tier::Free => (50.0 / 1024.0, 1_000),
            Tier::Gb2 => (2.0, 20_000),
            Tier::Gb5 => (5.0, 50_000),
            Tier::Gb10 => (10.0, 100_000),
        };
        TierPreset { max_storage_gb, max_files, max_file_size_mb: 45.0 }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

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

impl Default for AutoCleanup {
    fn default() -> AutoCleanup {
        AutoCleanup { enabled: true, keep_days: 90, archive_before_delete: true }
    }
}

impl Default for UsageMonitoring {
    fn default() -> UsageMonitoring {
        UsageMonitoring {
            enabled: true,
            alert_threshold_pct: 80.0,
            critical_threshold_pct: 90.0,
            check_interval_hours: 6.0,
        }
    }
}

impl Default for Settings {
    /// The 5 GB tier with every default.
    fn default() -> Settings {
        Settings::for_tier(Tier::default())
    }
}

/// Settings that cannot be used: every problem found, each naming its field.
///
/// Displays as `"{origin}: {problem}"` for one problem, and as
/// `"{origin}: N problems:\n  - first\n  - second..."` for several; `origin` is the file's path,
/// or `settings` when there is none.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.origin.as_deref(), .problems))]
pub struct SettingsError {
    /// The file the settings came from, when read by [`Settings::from_file`].
    pub origin: Option<String>,
    /// Every problem, each starting with the dotted path of its field.
    pub problems: Vec<String>,
}

fn render(origin: Option<&str>, problems: &[String]) -> String {
    let origin = origin.unwrap_or("settings");
    match problems {
        [] => format!("{origin}: invalid settings"),
        [one] => format!("{origin}: {one}"),
        many => {
            let mut out = format!("{origin}: {} problems:", many.len());
            for problem in many {
                out.push_str("\n  - ");
                out.push_str(problem);
            }
            out
        }
    }
}

impl Settings {
    /// The defaults with the limits of `tier`: what a file holding only `{"tier": ...}` gives.
    pub fn for_tier(tier: Tier) -> Settings {
        let preset = tier.preset();
        Settings {
            enabled: true,
            tier,
            max_storage_gb: preset.max_storage_gb,
            max_files: preset.max_files,
            max_file_size_mb: preset.max_file_size_mb,
            compression_enabled: true,
            compression_threshold_kb: 100.0,
            compression_level: 1,
            auto_cleanup: AutoCleanup::default(),
            storage_allocation: BTreeMap::new(),
            usage_monitoring: UsageMonitoring::default(),
        }
    }

    /// Reads settings from JSON text in any of the three accepted shapes (see the module
    /// documentation), filling in defaults and tier presets, then checks them.
    ///
    /// # Errors
    ///
    /// One [`SettingsError`] listing every problem: invalid JSON, unknown fields, wrong types,
    /// values out of range, limits that contradict each other.
    pub fn from_json(json: &str) -> Result<Settings, SettingsError> {
        parse(json).map_err(|problems| SettingsError { origin: None, problems })
    }

    /// Reads settings from a file, as [`from_json`](Settings::from_json) does; errors carry the
    /// path as their origin.
    ///
    /// # Errors
    ///
    /// A [`SettingsError`] when the file cannot be read, or lists every problem of its content.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Settings, SettingsError> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|err| SettingsError {
            origin: Some(origin.clone()),
            problems: vec![format!(
                "cannot read settings file {origin}: {err}; check that the path is right and the file is readable"
            )],
        })?;
        parse(&text).map_err(|problems| SettingsError { origin: Some(origin), problems })
    }

    /// Checks settings built in code the way [`from_json`](Settings::from_json) checks a file:
    /// positive limits, a largest object that fits in the store, a valid compression level,
    /// valid categories whose allocations fit in the store, ordered thresholds, and so on.
    ///
    /// # Errors
    ///
    /// One [`SettingsError`] listing every problem.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let problems = self.problems(&BTreeSet::new());
        if problems.is_empty() { Ok(()) } else { Err(SettingsError { origin: None, problems }) }
    }

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

    /// The settings as a settings object (the inner shape), every field present: what
    /// [`from_json`](Settings::from_json) reads back as equal settings.
    ///
    /// Numbers that JSON cannot hold (NaN, infinities) become `null`.
    pub fn to_json(&self) -> Value {
        let allocation: Map<String, Value> =
            self.storage_allocation.iter().map(|(category, &gb)| (category.name().to_string(), json!(gb))).collect();
        json!({
            "enabled": self.enabled,
            "tier": self.tier.name(),
            "max_storage_gb": self.max_storage_gb,
            "max_files": self.max_files,
            "max_file_size_mb": self.max_file_size_mb,
            "compression_enabled": self.compression_enabled,
            "compression_threshold_kb": self.compression_threshold_kb,
            "compression_level": self.compression_level,
            "auto_cleanup": {
                "enabled": self.auto_cleanup.enabled,
                "keep_days": self.auto_cleanup.keep_days,
                "archive_before_delete": self.auto_cleanup.archive_before_delete,
            },
            "storage_allocation": allocation,
            "usage_monitoring": {
                "enabled": self.usage_monitoring.enabled,
                "alert_threshold_pct": self.usage_monitoring.alert_threshold_pct,
                "critical_threshold_pct": self.usage_monitoring.critical_threshold_pct,
                "check_interval_hours": self.usage_monitoring.check_interval_hours,
            },
        })
    }

    /// The value problems of these settings. Fields in `untrusted` hold a default put in place of
    /// a value that could not be read; checks that compare them with other fields are skipped.
    fn problems(&self, untrusted: &BTreeSet<String>) -> Vec<String> {
        let trusted = |field: &str| !untrusted.contains(field);
        let mut problems = Vec::new();

        let storage_ok = is_positive(self.max_storage_gb);
        if !storage_ok {
            problems.push(format!("max_storage_gb: must be a positive number, got {}", num(self.max_storage_gb)));
        }
        if self.max_files == 0 {
            problems.push("max_files: must be a positive integer, got 0".to_string());
        }
        let file_size_ok = is_positive(self.max_file_size_mb);
        if !file_size_ok {
            problems.push(format!("max_file_size_mb: must be a positive number, got {}", num(self.max_file_size_mb)));
        }
        if storage_ok
            && file_size_ok
            && trusted("max_storage_gb")
            && trusted("max_file_size_mb")
            && self.max_file_size_mb > self.max_storage_gb * 1024.0
        {
            problems.push(format!(
                "max_file_size_mb: {} MB is larger than the whole store (max_storage_gb {} GB = {} MB)",
                num(self.max_file_size_mb),
                num(self.max_storage_gb),
                rounded(self.max_storage_gb * 1024.0, 6),
            ));
        }
        if !(self.compression_threshold_kb.is_finite() && self.compression_threshold_kb >= 0.0) {
            problems.push(format!(
                "compression_threshold_kb: must be a number >= 0 (0 compresses every object), got {}",
                num(self.compression_threshold_kb)
            ));
        }
        if !is_compression_level(self.compression_level) {
            problems
                .push(format!("compression_level: {}", compression_level_rule(&self.compression_level.to_string())));
        }
        if self.auto_cleanup.keep_days > MAX_KEEP_DAYS {
            problems
                .push(format!("auto_cleanup.keep_days: {}", keep_days_rule(&self.auto_cleanup.keep_days.to_string())));
        }

        let mut allocated = 0.0;
        for (category, &gb) in &self.storage_allocation {
            if let Err(err) = category.validate() {
                problems.push(format!("storage_allocation: {err}"));
            }
            if gb.is_finite() && gb >= 0.0 {
                allocated += gb;
            } else {
                problems.push(format!("storage_allocation.{category}: must be a number of GB >= 0, got {}", num(gb)));
            }
        }
        if storage_ok && trusted("max_storage_gb") && allocated / self.max_storage_gb > 1.0 + 1e-9 {
            problems.push(format!(
                "storage_allocation: categories are allocated {} GB in total, {}% of max_storage_gb ({} GB); \
                 the allocations may not add up to more than the store",
                rounded(allocated, 6),
                rounded(allocated / self.max_storage_gb * 100.0, 1),
                num(self.max_storage_gb),
            ));
        }

        let monitoring = &self.usage_monitoring;
        let alert_ok = is_percentage(monitoring.alert_threshold_pct);
        if !alert_ok {
            problems.push(percentage_problem("alert_threshold_pct", monitoring.alert_threshold_pct));
        }
        let critical_ok = is_percentage(monitoring.critical_threshold_pct);
        if !critical_ok {
            problems.push(percentage_problem("critical_threshold_pct", monitoring.critical_threshold_pct));
        }
        if alert_ok
            && critical_ok
            && trusted("usage_monitoring.alert_threshold_pct")
            && trusted("usage_monitoring.critical_threshold_pct")
            && monitoring.alert_threshold_pct >= monitoring.critical_threshold_pct
        {
            problems.push(format!(
                "usage_monitoring: thresholds out of order: alert_threshold_pct ({}) must be below \
                 critical_threshold_pct ({})",
                num(monitoring.alert_threshold_pct),
                num(monitoring.critical_threshold_pct),
            ));
        }
        if !is_positive(monitoring.check_interval_hours) {
            problems.push(format!(
                "usage_monitoring.check_interval_hours: must be a positive number of hours, got {}",
                num(monitoring.check_interval_hours)
            ));
        }
        problems
    }
}

fn is_positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

fn is_percentage(x: f64) -> bool {
    x.is_finite() && x > 0.0 && x <= 100.0
}

fn is_compression_level(level: i32) -> bool {
    (MIN_COMPRESSION_LEVEL..=-1).contains(&level) || (1..=MAX_COMPRESSION_LEVEL).contains(&level)
}

fn percentage_problem(field: &str, got: f64) -> String {
    format!("usage_monitoring.{field}: must be a percentage above 0 and at most 100, got {}", num(got))
}

/// What is wrong with `compression_level` (without the field's name).
fn compression_level_rule(got: &str) -> String {
    format!(
        "must be a zstd level, an integer in 1..={MAX_COMPRESSION_LEVEL} or {MIN_COMPRESSION_LEVEL}..=-1, got {got}"
    )
}

/// What is wrong with `auto_cleanup.keep_days` (without the field's name).
fn keep_days_rule(got: &str) -> String {
    format!("must be an integer from 0 to {MAX_KEEP_DAYS}, got {got}")
}

/// `amount` units of `unit` bytes, rounded down; 0 for negative or NaN amounts, `u64::MAX` when
/// too large. The unit is a power of two, so the product is exact.
fn to_bytes(amount: f64, unit: f64) -> u64 {
    // `as` saturates: negative and NaN give 0, too large gives u64::MAX.
    (amount * unit) as u64
}

/// A number as people write it: `5`, `0.3`, `-5`; exponent notation for extreme magnitudes.
fn num(x: f64) -> String {
    if x.is_finite() && x != 0.0 && !(1e-6..1e15).contains(&x.abs()) { format!("{x:e}") } else { format!("{x}") }
}

/// A computed number rounded to `decimals` decimals, so that 110.00000000000001 shows as `110`.
fn rounded(x: f64, decimals: i32) -> String {
    let scale = 10f64.powi(decimals);
    let r = (x * scale).round() / scale;
    num(if r.is_finite() { r } else { x })
}

/// A JSON value as it appears in the file, shortened when long.
fn show(value: &Value) -> String {
    const MAX: usize = 60;
    let text = value.to_string();
    if text.chars().count() <= MAX {
        return text;
    }
    let mut short: String = text.chars().take(MAX - 3).collect();
    short.push_str("...");
    short
}

/// A JSON number's integer value, also for integral floats such as `1e3`; `None` for fractions.
fn integer(value: &Value) -> Option<i128> {
    if let Some(i) = value.as_i64() {
        return Some(i128::from(i));
    }
    if let Some(u) = value.as_u64() {
        return Some(i128::from(u));
    }
    let f = value.as_f64()?;
    // Beyond 2^100 there is no integer type to hold it anyway.
    (f.fract() == 0.0 && f.abs() < 1.0e30).then_some(f as i128)
}

/// `prefix.name`, or `name` at the top level.
fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_string() } else { format!("{prefix}.{name}") }
}

/// Parses the text into settings, or lists every problem.
fn parse(json: &str) -> Result<Settings, Vec<String>> {
    let json = json.strip_prefix('\u{feff}').unwrap_or(json);
    let root: Value = serde_json::from_str(json).map_err(|err| vec![format!("invalid JSON: {err}")])?;
    let object = settings_object(&root).map_err(|problem| vec![problem])?;
    let mut reader = Reader::default();
    let settings = reader.settings(object);
    let mut problems = reader.problems;
    problems.extend(settings.problems(&reader.untrusted));
    if problems.is_empty() { Ok(settings) } else { Err(problems) }
}

/// Finds the settings object in a document of any of the three shapes.
fn settings_object(root: &Value) -> Result<&Map<String, Value>, String> {
    let Value::Object(top) = root else {
        return Err(format!(
            "expected a JSON object at the top level (settings.json, {{\"object_store\": {{...}}}} or the \
             settings object itself), got {}",
            show(root)
        ));
    };
    if let Some(quantconnect) = top.get("quantconnect") {
        let Value::Object(quantconnect) = quantconnect else {
            return Err(format!("quantconnect: expected an object, got {}", show(quantconnect)));
        };
        return match quantconnect.get("object_store") {
            Some(Value::Object(settings)) => Ok(settings),
            None => {
                Err("quantconnect.object_store: missing; the object store's settings go in this object".to_string())
            }
            Some(other) => Err(format!("quantconnect.object_store: expected an object, got {}", show(other))),
        };
    }
    if let Some(Value::Object(settings)) = top.get("object_store") {
        return Ok(settings);
    }
    Ok(top)
}

/// Walks the settings object, collecting type problems and the fields whose value was refused.
#[derive(Default)]
struct Reader {
    problems: Vec<String>,
    /// Fields holding a default in place of a value that could not be read.
    untrusted: BTreeSet<String>,
}

/// The field `name` of `object`, `None` when absent or `null` (both mean "the default").
fn field<'v>(object: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    object.get(name).filter(|value| !value.is_null())
}

impl Reader {
    /// Records a problem with the value at `path`, whose field keeps its default.
    fn refuse(&mut self, path: String, problem: impl fmt::Display) {
        self.problems.push(format!("{path}: {problem}"));
        self.untrusted.insert(path);
    }

    /// Reports a type mismatch.
    fn mismatch(&mut self, path: String, expected: &str, got: &Value) {
        let problem = format!("expected {expected}, got {}", show(got));
        self.refuse(path, problem);
    }

    /// Reports the fields of `object` not in `known`.
    fn unknown_fields(&mut self, prefix: &str, object: &Map<String, Value>, known: &[&str]) {
        for name in object.keys().filter(|name| !known.contains(&name.as_str())) {
            self.problems.push(format!("{}: unknown field (known: {})", join(prefix, name), known.join(", ")));
        }
    }

    /// The section `name` of `object` with its unknown fields reported; `None` when absent, null
    /// or not an object.
    fn section<'v>(
        &mut self,
        object: &'v Map<String, Value>,
        name: &str,
        known: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        match field(object, name)? {
            Value::Object(section) => {
                self.unknown_fields(name, section, known);
                Some(section)
            }
            other => {
                self.mismatch(name.to_string(), "an object", other);
                None
            }
        }
    }

    fn bool(&mut self, object: &Map<String, Value>, prefix: &str, name: &str, out: &mut bool) {
        match field(object, name) {
            None => {}
            Some(Value::Bool(b)) => *out = *b,
            Some(other) => self.mismatch(join(prefix, name), "true or false", other),
        }
    }

    fn number(&mut self, object: &Map<String, Value>, prefix: &str, name: &str, out: &mut f64) {
        match field(object, name) {
            None => {}
            Some(value) => match value.as_f64() {
                Some(x) => *out = x,
                None => self.mismatch(join(prefix, name), "a number", value),
            },
        }
    }

    /// An integer field; `problem` (given the value as written) when the number is not an
    /// integer or does not fit in `T`.
    fn integer<T: TryFrom<i128>>(
        &mut self,
        object: &Map<String, Value>,
        prefix: &str,
        name: &str,
        out: &mut T,
        problem: impl Fn(&str) -> String,
    ) {
        let Some(value) = field(object, name) else { return };
        if !value.is_number() {
            return self.mismatch(join(prefix, name), "an integer", value);
        }
        match integer(value).and_then(|i| T::try_from(i).ok()) {
            Some(i) => *out = i,
            None => {
                let message = problem(&show(value));
                self.refuse(join(prefix, name), message);
            }
        }
    }

    fn settings(&mut self, object: &Map<String, Value>) -> Settings {
        self.unknown_fields("", object, &SETTINGS_FIELDS);

        let mut tier = Tier::default();
        if let Some(value) = field(object, "tier") {
            match value.as_str().and_then(Tier::parse) {
                Some(named) => tier = named,
                None => {
                    let names: Vec<String> = Tier::ACCEPTED_NAMES.iter().map(|name| format!("{name:?}")).collect();
                    let problem = format!("expected one of {} (any case), got {}", names.join(", "), show(value));
                    self.refuse("tier".to_string(), problem);
                    // The limits the file leaves to the tier are guesses: compare nothing with them.
                    for limit in ["max_storage_gb", "max_files", "max_file_size_mb"] {
                        if field(object, limit).is_none() {
                            self.untrusted.insert(limit.to_string());
                        }
                    }
                }
            }
        }

        let mut s = Settings::for_tier(tier);
        self.bool(object, "", "enabled", &mut s.enabled);
        self.number(object, "", "max_storage_gb", &mut s.max_storage_gb);
        self.integer(object, "", "max_files", &mut s.max_files, |got| format!("must be a positive integer, got {got}"));
        self.number(object, "", "max_file_size_mb", &mut s.max_file_size_mb);
        self.bool(object, "", "compression_enabled", &mut s.compression_enabled);
        self.number(object, "", "compression_threshold_kb", &mut s.compression_threshold_kb);
        self.integer(object, "", "compression_level", &mut s.compression_level, compression_level_rule);

        if let Some(section) = self.section(object, "auto_cleanup", &AUTO_CLEANUP_FIELDS) {
            let cleanup = &mut s.auto_cleanup;
            self.bool(section, "auto_cleanup", "enabled", &mut cleanup.enabled);
            self.integer(section, "auto_cleanup", "keep_days", &mut cleanup.keep_days, keep_days_rule);
            self.bool(section, "auto_cleanup", "archive_before_delete", &mut cleanup.archive_before_delete);
        }

        match field(object, "storage_allocation") {
            None => {}
            Some(Value::Object(allocation)) => {
                for (name, value) in allocation {
                    let category = match Category::parse(name) {
                        Ok(category) => Some(category),
                        Err(err) => {
                            self.problems.push(format!(
                                "storage_allocation: {err} (categories: {}, or a custom name)",
                                Category::BUILTIN.iter().map(Category::name).collect::<Vec<_>>().join(", ")
                            ));
                            None
                        }
                    };
                    let gb = match value {
                        Value::Null => None,
                        Value::Number(n) => n.as_f64(),
                        other => {
                            self.mismatch(format!("storage_allocation.{name}"), "a number of GB", other);
                            None
                        }
                    };
                    if let (Some(category), Some(gb)) = (category, gb) {
                        s.storage_allocation.insert(category, gb);
                    }
                }
            }
            Some(other) => self.mismatch("storage_allocation".to_string(), "an object of GB by category name", other),
        }

        if let Some(section) = self.section(object, "usage_monitoring", &USAGE_MONITORING_FIELDS) {
            let monitoring = &mut s.usage_monitoring;
            self.bool(section, "usage_monitoring", "enabled", &mut monitoring.enabled);
            self.number(section, "usage_monitoring", "alert_threshold_pct", &mut monitoring.alert_threshold_pct);
            self.number(section, "usage_monitoring", "critical_threshold_pct", &mut monitoring.critical_threshold_pct);
            self.number(section, "usage_monitoring", "check_interval_hours", &mut monitoring.check_interval_hours);
        }
        s
    }
}

impl Settings {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// The seed document's config/settings.json, verbatim.
    const SEED: &str = r#"{
  "quantconnect": {
    "object_store": {
      "enabled": true,
      "tier": "5GB",
      "max_storage_gb": 5,
      "max_files": 50000,
      "max_file_size_mb": 45,
      "compression_enabled": true,
      "auto_cleanup": {
        "enabled": true,
        "keep_days": 90,
        "archive_before_delete": true
      },
      "storage_allocation": {
        "trading_state": 0.5,
        "options_greeks": 1.5,
        "llm_cache": 0.3,
        "backtest_results": 0.5,
        "ml_models": 1.5,
        "monitoring_data": 0.3,
        "research_data": 0.4
      },
      "usage_monitoring": {
        "enabled": true,
        "alert_threshold_pct": 80,
        "critical_threshold_pct": 90,
        "check_interval_hours": 6
      }
    }
  }
}"#;

    fn seed_settings() -> Settings {
        Settings {
            enabled: true,
            tier: Tier::Gb5,
            max_storage_gb: 5.0,
            max_files: 50_000,
            max_file_size_mb: 45.0,
            compression_enabled: true,
            compression_threshold_kb: 100.0,
            compression_level: 1,
            auto_cleanup: AutoCleanup { enabled: true, keep_days: 90, archive_before_delete: true },
            storage_allocation: BTreeMap::from([
                (Category::TradingState, 0.5),
                (Category::OptionsGreeks, 1.5),
                (Category::LlmCache, 0.3),
                (Category::BacktestResults, 0.5),
                (Category::MlModels, 1.5),
                (Category::MonitoringData, 0.3),
                (Category::ResearchData, 0.4),
            ]),
            usage_monitoring: UsageMonitoring {
                enabled: true,
                alert_threshold_pct: 80.0,
                critical_threshold_pct: 90.0,
                check_interval_hours: 6.0,
            },
        }
    }

    /// The object_store object of the seed file, as text.
    fn seed_inner() -> String {
        let root: Value = serde_json::from_str(SEED).unwrap();
        root["quantconnect"]["object_store"].to_string()
    }

    fn problems(json: &str) -> Vec<String> {
        Settings::from_json(json).expect_err(json).problems
    }

    fn one_problem(json: &str) -> String {
        let problems = problems(json);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        problems.into_iter().next().unwrap()
    }

    #[test]
    fn seed_file_parses_to_expected_settings() {
        assert_eq!(Settings::from_json(SEED).unwrap(), seed_settings());
        assert!(seed_settings().validate().is_ok());
    }

    #[test]
    fn three_shapes_give_the_same_settings() {
        let inner = seed_inner();
        let wrapped = format!(r#"{{"object_store": {inner}}}"#);
        assert_eq!(Settings::from_json(&inner).unwrap(), seed_settings());
        assert_eq!(Settings::from_json(&wrapped).unwrap(), seed_settings());
    }

    #[test]
    fn unrelated_sections_are_ignored() {
        let json = format!(
            r#"{{
                "risk": {{"max_drawdown": 0.1, "anything": [1, 2, 3]}},
                "llm": "claude",
                "quantconnect": {{"api_token": "x", "nodes": {{"backtest": "B8-16"}}, "object_store": {}}}
            }}"#,
            seed_inner()
        );
        assert_eq!(Settings::from_json(&json).unwrap(), seed_settings());
    }

    #[test]
    fn quantconnect_without_object_store_is_a_problem() {
        let p = one_problem(r#"{"quantconnect": {"api_token": "x"}, "object_store": {}}"#);
        assert!(p.starts_with("quantconnect.object_store: missing"), "{p}");
        let p = one_problem(r#"{"quantconnect": {"object_store": [1]}}"#);
        assert_eq!(p, "quantconnect.object_store: expected an object, got [1]");
        let p = one_problem(r#"{"quantconnect": 3}"#);
        assert_eq!(p, "quantconnect: expected an object, got 3");
        let p = one_problem(r#"[{"tier": "5GB"}]"#);
        assert!(p.starts_with("expected a JSON object at the top level"), "{p}");
        // An "object_store" that is not an object is just an unknown field of the settings object.
        let p = one_problem(r#"{"object_store": "5GB"}"#);
        assert!(p.starts_with("object_store: unknown field (known: enabled, tier, "), "{p}");
    }

    #[test]
    fn empty_object_gives_the_defaults() {
        let defaults = Settings::default();
        assert_eq!(Settings::from_json("{}").unwrap(), defaults);
        assert_eq!(Settings::from_json(r#"{"object_store": {}}"#).unwrap(), defaults);
        assert_eq!(Settings::from_json(r#"{"quantconnect": {"object_store": {}}}"#).unwrap(), defaults);
        assert_eq!(defaults.tier, Tier::Gb5);
        assert_eq!((defaults.max_storage_gb, defaults.max_files, defaults.max_file_size_mb), (5.0, 50_000, 45.0));
        assert!(defaults.enabled && defaults.compression_enabled);
        assert_eq!((defaults.compression_threshold_kb, defaults.compression_level), (100.0, 1));
        assert_eq!(defaults.auto_cleanup, AutoCleanup { enabled: true, keep_days: 90, archive_before_delete: true });
        assert_eq!(
            defaults.usage_monitoring,
            UsageMonitoring {
                enabled: true,
                alert_threshold_pct: 80.0,
                critical_threshold_pct: 90.0,
                check_interval_hours: 6.0
            }
        );
        assert!(defaults.storage_allocation.is_empty());
        assert!(defaults.validate().is_ok());
    }

    #[test]
    fn tier_presets_fill_in_and_explicit_fields_override() {
        let s = Settings::from_json(r#"{"tier": "2GB"}"#).unwrap();
        assert_eq!((s.tier, s.max_storage_gb, s.max_files, s.max_file_size_mb), (Tier::Gb2, 2.0, 20_000, 45.0));
        assert_eq!(s, Settings::for_tier(Tier::Gb2));

        let s = Settings::from_json(r#"{"tier": "10GB", "max_files": 7, "max_file_size_mb": 10}"#).unwrap();
        assert_eq!((s.tier, s.max_storage_gb, s.max_files, s.max_file_size_mb), (Tier::Gb10, 10.0, 7, 10.0));

        let s = Settings::from_json(r#"{"tier": "free"}"#).unwrap();
        assert_eq!(s.max_storage_gb, 50.0 / 1024.0);
        assert_eq!(s.max_storage_bytes(), 50 * 1024 * 1024);
        assert_eq!(s.max_files, 1_000);

        let s = Settings::from_json(r#"{"tier": "free", "max_storage_gb": 3}"#).unwrap();
        assert_eq!((s.tier, s.max_storage_gb, s.max_files), (Tier::Free, 3.0, 1_000));
    }

    #[test]
    fn every_tier_name_is_accepted_in_any_case() {
        let cases = [
            ("free", Tier::Free),
            ("FREE", Tier::Free),
            ("Free", Tier::Free),
            ("50MB", Tier::Free),
            ("50mb", Tier::Free),
            ("2GB", Tier::Gb2),
            ("2gb", Tier::Gb2),
            ("5GB", Tier::Gb5),
            ("5Gb", Tier::Gb5),
            ("10GB", Tier::Gb10),
            ("10gB", Tier::Gb10),
        ];
        for (name, tier) in cases {
            assert_eq!(Tier::parse(name), Some(tier), "{name}");
            let s = Settings::from_json(&format!(r#"{{"tier": "{name}"}}"#)).unwrap();
            assert_eq!(s.tier, tier, "{name}");
            assert_eq!(s.max_storage_gb, tier.preset().max_storage_gb);
        }
        for tier in Tier::ALL {
            assert_eq!(Tier::parse(tier.name()), Some(tier));
            assert_eq!(tier.to_string(), tier.name());
        }
        for bad in ["", "5 GB", "5", "20GB", "gb5", "premium"] {
            assert_eq!(Tier::parse(bad), None, "{bad}");
        }
        let p = one_problem(r#"{"tier": "20GB"}"#);
        assert_eq!(p, r#"tier: expected one of "free", "50MB", "2GB", "5GB", "10GB" (any case), got "20GB""#);
        let p = one_problem(r#"{"tier": 5}"#);
        assert!(p.starts_with("tier: expected one of") && p.ends_with("got 5"), "{p}");
    }

    #[test]
    fn presets_table() {
        let rows = [
            (Tier::Free, 50.0 / 1024.0, 1_000),
            (Tier::Gb2, 2.0, 20_000),
            (Tier::Gb5, 5.0, 50_000),
            (Tier::Gb10, 10.0, 100_000),
        ];
        for (tier, gb, files) in rows {
            assert_eq!(tier.preset(), TierPreset { max_storage_gb: gb, max_files: files, max_file_size_mb: 45.0 });
            assert!(Settings::for_tier(tier).validate().is_ok(), "{tier}");
        }
    }

    #[test]
    fn unknown_fields_are_named_with_their_path() {
        let p = one_problem(r#"{"tierr": "5GB"}"#);
        assert!(p.starts_with("tierr: unknown field (known: enabled, tier, max_storage_gb, "), "{p}");
        assert!(p.ends_with("storage_allocation, usage_monitoring)"), "{p}");

        let p = one_problem(r#"{"auto_cleanup": {"keep_dayz": 30}}"#);
        assert_eq!(p, "auto_cleanup.keep_dayz: unknown field (known: enabled, keep_days, archive_before_delete)");

        let p = one_problem(r#"{"quantconnect": {"object_store": {"usage_monitoring": {"interval": 6}}}}"#);
        assert_eq!(
            p,
            "usage_monitoring.interval: unknown field (known: enabled, alert_threshold_pct, \
             critical_threshold_pct, check_interval_hours)"
        );
    }

    #[test]
    fn several_problems_come_in_one_error() {
        let json = r#"{
            "quantconnect": {"object_store": {
                "max_storage_gb": 5,
                "max_file_size_mb": -45,
                "colour": "blue",
                "compression_enabled": "yes",
                "storage_allocation": {"trading_state": 3, "ml_models": 2.5},
                "usage_monitoring": {"alert_threshold_pct": 95, "critical_threshold_pct": 90}
            }}
        }"#;
        let err = Settings::from_json(json).unwrap_err();
        assert_eq!(err.origin, None);
        assert_eq!(err.problems.len(), 5, "{:#?}", err.problems);
        let find = |field: &str| {
            err.problems
                .iter()
                .find(|p| p.starts_with(field))
                .unwrap_or_else(|| panic!("no problem about {field}: {:#?}", err.problems))
        };
        assert!(find("colour: unknown field").contains("known: enabled"));
        assert_eq!(find("compression_enabled"), r#"compression_enabled: expected true or false, got "yes""#);
        assert_eq!(find("max_file_size_mb"), "max_file_size_mb: must be a positive number, got -45");
        assert_eq!(
            find("storage_allocation"),
            "storage_allocation: categories are allocated 5.5 GB in total, 110% of max_storage_gb (5 GB); \
             the allocations may not add up to more than the store"
        );
        assert_eq!(
            find("usage_monitoring"),
            "usage_monitoring: thresholds out of order: alert_threshold_pct (95) must be below critical_threshold_pct (90)"
        );
        let shown = err.to_string();
        assert!(shown.starts_with("settings: 5 problems:\n  - "), "{shown}");
        assert_eq!(shown.lines().count(), 6);
        for problem in &err.problems {
            assert!(shown.contains(&format!("\n  - {problem}")));
        }
    }

    #[test]
    fn wrong_types_are_reported() {
        let p = one_problem(r#"{"usage_monitoring": {"alert_threshold_pct": "80"}}"#);
        assert_eq!(p, r#"usage_monitoring.alert_threshold_pct: expected a number, got "80""#);
        assert_eq!(one_problem(r#"{"enabled": 1}"#), "enabled: expected true or false, got 1");
        assert_eq!(one_problem(r#"{"auto_cleanup": [true]}"#), "auto_cleanup: expected an object, got [true]");
        assert_eq!(
            one_problem(r#"{"storage_allocation": [0.5]}"#),
            "storage_allocation: expected an object of GB by category name, got [0.5]"
        );
        assert_eq!(
            one_problem(r#"{"storage_allocation": {"llm_cache": "0.3"}}"#),
            r#"storage_allocation.llm_cache: expected a number of GB, got "0.3""#
        );
        assert_eq!(one_problem(r#"{"max_files": "50000"}"#), r#"max_files: expected an integer, got "50000""#);
        assert_eq!(one_problem(r#"{"max_files": 2.5}"#), "max_files: must be a positive integer, got 2.5");
        assert_eq!(one_problem(r#"{"max_files": -3}"#), "max_files: must be a positive integer, got -3");
        assert_eq!(one_problem(r#"{"max_files": 0}"#), "max_files: must be a positive integer, got 0");
        let p = one_problem(r#"{"auto_cleanup": {"keep_days": 1.5}}"#);
        assert_eq!(p, "auto_cleanup.keep_days: must be an integer from 0 to 36500, got 1.5");
        let p = one_problem(r#"{"auto_cleanup": {"keep_days": -1}}"#);
        assert_eq!(p, "auto_cleanup.keep_days: must be an integer from 0 to 36500, got -1");
        let p = one_problem(r#"{"auto_cleanup": {"keep_days": 36501}}"#);
        assert_eq!(p, "auto_cleanup.keep_days: must be an integer from 0 to 36500, got 36501");
        let p = one_problem(r#"{"compression_level": 2.5}"#);
        assert!(p.starts_with("compression_level: must be a zstd level") && p.ends_with("got 2.5"), "{p}");
        // Integral floats are integers.
        let s = Settings::from_json(r#"{"max_files": 1e3, "auto_cleanup": {"keep_days": 30.0}}"#).unwrap();
        assert_eq!((s.max_files, s.auto_cleanup.keep_days), (1_000, 30));
    }

    #[test]
    fn a_type_problem_skips_the_checks_that_depend_on_it() {
        // The alert threshold keeps its default (80), above 50: no "out of order" about a value
        // the file does not hold.
        let p = one_problem(r#"{"usage_monitoring": {"alert_threshold_pct": "95", "critical_threshold_pct": 50}}"#);
        assert!(p.starts_with("usage_monitoring.alert_threshold_pct: expected a number"), "{p}");
        // Same for the store size against the largest object and the allocations.
        let p =
            one_problem(r#"{"max_storage_gb": "1", "max_file_size_mb": 4000, "storage_allocation": {"ml_models": 4}}"#);
        assert!(p.starts_with("max_storage_gb: expected a number"), "{p}");
        // An unknown tier leaves the store size unknown too.
        let p = one_problem(r#"{"tier": "1GB", "storage_allocation": {"ml_models": 4.5}}"#);
        assert!(p.starts_with("tier: expected one of"), "{p}");
        // ... but not when the size is given.
        let problems = problems(r#"{"tier": "1GB", "max_storage_gb": 1, "storage_allocation": {"ml_models": 4.5}}"#);
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(problems[1].starts_with("storage_allocation: categories are allocated 4.5 GB in total, 450%"));
    }

    #[test]
    fn value_checks() {
        assert_eq!(one_problem(r#"{"max_storage_gb": -5}"#), "max_storage_gb: must be a positive number, got -5");
        assert_eq!(one_problem(r#"{"max_storage_gb": 0}"#), "max_storage_gb: must be a positive number, got 0");
        assert_eq!(
            one_problem(r#"{"tier": "free", "max_file_size_mb": 60}"#),
            "max_file_size_mb: 60 MB is larger than the whole store (max_storage_gb 0.048828125 GB = 50 MB)"
        );
        assert!(Settings::from_json(r#"{"max_storage_gb": 1, "max_file_size_mb": 1024}"#).is_ok());
        let p = one_problem(r#"{"compression_threshold_kb": -1}"#);
        assert_eq!(p, "compression_threshold_kb: must be a number >= 0 (0 compresses every object), got -1");
        let s = Settings::from_json(r#"{"compression_threshold_kb": 0}"#).unwrap();
        assert_eq!(s.compression_threshold_bytes(), 0);
        for level in [-7, -1, 1, 3, 19] {
            let s = Settings::from_json(&format!(r#"{{"compression_level": {level}}}"#)).unwrap();
            assert_eq!(s.compression_level, level);
        }
        for level in ["-8", "0", "20", "1e12"] {
            let p = one_problem(&format!(r#"{{"compression_level": {level}}}"#));
            assert!(p.starts_with("compression_level: must be a zstd level, an integer in 1..=19 or -7..=-1"), "{p}");
        }
        let s = Settings::from_json(r#"{"auto_cleanup": {"keep_days": 0}}"#).unwrap();
        assert_eq!(s.auto_cleanup.keep_days, 0);
        let p = one_problem(r#"{"usage_monitoring": {"critical_threshold_pct": 120}}"#);
        assert_eq!(p, "usage_monitoring.critical_threshold_pct: must be a percentage above 0 and at most 100, got 120");
        let p = one_problem(r#"{"usage_monitoring": {"alert_threshold_pct": 0}}"#);
        assert!(p.starts_with("usage_monitoring.alert_threshold_pct: must be a percentage"), "{p}");
        let p = one_problem(r#"{"usage_monitoring": {"alert_threshold_pct": 90}}"#);
        assert!(p.starts_with("usage_monitoring: thresholds out of order"), "{p}");
        assert!(Settings::from_json(r#"{"usage_monitoring": {"critical_threshold_pct": 100}}"#).is_ok());
        let p = one_problem(r#"{"usage_monitoring": {"check_interval_hours": 0}}"#);
        assert_eq!(p, "usage_monitoring.check_interval_hours: must be a positive number of hours, got 0");
    }

    #[test]
    fn storage_allocation_keys_and_values() {
        let s = Settings::from_json(r#"{"storage_allocation": {"fx-rates": 0.25, "llm_cache": 0}}"#).unwrap();
        assert_eq!(s.storage_allocation.get(&Category::Custom("fx-rates".into())), Some(&0.25));
        assert_eq!(s.allocation_bytes(&Category::LlmCache), Some(0));

        let p = one_problem(r#"{"storage_allocation": {"Bad Name": 0.5}}"#);
        assert!(p.starts_with(r#"storage_allocation: invalid category name "Bad Name": "#), "{p}");
        assert!(p.contains("trading_state, options_greeks"), "{p}");

        let p = one_problem(r#"{"storage_allocation": {"ml_models": -1}}"#);
        assert_eq!(p, "storage_allocation.ml_models: must be a number of GB >= 0, got -1");

        // Exactly the store is fine; a hair above the float noise is not.
        assert!(
            Settings::from_json(r#"{"max_storage_gb": 1, "storage_allocation": {"a": 0.7, "b": 0.2, "c": 0.1}}"#)
                .is_ok()
        );
        let p = one_problem(r#"{"max_storage_gb": 1, "storage_allocation": {"a": 0.7, "b": 0.2, "c": 0.1001}}"#);
        assert!(p.starts_with("storage_allocation: categories are allocated 1.0001 GB in total, 100% of"), "{p}");
    }

    #[test]
    fn json_syntax_error_is_one_problem_with_its_position() {
        let err = Settings::from_json("{\n  \"tier\": \"5GB\",\n}").unwrap_err();
        assert_eq!(err.problems.len(), 1);
        let p = &err.problems[0];
        assert!(p.starts_with("invalid JSON: ") && p.contains("line 3 column 1"), "{p}");
        assert!(err.to_string().starts_with("settings: invalid JSON: "));
        assert!(Settings::from_json("").is_err());
    }

    #[test]
    fn null_means_default() {
        let json = r#"{
            "enabled": null, "tier": null, "max_storage_gb": null, "max_files": null, "max_file_size_mb": null,
            "compression_enabled": null, "compression_threshold_kb": null, "compression_level": null,
            "auto_cleanup": {"enabled": null, "keep_days": null, "archive_before_delete": null},
            "storage_allocation": {"llm_cache": null},
            "usage_monitoring": {"enabled": null, "alert_threshold_pct": null, "critical_threshold_pct": null,
                                 "check_interval_hours": null}
        }"#;
        assert_eq!(Settings::from_json(json).unwrap(), Settings::default());
        let all_null = r#"{"auto_cleanup": null, "storage_allocation": null, "usage_monitoring": null}"#;
        assert_eq!(Settings::from_json(all_null).unwrap(), Settings::default());
        let s = Settings::from_json(r#"{"tier": "2GB", "max_storage_gb": null}"#).unwrap();
        assert_eq!(s.max_storage_gb, 2.0);
    }

    #[test]
    fn validate_checks_hand_built_settings() {
        assert_eq!(Settings::default().validate(), Ok(()));
        let mut s = seed_settings();
        s.max_storage_gb = f64::NAN;
        s.max_files = 0;
        s.compression_level = 0;
        s.auto_cleanup.keep_days = 40_000;
        s.storage_allocation.insert(Category::Custom("llm_cache".into()), 0.1);
        s.storage_allocation.insert(Category::Custom("Not/Valid".into()), 0.1);
        s.usage_monitoring.alert_threshold_pct = 95.0;
        s.usage_monitoring.check_interval_hours = f64::INFINITY;
        let err = s.validate().unwrap_err();
        let expected = [
            "max_storage_gb: must be a positive number, got NaN",
            "max_files: must be a positive integer, got 0",
            "compression_level: must be a zstd level",
            "auto_cleanup.keep_days: must be an integer from 0 to 36500, got 40000",
            "storage_allocation: invalid category name \"Not/Valid\"",
            "storage_allocation: invalid category name \"llm_cache\"",
            "usage_monitoring: thresholds out of order: alert_threshold_pct (95)",
            "usage_monitoring.check_interval_hours: must be a positive number of hours, got inf",
        ];
        assert_eq!(err.problems.len(), expected.len(), "{:#?}", err.problems);
        for (problem, start) in err.problems.iter().zip(expected) {
            assert!(problem.starts_with(start), "{problem:?} does not start with {start:?}");
        }

        let mut s = Settings::default();
        s.storage_allocation.insert(Category::MlModels, 6.0);
        s.max_file_size_mb = 6000.0;
        let err = s.validate().unwrap_err();
        assert_eq!(err.problems.len(), 2, "{:#?}", err.problems);
        assert_eq!(
            err.problems[0],
            "max_file_size_mb: 6000 MB is larger than the whole store (max_storage_gb 5 GB = 5120 MB)"
        );
        assert!(err.problems[1].starts_with("storage_allocation: categories are allocated 6 GB in total, 120% of"));
    }

    #[test]
    fn error_display() {
        let one = SettingsError { origin: None, problems: vec!["a: b".into()] };
        assert_eq!(one.to_string(), "settings: a: b");
        let three = SettingsError {
            origin: Some("config/settings.json".into()),
            problems: vec!["a".into(), "b".into(), "c".into()],
        };
        assert_eq!(three.to_string(), "config/settings.json: 3 problems:\n  - a\n  - b\n  - c");
    }

    #[test]
    fn from_file_reads_and_names_the_file() {
        let dir = std::env::temp_dir().join(format!("settings-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();

        let missing = dir.join("missing.json");
        let err = Settings::from_file(&missing).unwrap_err();
        let path = missing.display().to_string();
        assert_eq!(err.origin.as_deref(), Some(path.as_str()));
        assert_eq!(err.problems.len(), 1);
        assert!(err.problems[0].contains(&path), "{}", err.problems[0]);
        assert!(err.problems[0].contains("check that the path is right"), "{}", err.problems[0]);
        assert!(err.to_string().starts_with(&format!("{path}: cannot read settings file {path}: ")));

        let good = dir.join("settings.json");
        std::fs::write(&good, format!("\u{feff}{SEED}")).unwrap();
        assert_eq!(Settings::from_file(&good).unwrap(), seed_settings());

        let bad = dir.join("bad.json");
        std::fs::write(&bad, r#"{"max_files": -1, "tier": "6GB"}"#).unwrap();
        let err = Settings::from_file(&bad).unwrap_err();
        assert_eq!(err.problems.len(), 2);
        assert!(err.to_string().starts_with(&format!("{}: 2 problems:\n", bad.display())));

        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn to_json_round_trips() {
        let mut custom = Settings::for_tier(Tier::Free);
        custom.enabled = false;
        custom.compression_enabled = false;
        custom.compression_threshold_kb = 0.0;
        custom.compression_level = -3;
        custom.auto_cleanup = AutoCleanup { enabled: false, keep_days: 0, archive_before_delete: false };
        custom.storage_allocation.insert(Category::Custom("fx-rates".into()), 0.01);
        custom.storage_allocation.insert(Category::LlmCache, 0.03);
        custom.usage_monitoring = UsageMonitoring {
            enabled: false,
            alert_threshold_pct: 50.5,
            critical_threshold_pct: 99.9,
            check_interval_hours: 0.25,
        };
        for settings in [seed_settings(), Settings::default(), custom] {
            let value = settings.to_json();
            let object = value.as_object().unwrap();
            assert_eq!(object.len(), SETTINGS_FIELDS.len());
            for field in SETTINGS_FIELDS {
                assert!(object.contains_key(field), "{field} missing");
            }
            assert_eq!(object["auto_cleanup"].as_object().unwrap().len(), AUTO_CLEANUP_FIELDS.len());
            assert_eq!(object["usage_monitoring"].as_object().unwrap().len(), USAGE_MONITORING_FIELDS.len());
            assert_eq!(Settings::from_json(&value.to_string()).unwrap(), settings);
            assert_eq!(Settings::from_json(&serde_json::to_string_pretty(&value).unwrap()).unwrap(), settings);
        }
        let value = seed_settings().to_json();
        assert_eq!(value["tier"], "5GB");
        assert_eq!(value["storage_allocation"]["trading_state"], 0.5);
        assert_eq!(value["max_files"], 50_000);
    }

    #[test]
    fn byte_helpers() {
        let s = Settings::from_json(SEED).unwrap();
        assert_eq!(s.max_storage_bytes(), 5 * 1024 * 1024 * 1024);
        assert_eq!(s.max_file_size_bytes(), 45 * 1024 * 1024);
        assert_eq!(s.compression_threshold_bytes(), 100 * 1024);
        assert_eq!(s.allocation_bytes(&Category::TradingState), Some(512 * 1024 * 1024));
        assert_eq!(s.allocation_bytes(&Category::OptionsGreeks), Some(1536 * 1024 * 1024));
        // 0.3 GB is not a whole number of bytes: rounded down.
        assert_eq!(s.allocation_bytes(&Category::LlmCache), Some((0.3 * 1024.0 * 1024.0 * 1024.0_f64).floor() as u64));
        assert_eq!(s.allocation_fraction(&Category::TradingState), Some(0.1));
        assert_eq!(s.allocation_fraction(&Category::MlModels), Some(0.3));
        let other = Category::Custom("fx-rates".into());
        assert_eq!(s.allocation_bytes(&other), None);
        assert_eq!(s.allocation_fraction(&other), None);
        let sum: f64 = Category::BUILTIN.iter().filter_map(|c| s.allocation_fraction(c)).sum();
        assert!((sum - 1.0).abs() < 1e-12, "{sum}");

        let odd = Settings {
            max_storage_gb: -1.0,
            max_file_size_mb: f64::NAN,
            compression_threshold_kb: 1e300,
            ..Settings::default()
        };
        assert_eq!((odd.max_storage_bytes(), odd.max_file_size_bytes()), (0, 0));
        assert_eq!(odd.compression_threshold_bytes(), u64::MAX);
    }
}
