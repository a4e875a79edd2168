//! What operations cost on the wire, counted by a decorator around the real client (SeaweedFS):
//! a cached read with `Revalidate` is one conditional request and no body; large saves go up as
//! multipart uploads, small ones as one request.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use backend_s3::{S3Backend, S3Options};
use common::counting::{Counting, Counts};
use store_core::{CacheOptions, CachePolicy, ObjectStore, StoreBuilder};

fn counted(base: &str, prefix: &str) -> (ObjectStore, Arc<Counts>, StoreBuilder) {
    let counts = Arc::new(Counts::default());
    let raw: Arc<dyn object_store::ObjectStore> = Arc::new(common::raw_client(base));
    let counting = Arc::new(Counting { inner: raw.clone(), counts: counts.clone() });
    let backend =
        S3Backend::from_object_store("s3://test (counted)", "SeaweedFS", counting, prefix, S3Options::default());
    let other = S3Backend::from_object_store("s3://test (other)", "SeaweedFS", raw, prefix, S3Options::default());
    let store = futures::executor::block_on(
        StoreBuilder::for_backend(Arc::new(backend))
            .cache(CacheOptions { policy: CachePolicy::Revalidate, ..CacheOptions::default() })
            .build(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    (store, counts, StoreBuilder::for_backend(Arc::new(other)))
}

fn prefix() -> String {
    format!("wire-{}-{}/", std::process::id(), store_core::testkit::unique())
}

#[tokio::test]
async fn a_revalidated_read_is_one_conditional_request_without_body() {
    let base = common::server_url("OBJSTORE_TEST_S3_SEAWEEDFS", "SeaweedFS");
    let (store, counts, other) = counted(&base, &prefix());
    let value = vec![7u8; 1 << 20];
    store.save_bytes("model.bin", value.clone()).await.unwrap();
    let (gets, bytes) = (counts.get(&counts.gets), counts.get(&counts.body_bytes));
    for _ in 0..3 {
        assert_eq!(store.read_bytes("model.bin").await.unwrap().len(), value.len());
    }
    assert_eq!(counts.get(&counts.gets) - gets, 3, "one request per read");
    assert_eq!(counts.get(&counts.conditional_gets), 3, "every read is conditional");
    assert_eq!(counts.get(&counts.not_modified), 3, "the server answered 304 each time");
    assert_eq!(counts.get(&counts.body_bytes) - bytes, 0, "no body travelled");

    // Changed by another writer: the next read brings the new body, once.
    let other = other.build().await.unwrap();
    other.save_bytes("model.bin", vec![8u8; 1000]).await.unwrap();
    assert_eq!(store.read_bytes("model.bin").await.unwrap(), vec![8u8; 1000]);
    assert_eq!(counts.get(&counts.body_bytes) - bytes, 1000);
    println!(
        "wire: 3 revalidated reads of a cached 1 MiB value: 3 conditional GETs, 3 x 304, 0 body bytes; \
         after a change: 1 GET with 1000 body bytes"
    );
}

#[tokio::test]
async fn large_saves_are_multipart_small_ones_single() {
    let base = common::server_url("OBJSTORE_TEST_S3_SEAWEEDFS", "SeaweedFS");
    let (store, counts, _) = counted(&base, &prefix());
    store.save_bytes("small", vec![1u8; 1 << 20]).await.unwrap();
    assert_eq!((counts.get(&counts.puts), counts.get(&counts.multipart_uploads)), (1, 0));
    let big: Vec<u8> = (0..16 * 1024 * 1024 + 5).map(|i| (i % 251) as u8).collect();
    store.save_bytes("big", big.clone()).await.unwrap();
    assert_eq!((counts.get(&counts.puts), counts.get(&counts.multipart_uploads)), (1, 1));
    store.clear();
    assert!(store.read_bytes("big").await.unwrap() == big, "the multipart upload came back different");
    // Conditional saves stay single requests, whatever the size.
    let meta = store.head("big").await.unwrap();
    store.save_bytes_with("big", big.clone(), store_core::PutMode::Update(meta.version)).await.unwrap();
    assert_eq!((counts.get(&counts.puts), counts.get(&counts.multipart_uploads)), (2, 1));
}
