//! The read cache never serves a value of this process's own writes that the backend no longer
//! holds, whatever the order in which overlapping writes of one key end.
//!
//! Each case runs many rounds through one store with `CachePolicy::Trust` (the policy that never
//! asks the backend again, so a wrong entry is served for good), on local disk and in memory:
//!
//! - two saves of one key, with different values, at once;
//! - a save and a delete of one key at once;
//! - a save through the raw stack (`ObjectStore::backend`) whose future is dropped midway (a
//!   timeout), which lands on disk anyway;
//! - saves, deletes and reads of many keys through a cache too small for them (evictions).
//!
//! After each round, the cached read (`read_bytes` of the Trust store) must equal what the
//! backend holds, read through a second handle without a cache over the same storage. The
//! number of rounds that differ is printed and must be zero.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use objstore::raw::Backend;
use objstore::raw::memory::MemoryBackend;
use objstore::{CacheOptions, CachePolicy, Error, Key, ObjectStore, PutMode};

/// Rounds per case: a save in memory is so short that its race with another is rarer.
const DISK_ROUNDS: usize = 400;
const MEMORY_ROUNDS: usize = 5000;

fn trust() -> CacheOptions {
    CacheOptions { policy: CachePolicy::Trust, ..CacheOptions::default() }
}

/// A Trust-cached store and an uncached one over the same storage.
struct Pair {
    cached: ObjectStore,
    truth: ObjectStore,
    rounds: usize,
    _dir: Option<tempfile::TempDir>,
}

async fn on_disk() -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    let cached = ObjectStore::builder(&url).cache(trust()).option("durability", "buffered").build().await.unwrap();
    let truth = ObjectStore::builder(&url)
        .cache(CacheOptions::DISABLED)
        .option("durability", "buffered")
        .build()
        .await
        .unwrap();
    Pair { cached, truth, rounds: DISK_ROUNDS, _dir: Some(dir) }
}

async fn in_memory() -> Pair {
    let memory: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
    let cached = objstore::StoreBuilder::for_backend(memory.clone()).cache(trust()).build().await.unwrap();
    let truth = objstore::StoreBuilder::for_backend(memory).cache(CacheOptions::DISABLED).build().await.unwrap();
    Pair { cached, truth, rounds: MEMORY_ROUNDS, _dir: None }
}

/// What a store answers for `key`: its bytes, or `None` when there is none.
async fn value(store: &ObjectStore, key: &str) -> Option<Bytes> {
    match store.read_bytes(key).await {
        Ok(bytes) => Some(bytes),
        Err(Error::NotFound { .. }) => None,
        Err(e) => panic!("reading {key}: {e}"),
    }
}

/// Counts the rounds whose cached read differs from the backend's value, printing the first.
async fn differs(pair: &Pair, key: &str, round: usize, what: &str) -> usize {
    let cached = value(&pair.cached, key).await;
    let truth = value(&pair.truth, key).await;
    if cached != truth {
        if round < 3 {
            eprintln!("{what}: round {round}: the cache serves {cached:?}, the backend holds {truth:?}");
        }
        1
    } else {
        0
    }
}

async fn racing_saves(pair: &Pair, what: &str) -> usize {
    let mut wrong = 0;
    for round in 0..pair.rounds {
        let key = format!("race/{round}");
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let tasks: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|v| {
                let (store, barrier, key) = (pair.cached.clone(), barrier.clone(), key.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.save(&key, &format!("{v}{round}")).await.unwrap();
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        wrong += differs(pair, &key, round, what).await;
    }
    println!("{what}: {wrong} of {} rounds of two racing saves left the cache differing from the backend", pair.rounds);
    wrong
}

async fn save_racing_delete(pair: &Pair, what: &str) -> usize {
    let mut wrong = 0;
    for round in 0..pair.rounds {
        let key = format!("delete/{round}");
        pair.cached.save(&key, "old").await.unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let save = {
            let (store, barrier, key) = (pair.cached.clone(), barrier.clone(), key.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.save(&key, &format!("new{round}")).await.unwrap();
            })
        };
        let delete = {
            let (store, barrier, key) = (pair.cached.clone(), barrier.clone(), key.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                match store.delete(&key).await {
                    Ok(()) | Err(Error::NotFound { .. }) => {}
                    Err(e) => panic!("{e}"),
                }
            })
        };
        save.await.unwrap();
        delete.await.unwrap();
        wrong += differs(pair, &key, round, what).await;
    }
    println!(
        "{what}: {wrong} of {} rounds of a save racing a delete left the cache differing from the backend",
        pair.rounds
    );
    wrong
}

