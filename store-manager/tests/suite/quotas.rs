//! Every quota rule: object size, category allocation, store size, file count; overwrites and
//! moves; concurrency; cleanup and rescans before refusing.

use std::sync::Arc;

use serde_json::{Value, json};
use store_manager::{Category, Error, Quota, SaveOptions, Settings};

use crate::common::{Env, noise, settings, user_keys};

const MB: u64 = 1024 * 1024;

fn quota_of(e: Error) -> Quota {
    match e {
        Error::QuotaExceeded { quota, .. } => quota,
        other => panic!("expected a quota error, got {other}"),
    }
}

pub async fn object_too_large(env: Env) {
    let manager = env.manager(settings(json!({"max_file_size_mb": 1})));
    let err =
        manager.save_bytes("big", noise(1_200_000, 1), SaveOptions::new(Category::ResearchData)).await.unwrap_err();
    let message = err.to_string();
    assert!(message.starts_with("Object too large: 1.1MB > 1MB ('big'"), "{message}");
    assert!(matches!(err, Error::ObjectTooLarge { .. }));
    assert!(!env.store.contains_key("research_data/big").await.unwrap(), "nothing was written");
    // The limit counts what is stored: compressible data of the same size fits once compressed.
    let json = Value::String("0123456789".repeat(120_000));
    let object = manager.save("big_json", &json, SaveOptions::new(Category::ResearchData)).await.unwrap();
    assert!(object.compressed && object.size > MB && object.stored_size < MB);
}

pub async fn category_allocation(env: Env) {
    // llm_cache gets 0.001 GB (about 1 MiB); other categories have no allocation.
    let manager = env.manager(settings(json!({"storage_allocation": {"llm_cache": 0.0009765625}})));
    let allocation = MB;
    let opts = || SaveOptions::new(Category::LlmCache);
    let mut saved = 0u64;
    let mut i = 0;
    let err = loop {
        match manager.save_bytes(&format!("entry_{i}"), noise(100_000, i), opts()).await {
            Ok(o) => saved += o.stored_size,
            Err(e) => break e,
        }
        i += 1;
    };
    assert_eq!(i, 10, "ten 100 kB entries fit in 1 MiB, the eleventh does not");
    assert!(saved <= allocation);
    let message = err.to_string();
    assert!(message.contains("'llm_cache' uses") && message.contains("1MB allocated"), "{message}");
    assert_eq!(quota_of(err), Quota::Category(Category::LlmCache));
    let usage = manager.usage_by_category().await.unwrap();
    assert_eq!(usage[&Category::LlmCache].files, 10, "the refused save left nothing behind");
    assert_eq!(usage[&Category::LlmCache].stored_bytes, saved);
    assert_eq!(usage[&Category::LlmCache].allocation_bytes, Some(allocation));
    assert!(!env.store.contains_key("llm_cache/entry_10").await.unwrap());
    // Other categories are not limited by llm_cache's allocation.
    manager.save_bytes("entry_10", noise(100_000, 99), SaveOptions::new(Category::ResearchData)).await.unwrap();
    // Deleting the oldest makes room again (the seed's manual cleanup).
    let oldest = manager.list_keys(&Category::LlmCache).await.unwrap()[0].clone();
    manager.delete(&oldest).await.unwrap();
    manager.save_bytes("entry_11", noise(100_000, 11), opts()).await.unwrap();
}

