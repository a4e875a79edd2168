//! Objects this backend writes are plain objects another S3 client reads (and under the same
//! name, not encoded), and objects another client writes are keys here. Run against SeaweedFS
//! and moto, with the object_store crate as the other client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore as _, ObjectStoreExt as _};

async fn both_ways(var: &str, server: &str) {
    let base = common::server_url(var, server);
    let prefixes = common::Prefixes::new(&base);
    let prefix = format!("interop-{}", store_core::testkit::unique());
    let store = store_core::open(&prefixes.url_with(&prefix, "")).await.unwrap();
    let raw = common::raw_client(&base);
    let run = prefixes.url_with(&prefix, "");
    let run_prefix = run.trim_start_matches("s3://test/").split('?').next().unwrap().to_string();

    // Ours → theirs: names verbatim, bytes identical.
    let keys = ["plain.json", "a b=1/#x$", "q?x=1&y=%20", "ünï/κλειδί", "deep/er/file.tar.gz"];
    for (i, key) in keys.iter().enumerate() {
        store.save_bytes(key, format!("value {i}")).await.unwrap();
    }
    let listed: Vec<String> = raw
        .list(Some(&Path::parse(&run_prefix).unwrap()))
        .map_ok(|m| m.location.as_ref().to_string())
        .try_collect()
        .await
        .unwrap();
    let mut expected: Vec<String> = keys.iter().map(|k| format!("{run_prefix}/{k}")).collect();
    expected.sort();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    assert_eq!(listed_sorted, expected, "another client sees other names than ours");
    for (i, key) in keys.iter().enumerate() {
        let got = raw.get(&Path::parse(format!("{run_prefix}/{key}")).unwrap()).await.unwrap().bytes().await.unwrap();
        assert_eq!(got, Bytes::from(format!("value {i}")));
    }

    // Theirs → ours: visible through keys, read, contains_key, entries.
    raw.put(&Path::parse(format!("{run_prefix}/from-raw/report.csv")).unwrap(), "a,b\n1,2\n".into()).await.unwrap();
    assert!(store.contains_key("from-raw/report.csv").await.unwrap());
    assert_eq!(store.read("from-raw/report.csv").await.unwrap(), "a,b\n1,2\n");
    assert!(store.keys().await.unwrap().contains(&"from-raw/report.csv".to_string()));
    // And a delete by the other client is seen too (through the revalidating cache).
    raw.delete(&Path::parse(format!("{run_prefix}/plain.json")).unwrap()).await.unwrap();
    assert!(store.read("plain.json").await.is_err());
    println!("interop on {server}: {} keys written here read by object_store, and the reverse", keys.len());
}

#[tokio::test]
async fn seaweedfs_both_ways() {
    both_ways("OBJSTORE_TEST_S3_SEAWEEDFS", "SeaweedFS").await;
}

#[tokio::test]
async fn moto_both_ways() {
    both_ways("OBJSTORE_TEST_S3_MOTO", "moto").await;
}
