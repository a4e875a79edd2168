//! The settings.json reader ([`Settings::from_json`], [`Settings::from_file`]) and writer
//! ([`Settings::to_json`]).
//!
//! Invariants:
//! - the reader states no default: it starts from `Settings::for_tier` of the file's tier (the
//!   default tier when the file names none or a bad one) and overwrites only the fields the file
//!   gives, so a missing or `null` field keeps its default;
//! - it never stops at the first problem: a field with a wrong type or an out-of-range integer
//!   keeps its default, is reported, and is marked untrusted so that `validate.rs` compares
//!   nothing with it; then the value checks of `validate.rs` run on the result;
//! - the field names it knows are the lists in `mod.rs`, and `to_json` writes every one of them,
//!   so that `from_json(to_json(s)) == s` for any valid settings.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use serde_json::{Map, Value, json};

use super::tiers::PRESET_FIELDS;
use super::validate::{compression_level_rule, keep_days_rule, max_files_rule};
use super::{AUTO_CLEANUP_FIELDS, SETTINGS_FIELDS, Settings, SettingsError, Tier, USAGE_MONITORING_FIELDS};
use crate::category::Category;

impl Settings {
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
                    for limit in PRESET_FIELDS {
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
        self.integer(object, "", "max_files", &mut s.max_files, max_files_rule);
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