/// A save through the raw stack whose caller gives up at its first wait: it lands anyway (on
/// disk, on a blocking thread), and the cache must follow.
async fn dropped_saves(pair: &Pair, what: &str) -> usize {
    let mut wrong = 0;
    let rounds = pair.rounds / 4;
    for round in 0..rounds {
        let key = format!("dropped/{round}");
        pair.cached.save(&key, "old").await.unwrap();
        assert_eq!(value(&pair.cached, &key).await.as_deref(), Some(&b"old"[..]));
        let new = Bytes::from(format!("new{round}"));
        let stack = pair.cached.backend().clone();
        let k = Key::parse(&key).unwrap().into_owned();
        let put = async move { stack.put(&k, new, &PutMode::Overwrite).await };
        let _ = tokio::time::timeout(Duration::ZERO, put).await;
        // Wait until the save has landed (or plainly never will).
        let start = Instant::now();
        while value(&pair.truth, &key).await.as_deref() == Some(&b"old"[..]) && start.elapsed() < Duration::from_secs(5)
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // And a moment for whatever follows its landing.
        tokio::time::sleep(Duration::from_millis(5)).await;
        wrong += differs(pair, &key, round, what).await;
    }
    println!("{what}: {wrong} of {rounds} rounds of a dropped save left the cache differing from the backend");
    wrong
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_saves_leave_the_cache_exact_on_disk() {
    assert_eq!(racing_saves(&on_disk().await, "disk").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_saves_leave_the_cache_exact_in_memory() {
    assert_eq!(racing_saves(&in_memory().await, "memory").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_racing_a_delete_leaves_the_cache_exact_on_disk() {
    assert_eq!(save_racing_delete(&on_disk().await, "disk").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_racing_a_delete_leaves_the_cache_exact_in_memory() {
    assert_eq!(save_racing_delete(&in_memory().await, "memory").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_save_leaves_the_cache_exact_on_disk() {
    assert_eq!(dropped_saves(&on_disk().await, "disk").await, 0);
}

/// Saves, deletes and reads of 32 keys from two tasks at once through a cache that holds about
/// half of them, so that entries are evicted, remembered as ghosts and admitted again all the
/// time while others stay: once the tasks end, every key's cached read equals the backend's
/// value. (With the cache's removal of a key made a no-op, 2–3 keys differ in every run.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_under_eviction_pressure_stays_exact() {
    let memory: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
    let small = CacheOptions { capacity_bytes: 16 * 1024, max_entry_bytes: 2048, policy: CachePolicy::Trust };
    let cached = objstore::StoreBuilder::for_backend(memory.clone()).cache(small).build().await.unwrap();
    let truth = objstore::StoreBuilder::for_backend(memory).cache(CacheOptions::DISABLED).build().await.unwrap();
    let pair = Pair { cached, truth, rounds: 0, _dir: None };
    const KEYS: u64 = 32;
    let tasks: Vec<_> = (0..2u64)
        .map(|task| {
            let store = pair.cached.clone();
            tokio::spawn(async move {
                let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ task;
                for op in 0..4000u64 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let key = format!("pressure/{}", x % KEYS);
                    match (x >> 8) % 4 {
                        0 => {
                            let _ = store.delete(&key).await;
                        }
                        1 | 2 => {
                            let len = 100 + (x >> 16) as usize % 1500;
                            store.save_bytes(&key, Bytes::from(vec![(op % 251) as u8; len])).await.unwrap();
                        }
                        _ => {
                            let _ = value(&store, &key).await;
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let mut wrong = 0;
    for k in 0..KEYS {
        wrong += differs(&pair, &format!("pressure/{k}"), k as usize, "pressure").await;
    }
    let stats = pair.cached.cache_stats();
    println!("pressure: {wrong} of {KEYS} keys differ; {stats:?}");
    assert!(stats.is_some_and(|s| s.evictions > 0 && s.bytes <= 16 * 1024), "the cache was never full: {stats:?}");
    assert_eq!(wrong, 0);
}
