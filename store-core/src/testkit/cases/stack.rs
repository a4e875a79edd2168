//! The store as a whole: project views, usage, the blocking facade, reopening.

use super::{ok, pattern};
use crate::testkit::Kit;
use crate::{Error, Usage, assert_err, blocking};

/// A project view keeps its keys under `{project_id}/` and sees only them.
pub async fn project_views(kit: Kit) {
    let s = kit.store().await;
    let p = s.project("12345");
    ok(p.save("insights", "[]").await, "save in project");
    ok(p.save_json("params/v1", &serde_json::json!({"a": 1})).await, "save json in project");
    ok(s.save("other", "outside the project").await, "save at the root");
    ok(s.save("12345x", "a sibling with a longer name").await, "save sibling");
    assert_eq!(ok(s.read("12345/insights").await, "read through the root"), "[]");
    assert_eq!(ok(p.keys().await, "project keys"), vec!["insights", "params/v1"]);
    assert!(!ok(p.contains_key("other").await, "contains_key"));
    assert_eq!(ok(p.head("insights").await, "head").key.as_str(), "insights");
    assert_eq!(ok(p.usage().await, "project usage"), Usage { bytes: 2 + 7, objects: 2 });
    // Nested views, and keys that try to leave the project.
    let nested = p.project("research");
    ok(nested.save("notebook", "x").await, "save nested");
    assert!(ok(s.contains_key("12345/research/notebook").await, "contains_key"));
    assert_err!(p.read("../other").await, Error::InvalidKey { .. });
    assert_err!(s.project("../evil").save("k", "v").await, Error::InvalidKey { .. });
    assert_err!(s.project("").keys().await, Error::InvalidKey { .. });
    ok(p.delete("insights").await, "delete in project");
    assert!(!ok(s.contains_key("12345/insights").await, "contains_key"));
}

/// `usage()` counts bytes and objects exactly through saves, overwrites and deletes.
pub async fn usage_counts(kit: Kit) {
    let s = kit.store().await;
    assert_eq!(ok(s.usage().await, "usage"), Usage::default());
    ok(s.save_bytes("a", pattern(1, 100)).await, "save");
    ok(s.save_bytes("b/c", pattern(2, 250)).await, "save");
    ok(s.save_bytes("a", pattern(3, 40)).await, "overwrite");
    assert_eq!(ok(s.usage().await, "usage"), Usage { bytes: 290, objects: 2 });
    ok(s.delete("b/c").await, "delete");
    assert_eq!(ok(s.usage().await, "usage"), Usage { bytes: 40, objects: 1 });
}

/// The blocking facade does what the async one does, from a thread that is not async.
pub async fn blocking_facade(kit: Kit) {
    let url = kit.url();
    let async_store = kit.open(&url).await;
    ok(async_store.save("from-async", "a").await, "async save");
    let result = tokio::task::spawn_blocking(move || {
        let s = ok(blocking::open(&url), "blocking open");
        let same = ok(blocking::ObjectStore::builder(&url).build(), "blocking builder");
        assert_eq!(same.url(), s.url());
        ok(s.save("text", "hello"), "save");
        assert_eq!(ok(s.read("text"), "read"), "hello");
        ok(s.save_json("json", &vec![1, 2, 3]), "save_json");
        assert_eq!(ok(s.read_json::<Vec<i32>>("json"), "read_json"), vec![1, 2, 3]);
        assert!(ok(s.contains_key("from-async"), "contains_key"));
        assert_eq!(ok(s.keys(), "keys"), vec!["from-async", "json", "text"]);
        let entries: Vec<(String, bytes::Bytes)> = s.entries().map(|e| ok(e, "entry")).collect();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[2].1, "hello");
        assert!(matches!(s.read("missing"), Err(Error::NotFound { .. })));
        ok(s.delete("text"), "delete");
        assert_eq!(ok(s.usage(), "usage").objects, 2);
        let path = ok(s.get_file_path("file"), "get_file_path");
        std::fs::write(&path, b"from a file").unwrap_or_else(|e| panic!("{e}"));
        ok(s.save_from_file("file"), "save_from_file");
        assert_eq!(ok(s.read("file"), "read"), "from a file");
    })
    .await;
    if let Err(e) = result {
        panic!("{e}");
    }
    assert_eq!(ok(async_store.read("file").await, "async read"), "from a file");
}

/// Data outlives the store handle (a named memory store lives as long as the process).
pub async fn reopen_keeps_data(kit: Kit) {
    let url = kit.url();
    let s = kit.open(&url).await;
    ok(s.save("kept", "across reopen").await, "save");
    drop(s);
    let again = kit.open(&url).await;
    assert_eq!(ok(again.read("kept").await, "read after reopen"), "across reopen");
}