pub async fn max_storage(env: Env) {
    let manager = env.manager(settings(json!({"max_storage_gb": 0.0005, "max_file_size_mb": 0.5})));
    let mut n = 0;
    let err = loop {
        match manager
            .save_bytes(&format!("blob_{n}"), noise(100_000, n), SaveOptions::new(Category::Custom("blobs".into())))
            .await
        {
            Ok(_) => n += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(n, 5, "0.5 MiB holds five 100 kB objects");
    assert!(err.to_string().starts_with("Storage full:"), "{err}");
    assert_eq!(quota_of(err), Quota::Storage);
    let usage = manager.usage_by_category().await.unwrap();
    assert_eq!(usage[&Category::Custom("blobs".into())].files, 5);
}

pub async fn max_files(env: Env) {
    let manager = env.manager(settings(json!({"max_files": 3})));
    for i in 0..3 {
        manager.save(&format!("k{i}"), &i, SaveOptions::new(Category::MonitoringData)).await.unwrap();
    }
    let err = manager.save("k3", &3, SaveOptions::new(Category::MonitoringData)).await.unwrap_err();
    assert!(err.to_string().starts_with("File limit reached: 3/3 files"), "{err}");
    assert_eq!(quota_of(err), Quota::Files);
    // Replacing a value adds no file.
    manager.save("k1", &"new", SaveOptions::new(Category::MonitoringData)).await.unwrap();
    assert_eq!(manager.load::<String>("k1").await.unwrap().as_deref(), Some("new"));
    assert_eq!(manager.load::<i32>("k3").await.unwrap(), None);
}

pub async fn overwrite_counts_new_size(env: Env) {
    let manager = env.manager(settings(json!({"storage_allocation": {"ml_models": 0.0005}})));
    let opts = || SaveOptions::new(Category::MlModels);
    manager.save_bytes("model", noise(400_000, 1), opts()).await.unwrap();
    // 400 kB replaced by 450 kB: the old value's room is reused, so it fits in 512 KiB.
    manager.save_bytes("model", noise(450_000, 2), opts()).await.unwrap();
    let err = manager.save_bytes("model", noise(600_000, 3), opts()).await.unwrap_err();
    assert_eq!(quota_of(err), Quota::Category(Category::MlModels));
    assert_eq!(manager.load_bytes("model").await.unwrap().unwrap().len(), 450_000, "the old value is intact");
}

pub async fn moving_between_categories(env: Env) {
    let manager = env.manager(settings(json!({"storage_allocation": {"research_data": 0.0005, "ml_models": 0.0005}})));
    manager.save_bytes("features", noise(300_000, 1), SaveOptions::new(Category::ResearchData)).await.unwrap();
    // Saving the key in another category moves it: one copy, counted where it now lives.
    manager.save_bytes("features", noise(300_000, 2), SaveOptions::new(Category::MlModels)).await.unwrap();
    assert!(!env.store.contains_key("research_data/features").await.unwrap());
    assert_eq!(manager.list_keys(&Category::ResearchData).await.unwrap(), Vec::<String>::new());
    assert_eq!(manager.list_keys(&Category::MlModels).await.unwrap(), ["features"]);
    assert_eq!(manager.get_metadata("features").await.unwrap().unwrap().category, Category::MlModels);
    manager.save_bytes("other", noise(300_000, 3), SaveOptions::new(Category::ResearchData)).await.unwrap();
    let usage = manager.usage_by_category().await.unwrap();
    assert_eq!(usage[&Category::ResearchData].files, 1);
    assert_eq!(usage[&Category::MlModels].files, 1);
}

pub async fn concurrent_saves_never_overshoot(env: Env) {
    let manager = env.manager(settings(json!({"max_files": 1000, "storage_allocation": {"options_greeks": 0.001}})));
    let allocation = (0.001 * 1024.0 * 1024.0 * 1024.0) as u64;
    let manager = Arc::new(manager);
    let tasks: Vec<_> = (0..32u64)
        .map(|i| {
            let manager = manager.clone();
            tokio::spawn(async move {
                manager
                    .save_bytes(&format!("snap_{i}"), noise(100_000, i), SaveOptions::new(Category::OptionsGreeks))
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert_eq!(quota_of(e), Quota::Category(Category::OptionsGreeks)),
        }
    }
    let usage = manager.usage_by_category().await.unwrap();
    let greeks = &usage[&Category::OptionsGreeks];
    assert_eq!(ok, 10, "exactly as many as fit");
    assert_eq!(greeks.files, 10);
    assert!(greeks.stored_bytes <= allocation, "{} > {allocation}", greeks.stored_bytes);
    assert_eq!(user_keys(&env.store).await.len(), 10);
}

pub async fn auto_cleanup_makes_room(env: Env) {
    let no_archive = json!({"max_files": 3, "auto_cleanup": {"enabled": false, "archive_before_delete": false}});
    let strict = env.manager(settings(no_archive));
    strict.save("old_1", &1, SaveOptions::new(Category::LlmCache).expire_days(1)).await.unwrap();
    strict.save("old_2", &2, SaveOptions::new(Category::LlmCache).expire_days(1)).await.unwrap();
    strict.save("keep", &3, SaveOptions::new(Category::LlmCache)).await.unwrap();
    env.clock.advance_days(2);
    // Full, and auto_cleanup is off: the expired objects still take their room.
    let err = strict.save("new", &4, SaveOptions::new(Category::LlmCache)).await.unwrap_err();
    assert_eq!(quota_of(err), Quota::Files);
    // With auto_cleanup on, the expired objects are removed first and the save fits.
    let manager =
        env.other_manager(settings(json!({"max_files": 3, "auto_cleanup": {"archive_before_delete": false}}))).await;
    manager.save("new", &4, SaveOptions::new(Category::LlmCache)).await.unwrap();
    assert_eq!(manager.list_keys(&Category::LlmCache).await.unwrap(), ["keep", "new"]);
    assert_eq!(manager.list_archived(&Category::LlmCache).await.unwrap(), vec![]);
    assert_eq!(user_keys(&env.store).await, ["llm_cache/keep", "llm_cache/new"]);
}

pub async fn rescans_before_refusing(env: Env) {
    let first = env.manager(settings(json!({"max_files": 2})));
    first.save("a", &1, SaveOptions::new(Category::TradingState)).await.unwrap();
    first.save("b", &2, SaveOptions::new(Category::TradingState)).await.unwrap();
    // Another process frees room; the first manager's figures are stale but it checks again
    // before refusing.
    let other = env.other_manager(Settings::default()).await;
    other.delete("a").await.unwrap();
    first.save("c", &3, SaveOptions::new(Category::TradingState)).await.unwrap();
    assert_eq!(first.list_keys(&Category::TradingState).await.unwrap(), ["b", "c"]);
}
