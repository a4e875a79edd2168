//! Large values (issue: scale): streamed saves and reads of a model-sized object, and a parquet
//! footer plus one column chunk read through the object_store adapter, each beside its floor in
//! the same run, with the peak memory each side added and the bytes it moved.
//!
//! - `save_from_file` of a large file (default 2 GiB; `OBJSTORE_BENCH_LARGE_MIB` changes it):
//!   local disk against a durable copy (read the file, write a temp file, fsync, rename, fsync the
//!   folder), SeaweedFS against raw object_store's `WriteMultipart` from the same file with the
//!   same part size and parts in flight.
//! - `read_to_file` (what `objstore get -o` and `export` do per object) into a file: local disk
//!   against `std::fs::copy`, SeaweedFS against raw object_store's streaming get into a file.
//! - a parquet-style read of a 256 MiB object on SeaweedFS through `ObjectStoreAdapter`: the last
//!   8 bytes, the 64 KiB footer before them, one 4 MiB column chunk; against the same three
//!   ranged gets on raw object_store. Bytes moved are counted by store-metrics' byte counters.
//!
//! Peak memory: the process's high-water mark of resident memory (`VmHWM`), reset before each
//! measured run through `/proc/self/clear_refs`, minus the resident memory at the start of it.

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use object_store::path::Path as OsPath;
use object_store::{ObjectStoreExt as _, WriteMultipart};
use objstore::{CacheOptions, ObjectStore};

use crate::{Config, MIB, Row, compare};

/// The large value's size in MiB.
fn large_mib() -> usize {
    std::env::var("OBJSTORE_BENCH_LARGE_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(2048)
}

/// Resident memory now and the high-water mark, in bytes, from /proc/self/status.
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// How much resident memory `f` added at its peak.
fn peak_growth(f: impl FnOnce()) -> u64 {
    // "5" resets the high-water mark (Linux 4.0+).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let (start, _) = rss();
    f();
    let (_, peak) = rss();
    peak.saturating_sub(start)
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / MIB as f64)
}

/// A file of `len` bytes of varied content, written in 8 MiB chunks.
fn write_big_file(path: &Path, len: usize) {
    let mut file = std::fs::File::create(path).unwrap();
    let chunk: Vec<u8> = (0..8 * MIB).map(|i| (i * 31 % 251) as u8).collect();
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len());
        file.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    file.sync_all().unwrap();
}

/// The durable copy floor: read `from`, write a temp file beside `to`, fsync, rename, fsync.
fn durable_copy(from: &Path, to: &Path) {
    let temp = to.with_extension("tmp");
    std::fs::copy(from, &temp).unwrap();
    std::fs::File::open(&temp).unwrap().sync_all().unwrap();
    std::fs::rename(&temp, to).unwrap();
    std::fs::File::open(to.parent().unwrap()).unwrap().sync_all().unwrap();
}

fn large_row(operation: &str, size: usize, timed: (Duration, Duration), floor: &'static str, rss: (u64, u64)) -> Row {
    let rate = |d: Duration| size as f64 / MIB as f64 / d.as_secs_f64();
    // Throughput ≥ 0.9× the floor's: time ≤ 1/0.9 of it.
    let mut row = Row::new(operation, format!("{} MiB", size / MIB), timed, floor, Some(1.0 / 0.9));
    row.note = format!(
        "{:.0} vs {:.0} MiB/s; peak RSS growth {} (floor {}; target ≤ 64 MiB: {})",
        rate(timed.0),
        rate(timed.1),
        mib(rss.0),
        mib(rss.1),
        if rss.0 <= 64 * MIB as u64 { "met" } else { "NOT met" }
    );
    row
}

