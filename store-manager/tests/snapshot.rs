//! The persisted index and the change marker: a new process starts from the snapshot in the store
//! and reads headers only of what changed; a damaged or foreign snapshot is ignored and rebuilt;
//! a load, a metadata lookup or a delete of an absent key costs one request on S3 (and memory)
//! once the index is current, while saves by other managers stay visible at once.
//!
//! The acceptance case (SeaweedFS, 2,000 managed objects of 1 MiB) runs its second process as a
//! real child process: this test binary, run again with `OBJSTORE_SNAPSHOT_CHILD` set.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Env;
use common::counted::Counted;
use futures::{StreamExt, TryStreamExt};
use serde_json::json;
use store_manager::{Category, SaveOptions, Settings};

const SNAPSHOT_KEY: &str = "_manager/index";

/// Objects of several kinds: managed ones in three categories, an archived copy, a foreign one.
async fn fill(env: &Env) {
    let writer = env.manager(Settings::default());
    for i in 0..24u64 {
        let category =
            [Category::MlModels, Category::TradingState, Category::Custom("fx".into())][i as usize % 3].clone();
        let opts = SaveOptions::new(category).with_metadata("i", i);
        writer.save_bytes(&format!("obj_{i:02}"), common::noise(3000, i), opts).await.unwrap();
    }
    writer.save("stale", &1, SaveOptions::new(Category::LlmCache).expire_days(1)).await.unwrap();
    env.store.save("llm_cache/foreign", "not managed").await.unwrap();
    env.clock.advance_days(2);
    assert_eq!(writer.cleanup().await.unwrap().archived, 1);
    writer.persist_index().await.unwrap();
}

async fn a_new_process_reads_the_snapshot_and_no_headers(env: Env) {
    fill(&env).await;
    let cold = Counted::scanning(&env).await;
    let expected = cold.manager.census().await.unwrap();
    let problems = cold.manager.problems().await.unwrap();

    let warm = Counted::new(&env).await;
    assert_eq!(warm.manager.census().await.unwrap().categories, expected.categories);
    assert_eq!(warm.manager.census().await.unwrap().archive, expected.archive);
    assert_eq!(warm.manager.problems().await.unwrap(), problems);
    assert_eq!(warm.manager.list_keys(&Category::MlModels).await.unwrap().len(), 8);
    let found = warm.manager.find(|o| o.metadata.get("i") == Some(&json!(7))).await.unwrap();
    assert_eq!(found[0].key, "obj_07");
    assert_eq!(warm.count("get_range"), 0, "a header was read although the snapshot has every object");
    assert_eq!(warm.count("get"), 1, "one read: the snapshot");
    let snapshot_size = env.store.head(SNAPSHOT_KEY).await.unwrap().size;
    assert_eq!(warm.read_bytes(), snapshot_size);
    assert!(!warm.manager.persist_index().await.unwrap(), "nothing changed: nothing to write");
}

async fn only_changed_objects_are_read_again(env: Env) {
    fill(&env).await;
    let other = env.other_manager(Settings::default()).await;
    other.set_index_snapshots(None);
    other.save("new_1", &1, SaveOptions::new(Category::MlModels)).await.unwrap();
    other.save("obj_00", &"replaced", SaveOptions::new(Category::MlModels)).await.unwrap();
    other.delete("obj_03").await.unwrap();
    let warm = Counted::new(&env).await;
    let mut keys = warm.manager.list_keys(&Category::MlModels).await.unwrap();
    keys.sort();
    assert_eq!(keys.len(), 8, "{keys:?}");
    assert!(keys.contains(&"new_1".to_string()) && !keys.contains(&"obj_03".to_string()));
    assert_eq!(warm.count("get_range"), 2, "the headers of the two changed objects, and only those");
    assert_eq!(warm.manager.load::<String>("obj_00").await.unwrap().as_deref(), Some("replaced"));
    // Its scan changed the index: it wrote a new snapshot, and the next process reads no header.
    let next = Counted::new(&env).await;
    assert_eq!(next.manager.list_keys(&Category::MlModels).await.unwrap().len(), 8);
    assert_eq!(next.count("get_range"), 0);
}

