//! Local disk and cache, against raw `std::fs` and raw moka.

use std::fs;
use std::io::Write;
use std::path::Path;

use bytes::Bytes;
use objstore::{CacheOptions, CachePolicy, Limits, blocking};

use crate::{Config, KIB, MIB, Row, compare, payload, size_name};

pub fn run(config: &Config, base: &Path) -> Vec<Row> {
    let mut rows = Vec::new();
    if config.wants("save") {
        rows.extend(durable_save(config, &base.join("save")));
        rows.extend(limited_save(config, &base.join("save-limited")));
    }
    if config.wants("read") {
        rows.extend(uncached_read(config, &base.join("read")));
    }
    if config.wants("async") {
        rows.extend(async_reads(config, &base.join("async")));
    }
    if config.wants("cached") {
        rows.extend(cached_read(config, &base.join("cached")));
    }
    if config.wants("keys") {
        rows.extend(keys(config, &base.join("keys")));
    }
    rows
}

fn url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

/// Durable save vs temp file + write + fsync + rename + fsync(folder) with std::fs.
fn durable_save(config: &Config, dir: &Path) -> Vec<Row> {
    let store = blocking::open(&url(dir)).unwrap();
    let folder = dir.join("data");
    let mut rows = Vec::new();
    for (len, ops) in [(KIB, 40), (64 * KIB, 20), (MIB, 6), (16 * MIB, 2)] {
        let value = payload(len);
        let raw = value.clone();
        let folder_for_floor = folder.clone();
        store.save_bytes("data/warm", value.clone()).unwrap();
        let (ours, floor) = compare(
            config,
            ops,
            |i| store.save_bytes(&format!("data/ours-{len}-{i}"), value.clone()).unwrap(),
            |i| raw_durable_write(&folder_for_floor, &format!("floor-{len}-{i}"), &raw),
        );
        rows.push(Row {
            operation: "durable save (blocking)".into(),
            size: size_name(len),
            ours,
            floor,
            floor_name: "temp+write+fsync+rename+fsync(dir)",
            target: Some(1.10),
            note: String::new(),
        });
        // Free the space of the big sizes before the next size.
        for entry in fs::read_dir(&folder).unwrap() {
            let _ = fs::remove_file(entry.unwrap().path());
        }
    }
    rows
}

/// A save with limits on (far from them: the fast path, with the ledger's reservation and its
/// release, and the watch for other programs' changes drained at each step) against the same
/// save on a store without limits: what exact limits cost a save. Both stores are fresh folders.
fn limited_save(config: &Config, dir: &Path) -> Vec<Row> {
    let limits = Limits { max_bytes: Some(1 << 40), max_objects: Some(1 << 30), max_object_bytes: None };
    let mut rows = Vec::new();
    for (durability, ops) in [("durable", 40), ("buffered", 400)] {
        let open = |name: &str, limits: Option<Limits>| {
            let url = format!("{}?durability={durability}", url(&dir.join(format!("{durability}-{name}"))));
            let builder = blocking::builder(url);
            match limits {
                Some(limits) => builder.limits(limits).build().unwrap(),
                None => builder.build().unwrap(),
            }
        };
        let (with, without) = (open("with", Some(limits)), open("without", None));
        let value = payload(KIB);
        with.save_bytes("warm", value.clone()).unwrap();
        without.save_bytes("warm", value.clone()).unwrap();
        let measured = compare(
            config,
            ops,
            |i| with.save_bytes(&format!("l/{i}"), value.clone()).unwrap(),
            |i| without.save_bytes(&format!("l/{i}"), value.clone()).unwrap(),
        );
        rows.push(Row::new(
            format!("{durability} save, limits on (blocking)"),
            size_name(KIB),
            measured,
            "the same save, no limits",
            None,
        ));
    }
    rows
}

