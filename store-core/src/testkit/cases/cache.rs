//! The read cache: revalidation, trust, TTL, immutability; readers beside writers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::BytesMut;

use super::ok;
use crate::testkit::Kit;
use crate::{CacheOptions, CachePolicy, Error, ObjectStore, assert_err};

async fn with_policy(kit: &Kit, url: &str, policy: CachePolicy) -> ObjectStore {
    kit.build(ObjectStore::builder(url).cache(CacheOptions { policy, ..CacheOptions::default() })).await
}

/// With `Revalidate` (the default), a change made through another handle (another process,
/// another node) is seen on the next read, including deletes.
pub async fn cache_revalidate_sees_other_writers(kit: Kit) {
    let url = kit.url();
    let a = kit.open(&url).await;
    let b = kit.open(&url).await;
    ok(a.save("123", "from project A").await, "A saves");
    assert_eq!(ok(a.read("123").await, "A reads"), "from project A");
    ok(b.save("123", "from project B").await, "B saves");
    assert_eq!(ok(a.read("123").await, "A reads again"), "from project B", "A served a stale cached value");
    ok(b.save("123", "same len Bxx").await, "B saves a value of the same length");
    ok(b.save("123", "same len Byy").await, "B saves again");
    assert_eq!(ok(a.read("123").await, "A reads"), "same len Byy");
    ok(b.delete("123").await, "B deletes");
    assert_err!(a.read("123").await, Error::NotFound { .. });
    assert!(!ok(a.contains_key("123").await, "contains_key"));
}

/// With `Trust`, cached values are served as they are until `clear()` (LEAN's behaviour).
pub async fn cache_trust_serves_until_clear(kit: Kit) {
    let url = kit.url();
    let a = with_policy(&kit, &url, CachePolicy::Trust).await;
    let b = kit.open(&url).await;
    ok(a.save("123", "from project A").await, "A saves");
    ok(b.save("123", "from project B").await, "B saves");
    assert_eq!(ok(a.read("123").await, "A reads"), "from project A", "Trust must serve the cached value");
    a.clear();
    assert_eq!(ok(a.read("123").await, "A reads after clear"), "from project B");
    // Clear deletes nothing.
    assert!(ok(b.contains_key("123").await, "contains_key"));
}

/// `Ttl` trusts a value for its duration after each check (no sleeping: a zero TTL always
/// revalidates, an hour-long one trusts).
pub async fn cache_ttl(kit: Kit) {
    let url = kit.url();
    let zero = with_policy(&kit, &url, CachePolicy::Ttl(Duration::ZERO)).await;
    let hour = with_policy(&kit, &url, CachePolicy::Ttl(Duration::from_secs(3600))).await;
    let writer = kit.open(&url).await;
    ok(writer.save("k", "v1").await, "save");
    assert_eq!(ok(zero.read("k").await, "read"), "v1");
    assert_eq!(ok(hour.read("k").await, "read"), "v1");
    ok(writer.save("k", "v2").await, "save");
    assert_eq!(ok(zero.read("k").await, "read"), "v2");
    assert_eq!(ok(hour.read("k").await, "read"), "v1");
    hour.clear();
    assert_eq!(ok(hour.read("k").await, "read"), "v2");
}

/// What a caller does with a value it read cannot change what the cache serves next.
pub async fn cached_values_cannot_be_changed(kit: Kit) {
    let s = with_policy(&kit, &kit.url(), CachePolicy::Trust).await;
    ok(s.save_bytes("k", vec![1u8, 2, 3]).await, "save");
    let first = ok(s.read_bytes("k").await, "read");
    let mut mine = BytesMut::from(&first[..]);
    mine[0] = 99;
    assert_eq!(&ok(s.read_bytes("k").await, "read")[..], &[1, 2, 3]);
}

/// Readers running beside a writer see whole values only, and never one older than a value
/// whose save returned before the read began.
pub async fn readers_never_see_torn_values(kit: Kit) {
    let url = kit.url();
    let writer = Arc::new(kit.open(&url).await);
    // Values are self-describing: n repeated bytes of value n % 251, with length 1000 + 97n.
    let value = |n: usize| vec![(n % 251) as u8; 1000 + 97 * n];
    ok(writer.save_bytes("hot", value(0)).await, "seed");
    let acknowledged = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for r in 0..4 {
        let reader = kit.open(&url).await;
        let acknowledged = acknowledged.clone();
        let done = done.clone();
        readers.push(tokio::spawn(async move {
            let mut reads = 0u64;
            while !done.load(Ordering::Acquire) || reads < 10 {
                let floor = acknowledged.load(Ordering::Acquire);
                let bytes = ok(reader.read_bytes("hot").await, "read");
                let n = (bytes.len() - 1000) / 97;
                assert_eq!(bytes.len(), 1000 + 97 * n, "reader {r}: torn length {}", bytes.len());
                assert!(bytes.iter().all(|&b| b == (n % 251) as u8), "reader {r}: torn content");
                assert!(n >= floor, "reader {r}: read value {n} after value {floor} was acknowledged");
                reads += 1;
                tokio::task::yield_now().await;
            }
            reads
        }));
    }
    for n in 1..=150 {
        ok(writer.save_bytes("hot", value(n)).await, "write");
        acknowledged.store(n, Ordering::Release);
    }
    done.store(true, Ordering::Release);
    for r in readers {
        match r.await {
            Ok(reads) => assert!(reads >= 10),
            Err(e) => panic!("{e}"),
        }
    }
}