async fn a_damaged_or_foreign_snapshot_is_ignored_and_rebuilt(env: Env) {
    fill(&env).await;
    let good = env.store.read_bytes(SNAPSHOT_KEY).await.unwrap();
    let expected = Counted::scanning(&env).await.manager.census().await.unwrap().categories;
    let mut damaged = good.to_vec();
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0xff;
    damaged.truncate(damaged.len() - 5);
    // Another store's snapshot: its versions are another store's.
    let elsewhere = Env::local().await;
    fill(&elsewhere).await;
    let foreign = elsewhere.store.read_bytes(SNAPSHOT_KEY).await.unwrap();
    for bad in [damaged, b"{\"objects\": []}".to_vec(), foreign.to_vec()] {
        env.store.save_bytes(SNAPSHOT_KEY, bad).await.unwrap();
        let reader = Counted::new(&env).await;
        assert_eq!(reader.manager.census().await.unwrap().categories, expected);
        assert!(reader.count("get_range") >= 24, "every header is read when the snapshot is no use");
        let after = Counted::new(&env).await;
        assert_eq!(after.manager.census().await.unwrap().categories, expected);
        assert_eq!(after.count("get_range"), 0, "the scan wrote a new snapshot");
    }
}

/// A manager on a store it may only read scans it without writing (no snapshot, no error).
async fn a_read_only_manager_scans_without_writing(env: Env) {
    let writer = env.manager(Settings::default());
    writer.set_index_snapshots(None);
    for i in 0..5 {
        writer.save(&format!("k{i}"), &i, SaveOptions::new(Category::LlmCache)).await.unwrap();
    }
    let read_only =
        store_core::ObjectStore::builder(&env.url).access(store_core::Access::READ_ONLY).build().await.unwrap();
    let reader = store_manager::Manager::with_clock(read_only, Settings::default(), env.clock.clone());
    assert_eq!(reader.census().await.unwrap().files(), 5);
    assert_eq!(reader.load::<i32>("k3").await.unwrap(), Some(3));
    assert!(env.store.head(SNAPSHOT_KEY).await.unwrap_err().is_not_found(), "a read-only manager wrote");
    assert!(reader.persist_index().await.is_err(), "asked to, it says why it cannot");
}

