//! The store never deletes what a user saved: every delete the manager decides on itself
//! (cleanup of expired, superseded and archived copies, the old copy of a move) removes only the
//! version it examined. Two managers on one store (as two processes have), on memory, local
//! disk, SeaweedFS and moto.
//!
//! The deterministic cases put another process's save exactly between the manager's look and its
//! delete, with a test layer that runs the save just before the delete reaches the storage. The
//! random case races cleanups and moves of a few keys from two managers and checks that no key
//! that was saved is ever lost (`OBJSTORE_RACE_SCALE` lengthens it: `cargo xtask soak --scale`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::Env;
use common::hook::Hooks;
use futures::FutureExt;
use serde_json::json;
use store_manager::clock::Clock;
use store_manager::format::{self, Encoding, Header};
use store_manager::{Category, Checksum, Manager, SaveOptions, Settings};

fn no_archive() -> Settings {
    common::settings(json!({"auto_cleanup": {"archive_before_delete": false}}))
}

/// A manager over a store with the hook layer, sharing the case's clock.
async fn hooked(env: &Env, hooks: &Hooks, settings: Settings) -> Manager {
    Manager::with_clock(hooks.store(&env.url).await, settings, env.clock.clone())
}

/// Cleanup reads an expired object, another process saves the key again (no expiry), then
/// cleanup deletes: the new save must survive.
async fn expired_cleanup_spares_a_save_made_after_it_looked(env: Env, archive: bool) {
    let settings = if archive { Settings::default() } else { no_archive() };
    let hooks = Hooks::default();
    let a = hooked(&env, &hooks, settings.clone()).await;
    let b = env.other_manager(settings).await;
    b.save("pos", &1, SaveOptions::new(Category::TradingState).expire_days(1)).await.unwrap();
    env.clock.advance_days(2);
    let saver = b.clone();
    hooks.before_delete("trading_state/pos", move |_| {
        async move {
            saver.save("pos", &2, SaveOptions::new(Category::TradingState)).await.unwrap();
        }
        .boxed()
    });
    let report = a.cleanup().await.unwrap();
    assert_eq!(report.expired, 0, "the expired version was replaced before the delete: {report:?}");
    assert_eq!(b.load::<i32>("pos").await.unwrap(), Some(2), "the save made during the cleanup was deleted");
    assert_eq!(a.load::<i32>("pos").await.unwrap(), Some(2));
}

async fn expired_cleanup_spares_a_new_save(env: Env) {
    expired_cleanup_spares_a_save_made_after_it_looked(env, false).await;
}

async fn archiving_cleanup_spares_a_new_save(env: Env) {
    expired_cleanup_spares_a_save_made_after_it_looked(env, true).await;
}

/// Two copies of a key (a move interrupted before its delete): cleanup removes the older one,
/// but another process moves the key back into that category just before the delete.
async fn superseded_cleanup_spares_a_move_back(env: Env) {
    let writer = env.manager(Settings::default());
    writer.save("pos", &1, SaveOptions::new(Category::TradingState)).await.unwrap();
    let old_copy = env.store.read_bytes("trading_state/pos").await.unwrap();
    env.clock.advance_days(1);
    writer.save("pos", &2, SaveOptions::new(Category::ResearchData)).await.unwrap();
    // The move's delete "did not last": the old copy is back beside the new one.
    env.store.save_bytes("trading_state/pos", old_copy).await.unwrap();
    env.clock.advance_days(1);

    let hooks = Hooks::default();
    let a = hooked(&env, &hooks, Settings::default()).await;
    let b = env.other_manager(Settings::default()).await;
    b.usage_by_category().await.unwrap();
    let mover = b.clone();
    hooks.before_delete("trading_state/pos", move |_| {
        async move {
            // A newer save into trading_state; it removes the research_data copy it saw.
            mover.save("pos", &3, SaveOptions::new(Category::TradingState)).await.unwrap();
        }
        .boxed()
    });
    let report = a.cleanup().await.unwrap();
    assert_eq!(report.superseded, 0, "{report:?}");
    let fresh = env.other_manager(Settings::default()).await;
    assert_eq!(fresh.load::<i32>("pos").await.unwrap(), Some(3), "the key saved last was lost");
}

