//! The read cache at real sizes and key counts (`--only cached`), each beside its floor:
//!
//! - a `Revalidate` hit on local disk (1 KiB, 64 KiB, 1 MiB, in a folder; 1 KiB at the top of the
//!   store) against a raw `statx` of the file's path plus a raw moka hit (target 1.3×), and
//!   against an uncached read of the same value (target 1.0×: revalidating must never cost more
//!   than reading);
//! - `Trust` hits over 10,000 and 100,000 keys of 1 KiB, read in a shuffled order by 1 and by 2
//!   threads at once, against a raw `moka::sync::Cache` hit over the same key set read the same
//!   way (target 1.5×). With 2 threads each figure is the time per read of one thread.
//!
//! All through the blocking facade, as a backtest loop reads.

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use objstore::{CacheOptions, CachePolicy, blocking};

use crate::{Config, KIB, MIB, Row, compare, median, payload, size_name};

pub fn run(config: &Config, base: &Path) -> Vec<Row> {
    let mut rows = Vec::new();
    if config.wants("cached-revalidate") {
        rows.extend(revalidated(config, &base.join("cached-revalidate")));
    }
    if config.wants("cached-trust-scale") {
        rows.extend(trust_at_scale(config, &base.join("cached-trust-scale")));
    }
    rows
}

fn url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

/// One raw `statx` of `path` (what revalidating a file costs at least): `std::fs::metadata`
/// is one `statx` system call on Linux, with the path on the stack.
fn raw_statx(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

fn revalidated(config: &Config, dir: &Path) -> Vec<Row> {
    let options =
        CacheOptions { capacity_bytes: 1 << 30, max_entry_bytes: 32 * MIB as u64, policy: CachePolicy::Revalidate };
    let store = blocking::builder(url(dir)).cache(options).build().unwrap();
    let uncached = blocking::builder(url(dir)).cache(CacheOptions::DISABLED).build().unwrap();
    let raw: moka::sync::Cache<String, Bytes> = moka::sync::Cache::builder().max_capacity(1 << 30).build();
    let mut rows = Vec::new();
    // Keys in folders (the confined stat opens the file: `openat2` + `fstat` + `close`) at every
    // size, and a key at the top of the store (one `fstatat`) at the smallest.
    let folder = "prices/revalidate/";
    let cases = [
        (folder, "", KIB, 4000),
        (folder, "", 64 * KIB, 2000),
        (folder, "", MIB, 400),
        ("", ", key at the top", KIB, 4000),
    ];
    for (folder, what, len, ops) in cases {
        let key = format!("{folder}revalidate-{len}.bin");
        store.save_bytes(&key, payload(len)).unwrap();
        assert_eq!(store.read_bytes(&key).unwrap().len(), len);
        raw.insert(key.clone(), payload(len));
        let path = dir.join(&key);
        let floor = compare(
            config,
            ops,
            |_| assert_eq!(store.read_bytes(&key).unwrap().len(), len),
            |_| {
                assert_eq!(raw_statx(&path), len as u64);
                assert_eq!(raw.get(key.as_str()).unwrap().len(), len);
            },
        );
        rows.push(Row::new(
            format!("cached read, Revalidate{what} (blocking)"),
            size_name(len),
            floor,
            "raw statx + moka get",
            Some(1.3),
        ));
        let read_ops = if len >= MIB { 100 } else { ops };
        let versus_read = compare(
            config,
            read_ops,
            |_| assert_eq!(store.read_bytes(&key).unwrap().len(), len),
            |_| assert_eq!(uncached.read_bytes(&key).unwrap().len(), len),
        );
        rows.push(Row::new(
            format!("cached read, Revalidate{what} (blocking)"),
            size_name(len),
            versus_read,
            "uncached read (blocking)",
            Some(1.0),
        ));
    }
    rows
}

/// A fixed shuffle of `0..n` (the same order for the store and its floor).
fn shuffled(n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..n).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.swap(i, (x % (i as u64 + 1)) as usize);
    }
    order
}

