//! Corruption is an error naming the key; the index is a rebuildable cache; metadata search;
//! compression rules; settings and key checks.

use bytes::Bytes;
use serde_json::{Value, json};
use store_manager::{Category, Error, Manager, SaveOptions, Settings, UsageMonitoring};

use crate::common::{Env, noise, settings, trading_json, user_keys};

async fn stored(env: &Env, key: &str) -> Vec<u8> {
    env.store.read_bytes(key).await.unwrap().to_vec()
}

fn corrupt_key(e: Error) -> (String, String) {
    match e {
        Error::Corrupt { key, reason } => (key, reason),
        other => panic!("expected Corrupt, got {other}"),
    }
}

pub async fn truncated_object(env: Env) {
    let manager = env.manager(Settings::default());
    for (key, value) in [("raw", json!({"a": 1})), ("zipped", trading_json(300_000))] {
        manager.save(key, &value, SaveOptions::new(Category::ResearchData)).await.unwrap();
        let bytes = stored(&env, &format!("research_data/{key}")).await;
        for cut in [bytes.len() - 1, bytes.len() / 2, 20, 10] {
            env.store.save_bytes(&format!("research_data/{key}"), bytes[..cut].to_vec()).await.unwrap();
            let err = manager.load::<Value>(key).await.unwrap_err();
            let message = err.to_string();
            let (named, reason) = corrupt_key(err);
            assert_eq!(named, format!("research_data/{key}"));
            assert!(message.contains("is corrupt") && message.contains(&named), "{message}");
            assert!(!reason.is_empty());
        }
    }
}

pub async fn checksum_mismatch(env: Env) {
    let manager = env.manager(Settings::default());
    manager.save_bytes("weights", vec![7u8; 4096], SaveOptions::new(Category::MlModels)).await.unwrap();
    let mut bytes = stored(&env, "ml_models/weights").await;
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    env.store.save_bytes("ml_models/weights", bytes).await.unwrap();
    let (key, reason) = corrupt_key(manager.load_bytes("weights").await.unwrap_err());
    assert_eq!(key, "ml_models/weights");
    assert!(reason.contains("checksum mismatch"), "{reason}");
    // A damaged compressed payload is caught too.
    manager.save("surface", &trading_json(200_000), SaveOptions::new(Category::OptionsGreeks)).await.unwrap();
    let mut bytes = stored(&env, "options_greeks/surface").await;
    let mid = bytes.len() - 100;
    bytes[mid] ^= 0x40;
    env.store.save_bytes("options_greeks/surface", bytes).await.unwrap();
    let (key, _) = corrupt_key(manager.load::<Value>("surface").await.unwrap_err());
    assert_eq!(key, "options_greeks/surface");
}

pub async fn foreign_object(env: Env) {
    env.store.save("llm_cache/hand_written", "not a managed object").await.unwrap();
    let manager = env.manager(Settings::default());
    let err = manager.load::<Value>("hand_written").await.unwrap_err();
    assert!(matches!(&err, Error::NotManaged { key } if key == "llm_cache/hand_written"), "{err}");
    assert!(err.to_string().contains("read it with the plain ObjectStore"), "{err}");
}

pub async fn listing_survives_damage(env: Env) {
    let manager = env.manager(Settings::default());
    manager.save("good_1", &1, SaveOptions::new(Category::LlmCache)).await.unwrap();
    manager.save("bad", &2, SaveOptions::new(Category::LlmCache)).await.unwrap();
    env.clock.advance_days(1);
    manager.save("good_2", &3, SaveOptions::new(Category::LlmCache)).await.unwrap();
    env.store
        .save_bytes("llm_cache/bad", Bytes::from_static(b"\x89OSM\r\n\x1a\n\x01\x00\x00\x00\xff\xff"))
        .await
        .unwrap();
    env.store.save("llm_cache/foreign", "x").await.unwrap();
    let fresh = env.other_manager(Settings::default()).await;
    for m in [&manager, &fresh] {
        assert_eq!(m.list_keys(&Category::LlmCache).await.unwrap(), ["good_1", "good_2"]);
        let problems = m.problems().await.unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].0, "llm_cache/bad");
        assert!(problems[0].1.starts_with("corrupt: truncated"), "{problems:?}");
        assert_eq!(problems[1].0, "llm_cache/foreign");
        let usage = m.usage_by_category().await.unwrap();
        assert_eq!(usage[&Category::LlmCache].files, 4, "damaged objects still take room");
    }
    manager.delete("bad").await.unwrap();
    assert_eq!(manager.problems().await.unwrap().len(), 1);
}