fn raw_durable_write(folder: &Path, name: &str, data: &[u8]) {
    let tmp = folder.join(format!("{name}.tmp"));
    let mut file = fs::File::create_new(&tmp).unwrap();
    file.write_all(data).unwrap();
    file.sync_all().unwrap();
    drop(file);
    fs::rename(&tmp, folder.join(name)).unwrap();
    fs::File::open(folder).unwrap().sync_all().unwrap();
}

/// Uncached blocking read vs std::fs::read of the same file.
fn uncached_read(config: &Config, dir: &Path) -> Vec<Row> {
    let store = blocking::builder(url(dir)).cache(CacheOptions::DISABLED).build().unwrap();
    let mut rows = Vec::new();
    for (len, ops) in [(KIB, 2000), (64 * KIB, 400), (MIB, 40), (16 * MIB, 3)] {
        let key = format!("r/{len}");
        store.save_bytes(&key, payload(len)).unwrap();
        let path = dir.join(&key);
        let (ours, floor) = compare(
            config,
            ops,
            |_| assert_eq!(store.read_bytes(&key).unwrap().len(), len),
            |_| assert_eq!(fs::read(&path).unwrap().len(), len),
        );
        let target = if len == KIB {
            Some(2.0)
        } else if len >= MIB {
            Some(1.2)
        } else {
            None
        };
        rows.push(Row {
            operation: "uncached read (blocking)".into(),
            size: size_name(len),
            ours,
            floor,
            floor_name: "std::fs::read",
            target,
            note: String::new(),
        });
    }
    rows
}

/// The async facade on a runtime: uncached read (target), plus save and cached read for reference.
fn async_reads(config: &Config, dir: &Path) -> Vec<Row> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let store =
        runtime.block_on(objstore::ObjectStore::builder(url(dir)).cache(CacheOptions::DISABLED).build()).unwrap();
    runtime.block_on(store.save_bytes("a/1k", payload(KIB))).unwrap();
    let path = dir.join("a/1k");
    let ops = 1000;
    let (ours, floor) = compare(
        config,
        1,
        |_| {
            runtime.block_on(async {
                for _ in 0..ops {
                    assert_eq!(store.read_bytes("a/1k").await.unwrap().len(), KIB);
                }
            })
        },
        |_| {
            for _ in 0..ops {
                assert_eq!(fs::read(&path).unwrap().len(), KIB);
            }
        },
    );
    vec![Row {
        operation: "uncached read (async)".into(),
        size: size_name(KIB),
        ours: ours / ops as u32,
        floor: floor / ops as u32,
        floor_name: "std::fs::read",
        target: Some(5.0),
        note: String::new(),
    }]
}

