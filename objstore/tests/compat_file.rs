//! The adapter over `file://`: object_store's integration suite, compare-and-swap included (which
//! object_store's own `LocalFileSystem` does not offer), and the files it writes are the plain
//! files other programs read.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod compat_support;

use object_store::path::Path;
use object_store::{Error as OsError, ObjectStore as _, ObjectStoreExt as _, PutMode, UpdateVersion};
use objstore::compat::ObjectStoreAdapter;

use compat_support::Fresh;

async fn fresh() -> Fresh {
    let dir = tempfile::tempdir().unwrap();
    let store = objstore::open(&format!("file://{}", dir.path().display())).await.unwrap();
    Fresh::new(store, dir)
}

integration_suite!(fresh);

#[tokio::test]
async fn objects_are_plain_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = objstore::open(&format!("file://{}", dir.path().display())).await.unwrap();
    let os = ObjectStoreAdapter::new(store.clone());
    os.put(&Path::from("research/prices.csv"), "date,close\n".into()).await.unwrap();
    let path = store.get_file_path("research/prices.csv").await.unwrap();
    assert_eq!(path, dir.path().join("research/prices.csv"));
    assert_eq!(std::fs::read_to_string(path).unwrap(), "date,close\n");
    // A file another program writes is an object, and its version moves with it.
    let before = os.head(&Path::from("research/prices.csv")).await.unwrap().e_tag.unwrap();
    std::fs::write(dir.path().join("research/prices.csv"), "date,close\n2024-01-02,472.65\n").unwrap();
    let swap = PutMode::Update(UpdateVersion { e_tag: Some(before), version: None });
    let err = os.put_opts(&Path::from("research/prices.csv"), "stale".into(), swap.into()).await.unwrap_err();
    assert!(matches!(err, OsError::Precondition { .. }), "{err}");
}

#[tokio::test]
async fn a_key_that_is_a_folder_is_not_an_object() {
    let store = fresh().await;
    let os = &store.adapter;
    os.put(&Path::from("a/b"), "1".into()).await.unwrap();
    assert!(matches!(os.get(&Path::from("a")).await.unwrap_err(), OsError::NotFound { .. }));
    // On a file system `a/b` cannot be a file while `a/b/c` is one: the store's Conflict.
    let err = os.put(&Path::from("a/b/c"), "2".into()).await.unwrap_err();
    assert!(matches!(err, OsError::Generic { .. }), "{err}");
}