pub async fn fresh_manager_rebuilds_index(env: Env) {
    let manager = env.manager(Settings::default());
    for i in 0..20 {
        let category = Category::BUILTIN[i % 7].clone();
        let opts = SaveOptions::new(category).with_metadata("i", i).expire_days(10 + i as u32);
        manager.save(&format!("obj_{i:02}"), &i, opts).await.unwrap();
        env.clock.advance_days(1);
    }
    manager.save("custom_obj", &"c", SaveOptions::new(Category::Custom("fx_rates".into()))).await.unwrap();
    // Large objects too (on local disk a scan reads only their header).
    let big = manager
        .save_bytes("big_model", noise(300_000, 5), SaveOptions::new(Category::MlModels).with_metadata("v", 2))
        .await
        .unwrap();
    let usage = manager.usage_by_category().await.unwrap();
    drop(manager);
    // Everything the index held comes back from the objects themselves.
    let fresh = env.other_manager(Settings::default()).await;
    assert_eq!(fresh.usage_by_category().await.unwrap(), usage);
    let found = fresh.find(|o| o.key == "big_model").await.unwrap();
    assert_eq!(found, vec![big.clone()], "the header alone describes it");
    assert_eq!(fresh.load_bytes("big_model").await.unwrap().unwrap(), noise(300_000, 5));
    assert_eq!(fresh.list_keys(&Category::TradingState).await.unwrap(), ["obj_07", "obj_14"], "obj_00 expired");
    let found = fresh.find(|o| o.metadata.get("i").and_then(Value::as_u64).is_some_and(|i| i >= 18)).await.unwrap();
    assert_eq!(found.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(), ["obj_18", "obj_19"]);
    // A custom category created by another manager is found by a fresh one, even by key alone.
    let fresh2 = env.other_manager(Settings::default()).await;
    assert_eq!(fresh2.load::<String>("custom_obj").await.unwrap().as_deref(), Some("c"));
    assert_eq!(fresh2.get_metadata("custom_obj").await.unwrap().unwrap().category, Category::Custom("fx_rates".into()));
}

pub async fn other_handles_changes_are_seen(env: Env) {
    let a = env.manager(Settings::default());
    let b = env.other_manager(Settings::default()).await;
    a.save("k1", &1, SaveOptions::new(Category::MonitoringData)).await.unwrap();
    a.save("k2", &2, SaveOptions::new(Category::MonitoringData)).await.unwrap();
    assert_eq!(b.list_keys(&Category::MonitoringData).await.unwrap(), ["k1", "k2"]);
    env.clock.advance_days(1);
    b.save("k1", &10, SaveOptions::new(Category::MonitoringData).with_metadata("by", "b")).await.unwrap();
    b.delete("k2").await.unwrap();
    b.save("k3", &3, SaveOptions::new(Category::MonitoringData)).await.unwrap();
    assert_eq!(a.list_keys(&Category::MonitoringData).await.unwrap(), ["k1", "k3"], "k1 is newer now");
    assert_eq!(a.get_metadata("k1").await.unwrap().unwrap().metadata["by"], "b");
    assert_eq!(a.load::<i32>("k1").await.unwrap(), Some(10));
    assert_eq!(a.load::<i32>("k2").await.unwrap(), None);
    assert!(a.delete("k2").await.unwrap_err().is_not_found());
}

pub async fn metadata_search(env: Env) {
    let manager = env.manager(Settings::default());
    let strategies = ["spread", "condor", "spread", "straddle"];
    for (i, s) in strategies.iter().enumerate() {
        let opts = SaveOptions::new(if i % 2 == 0 { Category::BacktestResults } else { Category::ResearchData })
            .with_metadata("strategy", *s)
            .with_metadata("tags", json!(["v2", format!("run{i}")]));
        manager.save(&format!("run_{i}"), &i, opts).await.unwrap();
        env.clock.advance_days(1);
    }
    let spreads = manager.find(|o| o.metadata.get("strategy") == Some(&json!("spread"))).await.unwrap();
    assert_eq!(spreads.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(), ["run_0", "run_2"]);
    let research = manager.find(|o| o.category == Category::ResearchData).await.unwrap();
    assert_eq!(research.len(), 2);
    let tagged =
        manager.find(|o| o.metadata["tags"].as_array().is_some_and(|t| t.contains(&json!("run3")))).await.unwrap();
    assert_eq!(tagged.len(), 1);
    assert_eq!(tagged[0].metadata["strategy"], "straddle");
    assert!(manager.find(|_| false).await.unwrap().is_empty());
}