/// A cached read with `Trust` vs a raw moka get of the same value. The cache is configured to
/// hold every size measured (1 GiB, entries up to 32 MiB).
fn cached_read(config: &Config, dir: &Path) -> Vec<Row> {
    let options =
        CacheOptions { capacity_bytes: 1 << 30, max_entry_bytes: 32 * MIB as u64, policy: CachePolicy::Trust };
    let store = blocking::builder(url(dir)).cache(options).build().unwrap();
    let raw: moka::sync::Cache<String, Bytes> = moka::sync::Cache::builder()
        .max_capacity(options.capacity_bytes)
        .weigher(|k: &String, v: &Bytes| (k.len() + v.len()) as u32)
        .build();
    let mut rows = Vec::new();
    for (len, count) in [(KIB, 1000), (64 * KIB, 100), (MIB, 16), (16 * MIB, 2)] {
        let keys: Vec<String> = (0..count).map(|i| format!("cached/{len}/key-{i:04}.json")).collect();
        let value = payload(len);
        for k in &keys {
            store.save_bytes(k, value.clone()).unwrap();
            store.read_bytes(k).unwrap();
            raw.insert(k.clone(), value.clone());
        }
        let ops = 20_000;
        let (ours, floor) = compare(
            config,
            ops,
            |i| assert_eq!(store.read_bytes(&keys[i % keys.len()]).unwrap().len(), len),
            |i| assert_eq!(raw.get(keys[i % keys.len()].as_str()).unwrap().len(), len),
        );
        rows.push(Row {
            operation: "cached read, Trust (blocking)".into(),
            size: size_name(len),
            ours,
            floor,
            floor_name: "moka::sync::Cache::get",
            target: Some(1.5),
            note: String::new(),
        });
        if len == KIB {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let async_store = store.as_async().clone();
            let (ours, floor) = compare(
                config,
                1,
                |_| {
                    runtime.block_on(async {
                        for i in 0..ops {
                            assert_eq!(async_store.read_bytes(&keys[i % keys.len()]).await.unwrap().len(), KIB);
                        }
                    })
                },
                |_| {
                    for i in 0..ops {
                        assert_eq!(raw.get(keys[i % keys.len()].as_str()).unwrap().len(), KIB);
                    }
                },
            );
            rows.push(Row {
                operation: "cached read, Trust (async)".into(),
                size: size_name(KIB),
                ours: ours / ops as u32,
                floor: floor / ops as u32,
                floor_name: "moka::sync::Cache::get",
                target: None,
                note: String::new(),
            });

            // The same cached read through store-monitor's metrics layer (on top of the stack, so a
            // hit passes through it as get_ready: one atomic add), against the store without it.
            let registry = prometheus::Registry::new();
            let metrics = store_metrics::OperationMetrics::new(&registry).unwrap();
            let metered = blocking::builder(url(dir)).cache(options).layer(metrics.layer()).build().unwrap();
            for k in &keys {
                metered.read_bytes(k).unwrap();
            }
            let (ours, floor) = compare(
                config,
                ops,
                |i| assert_eq!(metered.read_bytes(&keys[i % keys.len()]).unwrap().len(), len),
                |i| assert_eq!(store.read_bytes(&keys[i % keys.len()]).unwrap().len(), len),
            );
            let hits = metrics.operations().with_label_values(&["get_ready", "ok"]).get();
            assert!(hits >= (config.rounds * ops) as u64, "the metrics layer saw only {hits} cached reads");
            rows.push(Row {
                operation: "cached read, Trust, metrics layer on (blocking)".into(),
                size: size_name(KIB),
                ours,
                floor,
                floor_name: "the same read, no metrics layer",
                target: Some(1.2),
                note: String::new(),
            });
        }
    }
    rows
}

/// keys() over 50,000 objects vs a recursive read_dir that collects the same key strings.
fn keys(config: &Config, dir: &Path) -> Vec<Row> {
    // Files other programs write are objects too: create them directly, 50 folders of 1,000.
    for f in 0..50 {
        let folder = dir.join(format!("f{f:02}"));
        fs::create_dir_all(&folder).unwrap();
        for i in 0..1000 {
            fs::write(folder.join(format!("object-{i:04}.json")), b"{}").unwrap();
        }
    }
    let store = blocking::open(&url(dir)).unwrap();
    let (ours, floor) = compare(
        &Config { rounds: config.rounds.min(7), only: None },
        1,
        |_| assert_eq!(store.keys().unwrap().len(), 50_000),
        |_| {
            let mut out = Vec::new();
            read_dir_keys(dir, String::new(), &mut out);
            assert_eq!(out.len(), 50_000);
        },
    );
    vec![Row {
        operation: "keys() of 50,000 objects (blocking)".into(),
        size: "-".into(),
        ours,
        floor,
        floor_name: "recursive std::fs::read_dir",
        target: Some(1.5),
        note: String::new(),
    }]
}

fn read_dir_keys(dir: &Path, prefix: String, out: &mut Vec<String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if name.starts_with(".objstore") {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            read_dir_keys(&entry.path(), format!("{prefix}{name}/"), out);
        } else {
            out.push(format!("{prefix}{name}"));
        }
    }
}
