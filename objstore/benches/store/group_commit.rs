//! Group commit: durable saves of 1 KiB, 16 in flight into one folder (16 threads on the blocking
//! facade; 16 futures on a multi-thread runtime), beside the durable floor done by 16 threads at
//! once (each: temp file, write, `fsync`, rename, `fsync` of the folder, with `std::fs`).
//!
//! Figures are the wall time of a round divided by its saves (the time per save at that
//! concurrency: the inverse of the rate). The target, at least 1.3× the floor's rate, is a time
//! ratio of at most 0.77×.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use objstore::blocking;

use crate::{Config, KIB, Row, compare, payload, size_name};

/// Saves in flight, and saves each of them does per round.
const IN_FLIGHT: usize = 16;
const PER_TASK: usize = 8;
/// At least 1.3× the floor's rate.
const TARGET: f64 = 1.0 / 1.3;
const FLOOR: &str = "16 threads each doing temp+write+fsync+rename+fsync(dir)";

pub fn run(config: &Config, base: &Path) -> Vec<Row> {
    if !config.wants("save") && !config.wants("group") {
        return Vec::new();
    }
    let dir = base.join("group-commit");
    let url = format!("file://{}", dir.display());
    let floor_folder = dir.join("floor");
    let value = payload(KIB);
    let saves = (IN_FLIGHT * PER_TASK) as u32;
    let per_save = |(ours, floor): (Duration, Duration)| (ours / saves, floor / saves);
    let mut rows = Vec::new();

    let store = blocking::open(&url).unwrap();
    store.save_bytes("gc/warm", value.clone()).unwrap();
    std::fs::create_dir_all(&floor_folder).unwrap();
    let measured = compare(
        config,
        1,
        |round| {
            std::thread::scope(|s| {
                for t in 0..IN_FLIGHT {
                    let (store, value) = (&store, value.clone());
                    s.spawn(move || {
                        for i in 0..PER_TASK {
                            store.save_bytes(&format!("gc/b-{round}-{t}-{i}"), value.clone()).unwrap();
                        }
                    });
                }
            })
        },
        |round| floor(&floor_folder, round, &value),
    );
    rows.push(Row::new(
        "durable save, 16 in flight (blocking, 16 threads)",
        size_name(KIB),
        per_save(measured),
        FLOOR,
        Some(TARGET),
    ));

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let store = runtime.block_on(objstore::open(&url)).unwrap();
    let measured = compare(
        config,
        1,
        |round| {
            runtime.block_on(async {
                let tasks = (0..IN_FLIGHT).map(|t| {
                    let (store, value) = (store.clone(), value.clone());
                    async move {
                        for i in 0..PER_TASK {
                            store.save_bytes(&format!("gc/a-{round}-{t}-{i}"), value.clone()).await.unwrap();
                        }
                    }
                });
                futures::future::join_all(tasks).await;
            })
        },
        |round| floor(&floor_folder, round, &value),
    );
    rows.push(Row::new(
        "durable save, 16 in flight (async, 16 futures)",
        size_name(KIB),
        per_save(measured),
        FLOOR,
        Some(TARGET),
    ));
    let _ = std::fs::remove_dir_all(&dir);
    rows
}

/// 16 threads, each saving PER_TASK values the plainest durable way.
fn floor(folder: &Path, round: usize, value: &[u8]) {
    std::thread::scope(|s| {
        for t in 0..IN_FLIGHT {
            s.spawn(move || {
                for i in 0..PER_TASK {
                    raw_durable_write(folder, &format!("f-{round}-{t}-{i}"), value);
                }
            });
        }
    });
}

/// The durable floor of one save (as in local.rs).
fn raw_durable_write(folder: &Path, name: &str, data: &[u8]) {
    let tmp = folder.join(format!("{name}.tmp"));
    let mut file = std::fs::File::create_new(&tmp).unwrap();
    file.write_all(data).unwrap();
    file.sync_all().unwrap();
    drop(file);
    std::fs::rename(&tmp, folder.join(name)).unwrap();
    std::fs::File::open(folder).unwrap().sync_all().unwrap();
}
