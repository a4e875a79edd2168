//! The object_store adapter beside the facade: each row is one operation done through
//! `objstore::compat::ObjectStoreAdapter` (the `object_store::ObjectStore` trait) and the same
//! operation through the facade on the same store, in the same run. Target: the adapter adds at
//! most 10 % (≤ 1.10×).
//!
//! Local disk (`durability=buffered`, so a put measures code rather than fsync), async on a
//! current-thread runtime. The facade's counterpart of a get is `read_object` (the value with its
//! metadata, which a get returns); an extra row without target shows a cached get beside
//! `read_bytes` (the value alone, which a cache hit answers without touching the metadata).
//!
//! For scale, two more rows: object_store's own `InMemory` get, and `trait_floor::OneValue`, a
//! store that answers every get from a field (what the trait's types alone cost), each beside a
//! facade cache hit.
//!
//! Needs `--features object-store-compat` (group `compat`).

use std::path::Path as FsPath;

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore as _, ObjectStoreExt as _};
use objstore::compat::ObjectStoreAdapter;
use objstore::{CacheOptions, CachePolicy, ObjectStore};
use tokio::runtime::Runtime;

use crate::{Config, KIB, Row, compare, payload, print_table};

const TARGET: Option<f64> = Some(1.10);

pub fn main(config: &Config) {
    if !config.wants("compat") {
        return;
    }
    let base = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("objstore-bench-compat-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut rows = Vec::new();
    rows.push(put(config, &runtime, &base.join("put")));
    rows.extend(gets(config, &runtime, &base.join("get")));
    rows.push(head(config, &runtime, &base.join("head")));
    rows.push(list(config, &runtime, &base.join("list")));
    let _ = std::fs::remove_dir_all(&base);
    print_table("object_store adapter beside the facade (local disk, buffered)", config, &rows);
}

fn open(runtime: &Runtime, dir: &FsPath, cache: CacheOptions) -> (ObjectStore, ObjectStoreAdapter) {
    let url = format!("file://{}?durability=buffered", dir.display());
    let store = runtime.block_on(ObjectStore::builder(url).cache(cache).build()).unwrap();
    let adapter = ObjectStoreAdapter::new(store.clone());
    (store, adapter)
}

/// Median time per operation of `ops` operations a round, adapter (`ours`) beside facade.
fn timed(
    config: &Config,
    runtime: &Runtime,
    ops: usize,
    mut ours: impl AsyncFnMut(usize),
    mut facade: impl AsyncFnMut(usize),
) -> (std::time::Duration, std::time::Duration) {
    let (a, f) = compare(
        config,
        1,
        |round| {
            runtime.block_on(async {
                for i in 0..ops {
                    ours(round * ops + i).await
                }
            })
        },
        |round| {
            runtime.block_on(async {
                for i in 0..ops {
                    facade(round * ops + i).await
                }
            })
        },
    );
    (a / ops as u32, f / ops as u32)
}

fn row(operation: &str, size: &str, times: (std::time::Duration, std::time::Duration), floor: &'static str) -> Row {
    Row::new(operation, size, times, floor, TARGET)
}

/// A 1 KiB put of a fresh key.
fn put(config: &Config, runtime: &Runtime, dir: &FsPath) -> Row {
    let (store, adapter) = open(runtime, dir, CacheOptions::default());
    let ops = 300;
    let value = payload(KIB);
    let keys: Vec<String> = (0..2 * (config.rounds + 1) * ops).map(|i| format!("put/{i:06}")).collect();
    let paths: Vec<Path> = keys.iter().map(|k| Path::from(k.as_str())).collect();
    let times = timed(
        config,
        runtime,
        ops,
        async |i| {
            adapter.put(&paths[i], value.clone().into()).await.unwrap();
        },
        async |i| store.save_bytes(&keys[i], value.clone()).await.unwrap(),
    );
    row("put", "1 KiB", times, "save_bytes")
}

/// Gets of 1 KiB values: uncached (cache off), and cached (Trust).
fn gets(config: &Config, runtime: &Runtime, dir: &FsPath) -> Vec<Row> {
    let mut rows = Vec::new();
    let keys: Vec<String> = (0..1000).map(|i| format!("get/key-{i:04}.json")).collect();
    let paths: Vec<Path> = keys.iter().map(|k| Path::from(k.as_str())).collect();
    {
        let (store, adapter) = open(runtime, dir, CacheOptions::DISABLED);
        for k in &keys {
            runtime.block_on(store.save_bytes(k, payload(KIB))).unwrap();
        }
        let n = keys.len();
        let times = timed(
            config,
            runtime,
            1000,
            async |i| assert_eq!(adapter.get(&paths[i % n]).await.unwrap().bytes().await.unwrap().len(), KIB),
            async |i| assert_eq!(store.read_object(&keys[i % n]).await.unwrap().bytes.len(), KIB),
        );
        rows.push(row("get, uncached", "1 KiB", times, "read_object"));
    }
    let trust = CacheOptions { policy: CachePolicy::Trust, ..CacheOptions::default() };
    let (store, adapter) = open(runtime, dir, trust);
    for k in &keys {
        runtime.block_on(store.read_bytes(k)).unwrap();
    }
    let n = keys.len();
    let ops = 20_000;
    let times = timed(
        config,
        runtime,
        ops,
        async |i| assert_eq!(adapter.get(&paths[i % n]).await.unwrap().bytes().await.unwrap().len(), KIB),
        async |i| assert_eq!(store.read_object(&keys[i % n]).await.unwrap().bytes.len(), KIB),
    );
    rows.push(row("get, cached (Trust)", "1 KiB", times, "read_object"));
    let times = timed(
        config,
        runtime,
        ops,
        async |i| assert_eq!(adapter.get(&paths[i % n]).await.unwrap().bytes().await.unwrap().len(), KIB),
        async |i| assert_eq!(store.read_bytes(&keys[i % n]).await.unwrap().len(), KIB),
    );
    let mut extra = Row::new("get, cached (Trust)", "1 KiB", times, "read_bytes (no metadata)", None);
    extra.note = "for reference: a get also returns the metadata".into();
    rows.push(extra);
    // For scale: the same get from object_store's own in-memory store.
    let memory = object_store::memory::InMemory::new();
    for p in &paths {
        runtime.block_on(memory.put(p, payload(KIB).into())).unwrap();
    }
    let times = timed(
        config,
        runtime,
        ops,
        async |i| assert_eq!(adapter.get(&paths[i % n]).await.unwrap().bytes().await.unwrap().len(), KIB),
        async |i| assert_eq!(memory.get(&paths[i % n]).await.unwrap().bytes().await.unwrap().len(), KIB),
    );
    let mut extra = Row::new("get, cached (Trust)", "1 KiB", times, "object_store's InMemory get", None);
    extra.note = "for reference: what a get costs any object_store store".into();
    rows.push(extra);
    // The trait's own share: a store that answers from a field, beside the facade's cache hit.
    let floor = crate::trait_floor::OneValue::new(payload(KIB));
    let times = timed(
        config,
        runtime,
        ops,
        async |i| assert_eq!(floor.get(&paths[i % n]).await.unwrap().bytes().await.unwrap().len(), KIB),
        async |i| assert_eq!(store.read_object(&keys[i % n]).await.unwrap().bytes.len(), KIB),
    );
    let mut extra = Row::new("get, trait alone (no store)", "1 KiB", times, "read_object (cached)", None);
    extra.note = "for reference: the trait's required types alone, as a share of a facade cache hit".into();
    rows.push(extra);
    rows
}

/// A head (a stat on disk; the default cache revalidates, so it asks the disk).
fn head(config: &Config, runtime: &Runtime, dir: &FsPath) -> Row {
    let (store, adapter) = open(runtime, dir, CacheOptions::default());
    let keys: Vec<String> = (0..100).map(|i| format!("head/{i:03}")).collect();
    let paths: Vec<Path> = keys.iter().map(|k| Path::from(k.as_str())).collect();
    for k in &keys {
        runtime.block_on(store.save_bytes(k, payload(KIB))).unwrap();
    }
    let n = keys.len();
    let times = timed(
        config,
        runtime,
        2000,
        async |i| assert_eq!(adapter.head(&paths[i % n]).await.unwrap().size, KIB as u64),
        async |i| assert_eq!(store.head(&keys[i % n]).await.unwrap().size, KIB as u64),
    );
    row("head", "1 KiB", times, "head")
}

/// A listing of 1,000 objects under a prefix.
fn list(config: &Config, runtime: &Runtime, dir: &FsPath) -> Row {
    let (store, adapter) = open(runtime, dir, CacheOptions::default());
    for i in 0..1000 {
        runtime.block_on(store.save_bytes(&format!("list/day-{i:04}.csv"), payload(64))).unwrap();
    }
    let prefix = Path::from("list");
    let times = timed(
        config,
        runtime,
        5,
        async |_| assert_eq!(adapter.list(Some(&prefix)).try_collect::<Vec<_>>().await.unwrap().len(), 1000),
        async |_| assert_eq!(store.list("list/").try_collect::<Vec<_>>().await.unwrap().len(), 1000),
    );
    row("list of 1,000 objects", "-", times, "list")
}
