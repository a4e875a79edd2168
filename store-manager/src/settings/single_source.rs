//! Tests of the single-source rule: each default is written once in code (`tiers.rs`,
//! `defaults.rs`), and everything that repeats it agrees with it, field by field:
//!
//! - `Settings::default()`, the default tier's preset, and the reader on a document that gives no
//!   field (`{}` in each of the three shapes, and empty sections);
//! - `Settings::for_tier` and the reader on `{"tier": ...}` for every tier: only the tier and its
//!   three limits differ from the defaults, and the limits are the tier's preset;
//! - the module documentation (the table of fields, the table of tiers) and each field's doc.
//!
//! Invariant: nothing here writes a default or a preset value itself; each expected value comes
//! from the code or the documentation under test, so these tests fail when one of them drifts,
//! and a failure names the field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use serde_json::Value;

use super::tiers::PRESET_FIELDS;
use super::*;

/// The settings module's source: the documentation the doc checks read.
const MOD_RS: &str = include_str!("mod.rs");

/// The sections of the settings object and their fields.
const SECTIONS: [(&str, &[&str]); 2] =
    [("auto_cleanup", &AUTO_CLEANUP_FIELDS), ("usage_monitoring", &USAGE_MONITORING_FIELDS)];

/// Every value of `settings` as (dotted path, JSON value), in the order of the field lists:
/// the fields of each section one by one, `storage_allocation` as one value.
fn leaves(settings: &Settings) -> Vec<(String, Value)> {
    let json = settings.to_json();
    let mut out = Vec::new();
    for field in SETTINGS_FIELDS {
        let value = json.get(field).unwrap_or_else(|| panic!("to_json has no {field}"));
        match SECTIONS.iter().find(|(section, _)| *section == field) {
            Some((_, names)) => {
                for name in *names {
                    let inner = value.get(name).unwrap_or_else(|| panic!("to_json has no {field}.{name}"));
                    out.push((format!("{field}.{name}"), inner.clone()));
                }
            }
            None => out.push((field.to_string(), value.clone())),
        }
    }
    out
}

/// The value at `path` in `leaves`.
fn leaf<'a>(leaves: &'a [(String, Value)], path: &str) -> &'a Value {
    &leaves.iter().find(|(p, _)| p == path).unwrap_or_else(|| panic!("no field {path}")).1
}

