//! Listings stay exact where SeaweedFS is quirky: phantom folders after deletes, folder-by-folder
//! order, pages that end inside nested folders.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keys_and_usage_are_exact_on_seaweedfs() {
    let prefixes = common::prefixes("OBJSTORE_TEST_S3_SEAWEEDFS", "SeaweedFS");
    let store = store_core::open(&store_core::testkit::Fixture::fresh_url(&prefixes)).await.unwrap();
    // More than a page (1,000) of objects, in nested folders, with names that sort across
    // folder boundaries ("d01/..." vs "d01-x", "d01.y").
    let mut expected = BTreeMap::new();
    let mut names = Vec::new();
    for i in 0..1300u32 {
        names.push(format!("d{:02}/s{}/k{i:04}", i % 13, i % 7));
    }
    for i in 0..13 {
        names.push(format!("d{i:02}-x"));
        names.push(format!("d{i:02}.y"));
    }
    futures::stream::iter(names.iter().map(|name| {
        let store = store.clone();
        async move { store.save_bytes(name, vec![1u8; name.len()]).await }
    }))
    .buffer_unordered(16)
    .try_collect::<Vec<()>>()
    .await
    .unwrap();
    for name in &names {
        expected.insert(name.clone(), name.len() as u64);
    }
    // Empty a whole folder (SeaweedFS may keep showing it as a prefix for a while).
    let doomed: Vec<String> = expected.keys().filter(|k| k.starts_with("d05/")).cloned().collect();
    for name in &doomed {
        store.delete(name).await.unwrap();
        expected.remove(name);
    }

    let keys = store.keys().await.unwrap();
    assert_eq!(keys, expected.keys().cloned().collect::<Vec<_>>(), "keys() is not exact");
    let usage = store.usage().await.unwrap();
    assert_eq!((usage.objects, usage.bytes), (expected.len() as u64, expected.values().sum::<u64>()));
    let under_d05: Vec<_> = store.list_keys("d05/").try_collect().await.unwrap();
    assert!(under_d05.is_empty(), "deleted keys listed: {under_d05:?}");
    let d01: Vec<String> = store.list_keys("d01").map_ok(String::from).try_collect().await.unwrap();
    let want: Vec<String> = expected.keys().filter(|k| k.starts_with("d01")).cloned().collect();
    assert_eq!(d01, want, "a string prefix across folder boundaries");
    println!("listing on SeaweedFS: {} keys exact after deleting a folder of {}", keys.len(), doomed.len());
}