/// Runs `read(i)` for `reads` indices of `order` on each of `threads` threads at once; the time
/// per read of one thread.
fn per_read(threads: usize, order: &[usize], reads: usize, read: &(dyn Fn(usize) + Sync)) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                let offset = t * order.len() / threads.max(1);
                for i in 0..reads {
                    read(order[(offset + i) % order.len()]);
                }
            });
        }
    });
    start.elapsed() / reads as u32
}

fn trust_at_scale(config: &Config, dir: &Path) -> Vec<Row> {
    let options = CacheOptions { capacity_bytes: 1 << 30, max_entry_bytes: MIB as u64, policy: CachePolicy::Trust };
    let store = blocking::builder(url(dir) + "?durability=buffered").cache(options).build().unwrap();
    let raw: moka::sync::Cache<String, Bytes> = moka::sync::Cache::builder()
        .max_capacity(options.capacity_bytes)
        .weigher(|k: &String, v: &Bytes| (k.len() + v.len()) as u32)
        .build();
    let value = payload(KIB);
    let mut keys: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    for count in [10_000, 100_000] {
        for i in keys.len()..count {
            let key = format!("bars/{:03}/minute-{i:06}.json", i % 500);
            store.save_bytes(&key, value.clone()).unwrap();
            raw.insert(key.clone(), value.clone());
            keys.push(key);
        }
        // Every key read once, so that both caches hold the whole set.
        for k in &keys {
            assert_eq!(store.read_bytes(k).unwrap().len(), KIB);
            assert_eq!(raw.get(k.as_str()).unwrap().len(), KIB);
        }
        let order = shuffled(count);
        let reads = 200_000;
        let ours = |i: usize| assert_eq!(store.read_bytes(&keys[i]).unwrap().len(), KIB);
        let floor = |i: usize| assert_eq!(raw.get(keys[i].as_str()).unwrap().len(), KIB);
        settle_writeback();
        let threads = [1, 2];
        let figures = compare_per_read(config, &threads, &order, reads, &ours, &floor);
        for (threads, figure) in threads.into_iter().zip(figures) {
            rows.push(Row::new(
                format!(
                    "cached read, Trust, {count} keys, {threads} thread{} (blocking)",
                    if threads > 1 { "s" } else { "" }
                ),
                size_name(KIB),
                figure,
                "moka::sync::Cache::get, same keys",
                Some(1.5),
            ));
        }
    }
    rows
}

/// Like [`compare`]: rounds of `ours` and `floor` alternated (which goes first flips each round),
/// with every thread count measured in every round, so that all figures of a key count share the
/// machine's state of the moment. (Measured one thread count after the other, the one-thread
/// figure, taken first, read up to 2.2× the two-thread one in some runs, for the raw floor as
/// much as for the store: the machine changed between the two, not the code. Interleaved, one
/// thread reads at or below each of two in every run.) The first round dropped, the median time
/// per read of one thread of each, per thread count.
fn compare_per_read(
    config: &Config,
    thread_counts: &[usize],
    order: &[usize],
    reads: usize,
    ours: &(dyn Fn(usize) + Sync),
    floor: &(dyn Fn(usize) + Sync),
) -> Vec<(Duration, Duration)> {
    let mut samples = vec![(Vec::new(), Vec::new()); thread_counts.len()];
    for round in 0..=config.rounds {
        for (&threads, (a, b)) in thread_counts.iter().zip(&mut samples) {
            let (x, y) = if round % 2 == 0 {
                let x = per_read(threads, order, reads, ours);
                (x, per_read(threads, order, reads, floor))
            } else {
                let y = per_read(threads, order, reads, floor);
                (per_read(threads, order, reads, ours), y)
            };
            if round > 0 {
                a.push(x);
                b.push(y);
            }
        }
    }
    samples.into_iter().map(|(a, b)| (median(a), median(b))).collect()
}

/// Waits for the files just saved to be written back (`sync`), so that the kernel's writeback
/// does not share the cores with the rounds that follow.
fn settle_writeback() {
    let _ = std::process::Command::new("sync").status();
}
