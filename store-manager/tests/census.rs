//! The manager counts the whole store it works in: its categories, the archive, what lies outside
//! them (plain saves: "unmanaged") and its own files ("internal"), on memory, local disk,
//! SeaweedFS and moto. The store-wide quotas (`max_files`, `max_storage_gb`) count unmanaged
//! objects too: the tier's room is the whole store's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Env;
use serde_json::json;
use store_manager::{Category, Error, Manager, Quota, SaveOptions, Settings};

async fn every_object_is_in_one_area(env: Env) {
    let manager = env.manager(Settings::default());
    // Three plain saves of 100 KB and one managed object (the case).
    for i in 0..3u64 {
        env.store.save_bytes(&format!("plain/{i}.bin"), common::noise(100_000, i)).await.unwrap();
    }
    manager.save("state", &json!({"equity": 1}), SaveOptions::new(Category::TradingState)).await.unwrap();
    manager.save("old", &1, SaveOptions::new(Category::LlmCache).expire_days(1)).await.unwrap();
    env.clock.advance_days(2);
    assert_eq!(manager.cleanup().await.unwrap().archived, 1);
    manager.persist_index().await.unwrap();

    let census = manager.census().await.unwrap();
    let usage = env.store.usage().await.unwrap();
    assert_eq!(census.unmanaged.files, 3);
    assert_eq!(census.unmanaged.stored_bytes, 300_000);
    assert_eq!(census.archive.files, 1);
    assert_eq!(census.categories[&Category::TradingState].files, 1);
    assert_eq!(census.files(), 5, "{census:?}");
    // Everything but the manager's own files, which are their own row.
    assert_eq!(census.files() + census.internal.files, usage.objects, "{census:?}");
    assert_eq!(census.bytes() + census.internal.stored_bytes, usage.bytes, "{census:?}");
    assert!(census.internal.files >= 1, "the index snapshot or the change marker: {census:?}");
    assert_eq!(census.view, None);
}

async fn unmanaged_objects_count_against_the_store_wide_quotas(env: Env) {
    for i in 0..3u64 {
        env.store.save_bytes(&format!("plain-{i}.bin"), common::noise(1000, i)).await.unwrap();
    }
    let manager = env.manager(common::settings(json!({"max_files": 4})));
    manager.save("a", &1, SaveOptions::new(Category::TradingState)).await.unwrap();
    let err = manager.save("b", &2, SaveOptions::new(Category::TradingState)).await.unwrap_err();
    assert!(
        matches!(&err, Error::QuotaExceeded { quota: Quota::Files, used: 4, .. }),
        "3 plain objects and 1 managed one fill max_files = 4: {err}"
    );
    // Room freed by deleting a plain object is seen (the manager rescans before refusing).
    env.store.delete("plain-0.bin").await.unwrap();
    manager.save("b", &2, SaveOptions::new(Category::TradingState)).await.unwrap();
}

async fn a_view_is_named_and_counted_alone(env: Env) {
    env.store.save_bytes("outside/x", common::noise(5000, 1)).await.unwrap();
    let view = env.store.project("managed");
    view.save_bytes("loose", common::noise(700, 2)).await.unwrap();
    let manager = Manager::with_clock(view, Settings::default(), env.clock.clone());
    manager.save("k", &1, SaveOptions::new(Category::MlModels)).await.unwrap();
    let census = manager.census().await.unwrap();
    assert_eq!(census.view.as_deref(), Some("managed"));
    assert_eq!(
        (census.unmanaged.files, census.unmanaged.stored_bytes),
        (1, 700),
        "objects outside the view do not count"
    );
    assert_eq!(census.files(), 2);
}

macro_rules! census_suite {
    ($env:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn every_object_is_in_one_area() {
            super::every_object_is_in_one_area($env.await).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn unmanaged_objects_count_against_the_store_wide_quotas() {
            super::unmanaged_objects_count_against_the_store_wide_quotas($env.await).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_view_is_named_and_counted_alone() {
            super::a_view_is_named_and_counted_alone($env.await).await;
        }
    };
}

mod in_memory {
    use super::*;
    census_suite!(Env::memory());
}

mod on_disk {
    use super::*;
    census_suite!(Env::local());
}

mod seaweedfs {
    use super::*;
    census_suite!(Env::s3("OBJSTORE_TEST_S3_SEAWEEDFS", "SeaweedFS"));
}

mod moto {
    use super::*;
    census_suite!(Env::s3("OBJSTORE_TEST_S3_MOTO", "moto"));
}
