//! docs/FORMAT.md is right: an independent Python reader, written from that page alone, decodes
//! what the manager stored (raw and zstd payloads, JSON and bytes, metadata, expiry, archived
//! copies) and refuses a damaged object.
//!
//! Needs the Python that `cargo xtask test` installs (with zstandard and xxhash), named by
//! `OBJSTORE_TEST_PYTHON`; without it the test fails, saying how to get it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::{Value, json};
use store_manager::{Category, SaveOptions, Settings};

use common::{Env, noise, trading_json};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn python_reads_what_the_manager_wrote() {
    let python = std::env::var("OBJSTORE_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "this test runs the Python reader of docs/FORMAT.md: run `cargo xtask test` (it installs Python with \
             zstandard and xxhash), or set OBJSTORE_TEST_PYTHON to a python that has both"
        )
    });
    let env = Env::local().await;
    let root = env.url.strip_prefix("file://").unwrap().to_string();
    let manager = env.manager(Settings::default());

    let small = json!({"equity": 101_250.5, "note": "ünïcødé ✓", "positions": {"SPY": 10}});
    let large = trading_json(300 * 1024);
    let model = noise(50_000, 3);
    let mut expected: BTreeMap<String, (Vec<u8>, bool, Value)> = BTreeMap::new();
    let opts = SaveOptions::new(Category::BacktestResults)
        .expire_days(365)
        .with_metadata("strategy", "two_part_spread")
        .with_metadata("sharpe", 1.8)
        .with_metadata("tags", json!(["v2", {"nested": true}]));
    let o = manager.save("nested/backtest_2025_01_15", &small, opts).await.unwrap();
    expected.insert(
        "backtest_results/nested/backtest_2025_01_15".into(),
        (serde_json::to_vec(&small).unwrap(), o.compressed, json!(o)),
    );
    let o = manager.save("surface", &large, SaveOptions::new(Category::OptionsGreeks)).await.unwrap();
    assert!(o.compressed);
    expected.insert("options_greeks/surface".into(), (serde_json::to_vec(&large).unwrap(), true, json!(o)));
    let o = manager
        .save_bytes("model.bin", model.clone(), SaveOptions::new(Category::Custom("fx-models".into())))
        .await
        .unwrap();
    expected.insert("fx-models/model.bin".into(), (model.clone(), false, json!(o)));
    let compressible = b"weights ".repeat(4000);
    let o = manager
        .save_bytes("forced", compressible.clone(), SaveOptions::new(Category::MlModels).force_compress())
        .await
        .unwrap();
    assert!(o.compressed);
    expected.insert("ml_models/forced".into(), (compressible, true, json!(o)));
    // An expired object, archived by a cleanup.
    manager
        .save("old_state", &json!({"day": 1}), SaveOptions::new(Category::TradingState).expire_days(1))
        .await
        .unwrap();
    env.clock.advance_days(1);
    assert_eq!(manager.cleanup_expired().await.unwrap(), 1);
    // A damaged copy next to them.
    let mut damaged = env.store.read_bytes("options_greeks/surface").await.unwrap().to_vec();
    damaged.truncate(damaged.len() - 10);
    env.store.save_bytes("options_greeks/damaged", damaged).await.unwrap();

    let output = Command::new(&python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/format/read_objects.py"))
        .arg(&root)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(output.status.success(), "the reader failed: {}", String::from_utf8_lossy(&output.stderr));
    let lines: BTreeMap<String, Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["path"].as_str().unwrap().to_string(), v)
        })
        .collect();
    assert_eq!(lines.len(), expected.len() + 2, "{:#?}", lines.keys().collect::<Vec<_>>());

    for (path, (value, compressed, described)) in &expected {
        let line = &lines[path];
        assert!(line.get("error").is_none(), "{path}: {line}");
        assert_eq!(line["value_hex"], hex(value), "{path}: the value");
        assert_eq!(line["compressed"], *compressed, "{path}");
        let header = &line["header"];
        assert_eq!(header["key"], described["key"], "{path}");
        assert_eq!(header["category"], described["category"], "{path}");
        assert_eq!(header["size"], described["size"], "{path}");
        assert_eq!(header["checksum"], described["checksum"], "{path}");
        assert_eq!(header["metadata"], described["metadata"], "{path}");
    }
    let backtest = &lines["backtest_results/nested/backtest_2025_01_15"];
    assert_eq!(backtest["value_json"], small);
    assert_eq!(backtest["header"]["encoding"], "json");
    assert_eq!(backtest["header"]["created_ms"], 1_736_899_200_000u64);
    assert_eq!(backtest["header"]["expires_ms"], 1_736_899_200_000u64 + 365 * 86_400_000);
    assert_eq!(lines["fx-models/model.bin"]["header"]["encoding"], "bytes");
    assert_eq!(lines["fx-models/model.bin"]["header"]["expires_ms"], Value::Null);

    let archived = &lines["_archive/trading_state/old_state"];
    assert_eq!(archived["place"], "archive");
    assert_eq!(archived["value_json"], json!({"day": 1}));
    assert_eq!(archived["header"]["archived_ms"], 1_736_899_200_000u64 + 86_400_000);
    assert_eq!(archived["header"]["purge_after_ms"], 1_736_899_200_000u64 + 91 * 86_400_000);

    let damaged = &lines["options_greeks/damaged"];
    assert!(damaged["error"].is_string(), "the reader must refuse a truncated object: {damaged}");
    assert!(manager.load::<Value>("damaged").await.is_err(), "and so must the manager");
}