pub async fn compression_rules(env: Env) {
    let manager = env.manager(Settings::default());
    let small = trading_json(50 * 1024);
    let large = trading_json(150 * 1024);
    let opts = || SaveOptions::new(Category::ResearchData);
    assert!(!manager.save("small", &small, opts()).await.unwrap().compressed, "below 100 KiB");
    let l = manager.save("large", &large, opts()).await.unwrap();
    assert!(l.compressed && l.stored_size < l.size / 2);
    assert!(manager.save("forced", &small, opts().force_compress()).await.unwrap().compressed);
    let noise = noise(300_000, 7);
    let n = manager.save_bytes("noise", noise.clone(), opts().force_compress()).await.unwrap();
    assert!(!n.compressed, "kept raw when compression does not shrink it");
    assert_eq!(manager.load_bytes("noise").await.unwrap().unwrap(), noise);
    for (key, value) in [("small", &small), ("large", &large), ("forced", &small)] {
        assert_eq!(manager.load::<Value>(key).await.unwrap().as_ref(), Some(value));
    }
    let off = env.other_manager(settings(json!({"compression_enabled": false}))).await;
    assert!(!off.save("large_off", &large, opts()).await.unwrap().compressed);
    assert!(off.save("forced_off", &large, opts().force_compress()).await.unwrap().compressed);
    let tight = env.other_manager(settings(json!({"compression_threshold_kb": 1, "compression_level": 3}))).await;
    assert!(tight.save("tight", &json!({"a": "x".repeat(2000)}), opts()).await.unwrap().compressed);
    assert_eq!(manager.load::<Value>("tight").await.unwrap().unwrap()["a"].as_str().unwrap().len(), 2000);
}

pub async fn invalid_settings_and_disabled(env: Env) {
    let bad = Settings {
        max_storage_gb: -1.0,
        usage_monitoring: UsageMonitoring { alert_threshold_pct: 95.0, ..Default::default() },
        ..Default::default()
    };
    let manager = Manager::new(env.store.clone(), bad);
    let err = manager.save("k", &1, SaveOptions::default()).await.unwrap_err();
    let Error::Settings(problems) = &err else { panic!("expected settings problems, got {err}") };
    assert_eq!(problems.problems.len(), 2, "{err}");
    assert!(manager.load::<i32>("k").await.is_err());
    assert!(user_keys(&env.store).await.is_empty());

    let off = env.manager(settings(json!({"enabled": false})));
    let err = off.save("k", &1, SaveOptions::default()).await.unwrap_err();
    assert!(matches!(err, Error::Disabled), "{err}");
    assert!(matches!(off.list_keys(&Category::LlmCache).await.unwrap_err(), Error::Disabled));
}

pub async fn keys_and_categories_checked(env: Env) {
    let manager = env.manager(Settings::default());
    for bad in ["../escape", "a/../../b", "", "x\0y"] {
        let err = manager.save(bad, &1, SaveOptions::default()).await.unwrap_err();
        assert!(matches!(err, Error::Store(store_core::Error::InvalidKey { .. })), "{bad:?}: {err}");
        assert!(manager.load::<i32>(bad).await.is_err());
    }
    let err = manager.save("k", &1, SaveOptions::new(Category::Custom("Bad Name".into()))).await.unwrap_err();
    assert!(matches!(err, Error::InvalidCategory(_)), "{err}");
    let err = manager.save("k", &1, SaveOptions::new(Category::Custom("llm_cache".into()))).await.unwrap_err();
    assert!(matches!(err, Error::InvalidCategory(_)), "{err}");
    // Keys may have folders; leading slashes and backslashes normalise as in the store.
    manager.save("/nested\\path/k", &5, SaveOptions::new(Category::LlmCache)).await.unwrap();
    assert_eq!(manager.load::<i32>("nested/path/k").await.unwrap(), Some(5));
    assert_eq!(manager.list_keys(&Category::LlmCache).await.unwrap(), ["nested/path/k"]);
    assert!(user_keys(&env.store).await.contains(&"llm_cache/nested/path/k".to_string()));
    assert!(store_core::Key::parse("..").is_err());
    assert!(manager.store().keys().await.unwrap().iter().all(|k| !k.starts_with("..")));
    let _: Option<Bytes> = manager.load_bytes("never_saved").await.unwrap();
}

