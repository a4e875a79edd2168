//! `cargo xtask bench`: objstore beside its floors, measured in the same run.
//!
//! Each measurement alternates rounds of the objstore operation and of its floor (the same work
//! done with the plainest tool: raw `std::fs`, raw moka), flips which goes first every round,
//! drops a warm-up round, and reports the median time per operation of each and their ratio.
//! Saves always create fresh keys (deleting between rounds would measure the file system's
//! allocator, not the code) and are deleted after the group.
//!
//! Three tables: local disk and cache (floors: raw `std::fs`, raw moka); the manager on local
//! disk (floors: zstd plus the same store, a `std::fs` walk; see `manager.rs`); then S3 against
//! the SeaweedFS that `cargo xtask bench` starts (floor: raw object_store on the same server).
//!
//! Options: `--quick` (fewer rounds), `--only NAME` (groups whose name contains NAME: `save`,
//! `read`, `async`, `cached`, `keys`, `manager` (= `manager-io`, `manager-index` and
//! `manager-scale-s3` and `manager-scale-local`: cold starts over 20,000 objects with and without
//! the index snapshot, see `manager_scale.rs`), `s3`, `transfer` (import and copy of 10,000
//! files, see `transfer.rs`), `large` (2 GiB streamed saves and reads, parquet-style ranged
//! reads; see `large.rs`), `compat` (the object_store
//! adapter beside the facade; needs `--features object-store-compat`, see `compat.rs`)).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod cache_scale;
#[cfg(feature = "object-store-compat")]
mod compat;
mod group_commit;
mod large;
mod local;
mod manager;
mod manager_scale;
mod reads_scale;
mod s3;
#[cfg(feature = "object-store-compat")]
mod trait_floor;
mod transfer;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;

pub const KIB: usize = 1024;
pub const MIB: usize = 1024 * 1024;

pub struct Config {
    pub rounds: usize,
    pub only: Option<String>,
}

impl Config {
    pub fn wants(&self, group: &str) -> bool {
        self.only.as_deref().is_none_or(|o| group.contains(o))
    }
}

/// One row of a table.
pub struct Row {
    pub operation: String,
    pub size: String,
    pub ours: Duration,
    pub floor: Duration,
    pub floor_name: &'static str,
    pub target: Option<f64>,
    /// A note for the row (client CPU, ...).
    pub note: String,
}

impl Row {
    pub fn new(
        operation: impl Into<String>,
        size: impl Into<String>,
        (ours, floor): (Duration, Duration),
        floor_name: &'static str,
        target: Option<f64>,
    ) -> Row {
        Row { operation: operation.into(), size: size.into(), ours, floor, floor_name, target, note: String::new() }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1).cloned());
    let config = Config { rounds: if quick { 5 } else { 11 }, only };
    // One folder per run: two runs at once must not remove each other's objects (a listing
    // counted 6,983 of 50,000 when a second run started and cleared a shared folder).
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("objstore-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let mut rows = local::run(&config, &base);
    rows.extend(cache_scale::run(&config, &base));
    if !rows.is_empty() {
        print_table("local disk and cache", &config, &rows);
    }
    let rows = group_commit::run(&config, &base);
    if !rows.is_empty() {
        print_table("group commit: durable saves in flight into one folder (local disk)", &config, &rows);
    }
    let rows = manager::run(&config, &base.join("manager"));
    if !rows.is_empty() {
        print_table("manager (local disk)", &config, &rows);
    }
    if config.wants("manager-scale-s3") || config.wants("manager-scale-local") {
        let rows = manager_scale::run(&config, &base.join("manager"));
        print_table("manager cold start at scale (SeaweedFS, local disk)", &config, &rows);
    }
    reads_scale::main(&config, &base.join("reads-scale"));
    let _ = std::fs::remove_dir_all(&base);
    #[cfg(feature = "object-store-compat")]
    compat::main(&config);
    if config.wants("s3") {
        let rows = s3::run(&config);
        print_table("S3 (SeaweedFS on loopback)", &config, &rows);
    }
    if config.wants("large") {
        let rows = large::run(&config);
        print_table("large values: streamed saves and reads, ranged reads through the adapter", &config, &rows);
    }
    if config.wants("transfer") {
        let rows = transfer::run(&config);
        print_table("bulk transfer (import, copy) beside the backend's own concurrent puts", &config, &rows);
    }
}

/// Median time per operation of `ours` and `floor`, each run `ops` times a round.
pub fn compare(
    config: &Config,
    ops: usize,
    mut ours: impl FnMut(usize),
    mut floor: impl FnMut(usize),
) -> (Duration, Duration) {
    let mut ours_times = Vec::new();
    let mut floor_times = Vec::new();
    let mut next = 0;
    for round in 0..=config.rounds {
        let time = |f: &mut dyn FnMut(usize), next: &mut usize| {
            let start = Instant::now();
            for _ in 0..ops {
                f(*next);
                *next += 1;
            }
            start.elapsed() / ops as u32
        };
        let (a, b) = if round % 2 == 0 {
            let a = time(&mut ours, &mut next);
            (a, time(&mut floor, &mut next))
        } else {
            let b = time(&mut floor, &mut next);
            (time(&mut ours, &mut next), b)
        };
        if round > 0 {
            ours_times.push(a);
            floor_times.push(b);
        }
    }
    (median(ours_times), median(floor_times))
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

pub fn payload(len: usize) -> Bytes {
    (0..len).map(|i| (i * 31 % 251) as u8).collect::<Vec<u8>>().into()
}

pub fn size_name(len: usize) -> String {
    if len >= MIB { format!("{} MiB", len / MIB) } else { format!("{} KiB", len / KIB) }
}

fn print_table(title: &str, config: &Config, rows: &[Row]) {
    println!(
        "\n{title}: medians of up to {} rounds per figure, objstore and floor interleaved in the same run",
        config.rounds
    );
    println!("\n| operation | size | objstore | floor | floor is | ratio | target | met | note |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let ratio = r.ours.as_secs_f64() / r.floor.as_secs_f64();
        let (target, met) = match r.target {
            Some(t) => (format!("≤ {t:.2}×"), if ratio <= t { "yes" } else { "NO" }),
            None => ("-".into(), "-"),
        };
        println!(
            "| {} | {} | {} | {} | {} | {ratio:.2}× | {target} | {met} | {} |",
            r.operation,
            r.size,
            show(r.ours),
            show(r.floor),
            r.floor_name,
            r.note
        );
    }
}

pub fn show(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 10_000 {
        format!("{ns} ns")
    } else if ns < 10_000_000 {
        format!("{:.1} µs", ns as f64 / 1000.0)
    } else {
        format!("{:.2} ms", ns as f64 / 1e6)
    }
}
