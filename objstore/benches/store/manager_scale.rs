//! The manager's cold start at scale (groups `manager-scale-s3` and `manager-scale-local`): the first `list_keys` of a new
//! process over 20,000 managed objects (95 % of 8 KiB, 5 % of 1 MiB, ~1.2 GB), with the index
//! snapshot in the store and without one, on SeaweedFS and on local disk; and the load of an
//! absent key on SeaweedFS.
//!
//! Rows, with their floors:
//!
//! - **cold start, current snapshot** (SeaweedFS): a new store handle and manager, then
//!   `list_keys` of one category. Floor: one LIST of the prefix and one GET of the snapshot
//!   with raw object_store on the same server. Target 2×; bytes read ≤ 1 % of the stored bytes.
//! - **cold start, no snapshot** (SeaweedFS): the same with snapshots off: one ranged read of
//!   each object's header. Same floor; target ≤ 10 s (in the note).
//! - **cold start, current snapshot** (local disk): floor a recursive `read_dir` of the store
//!   with each file's metadata (what a listing costs). Target 2×.
//! - **load of an absent key** (SeaweedFS, warm manager): floor one GET of an absent key with
//!   raw object_store. Target: 1 request (the note counts them).
//!
//! Each cold start gets a store handle opened beforehand (opening one is the store's cost: on
//! local disk a sweep of the folder), then builds a new manager and calls `list_keys`.
//!
//! Bytes read come from the operation-metrics layer (`objstore_read_bytes_total`), requests from
//! `objstore_operations_total`; peak RSS is the growth of the process's `VmHWM` during one cold
//! start (reset before each through `/proc/self/clear_refs`), the largest of the rounds. The objects are created once per run (32 saves at once, compression
//! off: the values are noise) and deleted afterwards.

use std::cell::Cell;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStore as _;
use object_store::ObjectStoreExt as _;
use objstore::ObjectStore;
use objstore::manager::{Category, Manager, SaveOptions, Settings};
use objstore::metrics::OperationMetrics;
use tokio::runtime::Runtime;

use crate::{Config, KIB, MIB, Row, compare, show};

/// Objects in the cold-start rows.
const OBJECTS: usize = 20_000;
/// One in this many is 1 MiB; the others 8 KiB.
const LARGE_EVERY: usize = 20;
/// Where the rows' `list_keys` looks (it holds a quarter of the small objects).
const LISTED: Category = Category::TradingState;

pub fn run(config: &Config, base: &Path) -> Vec<Row> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut rows = Vec::new();
    if config.wants("manager-scale-s3") {
        match std::env::var("OBJSTORE_TEST_S3_SEAWEEDFS") {
            Ok(base_url) => rows.extend(s3_rows(config, &runtime, &base_url)),
            Err(_) => eprintln!("manager-scale: no SeaweedFS rows: run through `cargo xtask bench`, which starts it"),
        }
    }
    if config.wants("manager-scale-local") {
        rows.extend(local_rows(config, &runtime, &base.join("scale")));
    }
    rows
}

/// A counted manager on a new store handle (a new process's view).
struct Counted {
    manager: Manager,
    ops: OperationMetrics,
}

impl Counted {
    async fn open(url: &str, snapshots: bool) -> Counted {
        let registry = prometheus::Registry::new();
        let ops = OperationMetrics::new(&registry).unwrap();
        let store = ObjectStore::builder(url).layer(ops.layer()).build().await.unwrap();
        let manager = Manager::new(store, Settings::default());
        if !snapshots {
            manager.set_index_snapshots(None);
        }
        Counted { manager, ops }
    }

    fn read_bytes(&self) -> u64 {
        ["get", "get_ready", "get_range", "get_stream"]
            .iter()
            .map(|op| self.ops.read_bytes().with_label_values(&[op]).get())
            .sum()
    }

    fn count(&self, op: &str) -> u64 {
        ["ok", "not_found", "error"].iter().map(|r| self.ops.operations().with_label_values(&[op, r]).get()).sum()
    }

    fn requests(&self) -> u64 {
        ["put", "get", "get_range", "get_stream", "head", "delete", "list", "list_keys"]
            .iter()
            .map(|op| self.count(op))
            .sum()
    }
}

