//! `file://…?create=false` opens only a folder that exists; a path that is a file is refused
//! whatever the option; by default a missing folder is created, as it always was.

#![allow(clippy::unwrap_used, missing_docs)]

use backend_local as _;

#[tokio::test]
async fn create_false_opens_only_an_existing_folder() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("not/there");
    let e = store_core::open(&format!("file://{}?create=false", missing.display())).await.unwrap_err();
    assert!(matches!(e, store_core::Error::Config { .. }), "{e:?}");
    assert!(e.to_string().contains(&format!("the store folder {} does not exist", missing.display())), "{e}");
    assert!(!dir.path().join("not").exists(), "a folder was created");

    // By default it is created; then create=false opens it.
    let store = store_core::open(&format!("file://{}", missing.display())).await.unwrap();
    store.save("k", "v").await.unwrap();
    let existing = store_core::open(&format!("file://{}?create=false", missing.display())).await.unwrap();
    assert_eq!(existing.read("k").await.unwrap(), "v");

    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    for option in ["", "?create=false", "?create=true"] {
        let e = store_core::open(&format!("file://{}{option}", file.display())).await.unwrap_err();
        assert!(matches!(e, store_core::Error::Config { .. }) && e.to_string().contains("not a folder"), "{e:?}");
    }
    let e = store_core::open(&format!("file://{}?create=maybe", missing.display())).await.unwrap_err();
    assert!(e.to_string().contains("create"), "{e}");
}
