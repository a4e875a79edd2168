//! The settings' unit tests, moved unchanged from the single `settings.rs` they were written
//! for: the seed document, the three shapes, tiers, every kind of problem, `validate`,
//! `from_file`, `to_json` and the byte helpers, all through the public API of [`super`].
//!
//! Invariant: these tests state the expected values literally (the seed file, the tier table),
//! independently of the code under test; `single_source.rs` checks that the code and the
//! documentation agree with each other.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use serde_json::Value;

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
    let p = one_problem(r#"{"max_storage_gb": "1", "max_file_size_mb": 4000, "storage_allocation": {"ml_models": 4}}"#);
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
        Settings::from_json(r#"{"max_storage_gb": 1, "storage_allocation": {"a": 0.7, "b": 0.2, "c": 0.1}}"#).is_ok()
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