/// Creates the 20,000 objects through a manager on `url`; returns the bytes stored.
fn create(rt: &Runtime, url: &str) -> u64 {
    let start = Instant::now();
    let store = rt.block_on(objstore::open(url)).unwrap();
    let manager = Manager::new(store.clone(), Settings::from_json(r#"{"compression_enabled": false}"#).unwrap());
    manager.set_index_snapshots(None);
    let small = store_core::testkit::noise(8 * KIB, 1);
    let large = store_core::testkit::noise(MIB, 2);
    let categories = [Category::TradingState, Category::OptionsGreeks, Category::LlmCache, Category::BacktestResults];
    rt.block_on(futures::stream::iter(0..OBJECTS).for_each_concurrent(32, |i| {
        let manager = manager.clone();
        let (mut value, category) = match i % LARGE_EVERY {
            0 => (large.clone(), Category::MlModels),
            n => (small.clone(), categories[n % 4].clone()),
        };
        value[..8].copy_from_slice(&(i as u64).to_le_bytes());
        async move {
            manager.save_bytes(&format!("obj-{i:05}"), value, SaveOptions::new(category)).await.unwrap();
        }
    }));
    let stored: u64 =
        rt.block_on(store.list("").map_ok(|m| m.size).try_fold(0, |a, b| async move { Ok(a + b) })).unwrap();
    eprintln!(
        "manager-scale: {OBJECTS} objects, {} MB, created on {} in {}",
        stored / 1_000_000,
        scheme(url),
        show(start.elapsed())
    );
    stored
}

/// How many objects `create` puts in [`LISTED`].
fn listed_count() -> usize {
    (0..OBJECTS).filter(|i| i % LARGE_EVERY != 0 && (i % LARGE_EVERY) % 4 == 0).count()
}

fn scheme(url: &str) -> &str {
    url.split(':').next().unwrap_or(url)
}

/// Measures cold starts on `url` (snapshots on or off); returns (ours, floor) times and a note
/// with bytes read, header reads and peak RSS.
fn cold_starts(
    config: &Config,
    rt: &Runtime,
    url: &str,
    snapshots: bool,
    stored: u64,
    mut floor: impl FnMut(usize),
) -> ((Duration, Duration), String) {
    let (bytes, headers, growth) = (Cell::new(0u64), Cell::new(0u64), Cell::new(0u64));
    // Managers are dropped after the measurement (a process does not drop its index to start).
    let done = std::cell::RefCell::new(Vec::new());
    // Store handles are opened beforehand: opening one (on local disk, a sweep of the folder for
    // temp files and usage) is the store's cost, not the manager's cold start.
    let mut handles: Vec<Counted> = (0..=config.rounds).map(|_| rt.block_on(Counted::open(url, snapshots))).collect();
    let rss_before = rss();
    let times = compare(
        config,
        1,
        |_| {
            let counted = handles.pop().expect("a handle per round");
            reset_peak_rss();
            let at_start = rss();
            let keys = rt.block_on(counted.manager.list_keys(&LISTED)).unwrap();
            growth.set(growth.get().max(peak_rss().saturating_sub(at_start)));
            assert_eq!(keys.len(), listed_count(), "{}", keys.len());
            bytes.set(counted.read_bytes());
            headers.set(counted.count("get_range"));
            done.borrow_mut().push((counted, keys));
        },
        &mut floor,
    );
    drop(done);
    let pct = bytes.get() as f64 * 100.0 / stored as f64;
    let note = format!(
        "bytes read {} of {} stored ({pct:.3} %, target ≤ 1 %: {}); {} header reads; peak RSS growth of one cold \
         start {} MiB (process RSS before the rounds {} MiB)",
        bytes.get(),
        stored,
        if pct <= 1.0 { "met" } else { "NOT met" },
        headers.get(),
        growth.get() >> 20,
        rss_before >> 20
    );
    (times, note)
}

fn s3_rows(config: &Config, rt: &Runtime, base_url: &str) -> Vec<Row> {
    let (bucket, query) = base_url.trim_start_matches("s3://").split_once('?').unwrap();
    let prefix = format!("bench-scale-{}", std::process::id());
    let url = format!("s3://{bucket}/{prefix}?{query}");
    let raw = crate::s3::raw_client(base_url);
    let stored = create(rt, &url);
    let root = object_store::path::Path::from(prefix.as_str());
    let snapshot = object_store::path::Path::from(format!("{prefix}/_manager/index"));
    let floor = |_: usize| {
        rt.block_on(async {
            let listed: Vec<_> = raw.list(Some(&root)).try_collect().await.unwrap();
            assert!(listed.len() >= OBJECTS);
            raw.get(&snapshot).await.unwrap().bytes().await.unwrap();
        })
    };
    let mut rows = Vec::new();

    // No snapshot first (a few rounds: each reads 20,000 headers); then a scan writes one.
    let few = Config { rounds: config.rounds.min(3), only: None };
    let first = rt.block_on(Counted::open(&url, true));
    rt.block_on(first.manager.list_keys(&LISTED)).unwrap();
    assert_eq!(first.count("get_range") as usize, OBJECTS, "the first scan reads every header and writes the snapshot");
    let (times, note) = cold_starts(&few, rt, &url, false, stored, floor);
    let mut row =
        Row::new("manager cold start, no snapshot (SeaweedFS)", "20,000 objects", times, "LIST + GET snapshot", None);
    row.note = format!("{note}; target ≤ 10 s: {}", if times.0 <= Duration::from_secs(10) { "met" } else { "NOT met" });
    rows.push(row);

    let (times, note) = cold_starts(config, rt, &url, true, stored, floor);
    let mut row = Row::new(
        "manager cold start, current snapshot (SeaweedFS)",
        "20,000 objects",
        times,
        "LIST + GET snapshot",
        Some(2.0),
    );
    row.note = note;
    rows.push(row);

    // An absent key, warm manager: one request, against one GET.
    let warm = rt.block_on(Counted::open(&url, true));
    rt.block_on(warm.manager.list_keys(&LISTED)).unwrap();
    let before = warm.requests();
    let loads = Cell::new(0u64);
    let times = compare(
        config,
        50,
        |i| {
            assert!(rt.block_on(warm.manager.load_bytes(&format!("absent-{i}"))).unwrap().is_none());
            loads.set(loads.get() + 1);
        },
        |i| {
            let absent = object_store::path::Path::from(format!("{prefix}/trading_state/absent-{i}"));
            assert!(matches!(rt.block_on(raw.get(&absent)), Err(object_store::Error::NotFound { .. })));
        },
    );
    let per_load = (warm.requests() - before) as f64 / loads.get() as f64;
    let mut row = Row::new("manager load of an absent key (SeaweedFS, warm)", "-", times, "GET of an absent key", None);
    row.note = format!(
        "{per_load:.2} requests per load (target 1: {}; a HEAD of the change marker)",
        if per_load <= 1.0 { "met" } else { "NOT met" }
    );
    rows.push(row);

    // Leave the server as it was.
    let keys: Vec<_> = rt.block_on(raw.list(Some(&root)).map_ok(|m| m.location).try_collect()).unwrap();
    rt.block_on(futures::stream::iter(keys).for_each_concurrent(32, |k| {
        let raw = &raw;
        async move {
            raw.delete(&k).await.unwrap();
        }
    }));
    rows
}

fn local_rows(config: &Config, rt: &Runtime, dir: &Path) -> Vec<Row> {
    std::fs::create_dir_all(dir).unwrap();
    let url = format!("file://{}", dir.display());
    let stored = create(rt, &format!("{url}?durability=buffered"));
    // A first scan reads every header and writes the snapshot.
    let first = rt.block_on(Counted::open(&url, true));
    let start = Instant::now();
    rt.block_on(first.manager.list_keys(&LISTED)).unwrap();
    let without = start.elapsed();
    let floor = |_: usize| assert!(crate::manager::plain_listing(dir).len() >= OBJECTS);
    let (times, note) = cold_starts(config, rt, &url, true, stored, floor);
    let mut row = Row::new(
        "manager cold start, current snapshot (local disk)",
        "20,000 objects",
        times,
        "recursive read_dir + metadata",
        Some(2.0),
    );
    row.note = format!("{note}; without a snapshot (the first start): {}", show(without));
    let _ = std::fs::remove_dir_all(dir);
    vec![row]
}

/// Resets the process's peak resident size (`VmHWM`), so the next reading is this row's peak.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The process's peak resident size since the last reset, in bytes.
fn peak_rss() -> u64 {
    status_kib("VmHWM:") * 1024
}

/// The process's resident size now, in bytes.
fn rss() -> u64 {
    status_kib("VmRSS:") * 1024
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