pub fn run(config: &Config) -> Vec<Row> {
    let size = large_mib() * MIB;
    let rounds = Config { rounds: config.rounds.min(3), only: None };
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let base = tmp.path();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let rt = &runtime;
    let mut rows = Vec::new();

    // ----- local disk -----
    let store = rt.block_on(ObjectStore::builder(format!("file://{}", base.join("store").display())).build()).unwrap();
    let model = rt.block_on(store.get_file_path("models/model.bin")).unwrap();
    write_big_file(&model, size);
    let source = base.join("source.bin");
    write_big_file(&source, size);
    let copy_to = base.join("copy.bin");
    let save = || rt.block_on(store.save_from_file("models/model.bin")).unwrap();
    let copy = || durable_copy(&source, &copy_to);
    let timed = compare(&rounds, 1, |_| save(), |_| copy());
    let memory = (peak_growth(save), peak_growth(copy));
    rows.push(large_row("save_from_file, local", size, timed, "durable copy (copy, fsync, rename, fsync dir)", memory));

    let out = base.join("out.bin");
    let to_writer = || {
        let file = std::fs::File::create(&out).unwrap();
        let meta = rt.block_on(store.read_to_file("models/model.bin", &file)).unwrap();
        assert_eq!(meta.size, size as u64);
    };
    let cp = || {
        std::fs::copy(&model, base.join("cp.bin")).unwrap();
    };
    let timed = compare(&rounds, 1, |_| to_writer(), |_| cp());
    let memory = (peak_growth(to_writer), peak_growth(cp));
    rows.push(large_row("read_to_file (get -o, export), local", size, timed, "std::fs::copy (cp)", memory));
    let _ = std::fs::remove_file(&copy_to);

    // ----- SeaweedFS -----
    let Ok(base_url) = std::env::var("OBJSTORE_TEST_S3_SEAWEEDFS") else {
        eprintln!("no S3 rows in the large-values table: run through `cargo xtask bench`, which starts SeaweedFS");
        return rows;
    };
    let (bucket, query) = base_url.trim_start_matches("s3://").split_once('?').unwrap();
    let prefix = format!("bench-large-{}", std::process::id());
    let s3 = rt
        .block_on(
            ObjectStore::builder(format!("s3://{bucket}/{prefix}?{query}"))
                .cache(CacheOptions::DISABLED)
                .staging_dir(base.join("staging"))
                .build(),
        )
        .unwrap();
    let raw = std::sync::Arc::new(crate::s3::raw_client(&base_url));
    let staged = rt.block_on(s3.get_file_path("models/model.bin")).unwrap();
    std::fs::copy(&source, &staged).unwrap();
    let options = objstore::backend_s3::S3Options::default();
    let save = || rt.block_on(s3.save_from_file("models/model.bin")).unwrap();
    let raw_save = || {
        rt.block_on(async {
            let path = OsPath::parse(format!("{prefix}/floor-model.bin")).unwrap();
            let upload = raw.put_multipart(&path).await.unwrap();
            let mut writer = WriteMultipart::new_with_chunk_size(upload, options.part_size);
            let mut file = std::fs::File::open(&source).unwrap();
            let mut buf = vec![0u8; MIB];
            loop {
                let n = std::io::Read::read(&mut file, &mut buf).unwrap();
                if n == 0 {
                    break;
                }
                writer.wait_for_capacity(options.upload_concurrency).await.unwrap();
                writer.write(&buf[..n]);
            }
            writer.finish().await.unwrap();
        })
    };
    let timed = compare(&rounds, 1, |_| save(), |_| raw_save());
    let memory = (peak_growth(save), peak_growth(raw_save));
    rows.push(large_row(
        "save_from_file, SeaweedFS",
        size,
        timed,
        "raw object_store WriteMultipart from the file",
        memory,
    ));

    let to_writer = || {
        let file = std::fs::File::create(&out).unwrap();
        let meta = rt.block_on(s3.read_to_file("models/model.bin", &file)).unwrap();
        assert_eq!(meta.size, size as u64);
    };
    let raw_get = || {
        rt.block_on(async {
            let path = OsPath::parse(format!("{prefix}/models/model.bin")).unwrap();
            let mut file = std::fs::File::create(base.join("raw.bin")).unwrap();
            let mut body = raw.get(&path).await.unwrap().into_stream();
            while let Some(chunk) = body.next().await {
                file.write_all(&chunk.unwrap()).unwrap();
            }
        })
    };
    let timed = compare(&rounds, 1, |_| to_writer(), |_| raw_get());
    let memory = (peak_growth(to_writer), peak_growth(raw_get));
    rows.push(large_row(
        "read_to_file (get -o, export), SeaweedFS",
        size,
        timed,
        "raw object_store streaming get",
        memory,
    ));
    rows.extend(parquet_reads(rt, config, &base_url, bucket, query, &prefix));
    rows
}

/// A parquet reader's requests for a 256 MiB file: footer length, footer, one column chunk.
#[cfg(feature = "object-store-compat")]
fn parquet_reads(
    rt: &tokio::runtime::Runtime,
    config: &Config,
    base_url: &str,
    bucket: &str,
    query: &str,
    prefix: &str,
) -> Vec<Row> {
    use objstore::compat::ObjectStoreAdapter;
    let registry = prometheus::Registry::new();
    let metrics = objstore::metrics::OperationMetrics::new(&registry).unwrap();
    let store = rt
        .block_on(
            ObjectStore::builder(format!("s3://{bucket}/{prefix}?{query}"))
                .cache(CacheOptions::DISABLED)
                .layer(metrics.layer())
                .build(),
        )
        .unwrap();
    let adapter = ObjectStoreAdapter::new(store.clone());
    let raw = crate::s3::raw_client(base_url);
    let size = 256 * MIB as u64;
    let value = Bytes::from((0..size as usize).map(|i| (i * 7 % 251) as u8).collect::<Vec<u8>>());
    rt.block_on(store.save_bytes("data/frame.parquet", value)).unwrap();
    let path = OsPath::parse("data/frame.parquet").unwrap();
    let raw_path = OsPath::parse(format!("{prefix}/data/frame.parquet")).unwrap();
    let ranges = [size - 8..size, size - 8 - 64 * 1024..size - 8, 100 * MIB as u64..104 * MIB as u64];
    let floor_bytes: u64 = ranges.iter().map(|r| r.end - r.start).sum();
    let read_bytes = || metrics.read_bytes().with_label_values(&["get_range"]).get();
    let before = read_bytes();
    let ours = |_| {
        rt.block_on(async {
            for r in &ranges {
                adapter.get_range(&path, r.clone()).await.unwrap();
            }
        })
    };
    let floor = |_| {
        rt.block_on(async {
            for r in &ranges {
                raw.get_range(&raw_path, r.clone()).await.unwrap();
            }
        })
    };
    let timed = compare(config, 1, ours, floor);
    let runs = (config.rounds + 1) as u64;
    let ours_bytes = (read_bytes() - before) / runs;
    let mut row = Row::new(
        "parquet footer + 1 column chunk via the adapter",
        "256 MiB object",
        timed,
        "the same ranged gets, raw object_store",
        Some(1.2),
    );
    let ratio = ours_bytes as f64 / floor_bytes as f64;
    row.note = format!(
        "bytes moved {} vs {} ({ratio:.2}×; target ≤ 1.05×: {})",
        ours_bytes,
        floor_bytes,
        if ratio <= 1.05 { "met" } else { "NOT met" }
    );
    vec![row]
}

#[cfg(not(feature = "object-store-compat"))]
fn parquet_reads(_: &tokio::runtime::Runtime, _: &Config, _: &str, _: &str, _: &str, _: &str) -> Vec<Row> {
    eprintln!("no parquet row: build the bench with --features object-store-compat (cargo xtask bench does)");
    Vec::new()
}
