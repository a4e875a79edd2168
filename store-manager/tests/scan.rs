//! A manager's scan reads only each object's prefix and header, by a ranged read through the
//! store (one request, typically), on every backend: never the whole object, never a file by
//! its path. Measured with the operation-metrics layer's byte counters.
//!
//! On local disk, hostile files never hang or break it: a FIFO or a symlink to a file outside the
//! root swapped in after the listing, a header length of hundreds of megabytes in a sparse file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::Env;
use common::counted::Counted;
use futures::FutureExt;
use store_manager::{Category, SaveOptions, Settings};

const MIB: usize = 1 << 20;

/// Stored bytes of every object in the case's store.
async fn stored_bytes(env: &Env) -> u64 {
    use futures::TryStreamExt;
    let metas: Vec<_> = env.store.list("").try_collect().await.unwrap();
    metas.iter().map(|m| m.size).sum()
}

async fn cold_scan_reads_only_headers(env: Env) {
    let writer = env.manager(Settings::default());
    for i in 0..12u64 {
        let opts = SaveOptions::new(Category::MlModels).with_metadata("run", i);
        writer.save_bytes(&format!("model_{i}"), common::noise(MIB, i), opts).await.unwrap();
    }
    let stored = stored_bytes(&env).await;
    let reader = Counted::scanning(&env).await;
    let objects = reader.manager.list_objects(&Category::MlModels).await.unwrap();
    assert_eq!(objects.len(), 12);
    let third = objects.iter().find(|o| o.key == "model_3").unwrap();
    assert_eq!(third.metadata["run"], 3, "the header was read");
    let read = reader.read_bytes();
    assert!(read * 100 <= stored, "the cold scan read {read} of the {stored} bytes stored (over 1 %)");
    assert_eq!(reader.hooks.local_paths.lock().unwrap().as_slice(), &[] as &[String], "a scan opened files by path");
    // Usage, search and the other folders cost no more reads: the index has every header.
    reader.manager.usage_by_category().await.unwrap();
    reader.manager.find(|o| o.metadata.get("run").is_some()).await.unwrap();
    assert!(reader.read_bytes() * 100 <= stored, "read {} of {stored}", reader.read_bytes());
}

async fn cleanup_reads_only_headers(env: Env) {
    // Two copies of a 1 MiB key (a move whose delete did not last), and a large expired object.
    let writer = env.manager(no_archive());
    writer.save_bytes("model", common::noise(MIB, 1), SaveOptions::new(Category::MlModels)).await.unwrap();
    let old_copy = env.store.read_bytes("ml_models/model").await.unwrap();
    env.clock.advance_days(1);
    writer.save_bytes("model", common::noise(MIB, 2), SaveOptions::new(Category::ResearchData)).await.unwrap();
    env.store.save_bytes("ml_models/model", old_copy).await.unwrap();
    writer
        .save_bytes("stale", common::noise(MIB, 3), SaveOptions::new(Category::ResearchData).expire_days(1))
        .await
        .unwrap();
    env.clock.advance_days(2);
    let reader = Counted::with(&env, no_archive(), false).await;
    let report = reader.manager.cleanup().await.unwrap();
    assert_eq!((report.superseded, report.expired, report.archived), (1, 1, 0), "{report:?}");
    let read = reader.read_bytes();
    assert!(read < 64 * 1024, "a cleanup without archiving read {read} bytes (headers only expected)");
    assert_eq!(reader.manager.load_bytes("model").await.unwrap().unwrap(), common::noise(MIB, 2));
}

fn no_archive() -> Settings {
    common::settings(serde_json::json!({"auto_cleanup": {"archive_before_delete": false}}))
}