/// Equal JSON values, numbers compared by value (`100` and `100.0` are the same).
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// A preset's limits by field name, in the order of [`PRESET_FIELDS`].
fn preset_values(preset: TierPreset) -> [(&'static str, f64); 3] {
    let values = [preset.max_storage_gb, preset.max_files as f64, preset.max_file_size_mb];
    [(PRESET_FIELDS[0], values[0]), (PRESET_FIELDS[1], values[1]), (PRESET_FIELDS[2], values[2])]
}

#[test]
fn preset_fields_name_the_preset_limits() {
    // `PRESET_FIELDS[i]` is the settings field that a preset's i-th limit fills in: the names
    // the reader and these tests use agree with the struct's fields.
    for tier in Tier::ALL {
        let settings = Settings::for_tier(tier);
        let fields = leaves(&settings);
        let limits = [settings.max_storage_gb, settings.max_files as f64, settings.max_file_size_mb];
        for ((field, value), limit) in preset_values(tier.preset()).into_iter().zip(limits) {
            assert_eq!(value, limit, "{tier}: {field}: the preset and Settings::for_tier differ");
            assert_eq!(leaf(&fields, field).as_f64(), Some(limit), "{tier}: {field} names another field");
        }
    }
}

#[test]
fn default_preset_and_reader_agree_field_by_field() {
    let defaults = Settings::default();
    let default = leaves(&defaults);

    // The reader fills in every field the document leaves out with the same default.
    let documents = [
        "{}",
        r#"{"object_store": {}}"#,
        r#"{"quantconnect": {"object_store": {}}}"#,
        r#"{"auto_cleanup": {}, "storage_allocation": {}, "usage_monitoring": {}}"#,
    ];
    for document in documents {
        let read = leaves(&Settings::from_json(document).unwrap());
        for ((path, want), (read_path, got)) in default.iter().zip(&read) {
            assert_eq!(path, read_path);
            assert!(same(want, got), "{path}: Settings::default() has {want}, the reader on {document} gives {got}");
        }
    }

    // The default tier's preset is where the default limits come from.
    assert_eq!(defaults.tier, Tier::default());
    assert_eq!(leaf(&default, "tier"), Tier::default().name());
    for (field, value) in preset_values(Tier::default().preset()) {
        let got = leaf(&default, field);
        assert_eq!(
            got.as_f64(),
            Some(value),
            "{field}: Settings::default() has {got}, the default tier's preset {value}"
        );
    }

    // A section's default is the one the settings hold.
    assert_eq!(defaults.auto_cleanup, AutoCleanup::default());
    assert_eq!(defaults.usage_monitoring, UsageMonitoring::default());
}

#[test]
fn a_tier_changes_only_its_limits() {
    let default = leaves(&Settings::default());
    for tier in Tier::ALL {
        let for_tier = leaves(&Settings::for_tier(tier));
        let document = format!(r#"{{"tier": "{}"}}"#, tier.name());
        let read = leaves(&Settings::from_json(&document).unwrap());
        let preset = preset_values(tier.preset());
        for (((path, want), (_, got)), (_, read)) in default.iter().zip(&for_tier).zip(&read) {
            assert!(same(got, read), "{tier}: {path}: Settings::for_tier gives {got}, the reader on {document} {read}");
            if path == "tier" {
                assert_eq!(got, tier.name());
            } else if let Some((_, value)) = preset.iter().find(|(field, _)| field == path) {
                assert_eq!(got.as_f64(), Some(*value), "{tier}: {path} is {got}, its preset {value}");
            } else {
                assert!(
                    same(want, got),
                    "{tier}: {path} is {got} where the default is {want}: a tier sets only its limits"
                );
            }
        }
    }
}

/// The cells of the rows of a table in the module documentation whose first cell starts with
/// `first_cell_prefix`.
fn table_rows(first_cell_prefix: &str) -> Vec<Vec<&'static str>> {
    MOD_RS
        .lines()
        .filter_map(|line| line.strip_prefix("//! |"))
        .map(|row| row.trim().trim_end_matches('|').split('|').map(str::trim).collect::<Vec<_>>())
        .filter(|cells| cells[0].starts_with(first_cell_prefix))
        .collect()
}

/// The text between the first pair of backticks of `cell`.
fn code(cell: &str) -> &str {
    cell.split('`').nth(1).unwrap_or_else(|| panic!("no `code` in {cell:?}"))
}

#[test]
fn the_table_of_fields_states_the_defaults() {
    let default = leaves(&Settings::default());
    let rows = table_rows("`");
    let documented: Vec<&str> = rows.iter().map(|cells| code(cells[0])).collect();
    let fields: Vec<&str> = default.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(documented, fields, "the table of fields lists every field once, in order");
    for cells in rows {
        let (path, stated) = (code(cells[0]), cells[2]);
        if stated == "tier's" {
            assert!(PRESET_FIELDS.contains(&path), "{path}: documented as the tier's, but no preset sets it");
        } else {
            let stated: Value = serde_json::from_str(code(stated)).unwrap_or_else(|e| panic!("{path}: {stated}: {e}"));
            let value = leaf(&default, path);
            assert!(same(&stated, value), "{path}: the table of fields says {stated}, the default is {value}");
        }
    }
}

#[test]
fn the_table_of_tiers_states_the_presets() {
    let rows = table_rows("[`Tier::");
    assert_eq!(rows.len(), Tier::ALL.len(), "one row per tier");
    let mut names = BTreeSet::new();
    for (cells, tier) in rows.iter().zip(Tier::ALL) {
        assert_eq!(code(cells[0]), format!("Tier::{tier:?}"), "the table of tiers lists them smallest first");
        for name in cells[1].split(',') {
            let name: String = serde_json::from_str(code(name)).unwrap();
            assert_eq!(Tier::parse(&name), Some(tier), "{name} is documented as a name of {tier}");
            names.insert(name);
        }
        // "50/1024 (50 MB)", "1 000": the table's ways of writing numbers.
        let gb = cells[2].split(" (").next().unwrap();
        let gb = match gb.split_once('/') {
            Some((a, b)) => a.parse::<f64>().unwrap() / b.parse::<f64>().unwrap(),
            None => gb.parse().unwrap(),
        };
        let files: f64 = cells[3].replace(' ', "").parse().unwrap();
        let mb: f64 = cells[4].parse().unwrap();
        for ((field, value), stated) in preset_values(tier.preset()).into_iter().zip([gb, files, mb]) {
            assert_eq!(stated, value, "{tier}: {field}: the table of tiers says {stated}, the preset {value}");
        }
    }
    let accepted: BTreeSet<String> = Tier::ACCEPTED_NAMES.iter().map(|name| name.to_string()).collect();
    assert_eq!(names, accepted, "the table of tiers lists every accepted name");
}

#[test]
fn each_fields_doc_states_its_default() {
    let default = leaves(&Settings::default());
    let structs = [("Settings", ""), ("AutoCleanup", "auto_cleanup."), ("UsageMonitoring", "usage_monitoring.")];
    let mut checked = Vec::new();
    for (name, prefix) in structs {
        let start = format!("pub struct {name} {{");
        let body = MOD_RS.split_once(start.as_str()).unwrap_or_else(|| panic!("no {start}")).1;
        let body = body.split_once("\n}").unwrap().0;
        let mut doc = String::new();
        for line in body.lines().map(str::trim) {
            if let Some(text) = line.strip_prefix("///") {
                doc.push_str(text);
                continue;
            }
            let Some(field) = line.strip_prefix("pub ").and_then(|rest| rest.split(':').next()) else { continue };
            let path = format!("{prefix}{field}");
            let doc = std::mem::take(&mut doc);
            if SECTIONS.iter().any(|(section, _)| *section == path) {
                continue;
            }
            let value = leaf(&default, &path);
            let stated = doc.split_once("Default").unwrap_or_else(|| panic!("{path}: its doc has no Default")).1;
            let stated = stated.trim_start_matches(':').trim();
            if let Some(rest) = stated.strip_prefix("the tier's") {
                assert!(
                    PRESET_FIELDS.contains(&path.as_str()),
                    "{path}: documented as the tier's, but no preset sets it"
                );
                // "the tier's (45)": the same for every tier.
                if let Some(number) = rest.trim().strip_prefix('(').and_then(|r| r.split(')').next()) {
                    let number: f64 = number.parse().unwrap();
                    for tier in Tier::ALL {
                        let value = leaf(&leaves(&Settings::for_tier(tier)), &path).as_f64();
                        assert_eq!(
                            value,
                            Some(number),
                            "{path}: its doc says every tier's is {number}; {tier}'s is not"
                        );
                    }
                }
            } else {
                let word = stated.split_whitespace().next().unwrap_or_default();
                let word = word.trim_end_matches(['.', ',']).trim_matches(['[', ']', '`']);
                if let Some(tier) = word.strip_prefix("Tier::") {
                    assert_eq!(tier, format!("{:?}", Settings::default().tier), "{path}: its doc says Tier::{tier}");
                } else if word == "empty" {
                    assert_eq!(value, &Value::Object(Default::default()), "{path}: its doc says empty");
                } else {
                    let stated: Value = serde_json::from_str(word).unwrap_or_else(|e| panic!("{path}: {word}: {e}"));
                    assert!(same(&stated, value), "{path}: its doc says Default {stated}, the default is {value}");
                }
            }
            checked.push(path);
        }
    }
    checked.sort();
    let mut fields: Vec<&str> = default.iter().map(|(path, _)| path.as_str()).collect();
    fields.sort_unstable();
    assert_eq!(checked, fields, "every field's doc states its default");
}
