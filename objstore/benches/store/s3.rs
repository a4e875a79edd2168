//! S3 against raw object_store on the same SeaweedFS (which `cargo xtask bench` starts).
//!
//! objstore runs with its cache off for saves and uncached reads, so both sides do the same
//! requests; the cached row turns the cache on (Revalidate) and compares with a HEAD.

use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore as _, ObjectStoreExt as _};
use objstore::{CacheOptions, ObjectStore};

use crate::{Config, KIB, MIB, Row, compare, payload, show, size_name};

/// Operations in flight in the parallel rows.
const IN_FLIGHT: usize = 32;

/// CPU time (user + system) this process has used.
fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage fills the struct it is given; on success it is fully initialised.
    #[allow(unsafe_code)]
    let usage = unsafe {
        if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
            return Duration::ZERO;
        }
        usage.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec * 1000) as u32);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// The raw client on the bucket of `base` (`s3://BUCKET?options`).
pub fn raw_client(base: &str) -> object_store::aws::AmazonS3 {
    let rest = base.trim_start_matches("s3://");
    let (bucket, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut builder = object_store::aws::AmazonS3Builder::new().with_bucket_name(bucket);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, "true"));
        builder = builder.with_config(k.parse().unwrap(), v);
    }
    builder.build().unwrap()
}