macro_rules! scan_suite {
    ($env:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn cold_scan_reads_only_headers() {
            super::cold_scan_reads_only_headers($env.await).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn cleanup_reads_only_headers() {
            super::cleanup_reads_only_headers($env.await).await;
        }
    };
}

mod in_memory {
    use super::*;
    scan_suite!(Env::memory());
}

mod on_disk {
    use super::*;
    scan_suite!(Env::local());
}

mod seaweedfs {
    use super::*;
    scan_suite!(Env::s3("OBJSTORE_TEST_S3_SEAWEEDFS", "SeaweedFS"));
}

mod moto {
    use super::*;
    scan_suite!(Env::s3("OBJSTORE_TEST_S3_MOTO", "moto"));
}

/// Local disk: files placed under the root by other programs.
mod hostile_files {
    use std::path::{Path, PathBuf};

    use super::*;

    fn root(env: &Env) -> PathBuf {
        PathBuf::from(env.url.strip_prefix("file://").unwrap())
    }

    /// Saves a large managed object, then has `swap` replace its file right after the scan's
    /// listing (before the scan reads it).
    async fn swapped_after_listing(env: &Env, swap: impl FnOnce(&Path) + Send + 'static) -> Counted {
        let writer = env.manager(Settings::default());
        writer.save_bytes("big", common::noise(MIB, 9), SaveOptions::new(Category::MlModels)).await.unwrap();
        let reader = Counted::scanning(env).await;
        let file = root(env).join("ml_models/big");
        reader.hooks.after_list(move |_| {
            async move {
                std::fs::remove_file(&file).unwrap();
                swap(&file);
            }
            .boxed()
        });
        reader
    }

    /// Opens a FIFO for writing without blocking, which releases a reader blocked in open.
    fn release_fifo(path: &Path) {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new().write(true).custom_flags(0o4000 /* O_NONBLOCK */).open(path);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_fifo_swapped_in_never_hangs_the_scan() {
        let env = Env::local().await;
        let reader = swapped_after_listing(&env, |file| {
            let status = std::process::Command::new("mkfifo").arg(file).status().unwrap();
            assert!(status.success());
        })
        .await;
        let listed = tokio::time::timeout(Duration::from_secs(20), reader.manager.list_keys(&Category::MlModels)).await;
        release_fifo(&root(&env).join("ml_models/big"));
        let listed = listed.expect("the scan hung on a FIFO swapped in for an object").unwrap();
        assert_eq!(listed, Vec::<String>::new(), "a FIFO is not an object");
        assert!(reader.hooks.local_paths.lock().unwrap().is_empty(), "a scan opened a file by path");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_symlink_swapped_in_never_leads_the_scan_outside_the_root() {
        let env = Env::local().await;
        // Outside the root: a managed frame whose metadata must never reach the index.
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("secret");
        let other = Env::local().await;
        let m = other.manager(Settings::default());
        let opts = SaveOptions::new(Category::MlModels).with_metadata("secret", "outside the root");
        m.save_bytes("big", common::noise(MIB, 5), opts).await.unwrap();
        std::fs::copy(root(&other).join("ml_models/big"), &secret).unwrap();
        let reader = swapped_after_listing(&env, move |file| std::os::unix::fs::symlink(&secret, file).unwrap()).await;
        let objects = reader.manager.list_objects(&Category::MlModels).await.unwrap();
        assert!(
            objects.iter().all(|o| o.metadata.get("secret").is_none()),
            "the scan followed a symlink out of the root: {objects:?}"
        );
        assert!(reader.hooks.local_paths.lock().unwrap().is_empty(), "a scan opened a file by path");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_huge_header_length_is_refused_not_read() {
        let env = Env::local().await;
        // A sparse 1 GiB file that starts like a managed object announcing a 256 MiB header.
        let path = root(&env).join("ml_models/sparse");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let file = std::fs::File::create(&path).unwrap();
        let mut prefix = store_manager::format::MAGIC.to_vec();
        prefix.extend_from_slice(&[1, 0, 0, 0]);
        prefix.extend_from_slice(&(256u32 << 20).to_le_bytes());
        std::os::unix::fs::FileExt::write_all_at(&file, &prefix, 0).unwrap();
        file.set_len(1 << 30).unwrap();
        drop(file);
        let peak_before = peak_rss();
        let reader = Counted::scanning(&env).await;
        assert!(reader.manager.list_keys(&Category::MlModels).await.unwrap().is_empty());
        let grew = peak_rss().saturating_sub(peak_before);
        let problems = reader.manager.problems().await.unwrap();
        assert!(grew < 64 * MIB as u64, "the scan's peak memory grew by {} MiB", grew >> 20);
        assert!(reader.read_bytes() < 64 * 1024, "the scan read {} bytes", reader.read_bytes());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].0 == "ml_models/sparse" && problems[0].1.contains("header"), "{problems:?}");
    }

    /// The process's peak resident memory (VmHWM), in bytes.
    fn peak_rss() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
    }
}
