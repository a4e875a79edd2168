//! The adapter over `memory://`: object_store's integration suite, then what the adapter adds
//! beyond it: the store's layers (limits, access, metrics, cache, project views) see and shape
//! what object_store callers do, and errors keep the store's meaning.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod compat_support;

use std::error::Error as _;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, Error as OsError, GetOptions, GetRange, ObjectStore as _, ObjectStoreExt as _, PutMode,
    PutOptions,
};
use objstore::compat::ObjectStoreAdapter;
use objstore::{Access, CacheOptions, CachePolicy, LimitKind, Limits, ObjectStore};

use compat_support::Fresh;

async fn fresh() -> Fresh {
    Fresh::new(objstore::open("memory://").await.unwrap(), ())
}

integration_suite!(fresh);

fn adapter(store: &ObjectStore) -> ObjectStoreAdapter {
    ObjectStoreAdapter::new(store.clone())
}

#[tokio::test]
async fn what_the_adapter_writes_the_facade_reads_and_back() {
    let store = objstore::open("memory://").await.unwrap();
    let os = adapter(&store);
    let put = os.put(&Path::from("a/b.bin"), Bytes::from_static(b"xyz").into()).await.unwrap();
    assert_eq!(&store.read_bytes("a/b.bin").await.unwrap()[..], b"xyz");
    assert_eq!(put.e_tag.as_deref(), Some(store.head("a/b.bin").await.unwrap().version.as_str()));
    assert_eq!(put.version, None);
    store.save("c", "from the facade").await.unwrap();
    assert_eq!(os.get(&Path::from("c")).await.unwrap().bytes().await.unwrap(), "from the facade");
    // A segment holding '/' stays one segment: the key is the Path's string, verbatim.
    let p = Path::from_iter(["x", "y/z"]);
    os.put(&p, "1".into()).await.unwrap();
    assert!(store.contains_key("x/y%2Fz").await.unwrap());
}

#[tokio::test]
async fn paths_that_are_not_keys_are_refused_with_the_stores_advice() {
    let os = adapter(&objstore::open("memory://").await.unwrap());
    for path in [Path::from(".objstore-tmp/x"), Path::parse(r"a\b").unwrap(), Path::from("x".repeat(2000).as_str())] {
        let err = os.put(&path, "v".into()).await.unwrap_err();
        assert!(matches!(err, OsError::Generic { store: "objstore", .. }), "{err}");
        assert!(err.to_string().contains("invalid key"), "{err}");
        let err = os.get(&path).await.unwrap_err();
        assert!(matches!(err, OsError::Generic { .. }), "{err}");
    }
    // The root is not an object.
    assert!(os.head(&Path::from("")).await.is_err());
}

#[tokio::test]
async fn limits_hold_and_say_which() {
    let limits = Limits { max_objects: Some(1), max_object_bytes: Some(8), ..Limits::default() };
    let store = ObjectStore::builder("memory://").limits(limits).build().await.unwrap();
    let os = adapter(&store);
    os.put(&Path::from("one"), "1".into()).await.unwrap();
    let err = os.put(&Path::from("two"), "2".into()).await.unwrap_err();
    assert!(matches!(err, OsError::Generic { .. }), "{err}");
    let source = err.source().and_then(|s| s.downcast_ref::<objstore::Error>());
    assert!(matches!(source, Some(objstore::Error::LimitExceeded { kind: LimitKind::Objects, .. })), "{err}");

    // A multipart upload is refused at the part that passes max_object_bytes, not at complete.
    let mut upload = os.put_multipart(&Path::from("one")).await.unwrap();
    upload.put_part(Bytes::from_static(b"12345").into()).await.unwrap();
    let err = upload.put_part(Bytes::from_static(b"6789").into()).await.unwrap_err();
    let source = err.source().and_then(|s| s.downcast_ref::<objstore::Error>());
    assert!(matches!(source, Some(objstore::Error::LimitExceeded { kind: LimitKind::ObjectSize, .. })), "{err}");
    upload.complete().await.unwrap();
    assert_eq!(store.read("one").await.unwrap(), "12345");
}

