//! Async reads of every size and listings at scale (groups `async-read`, `keys-scale`,
//! `list-scale`; issue 18.3 and 18.5).
//!
//! Rows, with their floors:
//!
//! - **uncached read (async)** at 1 KiB, 64 KiB, 1 MiB and 16 MiB: the async facade on a
//!   two-worker runtime, cache off, `read_bytes` of one file in a loop. Floor: `std::fs::read` of
//!   the same file in a loop on the bench's thread. Target 1.2× at 1 MiB and 16 MiB.
//! - **keys()** of 10,000, 50,000 and 200,000 objects (async facade on the same runtime, and the
//!   blocking facade). Floor: a recursive `std::fs::read_dir` collecting the same key strings
//!   (the file type from the listing, no `stat`). Target 1.5×.
//! - **list()** (metadata of every object) at the same scales, collected into a `Vec`. Floor: the
//!   same walk with each file's metadata (`DirEntry::metadata`). Target 1.5×.
//!
//! Listing rows note the peak resident memory a streamed listing adds: the growth of the
//! process's `VmHWM` (reset through `/proc/self/clear_refs`) while the stream is counted, not
//! collected. The objects (plain files other programs could have written: folders of 1,000) are
//! created once per run, and each scale is its own store folder.

use std::fs;
use std::path::{Path, PathBuf};

use futures::TryStreamExt;
use objstore::{CacheOptions, ObjectStore, blocking};
use tokio::runtime::Runtime;

use crate::{Config, KIB, MIB, Row, compare, payload, print_table, size_name};

/// Objects per folder in the listing stores.
const PER_FOLDER: usize = 1000;

/// Runs the groups `config` wants and prints their table.
pub fn main(config: &Config, base: &Path) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut rows = Vec::new();
    if config.wants("async-read") {
        rows.extend(async_reads(config, &runtime, &base.join("async-read")));
    }
    for scale in [10_000, 50_000, 200_000] {
        if config.wants("keys-scale") || config.wants("list-scale") {
            let dir = make_objects(&base.join(format!("scale-{scale}")), scale);
            if config.wants("keys-scale") {
                rows.extend(keys_rows(config, &runtime, &dir, scale));
            }
            if config.wants("list-scale") {
                rows.extend(list_rows(config, &runtime, &dir, scale));
            }
            let _ = fs::remove_dir_all(&dir);
        }
    }
    if !rows.is_empty() {
        print_table("async reads and listings at scale (local disk)", config, &rows);
    }
}

fn url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

/// Uncached async `read_bytes` vs `std::fs::read`, per size.
fn async_reads(config: &Config, runtime: &Runtime, dir: &Path) -> Vec<Row> {
    let store = runtime.block_on(ObjectStore::builder(url(dir)).cache(CacheOptions::DISABLED).build()).unwrap();
    let mut rows = Vec::new();
    for (len, ops) in [(KIB, 2000), (64 * KIB, 400), (MIB, 40), (16 * MIB, 4)] {
        let key = format!("r/{len}");
        runtime.block_on(store.save_bytes(&key, payload(len))).unwrap();
        let path = dir.join(&key);
        let (ours, floor) = compare(
            config,
            1,
            |_| {
                runtime.block_on(async {
                    for _ in 0..ops {
                        assert_eq!(store.read_bytes(&key).await.unwrap().len(), len);
                    }
                })
            },
            |_| {
                for _ in 0..ops {
                    assert_eq!(fs::read(&path).unwrap().len(), len);
                }
            },
        );
        let target = (len >= MIB).then_some(1.2);
        rows.push(Row::new(
            "uncached read (async)",
            size_name(len),
            (ours / ops as u32, floor / ops as u32),
            "std::fs::read",
            target,
        ));
    }
    rows
}

/// Creates `count` small files in folders of [`PER_FOLDER`] under `dir` (two threads).
fn make_objects(dir: &Path, count: usize) -> PathBuf {
    let folders = count.div_ceil(PER_FOLDER);
    std::thread::scope(|s| {
        for part in 0..2 {
            s.spawn(move || {
                for f in (part..folders).step_by(2) {
                    let folder = dir.join(format!("d{f:03}"));
                    fs::create_dir_all(&folder).unwrap();
                    for i in 0..PER_FOLDER.min(count - f * PER_FOLDER) {
                        fs::write(folder.join(format!("object-{i:04}.json")), b"{}").unwrap();
                    }
                }
            });
        }
    });
    dir.to_path_buf()
}

