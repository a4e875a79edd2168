//! The manager (`store-manager`, as `objstore::manager`) on local disk, against the same work
//! done with its parts: the same store, a reused zstd context, a plain `std::fs` walk.
//!
//! Every call goes through one tokio runtime (`block_on` per operation, for the manager and its
//! floor alike). Rows, with their floors:
//!
//! - **save, automatic zstd** (group `manager-io`): `Manager::save_bytes` of 1 MiB of trading
//!   JSON (serialised once up front) in `trading_state` with the default settings, which compress
//!   it (over 100 KiB, level 1). Floor: a reused `zstd::bulk::Compressor` at level 1 on the same
//!   bytes, then `ObjectStore::save_bytes` of the frame on the same durable `file://` store. Fresh
//!   keys every operation. Target: at least 0.9× the floor's throughput.
//! - **load** (`manager-io`): `Manager::load_bytes` of that object (stored compressed).
//!   Floor: `ObjectStore::read_bytes` of a copy of the bare zstd frame on the same store, then a
//!   reused `zstd::bulk::Decompressor`. The store's cache is off, so both sides read the file
//!   every time. Target: at least 0.9× the floor's throughput.
//! - **list_keys(category), warm index** (`manager-index`): 50,000 managed objects (~200 bytes
//!   of JSON each; 50,000 is the 5 GB tier's `max_files`) in `trading_state`, on a fresh durable
//!   store and manager. The first call reads every object's header: it is timed once and given
//!   in the note, beside a plain `std::fs::read` of every file for scale; the rows measure the
//!   calls after it. Floor: a plain recursive listing of the category, `std::fs::read_dir` of
//!   `<root>/trading_state/` taking each file's relative name and its size
//!   (`DirEntry::metadata`), then sorting the names. Target 2×.
//! - **cleanup_expired, nothing expired** (`manager-index`): the same 50,000 objects, none
//!   expired, warm index. Same floor, target 2×. The note gives a cleanup that does have work: a
//!   separate store where 1,000 objects expired, archived first (the default settings).
//!
//! The 50,000 objects are created through a manager over a *buffered* store on the same folder
//! (`?durability=buffered`, 32 saves at once): a durable save costs ~1 ms, and the objects only
//! need to exist. The setup time (~5 s here) is in the list row's note and on stderr.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures::StreamExt;
use objstore::manager::clock::ManualClock;
use objstore::manager::{Category, Manager, SaveOptions, Settings};
use objstore::{CacheOptions, ObjectStore};
use serde_json::{Value, json};
use tokio::runtime::Runtime;

use crate::{Config, MIB, Row, compare, show, size_name};

/// store-manager's test generator: compresses like real data.
use store_core::testkit::trading::trading_json;

/// Objects in the category the listing rows measure.
const OBJECTS: usize = 50_000;
/// Expired objects in the cleanup that has work.
const EXPIRED: usize = 1_000;

pub fn run(config: &Config, base: &Path) -> Vec<Row> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut rows = Vec::new();
    if config.wants("manager-io") {
        rows.extend(save_and_load(config, &runtime, &base.join("io")));
    }
    if config.wants("manager-index") {
        rows.extend(index(config, &runtime, &base.join("index")));
    }
    rows
}

fn url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