#[tokio::test]
async fn permissions_are_permission_denied() {
    let store = ObjectStore::builder("memory://").access(Access::READ_ONLY).build().await.unwrap();
    let os = adapter(&store);
    let err = os.put(&Path::from("k"), "v".into()).await.unwrap_err();
    assert!(matches!(err, OsError::PermissionDenied { .. }), "{err}");
    let err = os.delete(&Path::from("k")).await.unwrap_err();
    assert!(matches!(err, OsError::PermissionDenied { .. }), "{err}");
    let no_read = Access { read: false, write: true, delete: true };
    let store = ObjectStore::builder("memory://").access(no_read).build().await.unwrap();
    let os = adapter(&store);
    let err = os.list(None).try_collect::<Vec<_>>().await.unwrap_err();
    assert!(matches!(err, OsError::PermissionDenied { .. }), "{err}");
    let err = os.list_with_delimiter(None).await.unwrap_err();
    assert!(matches!(err, OsError::PermissionDenied { .. }), "{err}");
}

#[tokio::test]
async fn every_call_passes_through_the_layers() {
    let registry = prometheus::Registry::new();
    let metrics = store_metrics::OperationMetrics::new(&registry).unwrap();
    let store = ObjectStore::builder("memory://").layer(metrics.layer()).build().await.unwrap();
    let os = adapter(&store);
    let (a, b) = (Path::from("d/a"), Path::from("d/b"));
    os.put(&a, "1".into()).await.unwrap();
    os.get(&a).await.unwrap();
    os.get_range(&a, 0..1).await.unwrap();
    os.get_ranges(&a, &[0..1, 0..1]).await.unwrap();
    os.head(&a).await.unwrap();
    os.copy(&a, &b).await.unwrap();
    os.rename(&b, &Path::from("d/c")).await.unwrap();
    os.list(None).try_collect::<Vec<_>>().await.unwrap();
    os.list_with_offset(None, &a).try_collect::<Vec<_>>().await.unwrap();
    os.list_with_delimiter(None).await.unwrap();
    let mut upload = os.put_multipart(&a).await.unwrap();
    upload.put_part("2".into()).await.unwrap();
    upload.complete().await.unwrap();
    os.delete(&a).await.unwrap();
    let count = |op: &str| metrics.operations().with_label_values(&[op, "ok"]).get();
    // put: put, copy, rename's copy; put_stream: the multipart upload; reads: get (streamed),
    // get_range, get_ranges (ranged reads), copy's and rename's reads; head: head, get_ranges'
    // version; list: list, list_with_offset, list_with_delimiter; delete: rename's delete, delete.
    assert_eq!(count("put"), 3);
    assert_eq!(count("put_stream"), 1);
    let reads = count("get") + count("get_ready") + count("get_range") + count("get_stream");
    assert!(reads >= 5, "{reads}");
    assert!(count("get_range") >= 2, "ranges are ranged reads: {}", count("get_range"));
    assert_eq!(count("head"), 2);
    assert_eq!(count("list"), 3);
    assert_eq!(count("delete"), 2);
}

#[tokio::test]
async fn a_lone_if_none_match_is_the_stores_conditional_read() {
    // Trusted cache: the current version answers NotModified from memory, as the facade would.
    let trust = CacheOptions { policy: CachePolicy::Trust, ..CacheOptions::default() };
    let store = ObjectStore::builder("memory://").cache(trust).build().await.unwrap();
    let os = adapter(&store);
    let path = Path::from("k");
    let tag = os.put(&path, "v1".into()).await.unwrap().e_tag.unwrap();
    let err = os.get_opts(&path, GetOptions::new().with_if_none_match(Some(tag.clone()))).await.unwrap_err();
    assert!(matches!(err, OsError::NotModified { .. }), "{err}");
    store.save("k", "v2").await.unwrap();
    let got = os.get_opts(&path, GetOptions::new().with_if_none_match(Some(tag.clone()))).await.unwrap();
    assert_ne!(got.meta.e_tag.as_deref(), Some(tag.as_str()));
    assert_eq!(got.bytes().await.unwrap(), "v2");
    // if_match on a stale tag is a Precondition, also with a range.
    let opts = GetOptions::new().with_if_match(Some(tag)).with_range(Some(GetRange::Bounded(0..1)));
    assert!(matches!(os.get_opts(&path, opts).await.unwrap_err(), OsError::Precondition { .. }));
    // Older versions do not exist.
    let opts = GetOptions::new().with_version(Some("1"));
    assert!(matches!(os.get_opts(&path, opts).await.unwrap_err(), OsError::NotSupported { .. }));
}