/// Peak resident memory a run of `f` adds, in MiB.
fn peak_growth_mib(f: impl FnOnce()) -> f64 {
    let before = status_kib("VmRSS:");
    let _ = fs::write("/proc/self/clear_refs", "5");
    f();
    status_kib("VmHWM:").saturating_sub(before) as f64 / 1024.0
}

fn status_kib(field: &str) -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn scale_name(scale: usize) -> String {
    format!("{},000 objects", scale / 1000)
}

/// `keys()` on both facades vs the names floor.
fn keys_rows(config: &Config, runtime: &Runtime, dir: &Path, scale: usize) -> Vec<Row> {
    let store = runtime.block_on(ObjectStore::builder(url(dir)).cache(CacheOptions::DISABLED).build()).unwrap();
    let sync_store = blocking::builder(url(dir)).cache(CacheOptions::DISABLED).build().unwrap();
    let rounds = Config { rounds: config.rounds.min(7), only: None };
    let floor = || {
        let mut out = Vec::new();
        names(dir, String::new(), &mut out, false);
        assert_eq!(out.len(), scale);
    };
    let measured =
        compare(&rounds, 1, |_| assert_eq!(runtime.block_on(store.keys()).unwrap().len(), scale), |_| floor());
    let peak = peak_growth_mib(|| {
        let n = runtime.block_on(store.list_keys("").try_fold(0usize, |n, _| async move { Ok(n + 1) })).unwrap();
        assert_eq!(n, scale);
    });
    let mut async_row = Row::new("keys() (async)", scale_name(scale), measured, "recursive read_dir, names", Some(1.5));
    async_row.note = format!("streamed: peak RSS +{peak:.1} MiB");
    let measured = compare(&rounds, 1, |_| assert_eq!(sync_store.keys().unwrap().len(), scale), |_| floor());
    let sync_row = Row::new("keys() (blocking)", scale_name(scale), measured, "recursive read_dir, names", Some(1.5));
    vec![async_row, sync_row]
}

/// `list("")` collected, on both facades, vs the names + metadata floor.
fn list_rows(config: &Config, runtime: &Runtime, dir: &Path, scale: usize) -> Vec<Row> {
    let store = runtime.block_on(ObjectStore::builder(url(dir)).cache(CacheOptions::DISABLED).build()).unwrap();
    let rounds = Config { rounds: config.rounds.min(7), only: None };
    let floor = || {
        let mut out = Vec::new();
        names(dir, String::new(), &mut out, true);
        assert_eq!(out.len(), scale);
    };
    let list = || store.list("").try_collect::<Vec<_>>();
    let measured = compare(&rounds, 1, |_| assert_eq!(runtime.block_on(list()).unwrap().len(), scale), |_| floor());
    let peak = peak_growth_mib(|| {
        let n = runtime.block_on(store.list("").try_fold(0u64, |n, m| async move { Ok(n + m.size) })).unwrap();
        assert_eq!(n, 2 * scale as u64);
    });
    let mut async_row =
        Row::new("list() (async)", scale_name(scale), measured, "recursive read_dir, names + metadata", Some(1.5));
    async_row.note = format!("streamed: peak RSS +{peak:.1} MiB");
    let measured =
        compare(&rounds, 1, |_| assert_eq!(blocking::block_on(list()).unwrap().unwrap().len(), scale), |_| floor());
    let sync_row =
        Row::new("list() (blocking)", scale_name(scale), measured, "recursive read_dir, names + metadata", Some(1.5));
    vec![async_row, sync_row]
}

/// The floor: every file's key under `dir` (and its metadata when `with_meta`).
fn names(dir: &Path, prefix: String, out: &mut Vec<(String, Option<fs::Metadata>)>, with_meta: bool) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if name.starts_with(".objstore") {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            names(&entry.path(), format!("{prefix}{name}/"), out, with_meta);
        } else {
            let meta = with_meta.then(|| entry.metadata().unwrap());
            out.push((format!("{prefix}{name}"), meta));
        }
    }
}