/// An archived copy past its retention is purged, but the key was archived again (a newer
/// copy) between the purge's look and its delete.
async fn purge_spares_a_newer_archive_copy(env: Env) {
    let writer = env.manager(Settings::default());
    writer.save("report", &1, SaveOptions::new(Category::BacktestResults).expire_days(1)).await.unwrap();
    env.clock.advance_days(2);
    assert_eq!(writer.cleanup().await.unwrap().archived, 1);
    env.clock.advance_days(200);

    let hooks = Hooks::default();
    let a = hooked(&env, &hooks, Settings::default()).await;
    let plain = env.other_store().await;
    let now = format::to_ms(env.clock.now());
    let value = b"7".to_vec();
    let header = Header {
        key: "report".into(),
        category: "backtest_results".into(),
        encoding: Encoding::Json,
        size: value.len() as u64,
        checksum: Checksum::of(&value).to_string(),
        created_ms: now,
        expires_ms: Some(now),
        metadata: Default::default(),
        archived_ms: Some(now),
        purge_after_ms: Some(now + 90 * 86_400_000),
    };
    let newer = format::encode(&header, &value, Some(1)).unwrap();
    hooks.before_delete("_archive/backtest_results/report", move |key| {
        async move {
            plain.save_bytes(&key, newer).await.unwrap();
        }
        .boxed()
    });
    let report = a.cleanup().await.unwrap();
    assert_eq!(report.purged, 0, "{report:?}");
    let archived = a.list_archived(&Category::BacktestResults).await.unwrap();
    assert_eq!(archived.len(), 1, "the newer archived copy was purged");
    assert_eq!(a.load_archived_bytes(&Category::BacktestResults, "report").await.unwrap().unwrap(), &b"7"[..]);
}

/// Two processes move one key in opposite directions at once: both may get Ok, but the key must
/// survive (the one saved last wins).
async fn opposite_moves_never_lose_the_key(env: Env) {
    let writer = env.manager(Settings::default());
    writer.save("params", &json!({"v": 0}), SaveOptions::new(Category::ResearchData)).await.unwrap();
    env.clock.advance_days(1);

    let hooks = Hooks::default();
    let a = hooked(&env, &hooks, Settings::default()).await;
    let b = env.other_manager(Settings::default()).await;
    a.usage_by_category().await.unwrap();
    b.usage_by_category().await.unwrap();
    let other = b.clone();
    let clock = env.clock.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    // A moves research_data -> trading_state; after its put and before its delete of the old
    // copy, B (which now sees both copies) moves the key back into research_data.
    hooks.before_delete("research_data/params", move |_| {
        async move {
            other.usage_by_category().await.unwrap();
            clock.advance(std::time::Duration::from_secs(1));
            let result = other.save("params", &json!({"v": "b"}), SaveOptions::new(Category::ResearchData)).await;
            tx.send(result.map(|_| ())).unwrap();
        }
        .boxed()
    });
    let a_result = a.save("params", &json!({"v": "a"}), SaveOptions::new(Category::TradingState)).await;
    let b_result = rx.await.unwrap();
    assert!(a_result.is_ok() && b_result.is_ok(), "{a_result:?} {b_result:?}");
    let fresh = env.other_manager(Settings::default()).await;
    assert_eq!(
        fresh.load::<serde_json::Value>("params").await.unwrap(),
        Some(json!({"v": "b"})),
        "both moves returned Ok and the key is gone"
    );
}

/// Two managers save a few keys into random categories (moves) and run cleanups at once; no key
/// that was saved is ever lost, and each loads a value one of them saved. Prints a `SUMMARY
/// manager_races` line for the reliability table (`OBJSTORE_RACE_SCALE` multiplies the rounds).
async fn racing_moves_and_cleanups_never_lose_a_key(env: Env, backend: &str) {
    let started = std::time::Instant::now();
    let scale: usize = std::env::var("OBJSTORE_RACE_SCALE").ok().and_then(|r| r.parse().ok()).unwrap_or(1);
    let rounds = 12 * scale.max(1);
    const KEYS: usize = 4;
    let categories = [Category::TradingState, Category::ResearchData, Category::MlModels];
    let a = env.manager(Settings::default());
    let b = env.other_manager(Settings::default()).await;
    let work = |m: Manager, who: usize| {
        let categories = categories.clone();
        async move {
            let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ who as u64;
            for round in 0..rounds {
                for key in 0..KEYS {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let category = categories[(x % 3) as usize].clone();
                    let value = json!({"who": who, "round": round});
                    m.save(&format!("k{key}"), &value, SaveOptions::new(category)).await.unwrap();
                }
                m.cleanup().await.unwrap();
            }
        }
    };
    let (ra, rb) = tokio::join!(tokio::spawn(work(a.clone(), 0)), tokio::spawn(work(b.clone(), 1)));
    ra.unwrap();
    rb.unwrap();
    let fresh = Arc::new(env.other_manager(Settings::default()).await);
    let mut lost = Vec::new();
    for key in 0..KEYS {
        let value: Option<serde_json::Value> = fresh.load(&format!("k{key}")).await.unwrap();
        match value {
            Some(value) => assert!(value["who"].as_u64().unwrap() < 2, "{value}"),
            None => lost.push(format!("k{key}")),
        }
    }
    store_core::testkit::summary(
        "manager_races",
        &[
            ("backend", backend.to_string()),
            ("acked_verified", KEYS.to_string()),
            ("saves", (2 * rounds * KEYS).to_string()),
            ("cleanups", (2 * rounds).to_string()),
            ("violations", lost.len().to_string()),
            ("secs", format!("{:.1}", started.elapsed().as_secs_f64())),
        ],
    );
    assert!(lost.is_empty(), "saved and lost: {lost:?}");
}

