//! Expiry: invisible once expired, archived (compressed) then removed, archive retention, and
//! a value saved again since the scan is never removed.

use bytes::Bytes;
use serde_json::{Value, json};
use store_manager::{Category, SaveOptions, Settings};

use crate::common::{Env, settings, trading_json, user_keys};

pub async fn expired_is_invisible_then_archived(env: Env) {
    let manager = env.manager(Settings::default());
    let value = trading_json(20_000);
    let opts = SaveOptions::new(Category::TradingState).expire_days(90).with_metadata("kind", "daily");
    manager.save("state_day_1", &value, opts).await.unwrap();
    manager.save("state_forever", &json!({"equity": 1}), SaveOptions::new(Category::TradingState)).await.unwrap();
    env.clock.advance_days(89);
    assert!(manager.load::<Value>("state_day_1").await.unwrap().is_some(), "not yet expired at day 89");
    env.clock.advance_days(1);
    assert_eq!(manager.load::<Value>("state_day_1").await.unwrap(), None, "expired at day 90");
    assert_eq!(manager.load_bytes("state_day_1").await.unwrap(), None);
    assert_eq!(manager.get_metadata("state_day_1").await.unwrap(), None);
    assert_eq!(manager.list_keys(&Category::TradingState).await.unwrap(), ["state_forever"]);
    assert!(manager.find(|o| o.metadata.get("kind").is_some()).await.unwrap().is_empty());
    let usage = manager.usage_by_category().await.unwrap();
    assert_eq!(usage[&Category::TradingState].expired_files, 1, "it still takes room until cleanup");

    let report = manager.cleanup().await.unwrap();
    assert_eq!((report.expired, report.archived, report.purged), (1, 1, 0), "{report:?}");
    assert!(report.skipped.is_empty());
    assert!(!env.store.contains_key("trading_state/state_day_1").await.unwrap());
    assert!(env.store.contains_key("_archive/trading_state/state_day_1").await.unwrap());
    let archived = manager.list_archived(&Category::TradingState).await.unwrap();
    assert_eq!(archived.len(), 1);
    let a = &archived[0];
    assert_eq!(a.object.key, "state_day_1");
    assert_eq!(a.object.metadata["kind"], "daily");
    assert!(a.object.compressed, "the archive compresses");
    assert_eq!(a.purge_after.duration_since(a.archived).unwrap().as_secs(), 90 * 86_400, "keep_days");
    let bytes = manager.load_archived_bytes(&Category::TradingState, "state_day_1").await.unwrap().unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&bytes).unwrap(), value);
    assert_eq!(manager.cleanup_expired().await.unwrap(), 0, "nothing left to do");
    assert_eq!(manager.load::<Value>("state_forever").await.unwrap(), Some(json!({"equity": 1})));
}

pub async fn cleanup_without_archive(env: Env) {
    let manager = env.manager(settings(json!({"auto_cleanup": {"archive_before_delete": false}})));
    for i in 0..5 {
        manager.save(&format!("s{i}"), &i, SaveOptions::new(Category::LlmCache).expire_days(30)).await.unwrap();
    }
    manager.save("fresh", &9, SaveOptions::new(Category::LlmCache).expire_days(60)).await.unwrap();
    env.clock.advance_days(30);
    assert_eq!(manager.cleanup_expired().await.unwrap(), 5);
    assert_eq!(user_keys(&env.store).await, ["llm_cache/fresh"]);
    assert!(manager.list_archived(&Category::LlmCache).await.unwrap().is_empty());
}

pub async fn resave_survives_cleanup(env: Env) {
    let manager = env.manager(Settings::default());
    manager.save("params", &1, SaveOptions::new(Category::ResearchData).expire_days(1)).await.unwrap();
    env.clock.advance_days(2);
    // The manager's index now says "params" has expired...
    assert_eq!(manager.usage_by_category().await.unwrap()[&Category::ResearchData].expired_files, 1);
    // ...then another process saves it again, without expiry.
    let other = env.other_manager(Settings::default()).await;
    other.save("params", &2, SaveOptions::new(Category::ResearchData)).await.unwrap();
    assert_eq!(manager.cleanup_expired().await.unwrap(), 0, "the new value is not expired");
    assert_eq!(manager.load::<i32>("params").await.unwrap(), Some(2));
}

pub async fn archive_retention(env: Env) {
    let manager = env.manager(settings(json!({"auto_cleanup": {"keep_days": 10}})));
    let model = Bytes::from(vec![42u8; 50_000]);
    manager.save_bytes("m", model.clone(), SaveOptions::new(Category::MlModels).expire_days(5)).await.unwrap();
    env.clock.advance_days(5);
    assert_eq!(manager.cleanup_expired().await.unwrap(), 1);
    env.clock.advance_days(9);
    assert_eq!(manager.cleanup_expired().await.unwrap(), 0, "kept 10 days in the archive");
    assert_eq!(manager.load_archived_bytes(&Category::MlModels, "m").await.unwrap(), Some(model));
    let archive = manager.archive_usage().await.unwrap();
    assert_eq!(archive.files, 1);
    assert!(archive.stored_bytes < 1000, "50 kB of one byte archive to a few hundred bytes");
    env.clock.advance_days(1);
    let report = manager.cleanup().await.unwrap();
    assert_eq!((report.expired, report.purged), (0, 1));
    assert_eq!(manager.load_archived_bytes(&Category::MlModels, "m").await.unwrap(), None);
    assert!(user_keys(&env.store).await.is_empty());
}