/// A move between categories puts the new copy, then deletes the old one. When the delete is
/// lost (a crash between the two, or a failed flush of the delete followed by a power loss), both
/// copies exist: a manager opened afterwards loads, describes, lists and finds only the newer
/// one, counts both (they are both stored), and its cleanup removes the older one; a delete
/// removes both.
pub async fn interrupted_move_newest_copy_wins(env: Env) {
    let manager = env.manager(Settings::default());
    manager
        .save("pos", &json!({"qty": 1}), SaveOptions::new(Category::TradingState).with_metadata("v", 1))
        .await
        .unwrap();
    let old_copy = stored(&env, "trading_state/pos").await;
    env.clock.advance(std::time::Duration::from_secs(60));
    manager.save("pos", &json!({"qty": 2}), SaveOptions::new(Category::MlModels).with_metadata("v", 2)).await.unwrap();
    // The lost delete: the old copy is back, as the crash left it.
    env.store.save_bytes("trading_state/pos", old_copy.clone()).await.unwrap();
    drop(manager);

    // A fresh manager's first call lists the old copy's category: the copy is not listed there.
    let lister = env.other_manager(Settings::default()).await;
    assert!(lister.list_keys(&Category::TradingState).await.unwrap().is_empty(), "the superseded copy is listed");
    let fresh = env.other_manager(Settings::default()).await;
    assert_eq!(fresh.load::<Value>("pos").await.unwrap(), Some(json!({"qty": 2})), "the newer copy wins");
    assert_eq!(fresh.get_metadata("pos").await.unwrap().unwrap().category, Category::MlModels);
    assert_eq!(fresh.list_keys(&Category::MlModels).await.unwrap(), ["pos"]);
    assert!(fresh.list_keys(&Category::TradingState).await.unwrap().is_empty(), "the superseded copy is not listed");
    let found = fresh.find(|o| o.key == "pos").await.unwrap();
    assert_eq!(
        found.iter().map(|o| (&o.category, o.metadata["v"].as_u64())).collect::<Vec<_>>(),
        [(&Category::MlModels, Some(2))]
    );
    let usage = fresh.usage_by_category().await.unwrap();
    assert_eq!(usage[&Category::TradingState].files, 1, "the older copy is still stored: {usage:?}");
    assert_eq!(usage[&Category::MlModels].files, 1);

    let planned = fresh.superseded_copies().await.unwrap();
    assert_eq!(
        planned.iter().map(|o| (&o.category, o.key.as_str())).collect::<Vec<_>>(),
        [(&Category::TradingState, "pos")]
    );
    assert_eq!(planned[0].stored_size, old_copy.len() as u64);
    let report = fresh.cleanup().await.unwrap();
    assert_eq!((report.superseded, report.expired, report.purged), (1, 0, 0), "{report:?}");
    assert_eq!(report.freed_bytes, old_copy.len() as u64);
    assert!(env.store.read_bytes("trading_state/pos").await.unwrap_err().is_not_found(), "the older copy is gone");
    assert_eq!(stored_copies(&env).await, ["ml_models/pos"]);
    let usage = fresh.usage_by_category().await.unwrap();
    assert_eq!(usage.get(&Category::TradingState).map_or(0, |u| u.files), 0, "{usage:?}");
    assert_eq!(fresh.load::<Value>("pos").await.unwrap(), Some(json!({"qty": 2})));
    assert_eq!(fresh.cleanup().await.unwrap().removed(), 0, "nothing left to clean");
    assert!(fresh.superseded_copies().await.unwrap().is_empty());

    // With both copies there again, a delete removes both.
    env.store.save_bytes("trading_state/pos", old_copy).await.unwrap();
    let other = env.other_manager(Settings::default()).await;
    other.delete("pos").await.unwrap();
    assert_eq!(other.load::<Value>("pos").await.unwrap(), None);
    assert!(stored_copies(&env).await.is_empty(), "a copy survived the delete");
}

/// The store keys of the objects the manager's categories hold.
async fn stored_copies(env: &Env) -> Vec<String> {
    use futures::TryStreamExt as _;
    let all: Vec<_> = env.store.list_keys("").try_collect().await.unwrap();
    let mut keys: Vec<String> = all
        .iter()
        .map(|k| k.as_str().to_string())
        .filter(|k| k.starts_with("trading_state/") || k.starts_with("ml_models/"))
        .collect();
    keys.sort();
    keys
}
