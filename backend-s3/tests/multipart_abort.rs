//! No orphaned multipart uploads: every multipart save that does not complete is aborted, on
//! SeaweedFS and moto (`cargo xtask test` starts both). A save cancelled by a timeout around it,
//! one whose source breaks midway, and one whose whole operation runs out of time each leave no
//! upload behind; `ListMultipartUploads` (boto3, from the test tools' virtualenv) checks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use store_core::ObjectStore;

/// Incomplete multipart uploads under `prefix` in the bucket of `base`, listed with boto3.
fn uploads_under(base: &str, prefix: &str) -> Vec<String> {
    let python = std::env::var("OBJSTORE_TEST_PYTHON")
        .expect("OBJSTORE_TEST_PYTHON (set by `cargo xtask test` / `cargo xtask servers`) names a Python with boto3");
    let rest = base.strip_prefix("s3://").unwrap();
    let (bucket, query) = rest.split_once('?').unwrap();
    let option =
        |name: &str| query.split('&').find_map(|p| p.strip_prefix(&format!("{name}="))).unwrap_or_default().to_string();
    let script = r#"
import sys, boto3
from botocore.config import Config
endpoint, key, secret, bucket, prefix = sys.argv[1:6]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
                  region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
for upload in s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix).get("Uploads", []):
    print(upload["Key"])
"#;
    let out = std::process::Command::new(python)
        .args(["-c", script, &option("endpoint"), &option("access_key_id"), &option("secret_access_key")])
        .args([bucket.trim_end_matches('/'), prefix])
        .output()
        .expect("run python");
    assert!(out.status.success(), "list_multipart_uploads failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

/// Waits (a few seconds at most) for a cancelled save's abort, sent from a task of its own.
async fn no_uploads_left(base: &str, prefix: &str) {
    let mut left = Vec::new();
    for _ in 0..50 {
        left = uploads_under(base, prefix);
        if left.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("multipart uploads left behind under {prefix}: {left:?}");
}

fn noise(len: usize, seed: u64) -> Bytes {
    Bytes::from(store_core::testkit::noise(len, seed))
}

async fn cancelled_and_failed_saves_abort(var: &str, server: &str) {
    let base = common::server_url(var, server);
    let prefixes = common::Prefixes::new(&base);
    let url = prefixes.url_with("abort", "multipart_threshold=5MiB&part_size=5MiB");
    let store = ObjectStore::builder(&url).build().await.unwrap();
    let prefix = url.split_once("://").unwrap().1.split_once('?').unwrap().0.split_once('/').unwrap().1.to_string();

    // 1. A streamed save whose source stalls after two parts, dropped by a timeout around it.
    let stalls = futures::stream::iter([Ok(noise(11 << 20, 1))]).chain(futures::stream::pending()).boxed();
    let dropped = tokio::time::timeout(Duration::from_secs(2), store.save_stream("stalled", stalls, None)).await;
    assert!(dropped.is_err(), "a stalled save completed");
    no_uploads_left(&base, &prefix).await;

    // 2. A streamed save whose source breaks after two parts: the caller gets the cause.
    let breaks = futures::stream::iter([
        Ok(noise(11 << 20, 2)),
        Err(store_core::Error::io("the model file vanished", std::io::ErrorKind::NotFound.into())),
    ])
    .boxed();
    let broken = store.save_stream("broken", breaks, None).await;
    assert!(matches!(&broken, Err(e) if e.to_string().contains("the model file vanished")), "{broken:?}");
    no_uploads_left(&base, &prefix).await;

    // 3. A save (from memory) whose whole operation runs out of time midway.
    let hurried = prefixes.url_with("abort", "multipart_threshold=5MiB&part_size=5MiB&operation_timeout=150ms");
    let hurried = ObjectStore::builder(&hurried).build().await.unwrap();
    let timed_out = hurried.save_bytes("hurried", noise(60 << 20, 3)).await;
    assert!(timed_out.is_err(), "60 MiB were saved within 150 ms; raise the size");
    no_uploads_left(&base, &prefix).await;

    for key in ["stalled", "broken", "hurried"] {
        assert!(!store.contains_key(key).await.unwrap(), "{key} is visible after a failed save");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seaweedfs_leaves_no_multipart_upload_behind() {
    cancelled_and_failed_saves_abort("OBJSTORE_TEST_S3_SEAWEEDFS", "SeaweedFS").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_leaves_no_multipart_upload_behind() {
    cancelled_and_failed_saves_abort("OBJSTORE_TEST_S3_MOTO", "moto").await;
}
