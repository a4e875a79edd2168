//! Conditional puts (create-only, compare-and-swap) and conditional deletes (only this version).

use std::sync::Arc;

use super::ok;
use crate::testkit::Kit;
use crate::{Error, PutMode, assert_err};

/// Create-only refuses an existing key; a swap succeeds only on the current version.
pub async fn conditional_puts(kit: Kit) {
    let s = kit.store().await;
    if !s.capabilities().conditional_put {
        kit.skip("the backend has no conditional puts");
        return;
    }
    let created = ok(s.save_bytes_with("k", "v1", PutMode::Create).await, "create");
    assert_err!(s.save_bytes_with("k", "v2", PutMode::Create).await, Error::AlreadyExists { ref key } if key == "k");
    assert_eq!(ok(s.read("k").await, "read"), "v1");
    let read = ok(s.read_object("k").await, "read_object");
    assert_eq!(read.meta.version, created.version, "the version read is the version written");
    let swapped = ok(s.save_bytes_with("k", "v2", PutMode::Update(created.version.clone())).await, "swap");
    assert_ne!(swapped.version, created.version);
    assert_err!(s.save_bytes_with("k", "v3", PutMode::Update(created.version.clone())).await,
        Error::Precondition { ref key, .. } if key == "k");
    assert_eq!(ok(s.read("k").await, "read"), "v2");
    // Same length, new content: still a new version.
    let again = ok(s.save_bytes_with("k", "v9", PutMode::Update(swapped.version.clone())).await, "swap");
    assert_ne!(again.version, swapped.version);
    ok(s.delete("k").await, "delete");
    assert_err!(s.save_bytes_with("k", "v4", PutMode::Update(again.version)).await, Error::Precondition { .. });
    assert!(!ok(s.contains_key("k").await, "contains_key"));
    ok(s.save_bytes_with("k", "v5", PutMode::Create).await, "create after delete");
}

/// Many tasks incrementing one counter by compare-and-swap lose no update.
pub async fn compare_and_swap_counter(kit: Kit) {
    let url = kit.url();
    let first = kit.open(&url).await;
    if !first.capabilities().conditional_put {
        kit.skip("the backend has no conditional puts");
        return;
    }
    ok(first.save("counter", "0").await, "seed");
    let (tasks, increments) = (16, 25);
    let mut handles = Vec::new();
    for t in 0..tasks {
        // Half the tasks use their own handle (their own cache), as separate processes would.
        let s = Arc::new(if t % 2 == 0 { first.clone() } else { kit.open(&url).await });
        handles.push(tokio::spawn(async move {
            let mut conflicts = 0u32;
            for _ in 0..increments {
                loop {
                    let object = ok(s.read_object("counter").await, "read");
                    let n: u64 =
                        std::str::from_utf8(&object.bytes).ok().and_then(|t| t.parse().ok()).unwrap_or(u64::MAX);
                    assert_ne!(n, u64::MAX, "counter holds garbage");
                    match s.save_bytes_with("counter", (n + 1).to_string(), PutMode::Update(object.meta.version)).await
                    {
                        Ok(_) => break,
                        Err(Error::Precondition { .. }) => conflicts += 1,
                        Err(e) => panic!("swap failed: {e}"),
                    }
                }
            }
            conflicts
        }));
    }
    for h in handles {
        if let Err(e) = h.await {
            panic!("{e}");
        }
    }
    assert_eq!(ok(first.read("counter").await, "read"), (tasks * increments).to_string(), "an update was lost");
}

/// A delete of a version removes only that version: a stale one is `Precondition` and leaves
/// the newer value; an absent key is `NotFound`; the cache forgets the key.
pub async fn conditional_deletes(kit: Kit) {
    let url = kit.url();
    let s = kit.open(&url).await;
    let other = kit.open(&url).await;
    let first = ok(s.save_bytes_with("k", "v1", PutMode::Overwrite).await, "save");
    ok(s.read("k").await, "fill the cache");
    ok(other.save("k", "v2").await, "another writer");
    assert_err!(s.delete_if_match("k", &first.version).await, Error::Precondition { ref key, .. } if key == "k");
    assert_eq!(ok(s.read("k").await, "read"), "v2", "a delete of a stale version removed the newer value");
    let current = ok(s.head("k").await, "head");
    ok(s.delete_if_match("k", &current.version).await, "delete the current version");
    assert!(!ok(s.contains_key("k").await, "contains_key"));
    assert_err!(s.read("k").await, Error::NotFound { .. });
    assert_err!(s.delete_if_match("k", &current.version).await, Error::NotFound { .. });
}

/// Under a race with a save, a delete of the version read never removes the value the save
/// wrote: after a save of "new" and a delete of "old"'s version run at once, "new" is stored,
/// whichever lands first. Exact only where the backend says so.
pub async fn conditional_deletes_race_saves(kit: Kit) {
    let url = kit.url();
    let saver = kit.open(&url).await;
    let deleter = kit.open(&url).await;
    // The first conditional delete tells a backend that probes whether its server honours it.
    let probe = ok(saver.save_bytes_with("probe", "x", PutMode::Overwrite).await, "save");
    ok(deleter.delete_if_match("probe", &probe.version).await, "conditional delete");
    if !deleter.capabilities().conditional_delete {
        kit.skip("the backend's conditional deletes check the version just before deleting, not atomically");
        return;
    }
    let mut lost = 0;
    for round in 0..40 {
        let key = format!("race/{round}");
        let old = ok(saver.save_bytes_with(&key, "old", PutMode::Overwrite).await, "save old");
        let (saver2, key2) = (saver.clone(), key.clone());
        let save = tokio::spawn(async move { saver2.save(&key2, "new").await });
        let deleted = deleter.delete_if_match(&key, &old.version).await;
        ok(save.await.expect("the save task"), "save new");
        match deleted {
            Ok(()) | Err(Error::Precondition { .. }) => {}
            Err(e) => panic!("round {round}: {e}"),
        }
        match saver.read(&key).await {
            Ok(value) => assert_eq!(value, "new", "round {round}"),
            Err(Error::NotFound { .. }) => lost += 1,
            Err(e) => panic!("round {round}: {e}"),
        }
    }
    assert_eq!(lost, 0, "a conditional delete removed a value saved after the version it was given");
}