#[tokio::test]
async fn a_project_view_is_a_bucket_of_its_own() {
    let store = objstore::open("memory://").await.unwrap();
    store.save("outside", "x").await.unwrap();
    let os = adapter(&store.project("12345"));
    os.put(&Path::from("insights/today"), "[]".into()).await.unwrap();
    assert_eq!(store.read("12345/insights/today").await.unwrap(), "[]");
    let listed: Vec<Path> = os.list(None).map_ok(|m| m.location).try_collect().await.unwrap();
    assert_eq!(listed, vec![Path::from("insights/today")]);
    let level = os.list_with_delimiter(None).await.unwrap();
    assert_eq!(level.common_prefixes, vec![Path::from("insights")]);
    assert!(matches!(os.head(&Path::from("outside")).await.unwrap_err(), OsError::NotFound { .. }));
}

#[tokio::test]
async fn tags_are_ignored_and_attributes_refused() {
    let os = adapter(&objstore::open("memory://").await.unwrap());
    let path = Path::from("k");
    let mut tags = object_store::TagSet::default();
    tags.push("team", "research");
    os.put_opts(&path, "v".into(), PutOptions::from(tags)).await.unwrap();
    let attributes = Attributes::from_iter([(Attribute::ContentType, "text/csv")]);
    let err = os.put_opts(&path, "w".into(), PutOptions::from(attributes)).await.unwrap_err();
    assert!(matches!(err, OsError::NotImplemented { .. }), "{err}");
    assert_eq!(os.get(&path).await.unwrap().bytes().await.unwrap(), "v");
    // A compare-and-swap needs the e_tag.
    let err = os
        .put_opts(&path, "x".into(), PutMode::Update(object_store::UpdateVersion { e_tag: None, version: None }).into())
        .await;
    assert!(err.is_err());
}

#[tokio::test]
async fn multipart_uploads_show_nothing_until_complete_and_cannot_complete_twice() {
    let store = objstore::open("memory://").await.unwrap();
    let os = adapter(&store);
    let path = Path::from("big");
    let mut upload = os.put_multipart(&path).await.unwrap();
    let first = upload.put_part(Bytes::from_static(b"ab").into());
    let second = upload.put_part(Bytes::from_static(b"cd").into());
    second.await.unwrap();
    first.await.unwrap();
    assert!(!store.contains_key("big").await.unwrap());
    upload.complete().await.unwrap();
    assert_eq!(store.read("big").await.unwrap(), "abcd");
    assert!(upload.complete().await.is_err());
    assert!(upload.put_part("x".into()).await.is_err());
    // Dropped without completing: nothing written.
    let mut dropped = os.put_multipart(&Path::from("gone")).await.unwrap();
    dropped.put_part("x".into()).await.unwrap();
    drop(dropped);
    assert!(!store.contains_key("gone").await.unwrap());
}

#[tokio::test]
async fn data_tools_take_it_as_a_dyn_object_store() {
    let store = objstore::open("memory://").await.unwrap();
    let tools: Arc<dyn object_store::ObjectStore> = Arc::new(adapter(&store));
    assert!(tools.to_string().contains("memory://"), "{tools}");
    let mut writer = object_store::buffered::BufWriter::with_capacity(tools.clone(), Path::from("w/file"), 16);
    use tokio::io::AsyncWriteExt as _;
    writer.write_all(&[7u8; 100]).await.unwrap();
    writer.shutdown().await.unwrap();
    assert_eq!(store.read_bytes("w/file").await.unwrap().len(), 100);
}
