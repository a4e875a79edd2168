//! Bulk copies (`objstore::transfer`, what `objstore import` and `copy` run) against the
//! backend's own concurrent put rate of the same objects, in the same run.
//!
//! The floor is the plainest way to put the same 10,000 values into the same store: every value
//! already in memory, `save_bytes` with [`DEFAULT_PARALLELISM`] in flight (`buffer_unordered`),
//! under the same folder layout, in the same (key) order. Ours also walks the folder (or lists
//! the source store), lists the destination to plan the resume, reads every file or object, and
//! reports progress. Every round writes to a fresh prefix, so every object is copied (a first
//! import, not a resume).
//!
//! S3 rows need the SeaweedFS that `cargo xtask bench` starts; without it they are left out.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use objstore::transfer::{self, DEFAULT_PARALLELISM, TransferOptions};
use objstore::{CacheOptions, ObjectStore};

use crate::{Config, KIB, Row, compare};

/// Objects per copy.
const OBJECTS: usize = 10_000;
/// Bytes per object.
const SIZE: usize = 4 * KIB;

pub fn run(config: &Config) -> Vec<Row> {
    // A folder of this run's own: another bench run starting meanwhile empties the shared one.
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let base = tmp.path();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let rt = &runtime;
    let rounds = Config { rounds: config.rounds.min(5), only: None };

    // The folder: 10,000 files of 4 KiB in 10 folders, and the same values in memory, in key
    // order (the order an import saves them in).
    let folder = base.join("folder");
    let mut files: Vec<(String, Bytes)> = (0..OBJECTS)
        .map(|i| {
            let value: Vec<u8> = (0..SIZE).map(|j| ((i * 131 + j * 31) % 251) as u8).collect();
            (format!("d{}/file-{i:05}.bin", i % 10), Bytes::from(value))
        })
        .collect();
    files.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (name, value) in &files {
        let path = folder.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, value).unwrap();
    }

    let mut rows = Vec::new();
    let local = rt.block_on(objstore::open(&format!("file://{}", base.join("store").display()))).unwrap();
    let timed = compare(
        &rounds,
        1,
        |i| import(rt, &local, &folder, &format!("ours-{i}/")),
        |i| floor(rt, &local, &files, &format!("floor-{i}/")),
    );
    rows.push(row("import 10,000 small files → local", timed));

    let Ok(base_url) = std::env::var("OBJSTORE_TEST_S3_SEAWEEDFS") else {
        eprintln!("no S3 rows in the transfer table: run through `cargo xtask bench`, which starts SeaweedFS");
        return rows;
    };
    let (bucket, query) = base_url.trim_start_matches("s3://").split_once('?').unwrap();
    let s3_url = format!("s3://{bucket}/bench-transfer-{}?{query}", std::process::id());
    let s3 = rt.block_on(objstore::open(&s3_url)).unwrap();
    let timed = compare(
        &rounds,
        1,
        |i| import(rt, &s3, &folder, &format!("import-ours-{i}/")),
        |i| floor(rt, &s3, &files, &format!("import-floor-{i}/")),
    );
    rows.push(row("import 10,000 small files → S3 (SeaweedFS)", timed));

    // copy: the source is a local store holding the same objects; `objstore copy` opens both
    // stores without a cache (every value is read once and written once), and so do we.
    let uncached = |url: &str| rt.block_on(ObjectStore::builder(url).cache(CacheOptions::DISABLED).build()).unwrap();
    let source = uncached(&format!("file://{}", base.join("source").display()));
    floor(rt, &source, &files, "");
    let s3_uncached = uncached(&s3_url);
    let timed = compare(
        &rounds,
        1,
        |i| {
            let destination = s3_uncached.project(&format!("copy-ours-{i}"));
            let summary = rt.block_on(transfer::copy_store(&source, &destination, &options(""))).unwrap();
            assert_eq!(summary.objects_copied, OBJECTS as u64);
        },
        |i| floor(rt, &s3_uncached, &files, &format!("copy-floor-{i}/")),
    );
    rows.push(row("copy 10,000 objects local → S3 (SeaweedFS)", timed));
    rows
}

fn options(prefix: &str) -> TransferOptions {
    // A progress callback, as the command line has on a terminal.
    let seen = Arc::new(AtomicU64::new(0));
    TransferOptions {
        prefix: prefix.to_string(),
        on_progress: Some(Arc::new(move |p| seen.store(p.objects_done, Ordering::Relaxed))),
        ..TransferOptions::default()
    }
}

fn import(rt: &tokio::runtime::Runtime, store: &ObjectStore, folder: &Path, prefix: &str) {
    let summary = rt.block_on(transfer::import_dir(store, folder, &options(prefix))).unwrap();
    assert_eq!(summary.objects_copied, OBJECTS as u64);
}

/// The same values, from memory, `DEFAULT_PARALLELISM` saves in flight.
fn floor(rt: &tokio::runtime::Runtime, store: &ObjectStore, files: &[(String, Bytes)], prefix: &str) {
    rt.block_on(
        futures::stream::iter(files)
            .map(|(name, value)| {
                let key = format!("{prefix}{name}");
                async move { store.save_bytes(&key, value.clone()).await.unwrap() }
            })
            .buffer_unordered(DEFAULT_PARALLELISM)
            .collect::<()>(),
    );
}

fn row(operation: &str, (ours, floor): (Duration, Duration)) -> Row {
    let rate = |d: Duration| OBJECTS as f64 / d.as_secs_f64();
    let mut row =
        Row::new(operation, "10,000 × 4 KiB", (ours, floor), "save_bytes from memory, 16 in flight", Some(1.5));
    row.note = format!("{:.0} vs {:.0} objects/s", rate(ours), rate(floor));
    row
}