macro_rules! snapshot_suite {
    ($env:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_new_process_reads_the_snapshot_and_no_headers() {
            super::a_new_process_reads_the_snapshot_and_no_headers($env.await).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn only_changed_objects_are_read_again() {
            super::only_changed_objects_are_read_again($env.await).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_read_only_manager_scans_without_writing() {
            super::a_read_only_manager_scans_without_writing($env.await).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_damaged_or_foreign_snapshot_is_ignored_and_rebuilt() {
            super::a_damaged_or_foreign_snapshot_is_ignored_and_rebuilt($env.await).await;
        }
    };
}

/// Absent keys: one request once the index is current; other managers' saves and moves are
/// still seen at once.
async fn an_absent_key_costs_one_request(env: Env) {
    let writer = env.manager(Settings::default());
    for i in 0..5 {
        writer.save(&format!("k{i}"), &i, SaveOptions::new(Category::LlmCache)).await.unwrap();
    }
    let reader = Counted::new(&env).await;
    assert_eq!(reader.manager.list_keys(&Category::LlmCache).await.unwrap().len(), 5);
    for round in 0..3 {
        let before = reader.requests();
        assert_eq!(reader.manager.load::<i32>("absent").await.unwrap(), None);
        assert_eq!(reader.requests() - before, 1, "round {round}: a load of an absent key");
        let before = reader.requests();
        assert_eq!(reader.manager.get_metadata("absent").await.unwrap(), None);
        assert!(reader.manager.delete("absent").await.unwrap_err().is_not_found());
        assert_eq!(reader.requests() - before, 2, "round {round}: get_metadata and delete of an absent key");
    }
    // Another manager adds the key, then moves it: the reader sees both at once.
    writer.save("absent", &"now here", SaveOptions::new(Category::ResearchData)).await.unwrap();
    assert_eq!(reader.manager.load::<String>("absent").await.unwrap().as_deref(), Some("now here"));
    env.clock.advance_days(1);
    writer.save("absent", &"moved", SaveOptions::new(Category::TradingState)).await.unwrap();
    assert_eq!(reader.manager.load::<String>("absent").await.unwrap().as_deref(), Some("moved"));
    assert_eq!(reader.manager.get_metadata("absent").await.unwrap().unwrap().category, Category::TradingState);
    // Its own saves keep its index current.
    reader.manager.save("mine", &1, SaveOptions::new(Category::LlmCache)).await.unwrap();
    let before = reader.requests();
    assert_eq!(reader.manager.load::<i32>("still-absent").await.unwrap(), None);
    assert_eq!(reader.requests() - before, 1);
    // A known key is one request too.
    let before = reader.requests();
    assert_eq!(reader.manager.load::<i32>("k3").await.unwrap(), Some(3));
    assert_eq!(reader.requests() - before, 1);
}

macro_rules! absent_suite {
    ($env:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn an_absent_key_costs_one_request() {
            super::an_absent_key_costs_one_request($env.await).await;
        }
    };
}

mod on_disk {
    use super::*;
    snapshot_suite!(Env::local());
}

mod in_memory {
    use super::*;
    absent_suite!(Env::memory());
}

mod seaweedfs {
    use super::*;
    snapshot_suite!(Env::s3("OBJSTORE_TEST_S3_SEAWEEDFS", "SeaweedFS"));
    absent_suite!(Env::s3("OBJSTORE_TEST_S3_SEAWEEDFS", "SeaweedFS"));
}

mod moto {
    use super::*;
    snapshot_suite!(Env::s3("OBJSTORE_TEST_S3_MOTO", "moto"));
    absent_suite!(Env::s3("OBJSTORE_TEST_S3_MOTO", "moto"));
}

/// The acceptance case: a manager on a SeaweedFS prefix of 2,000 managed objects of 1 MiB reads at
/// most 1 % of the stored bytes at cold start (headers by range); a second process started after
/// it reads the snapshot and no header. `OBJSTORE_SNAPSHOT_OBJECTS` changes the count.
mod acceptance {
    use super::*;

    const CHILD: &str = "OBJSTORE_SNAPSHOT_CHILD";
    const MIB: usize = 1 << 20;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cold_start_reads_headers_once_then_a_new_process_reads_the_snapshot() {
        if let Ok(url) = std::env::var(CHILD) {
            return second_process(&url).await;
        }
        let count: u64 = std::env::var("OBJSTORE_SNAPSHOT_OBJECTS").ok().and_then(|n| n.parse().ok()).unwrap_or(2000);
        let env = Env::s3("OBJSTORE_TEST_S3_SEAWEEDFS", "SeaweedFS").await;
        let writer = env.manager(common::settings(json!({"compression_enabled": false})));
        writer.set_index_snapshots(None);
        let base = common::noise(MIB, 1);
        futures::stream::iter(0..count)
            .for_each_concurrent(16, |i| {
                let mut value = base.clone();
                value[..8].copy_from_slice(&i.to_le_bytes());
                let writer = writer.clone();
                async move {
                    let opts = SaveOptions::new(Category::MlModels).with_metadata("i", i);
                    writer.save_bytes(&format!("model_{i:05}"), value, opts).await.unwrap();
                }
            })
            .await;
        let stored: u64 =
            env.store.list("").map_ok(|m| m.size).try_fold(0, |a, b| async move { Ok(a + b) }).await.unwrap();

        let first = Counted::new(&env).await;
        assert_eq!(first.manager.list_keys(&Category::MlModels).await.unwrap().len() as u64, count);
        let read = first.read_bytes();
        eprintln!("first process: {read} bytes read of {stored} stored; {} header reads", first.count("get_range"));
        assert!(read * 100 <= stored, "the cold start read {read} of {stored} bytes (over 1 %)");
        assert!(env.store.head(SNAPSHOT_KEY).await.is_ok(), "the scan wrote the snapshot");

        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "acceptance::cold_start_reads_headers_once_then_a_new_process_reads_the_snapshot"])
            .args(["--nocapture", "--test-threads", "1"])
            .env(CHILD, &env.url)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "the second process failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let line = stdout.lines().find_map(|l| l.find("second process:").map(|at| &l[at..]));
        let line = line.unwrap_or_else(|| panic!("no report from the second process:\n{stdout}"));
        eprintln!("{line}");
        let field = |name: &str| -> u64 {
            line.split_whitespace().find_map(|w| w.strip_prefix(name)).unwrap().parse().unwrap()
        };
        assert_eq!(field("keys="), count);
        assert_eq!(field("header_reads="), 0, "the second process read headers: {line}");
        assert_eq!(field("gets="), 1, "one read, of the snapshot: {line}");
        let snapshot = env.store.head(SNAPSHOT_KEY).await.unwrap().size;
        assert_eq!(field("read_bytes="), snapshot, "{line}");

        // Leave the server as it was.
        let keys: Vec<String> = env.store.list_keys("").map_ok(|k| k.as_str().to_string()).try_collect().await.unwrap();
        futures::stream::iter(keys)
            .for_each_concurrent(32, |k| {
                let store = env.store.clone();
                async move { store.delete(&k).await.unwrap() }
            })
            .await;
    }

    /// The child: a new process on the same prefix; prints what it read.
    async fn second_process(url: &str) {
        let env = Env::at_url(url).await;
        let second = Counted::new(&env).await;
        let keys = second.manager.list_keys(&Category::MlModels).await.unwrap();
        println!(
            "second process: keys={} header_reads={} gets={} read_bytes={}",
            keys.len(),
            second.count("get_range"),
            second.count("get"),
            second.read_bytes()
        );
    }
}
