//! The defaults: [`Settings::for_tier`], and `Default` for [`Settings`], [`AutoCleanup`] and
//! [`UsageMonitoring`].
//!
//! Invariants (the single-source rule):
//! - each default is written once in code: the three limits in [`Tier::preset`], the default tier
//!   by `#[default]` on [`Tier`], each section's fields in its `Default` impl here, and the other
//!   top-level fields in [`Settings::for_tier`] here;
//! - `Settings::default()` is `Settings::for_tier(Tier::default())`, and the reader starts from
//!   `Settings::for_tier` of the file's tier, so a missing or `null` field gets exactly these values.
//!
//! `single_source.rs` checks that the defaults, the default tier's preset, the reader on `{}` and
//! the documentation all agree.

use std::collections::BTreeMap;

use super::{AutoCleanup, Settings, Tier, TierPreset, UsageMonitoring};

impl Settings {
    /// The defaults with the limits of `tier`: what a file holding only `{"tier": ...}` gives.
    pub fn for_tier(tier: Tier) -> Settings {
        let TierPreset { max_storage_gb, max_files, max_file_size_mb } = tier.preset();
        Settings {
            enabled: true,
            tier,
            max_storage_gb,
            max_files,
            max_file_size_mb,
            compression_enabled: true,
            compression_threshold_kb: 100.0,
            compression_level: 1,
            auto_cleanup: AutoCleanup::default(),
            storage_allocation: BTreeMap::new(),
            usage_monitoring: UsageMonitoring::default(),
        }
    }
}

impl Default for Settings {
    /// The 5 GB tier with every default.
    fn default() -> Settings {
        Settings::for_tier(Tier::default())
    }
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
