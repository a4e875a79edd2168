//! The value checks: [`Settings::validate`], and the problems the reader adds to its own.
//!
//! Invariants:
//! - every check runs and reports, in the order of the fields, so one error lists every problem;
//!   a check that compares two fields runs only when both values are valid and came from the
//!   file or its defaults (not a default put in place of a value the reader refused);
//! - each problem starts with the dotted path of its field; the wording of a rule shared with the
//!   reader (`max_files`, `compression_level`, `keep_days`) is written once, in a `*_rule`
//!   function here;
//! - the limits of the rules are the public constants of the settings module
//!   ([`MAX_KEEP_DAYS`], [`MIN_COMPRESSION_LEVEL`], [`MAX_COMPRESSION_LEVEL`]).

use std::collections::BTreeSet;

use super::{MAX_COMPRESSION_LEVEL, MAX_KEEP_DAYS, MIN_COMPRESSION_LEVEL, Settings, SettingsError};

impl Settings {
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

    /// The value problems of these settings. Fields in `untrusted` hold a default put in place of
    /// a value that could not be read; checks that compare them with other fields are skipped.
    pub(super) fn problems(&self, untrusted: &BTreeSet<String>) -> Vec<String> {
        let trusted = |field: &str| !untrusted.contains(field);
        let mut problems = Vec::new();

        let storage_ok = is_positive(self.max_storage_gb);
        if !storage_ok {
            problems.push(format!("max_storage_gb: must be a positive number, got {}", num(self.max_storage_gb)));
        }
        if self.max_files == 0 {
            problems.push(format!("max_files: {}", max_files_rule("0")));
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

/// What is wrong with `max_files` (without the field's name).
pub(super) fn max_files_rule(got: &str) -> String {
    format!("must be a positive integer, got {got}")
}

/// What is wrong with `compression_level` (without the field's name).
pub(super) fn compression_level_rule(got: &str) -> String {
    format!(
        "must be a zstd level, an integer in 1..={MAX_COMPRESSION_LEVEL} or {MIN_COMPRESSION_LEVEL}..=-1, got {got}"
    )
}

/// What is wrong with `auto_cleanup.keep_days` (without the field's name).
pub(super) fn keep_days_rule(got: &str) -> String {
    format!("must be an integer from 0 to {MAX_KEEP_DAYS}, got {got}")
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
