//! The `objstore` command in managed mode (the manager's categories, quotas, expiry, metadata and
//! compression), on local disk and on S3: every key command, `meta`, `cleanup [--dry-run]`, and
//! the errors and exit codes that belong to the manager.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod cli_support;

use std::time::Duration;

use cli_support::{Backend, Env, json_lines, noise, parse_json};
use predicates::prelude::*;
use serde_json::json;

both!(
    a_key_saved_with_a_category_is_read_back_by_its_key,
    metadata_compression_and_expiry_travel_with_the_object,
    quotas_and_sizes_are_limits_with_exit_5,
    expired_objects_vanish_and_cleanup_removes_them,
    an_interrupted_move_is_cleaned_up,
    the_managers_errors_have_their_codes,
    path_in_managed_mode_is_the_stored_frame,
);

fn time(v: &serde_json::Value) -> std::time::SystemTime {
    humantime::parse_rfc3339(v.as_str().unwrap()).unwrap()
}

fn a_key_saved_with_a_category_is_read_back_by_its_key(backend: Backend) {
    let env = Env::new(backend);
    let settings = env.settings(r#"{"tier": "5GB"}"#);
    let s = settings.to_str().unwrap();
    env.cmd()
        .args(["--settings", s, "put", "--category", "trading_state", "state/2025-01-15"])
        .write_stdin(r#"{"equity": 101250.5}"#)
        .assert()
        .success()
        .stdout("");
    env.cmd().args(["--settings", s, "get", "state/2025-01-15"]).assert().success().stdout(r#"{"equity": 101250.5}"#);
    env.cmd().args(["--settings", s, "cat", "state/2025-01-15"]).assert().success().stdout(r#"{"equity": 101250.5}"#);
    env.cmd().args(["--settings", s, "exists", "state/2025-01-15"]).assert().code(0);
    env.cmd().args(["--settings", s, "exists", "state/other"]).assert().code(1).stderr("");
    // OBJSTORE_SETTINGS is the same as --settings; --managed uses the default settings.
    env.cmd().env("OBJSTORE_SETTINGS", &settings).args(["get", "state/2025-01-15"]).assert().success();
    env.cmd().args(["--managed", "get", "state/2025-01-15"]).assert().success();
    // A manager flag without managed mode saves through the manager with the default settings.
    env.cmd().args(["put", "--category", "llm_cache", "sentiment/abc"]).write_stdin("positive").assert().success();
    env.cmd().args(["--managed", "put", "plain-default"]).write_stdin("x").assert().success();
    let out = env.cmd().args(["--managed", "get", "sentiment/abc", "-o", "out.txt"]).assert().success();
    out.stdout("");
    assert_eq!(std::fs::read_to_string(env.dir.path().join("out.txt")).unwrap(), "positive");
    // Listings: keys of every category, sorted; one category; long form with category and expiry.
    env.cmd().args(["--managed", "ls"]).assert().success().stdout("plain-default\nsentiment/abc\nstate/2025-01-15\n");
    env.cmd().args(["--managed", "ls", "s"]).assert().success().stdout("sentiment/abc\nstate/2025-01-15\n");
    env.cmd().args(["ls", "--category", "llm_cache"]).assert().success().stdout("sentiment/abc\n");
    env.cmd().args(["ls", "--category", "ml_models"]).assert().success().stdout("");
    let long = env.stdout(&["--managed", "ls", "--long"]);
    let lines: Vec<&str> = long.lines().collect();
    assert_eq!(lines.len(), 4, "{long}");
    for column in ["SIZE", "STORED", "MODIFIED", "CATEGORY", "EXPIRES", "KEY"] {
        assert!(lines[0].contains(column), "{long}");
    }
    assert!(lines[1].contains("research_data") && lines[1].contains("never"), "{long}");
    assert!(lines[2].contains("llm_cache") && lines[2].ends_with("sentiment/abc"), "{long}");
    let key_col = lines[0].find("KEY").unwrap();
    assert!(lines[1..].iter().all(|l| l.len() > key_col && !l[key_col..].starts_with(' ')), "{long}");
    let rows = json_lines(&env.cmd().args(["--managed", "--json", "ls"]).assert().success().get_output().stdout);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1]["key"], "sentiment/abc");
    assert_eq!(rows[1]["category"], "llm_cache");
    assert_eq!(rows[1]["size"], 8);
    // In the store the manager keeps CATEGORY/KEY.
    env.cmd().args(["ls", "llm_cache/"]).assert().success().stdout("llm_cache/sentiment/abc\n");
    // rm finds the category itself.
    env.cmd().args(["--settings", s, "rm", "state/2025-01-15", "sentiment/abc"]).assert().success();
    env.cmd().args(["--managed", "ls"]).assert().success().stdout("plain-default\n");
    env.cmd().args(["--managed", "rm", "sentiment/abc"]).assert().code(3);
    env.cmd().args(["--managed", "rm", "-f", "sentiment/abc"]).assert().success();
}

fn metadata_compression_and_expiry_travel_with_the_object(backend: Backend) {
    let env = Env::new(backend);
    let saved = parse_json(
        &env.cmd()
            .args(["--json", "put", "--category", "backtest_results", "--expire-days", "365"])
            .args(["--meta", "sharpe=1.8", "--meta", "strategy=two_part_spread", "--meta", "live=true"])
            .args(["bt_2025_01_15", "-"])
            .write_stdin(r#"{"trades": 42}"#)
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert_eq!(saved["key"], "bt_2025_01_15");
    assert_eq!(saved["category"], "backtest_results");
    let meta = env.json(&["meta", "bt_2025_01_15"]);
    assert_eq!(meta["metadata"], json!({"sharpe": 1.8, "strategy": "two_part_spread", "live": true}));
    assert_eq!(meta["size"], 14);
    assert_eq!(meta["compressed"], false);
    assert!(meta["checksum"].as_str().unwrap().starts_with("xxh3-64:"));
    let lifetime = time(&meta["expires"]).duration_since(time(&meta["created"])).unwrap();
    assert_eq!(lifetime, Duration::from_secs(365 * 86_400));
    let human = env.stdout(&["meta", "bt_2025_01_15"]);
    for needle in
        ["category     backtest_results", "meta.sharpe  1.8", "meta.strategy  two_part_spread", "size", "expires"]
    {
        let needle = needle.split_whitespace().collect::<Vec<_>>();
        assert!(
            human.lines().any(|l| l.split_whitespace().collect::<Vec<_>>().starts_with(&needle)),
            "meta lacks {needle:?}:\n{human}"
        );
    }
    // Values above 100 KiB are compressed; --compress compresses any value that shrinks.
    let csv = "date,close\n2024-01-02,472.65\n".repeat(10_000);
    env.cmd().args(["put", "--category", "research_data", "big.csv"]).write_stdin(csv.clone()).assert().success();
    let big = env.json(&["meta", "big.csv"]);
    assert_eq!(big["compressed"], true);
    assert!(big["stored_size"].as_u64().unwrap() < big["size"].as_u64().unwrap() / 5, "{big}");
    env.cmd().args(["--managed", "get", "big.csv"]).assert().success().stdout(csv);
    env.cmd().args(["put", "--compress", "small"]).write_stdin("abc".repeat(100)).assert().success();
    assert_eq!(env.json(&["meta", "small"])["compressed"], true);
    env.cmd().args(["put", "--category", "research_data", "tiny"]).write_stdin("abc".repeat(100)).assert().success();
    assert_eq!(env.json(&["meta", "tiny"])["compressed"], false);
    env.cmd()
        .args(["meta", "nope"])
        .assert()
        .code(3)
        .stderr(predicate::str::starts_with("objstore: error: no object with key 'nope'"));
}

fn quotas_and_sizes_are_limits_with_exit_5(backend: Backend) {
    let env = Env::new(backend);
    let limits = r#"{"max_storage_gb": 0.01, "max_file_size_mb": 1, "max_files": 4,
        "storage_allocation": {"llm_cache": 0.001}}"#;
    let settings = env.settings(limits);
    let s = settings.to_str().unwrap();
    let mid = env.file("mid.bin", &noise(700_000, 1));
    env.cmd().args(["--settings", s, "put", "--category", "llm_cache", "a", mid.to_str().unwrap()]).assert().success();
    env.cmd()
        .args(["--settings", s, "put", "--category", "llm_cache", "b", mid.to_str().unwrap()])
        .assert()
        .code(5)
        .stdout("")
        .stderr(
            predicate::str::starts_with("objstore: error: Category quota exceeded: 'llm_cache'")
                .and(predicate::str::contains("hint: free room: `objstore --store "))
                .and(predicate::str::contains(" cleanup` removes expired objects"))
                .and(predicate::str::contains("storage_allocation.llm_cache")),
        );
    env.cmd().args(["--settings", s, "exists", "b"]).assert().code(1);
    // Too large, even compressed: refused, with what to do.
    let big = env.file("big.bin", &noise(1_500_000, 2));
    env.cmd().args(["--settings", s, "put", "big", big.to_str().unwrap()]).assert().code(5).stderr(
        predicate::str::contains("Object too large: 1.4MB > 1MB ('big')").and(predicate::str::contains("--compress")),
    );
    // The same size of compressible data fits, compressed.
    env.cmd().args(["--settings", s, "put", "zeros"]).write_stdin(vec![0u8; 1_500_000]).assert().success();
    // The file limit: 4 files.
    for key in ["f1", "f2"] {
        env.cmd().args(["--settings", s, "put", key]).write_stdin("x").assert().success();
    }
    env.cmd()
        .args(["--settings", s, "put", "f3"])
        .write_stdin("x")
        .assert()
        .code(5)
        .stderr(predicate::str::contains("File limit reached: 4/4 files"));
    // A plain put (no manager) knows nothing of the manager's quotas.
    env.cmd().args(["put", "f3"]).write_stdin("x").assert().success();
}

fn expired_objects_vanish_and_cleanup_removes_them(backend: Backend) {
    let env = Env::new(backend);
    // keep_days 0: an archived copy may be removed by the next cleanup.
    let settings =
        env.settings(r#"{"auto_cleanup": {"enabled": true, "keep_days": 0, "archive_before_delete": true}}"#);
    let s = settings.to_str().unwrap();
    env.cmd()
        .args(["--settings", s, "put", "--category", "llm_cache", "--expire-days", "0", "old"])
        .write_stdin("stale news")
        .assert()
        .success();
    env.cmd().args(["--settings", s, "put", "--expire-days", "30", "fresh"]).write_stdin("today").assert().success();
    env.cmd().args(["--settings", s, "exists", "old"]).assert().code(1);
    env.cmd().args(["--settings", s, "get", "old"]).assert().code(3);
    env.cmd().args(["--settings", s, "ls"]).assert().success().stdout("fresh\n");
    assert!(env.stdout(&["--settings", s, "ls", "--long"]).contains("fresh"));

    // The dry run lists the expired object and changes nothing.
    let dry = env.stdout(&["--settings", s, "cleanup", "--dry-run"]);
    assert!(dry.contains("expire") && dry.contains("llm_cache") && dry.contains("old"), "{dry}");
    assert!(
        dry.contains("would remove 1 expired object (archiving them first), 0 archived copies and 0 superseded"),
        "{dry}"
    );
    assert!(dry.contains("nothing was changed"), "{dry}");
    let plan = env.json(&["--settings", s, "cleanup", "--dry-run"]);
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["expired"], 1);
    assert_eq!(plan["archived"], 1);
    assert_eq!(plan["purged"], 0);
    assert_eq!(plan["objects"][0]["action"], "expire");
    assert_eq!(plan["objects"][0]["key"], "old");
    assert_eq!(plan["objects"][0]["store_key"], "llm_cache/old");
    assert!(plan["removed_bytes"].as_u64().unwrap() > 10);
    env.cmd().args(["ls", "llm_cache/"]).assert().success().stdout("llm_cache/old\n");

    // The cleanup archives and removes it.
    let done = env.json(&["--settings", s, "cleanup"]);
    assert_eq!(done["dry_run"], false);
    assert_eq!(done["expired"], 1);
    assert_eq!(done["archived"], 1);
    assert_eq!(done["purged"], 0);
    env.cmd().args(["ls", "llm_cache/"]).assert().success().stdout("");
    env.cmd().args(["ls", "_archive/"]).assert().success().stdout("_archive/llm_cache/old\n");

    // Its archived copy is past its retention (0 days): the next dry run and cleanup purge it.
    let plan = env.json(&["--settings", s, "cleanup", "--dry-run"]);
    assert_eq!((plan["expired"].clone(), plan["purged"].clone()), (json!(0), json!(1)));
    assert_eq!(plan["objects"][0]["action"], "purge");
    assert_eq!(plan["objects"][0]["store_key"], "_archive/llm_cache/old");
    let human = env.stdout(&["--settings", s, "cleanup"]);
    assert!(human.contains("removed 0 expired objects") && human.contains("1 archived copy"), "{human}");
    env.cmd().args(["ls", "_archive/"]).assert().success().stdout("");
    env.cmd()
        .args(["--settings", s, "cleanup", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("nothing to clean up"));
    env.cmd().args(["--settings", s, "get", "fresh"]).assert().success().stdout("today");
}

/// A move between categories whose delete of the old copy did not last (put back here by hand,
/// as a crash would leave it): the newer copy is what `get` and `ls` show, the dry run plans the
/// older one as "supersede", and the cleanup removes it.
fn an_interrupted_move_is_cleaned_up(backend: Backend) {
    let env = Env::new(backend);
    let old_frame = env.dir.path().join("old-frame");
    env.cmd().args(["put", "--category", "trading_state", "pos"]).write_stdin("qty 1").assert().success();
    env.cmd().args(["get", "trading_state/pos", "-o", old_frame.to_str().unwrap()]).assert().success();
    std::thread::sleep(Duration::from_millis(5));
    env.cmd().args(["put", "--category", "ml_models", "pos"]).write_stdin("qty 2").assert().success();
    env.cmd().args(["ls", "trading_state/"]).assert().success().stdout("");
    env.cmd().args(["put", "trading_state/pos", old_frame.to_str().unwrap()]).assert().success();

    env.cmd().args(["--managed", "get", "pos"]).assert().success().stdout("qty 2");
    env.cmd().args(["ls", "--category", "trading_state"]).assert().success().stdout("");
    let plan = env.json(&["--managed", "cleanup", "--dry-run"]);
    assert_eq!(
        (plan["expired"].clone(), plan["purged"].clone(), plan["superseded"].clone()),
        (json!(0), json!(0), json!(1))
    );
    assert_eq!(plan["objects"][0]["action"], "supersede");
    assert_eq!(plan["objects"][0]["store_key"], "trading_state/pos");
    let human = env.stdout(&["--managed", "cleanup"]);
    assert!(human.contains("removed 1 superseded copy"), "{human}");
    env.cmd().args(["ls", "trading_state/"]).assert().success().stdout("");
    env.cmd().args(["--managed", "get", "pos"]).assert().success().stdout("qty 2");
    env.cmd()
        .args(["--managed", "cleanup", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("nothing to clean up"));
}

fn the_managers_errors_have_their_codes(backend: Backend) {
    let env = Env::new(backend);
    // Invalid category: 4, with the names that work.
    env.cmd()
        .args(["put", "--category", "Bad Name", "k"])
        .write_stdin("x")
        .assert()
        .code(4)
        .stderr(predicate::str::contains("invalid category name").and(predicate::str::contains("trading_state")));
    env.cmd().args(["ls", "--category", "../x"]).assert().code(4);
    // Settings: every problem on one line, exit 9.
    let bad = env.settings(r#"{"max_storage_gb": -1, "auto_cleanup": {"keep_dayz": 3}}"#);
    let out = env.cmd().args(["--settings", bad.to_str().unwrap(), "ls"]).assert().code(9).get_output().stderr.clone();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains("max_storage_gb") && lines[0].contains("keep_dayz"), "{text}");
    assert!(lines[1].starts_with("hint: "), "{text}");
    env.cmd()
        .args(["--settings", "no-such-settings.json", "ls"])
        .assert()
        .code(9)
        .stderr(predicate::str::contains("no-such-settings.json"));
    let off = env.settings(r#"{"enabled": false}"#);
    env.cmd()
        .args(["--settings", off.to_str().unwrap(), "get", "k"])
        .assert()
        .code(9)
        .stderr(predicate::str::contains("disabled").and(predicate::str::contains("\"enabled\": true")));
    // A damaged object: 10, naming it and saying what to do.
    let mut frame = b"\x89OSM\r\n\x1a\n\x01\x00\x00\x00".to_vec();
    frame.extend_from_slice(&500u32.to_le_bytes());
    frame.extend_from_slice(b"{\"key\":");
    env.cmd().args(["put", "trading_state/broken"]).write_stdin(frame).assert().success();
    env.cmd()
        .args(["--managed", "get", "broken"])
        .assert()
        .code(10)
        .stderr(predicate::str::contains("'trading_state/broken' is corrupt").and(predicate::str::contains("hint: ")));
    // An object the manager did not write, in a category folder: 10 as well.
    env.cmd().args(["put", "ml_models/foreign"]).write_stdin("plain bytes").assert().success();
    env.cmd()
        .args(["--managed", "cat", "foreign"])
        .assert()
        .code(10)
        .stderr(predicate::str::contains("did not write").and(predicate::str::contains(" get ml_models/foreign`")));
    // stats names both as problems.
    let stats = env.json(&["--managed", "stats"]);
    let problems: Vec<&str> =
        stats["problems"].as_array().unwrap().iter().map(|p| p["key"].as_str().unwrap()).collect();
    assert_eq!(problems, ["ml_models/foreign", "trading_state/broken"]);
    // A plain object asked for in managed mode: not found, and the hint says what it is.
    env.cmd().args(["put", "notes.txt"]).write_stdin("plain").assert().success();
    env.cmd()
        .args(["--managed", "get", "notes.txt"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("'notes.txt' is a plain object").and(predicate::str::contains("plain mode")));
    env.cmd().args(["--managed", "put", "../x"]).write_stdin("x").assert().code(4);
}

fn path_in_managed_mode_is_the_stored_frame(backend: Backend) {
    let env = Env::new(backend);
    env.cmd().args(["put", "--category", "ml_models", "model.bin"]).write_stdin("weights").assert().success();
    let out = env.cmd().args(["--managed", "path", "model.bin"]).assert().success().get_output().clone();
    let path = String::from_utf8(out.stdout).unwrap();
    let path = std::path::Path::new(path.trim_end());
    assert!(path.ends_with("ml_models/model.bin"), "{path:?}");
    assert!(std::fs::read(path).unwrap().starts_with(b"\x89OSM"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("note: the file holds the stored frame"));
    let v = env.json(&["--managed", "path", "model.bin"]);
    assert_eq!(v["category"], "ml_models");
    assert_eq!(v["store_key"], "ml_models/model.bin");
    assert_eq!(v["framed"], true);
    env.cmd().args(["--managed", "path", "nope"]).assert().code(3);
}
