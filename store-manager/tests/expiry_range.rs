//! Expiry out of range (issue 16, item 4): a save whose expiry a calendar cannot print is refused
//! with a typed error, and a stored object whose header holds a far-future or damaged time is
//! described, listed and serialised without a panic.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[allow(unused_imports)] // the shared helpers this file does not use
mod common;

use common::Env;
use store_manager::format::{self, Header};
use store_manager::{Category, SaveOptions, Settings};

#[tokio::test]
async fn an_expiry_past_the_limit_is_refused_with_a_typed_error() {
    let env = Env::memory().await;
    let manager = env.manager(Settings::default());
    for days in [3_000_000, u32::MAX, 36_501] {
        let e = manager.save_bytes("k", b"v".to_vec(), SaveOptions::new(Category::LlmCache).expire_days(days)).await;
        let e = e.expect_err("an expiry thousands of years ahead was accepted");
        let text = e.to_string();
        assert!(text.contains("'k'") && text.contains(&days.to_string()) && text.contains("36500"), "{text}");
    }
    assert!(env.store.keys().await.unwrap().is_empty(), "nothing was saved");
    let object =
        manager.save_bytes("k", b"v".to_vec(), SaveOptions::new(Category::LlmCache).expire_days(36_500)).await.unwrap();
    assert!(serde_json::to_string(&object).unwrap().contains("\"expires\":\"2124-"), "{object:?}");
}

/// Saves `key` and rewrites its stored header's times.
async fn with_times(env: &Env, key: &str, created_ms: u64, expires_ms: Option<u64>) {
    let manager = env.manager(Settings::default());
    manager.save_bytes(key, b"value".to_vec(), SaveOptions::new(Category::LlmCache).expire_days(1)).await.unwrap();
    let store_key = format!("llm_cache/{key}");
    let bytes = env.store.read_bytes(&store_key).await.unwrap();
    let frame = format::decode(&bytes).unwrap();
    let header = Header { created_ms, expires_ms, ..frame.header.clone() };
    let raw = frame.payload.to_vec();
    let encoded = format::encode(&header, &raw, None).unwrap();
    env.store.save_bytes(&store_key, encoded).await.unwrap();
}

#[tokio::test]
async fn far_and_damaged_times_never_panic() {
    let env = Env::local().await;
    with_times(&env, "year-100000", 1_736_899_200_000, Some(3_093_527_980_800_000)).await;
    with_times(&env, "max", u64::MAX, Some(u64::MAX)).await;
    with_times(&env, "created-10000", 253_402_300_800_000, None).await;
    // A fresh manager reads the headers from the store.
    let manager = env.manager(Settings::default());
    let objects = manager.list_objects(&Category::LlmCache).await.unwrap();
    assert_eq!(objects.len(), 3);
    for object in &objects {
        let json = serde_json::to_string(&**object).unwrap();
        assert!(json.contains("\"created\":\""), "{json}");
    }
    let far = manager.get_metadata("year-100000").await.unwrap().unwrap();
    assert_eq!(serde_json::to_value(&far).unwrap()["expires"], "+100000-01-01T00:00:00.000Z");
    let old = manager.get_metadata("created-10000").await.unwrap().unwrap();
    assert_eq!(serde_json::to_value(&old).unwrap()["created"], "+10000-01-01T00:00:00.000Z");
    assert!(manager.load_bytes("max").await.unwrap().is_some());
    manager.usage_by_category().await.unwrap();
    manager.cleanup().await.unwrap();
    assert_eq!(manager.list_keys(&Category::LlmCache).await.unwrap().len(), 3);
}