pub fn run(config: &Config) -> Vec<Row> {
    let Ok(base) = std::env::var("OBJSTORE_TEST_S3_SEAWEEDFS") else {
        eprintln!("no S3 table: run through `cargo xtask bench`, which starts SeaweedFS");
        return Vec::new();
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let rt = &runtime;
    let (bucket, query) = base.trim_start_matches("s3://").split_once('?').unwrap();
    let prefix = format!("bench-{}", std::process::id());
    let url = |extra: &str| format!("s3://{bucket}/{prefix}?{query}{extra}");
    let ours = rt.block_on(ObjectStore::builder(url("")).cache(CacheOptions::DISABLED).build()).expect("an S3 store");
    let raw = Arc::new(raw_client(&base));
    let path = |key: &str| Path::parse(format!("{prefix}/{key}")).unwrap();
    let mut rows = Vec::new();
    let parallel_rounds = Config { rounds: config.rounds.min(5), only: None };

    for len in [KIB, MIB, 16 * MIB] {
        let value = payload(len);
        let sequential_ops = match len {
            KIB => 40,
            MIB => 10,
            _ => 4,
        };
        // Sequential saves, fresh keys, with the client CPU each side used.
        let (ours_cpu, raw_cpu, ours_n, raw_n) =
            (Cell::new(Duration::ZERO), Cell::new(Duration::ZERO), Cell::new(0), Cell::new(0));
        let timed = compare(
            config,
            sequential_ops,
            |i| {
                let cpu = cpu_time();
                rt.block_on(ours.save_bytes(&format!("save/{len}/ours-{i}"), value.clone())).unwrap();
                ours_cpu.set(ours_cpu.get() + (cpu_time() - cpu));
                ours_n.set(ours_n.get() + 1);
            },
            |i| {
                let cpu = cpu_time();
                rt.block_on(raw.put(&path(&format!("save/{len}/raw-{i}")), Bytes::clone(&value).into())).unwrap();
                raw_cpu.set(raw_cpu.get() + (cpu_time() - cpu));
                raw_n.set(raw_n.get() + 1);
            },
        );
        let per = |c: &Cell<Duration>, n: &Cell<u32>| c.get() / n.get().max(1);
        let target = if len <= MIB { Some(1.05) } else { Some(1.0) };
        let mut row = Row::new("save, sequential", size_name(len), timed, "object_store put", target);
        row.note = format!("client CPU per save: {} vs {}", show(per(&ours_cpu, &ours_n)), show(per(&raw_cpu, &raw_n)));
        rows.push(row);

        // 32 saves in flight (the same 32 keys each round, so the server's disk stays bounded).
        let timed = compare(
            &parallel_rounds,
            1,
            |_| {
                rt.block_on(futures::stream::iter(0..IN_FLIGHT).for_each_concurrent(IN_FLIGHT, |i| {
                    let (ours, value) = (&ours, value.clone());
                    async move { ours.save_bytes(&format!("par/{len}/ours-{i}"), value).await.unwrap() }
                }))
            },
            |_| {
                rt.block_on(futures::stream::iter(0..IN_FLIGHT).for_each_concurrent(IN_FLIGHT, |i| {
                    let (raw, value, location) = (&raw, value.clone(), path(&format!("par/{len}/raw-{i}")));
                    async move {
                        raw.put(&location, value.into()).await.unwrap();
                    }
                }))
            },
        );
        let per_op = (timed.0 / IN_FLIGHT as u32, timed.1 / IN_FLIGHT as u32);
        rows.push(Row::new(format!("save, {IN_FLIGHT} in flight"), size_name(len), per_op, "object_store put", target));

        // Reads of what was just saved: sequential, then 32 in flight.
        let ours_key = format!("par/{len}/ours-0");
        let raw_path = path(&format!("par/{len}/raw-0"));
        let timed = compare(
            config,
            sequential_ops * 2,
            |_| assert_eq!(rt.block_on(ours.read_bytes(&ours_key)).unwrap().len(), len),
            |_| assert_eq!(rt.block_on(async { raw.get(&raw_path).await.unwrap().bytes().await }).unwrap().len(), len),
        );
        let target = if len <= MIB { Some(1.05) } else { None };
        rows.push(Row::new("read, sequential", size_name(len), timed, "object_store get", target));
        let timed = compare(
            &parallel_rounds,
            1,
            |_| {
                rt.block_on(futures::stream::iter(0..IN_FLIGHT).for_each_concurrent(IN_FLIGHT, |i| {
                    let ours = &ours;
                    async move { assert_eq!(ours.read_bytes(&format!("par/{len}/ours-{i}")).await.unwrap().len(), len) }
                }))
            },
            |_| {
                rt.block_on(futures::stream::iter(0..IN_FLIGHT).for_each_concurrent(IN_FLIGHT, |i| {
                    let (raw, location) = (&raw, path(&format!("par/{len}/raw-{i}")));
                    async move { assert_eq!(raw.get(&location).await.unwrap().bytes().await.unwrap().len(), len) }
                }))
            },
        );
        let per_op = (timed.0 / IN_FLIGHT as u32, timed.1 / IN_FLIGHT as u32);
        rows.push(Row::new(format!("read, {IN_FLIGHT} in flight"), size_name(len), per_op, "object_store get", target));
    }

    // A cached value read with Revalidate: one conditional GET answered 304, no body. The floor
    // is a HEAD of the same object (the cheapest request that can tell it changed).
    let cached = rt.block_on(ObjectStore::builder(url("")).build()).unwrap();
    rt.block_on(cached.save_bytes("cached/model.bin", payload(MIB))).unwrap();
    let cached_path = path("cached/model.bin");
    let timed = compare(
        config,
        20,
        |_| assert_eq!(rt.block_on(cached.read_bytes("cached/model.bin")).unwrap().len(), MIB),
        |_| {
            rt.block_on(raw.head(&cached_path)).unwrap();
        },
    );
    let full = compare(
        &Config { rounds: 3, only: None },
        10,
        |_| {
            rt.block_on(async { raw.get(&cached_path).await.unwrap().bytes().await.unwrap() });
        },
        |_| {},
    );
    let mut row = Row::new("cached read, Revalidate", size_name(MIB), timed, "object_store head", None);
    row.note = format!("one conditional GET (304), no body; a full GET takes {}", show(full.0));
    rows.push(row);

    // keys() over 10,000 objects.
    rt.block_on(
        futures::stream::iter(0..10_000)
            .map(|i| {
                let location = path(&format!("keys/f{:02}/object-{i:05}.json", i % 20));
                let raw = &raw;
                async move { raw.put(&location, Bytes::from_static(b"{}").into()).await.map(|_| ()) }
            })
            .buffer_unordered(IN_FLIGHT)
            .try_collect::<Vec<()>>(),
    )
    .unwrap();
    let listing = rt.block_on(ObjectStore::builder(format!("s3://{bucket}/{prefix}/keys?{query}")).build()).unwrap();
    let keys_prefix = path("keys");
    let timed = compare(
        &Config { rounds: config.rounds.min(7), only: None },
        1,
        |_| assert_eq!(rt.block_on(listing.keys()).unwrap().len(), 10_000),
        |_| {
            let all: Vec<String> =
                rt.block_on(raw.list(Some(&keys_prefix)).map_ok(|m| m.location.to_string()).try_collect()).unwrap();
            assert_eq!(all.len(), 10_000);
        },
    );
    rows.push(Row::new("keys() of 10,000 objects", "-", timed, "object_store list", None));
    rows
}