/// Both copies of a key that a move interrupted between its put and its delete leaves, the newer
/// in a custom category: a manager that has not scanned the store yet (a new process) loads the
/// newer one. It used to probe the built-in categories only (a custom one is known after a scan)
/// and answer the older copy it found there; the crash test caught it as an acknowledged save
/// older than the value read back.
async fn a_cold_load_finds_a_newer_copy_in_a_custom_category(env: Env) {
    let writer = env.manager(no_archive());
    writer.save_bytes("k", b"old".to_vec(), SaveOptions::new(Category::MlModels)).await.unwrap();
    let old_frame = env.store.read_bytes("ml_models/k").await.unwrap();
    env.clock.advance(std::time::Duration::from_secs(5));
    let custom = Category::Custom("fx".into());
    writer.save_bytes("k", b"new".to_vec(), SaveOptions::new(custom.clone())).await.unwrap();
    // The old copy, as the interrupted move left it.
    env.store.save_bytes("ml_models/k", old_frame).await.unwrap();
    let cold = env.other_manager(no_archive()).await;
    assert_eq!(cold.load_bytes("k").await.unwrap().as_deref(), Some(&b"new"[..]), "a cold load found the older copy");
    let cold = env.other_manager(no_archive()).await;
    assert_eq!(cold.get_metadata("k").await.unwrap().map(|o| o.category), Some(custom.clone()));
    let cold = env.other_manager(no_archive()).await;
    cold.delete("k").await.unwrap();
    assert_eq!(env.manager(no_archive()).load_bytes("k").await.unwrap(), None, "a copy outlived the delete");
}

/// A delete interrupted midway (a crash, a timeout) never brings back an older value. With two
/// copies of a key (a move whose old copy's delete was lost), a delete that stops after removing
/// one of them must have removed the older: the value a load finds is then still the newest.
async fn an_interrupted_delete_never_brings_back_an_older_copy(env: Env) {
    let manager = env.manager(Settings::default());
    manager.save("pos", &json!({"qty": 1}), SaveOptions::new(Category::TradingState)).await.unwrap();
    let old_copy = env.store.read_bytes("trading_state/pos").await.unwrap();
    env.clock.advance(std::time::Duration::from_secs(60));
    manager.save("pos", &json!({"qty": 2}), SaveOptions::new(Category::MlModels)).await.unwrap();
    // The move's lost delete: the old copy is back, as a crash between the two left it.
    env.store.save_bytes("trading_state/pos", old_copy).await.unwrap();
    drop(manager);

    // The delete of the older copy never reaches the storage: the process dies there.
    let hooks = Hooks::default();
    hooks.before_delete("trading_state/pos", |_| futures::future::pending().boxed());
    let deleting = hooked(&env, &hooks, Settings::default()).await;
    let interrupted = tokio::time::timeout(std::time::Duration::from_secs(2), deleting.delete("pos")).await;
    assert!(interrupted.is_err(), "the delete finished though its first step never did");
    drop(deleting);

    let fresh = env.other_manager(Settings::default()).await;
    match fresh.load::<serde_json::Value>("pos").await.unwrap() {
        None => {}
        Some(value) => assert_eq!(value, json!({"qty": 2}), "an interrupted delete brought back an older value"),
    }
}

macro_rules! race_suite {
    ($env:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn expired_cleanup_spares_a_new_save() {
            super::expired_cleanup_spares_a_new_save($env.await).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn archiving_cleanup_spares_a_new_save() {
            super::archiving_cleanup_spares_a_new_save($env.await).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn superseded_cleanup_spares_a_move_back() {
            super::superseded_cleanup_spares_a_move_back($env.await).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn purge_spares_a_newer_archive_copy() {
            super::purge_spares_a_newer_archive_copy($env.await).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_cold_load_finds_a_newer_copy_in_a_custom_category() {
            super::a_cold_load_finds_a_newer_copy_in_a_custom_category($env.await).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn an_interrupted_delete_never_brings_back_an_older_copy() {
            super::an_interrupted_delete_never_brings_back_an_older_copy($env.await).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn opposite_moves_never_lose_the_key() {
            super::opposite_moves_never_lose_the_key($env.await).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn racing_moves_and_cleanups_never_lose_a_key() {
            super::racing_moves_and_cleanups_never_lose_a_key($env.await, module_path!()).await;
        }
    };
}

mod in_memory {
    use super::*;
    race_suite!(Env::memory());
}

mod on_disk {
    use super::*;
    race_suite!(Env::local());
}

mod seaweedfs {
    use super::*;
    race_suite!(Env::s3("OBJSTORE_TEST_S3_SEAWEEDFS", "SeaweedFS"));
}

mod moto {
    use super::*;
    race_suite!(Env::s3("OBJSTORE_TEST_S3_MOTO", "moto"));
}