/// Rows 1 and 2: a compressed save and its load, against zstd plus the store.
fn save_and_load(config: &Config, rt: &Runtime, dir: &Path) -> Vec<Row> {
    let store = rt.block_on(ObjectStore::builder(url(dir)).cache(CacheOptions::DISABLED).build()).unwrap();
    let manager = Manager::new(store.clone(), Settings::default());
    let value = Bytes::from(serde_json::to_vec(&trading_json(MIB)).unwrap());
    let len = value.len();
    let opts = || SaveOptions::new(Category::TradingState);
    let mut compressor = zstd::bulk::Compressor::new(1).unwrap();
    let mut decompressor = zstd::bulk::Decompressor::new().unwrap();

    // The first save scans the (empty) store; the object it writes is the one the load reads.
    let saved = rt.block_on(manager.save_bytes("load-me", value.clone(), opts())).unwrap();
    assert!(saved.compressed, "1 MiB of JSON is compressed with the default settings");
    let frame = compressor.compress(&value).unwrap();
    let ratio = len as f64 / frame.len() as f64;
    rt.block_on(store.save_bytes("floor_load/frame", frame)).unwrap();

    let save = compare(
        config,
        8,
        |i| {
            let stored = rt.block_on(manager.save_bytes(&format!("save-{i}"), value.clone(), opts())).unwrap();
            assert!(stored.compressed);
        },
        |i| {
            let frame = compressor.compress(&value).unwrap();
            rt.block_on(store.save_bytes(&format!("floor_save/{i}"), frame)).unwrap();
        },
    );
    let load = compare(
        config,
        20,
        |_| assert_eq!(rt.block_on(manager.load_bytes("load-me")).unwrap().unwrap().len(), len),
        |_| {
            let frame = rt.block_on(store.read_bytes("floor_load/frame")).unwrap();
            assert_eq!(decompressor.decompress(&frame, len).unwrap().len(), len);
        },
    );
    let size = size_name(len);
    let mut save_row =
        Row::new("manager save, automatic zstd", &size, save, "zstd level 1 + save_bytes", Some(1.0 / 0.9));
    save_row.note = format!("trading JSON, zstd ratio {ratio:.1}; durable store");
    let mut load_row = Row::new("manager load", &size, load, "read_bytes + zstd decompress", Some(1.0 / 0.9));
    load_row.note = "store cache off".into();
    vec![save_row, load_row, level_row(config, &value)]
}

/// Why level 1 is the default: zstd level 1 against level 3 (zstd's own default) on the same
/// 1 MiB of trading JSON, compression only, with the ratio each reaches in the note.
fn level_row(config: &Config, value: &[u8]) -> Row {
    let mut one = zstd::bulk::Compressor::new(1).unwrap();
    let mut three = zstd::bulk::Compressor::new(3).unwrap();
    let ratio = |c: &mut zstd::bulk::Compressor| value.len() as f64 / c.compress(value).unwrap().len() as f64;
    let (r1, r3) = (ratio(&mut one), ratio(&mut three));
    let times = compare(config, 8, |_| drop(one.compress(value).unwrap()), |_| drop(three.compress(value).unwrap()));
    let mbps = |d: Duration| value.len() as f64 / d.as_secs_f64() / 1e6;
    let mut row =
        Row::new("zstd level 1 (the default) vs level 3", size_name(value.len()), times, "zstd level 3", None);
    row.note = format!(
        "trading JSON: level 1 {:.0} MB/s, ratio {r1:.2}; level 3 {:.0} MB/s, ratio {r3:.2}",
        mbps(times.0),
        mbps(times.1)
    );
    row
}

/// Rows 3 and 4: listing and cleanup over 50,000 objects, against a walk of the folder.
fn index(config: &Config, rt: &Runtime, dir: &Path) -> Vec<Row> {
    let category = Category::TradingState;
    let setup = Instant::now();
    {
        let store = rt.block_on(objstore::open(&format!("{}?durability=buffered", url(dir)))).unwrap();
        let manager = Manager::new(store, Settings::default());
        // Setup only: no index snapshot (the cold start below reads every header).
        manager.set_index_snapshots(None);
        create(rt, &manager, OBJECTS, |i| (format!("state-{i:05}"), SaveOptions::new(category.clone())));
    }
    let setup = setup.elapsed();
    eprintln!("manager: setup of {OBJECTS} objects (buffered store, 32 at once): {}", show(setup));

    let store = rt.block_on(objstore::open(&url(dir))).unwrap();
    let manager = Manager::new(store, Settings::default());
    // Measured without a snapshot: this row is about scans (manager_scale.rs measures snapshots).
    manager.set_index_snapshots(None);
    let cold = Instant::now();
    let keys = rt.block_on(manager.list_keys(&category)).unwrap();
    let cold = cold.elapsed();
    assert_eq!(keys.len(), OBJECTS);
    eprintln!("manager: cold list_keys (reads every header): {}", show(cold));

    let folder = dir.join(category.name());
    // For scale: the cold start reads every object, as a plain read of every file does.
    let plain_read = Instant::now();
    let read: usize = plain_listing(&folder).iter().map(|(name, _)| fs::read(folder.join(name)).unwrap().len()).sum();
    let plain_read = plain_read.elapsed();
    assert!(read > 0);
    let floor = || assert_eq!(plain_listing(&folder).len(), OBJECTS);
    let list = compare(
        config,
        1,
        |_| assert_eq!(rt.block_on(manager.list_keys(&category)).unwrap().len(), OBJECTS),
        |_| floor(),
    );
    let cleanup = compare(config, 1, |_| assert_eq!(rt.block_on(manager.cleanup_expired()).unwrap(), 0), |_| floor());

    let floor_name = "read_dir walk + metadata + sort";
    let objects = "50,000 objects";
    let mut list_row = Row::new("manager list_keys(category), warm index", objects, list, floor_name, Some(2.0));
    list_row.note = format!(
        "cold start (first call, reads every header): {} (std::fs::read of every file, one by one: {}); \
         setup (buffered saves, 32 at once): {}",
        show(cold),
        show(plain_read),
        show(setup)
    );
    let mut cleanup_row = Row::new("manager cleanup_expired, nothing expired", objects, cleanup, floor_name, Some(2.0));
    cleanup_row.note = expired_cleanup(rt, &dir.with_file_name("expired"));
    vec![list_row, cleanup_row]
}

/// Saves `count` small trading-state values through `manager`, 32 at once.
fn create(rt: &Runtime, manager: &Manager, count: usize, what: impl Fn(usize) -> (String, SaveOptions)) {
    let what = &what;
    rt.block_on(futures::stream::iter(0..count).for_each_concurrent(32, |i| async move {
        let (key, opts) = what(i);
        manager.save(&key, &small_state(i), opts).await.unwrap();
    }));
}

/// A cleanup with work: 1,000 objects that expired a day ago (saved with a clock two days back),
/// archived then deleted on a durable store, warm index. Returns the row's note.
fn expired_cleanup(rt: &Runtime, dir: &Path) -> String {
    let two_days_ago = SystemTime::now() - Duration::from_secs(2 * 86_400);
    {
        let store = rt.block_on(objstore::open(&format!("{}?durability=buffered", url(dir)))).unwrap();
        let manager = Manager::with_clock(store, Settings::default(), ManualClock::new(two_days_ago));
        manager.set_index_snapshots(None);
        create(rt, &manager, EXPIRED, |i| {
            (format!("old-{i:05}"), SaveOptions::new(Category::TradingState).expire_days(1))
        });
    }
    let store = rt.block_on(objstore::open(&url(dir))).unwrap();
    let manager = Manager::new(store, Settings::default());
    // Warm the index (reads every header), so that the time below is the cleanup's own work.
    rt.block_on(manager.usage_by_category()).unwrap();
    let start = Instant::now();
    let report = rt.block_on(manager.cleanup()).unwrap();
    let took = start.elapsed();
    assert_eq!((report.expired, report.archived), (EXPIRED, EXPIRED), "{report:?}");
    eprintln!("manager: cleanup of {EXPIRED} expired objects (archived first): {}", show(took));
    format!(
        "1,000 of 1,000 objects expired (archived first, durable store): {}, {} per object",
        show(took),
        show(took / EXPIRED as u32)
    )
}

/// What a listing of the category returns, the plain way: each file's relative name and size,
/// names sorted.
pub fn plain_listing(folder: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    walk(folder, "", &mut out);
    out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    out
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, u64)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = format!("{prefix}{}", entry.file_name().into_string().unwrap());
        let meta = entry.metadata().unwrap();
        if meta.is_dir() {
            walk(&entry.path(), &format!("{name}/"), out);
        } else {
            out.push((name, meta.len()));
        }
    }
}

/// One position of a trading-state snapshot: ~200 bytes of JSON.
fn small_state(i: usize) -> Value {
    let x = (i as u64).wrapping_mul(2_654_435_761) % 10_000;
    json!({
        "symbol": format!("SPY 250117C{:05}", 400 + i % 300),
        "quantity": (i % 17) as i64 - 8,
        "avg_price": 4.0 + x as f64 / 1000.0,
        "greeks": {"delta": x as f64 / 10_000.0, "gamma": x as f64 / 250_000.0, "theta": -(x as f64) / 40_000.0},
        "opened": format!("2025-01-{:02}T{:02}:{:02}:00Z", 1 + i % 28, 9 + i % 7, i % 60),
    })
}
