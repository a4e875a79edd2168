//! Whole-value reads on an async runtime: a value the page cache holds is copied on the calling
//! task (no hand-off to the blocking pool, which these tests keep busy), in slices for large
//! values; what the cache does not hold is read on the pool, and the bytes are the same.
//!
//! The tests need a file system that supports `RWF_NOWAIT` reads (ext4, xfs, btrfs, tmpfs on
//! recent kernels): the temp folder's.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::future::Future;
use std::path::Path;
use std::pin::pin;
use std::task::{Context, Poll};

use backend_local as _;
use bytes::Bytes;
use rustix::fs::{Advice, Mode, OFlags};
use store_core::{CacheOptions, ObjectStore};

const MIB: usize = 1 << 20;

fn value(len: usize) -> Bytes {
    (0..len).map(|i| (i * 31 % 251) as u8).collect::<Vec<u8>>().into()
}

/// A runtime whose blocking pool has one thread, and a store (cache off) on `dir`.
fn setup(dir: &Path) -> (tokio::runtime::Runtime, ObjectStore) {
    let runtime = tokio::runtime::Builder::new_current_thread().max_blocking_threads(1).build().unwrap();
    let url = format!("file://{}", dir.display());
    let store = runtime.block_on(ObjectStore::builder(url).cache(CacheOptions::DISABLED).build()).unwrap();
    (runtime, store)
}

/// Polls `fut` at most `polls` times (waking itself), with the blocking pool's only thread held
/// by another task all along: `None` when it is still pending, which a read waiting for the pool
/// always is.
fn poll_with_pool_busy<F: Future>(runtime: &tokio::runtime::Runtime, polls: usize, fut: F) -> Option<F::Output> {
    let (release, held) = std::sync::mpsc::channel::<()>();
    let (started_tx, started) = std::sync::mpsc::channel::<()>();
    let _guard = runtime.enter();
    let holder = tokio::task::spawn_blocking(move || {
        started_tx.send(()).unwrap();
        let _ = held.recv();
    });
    started.recv().unwrap();
    let output = runtime.block_on(async {
        let mut fut = pin!(fut);
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        for _ in 0..polls {
            if let Poll::Ready(output) = fut.as_mut().poll(&mut cx) {
                return Some(output);
            }
        }
        None
    });
    release.send(()).unwrap();
    runtime.block_on(holder).unwrap();
    output
}

#[test]
fn a_cached_value_of_1_mib_is_read_on_the_calling_task() {
    let dir = tempfile::tempdir().unwrap();
    let (runtime, store) = setup(dir.path());
    let v = value(MIB);
    runtime.block_on(store.save_bytes("big", v.clone())).unwrap();
    // Just saved: in the page cache. One slice and the check for more, with no yield.
    let read = poll_with_pool_busy(&runtime, 1, store.read_bytes("big"));
    let read = read.expect("a cached 1 MiB read waited for the blocking pool");
    assert_eq!(read.unwrap(), v);
}

#[test]
fn a_cached_value_of_16_mib_is_read_in_slices_on_the_calling_task() {
    let dir = tempfile::tempdir().unwrap();
    let (runtime, store) = setup(dir.path());
    let v = value(16 * MIB + 5);
    runtime.block_on(store.save_bytes("big", v.clone())).unwrap();
    // 17 slices with a yield between them: pending a few times, never waiting for the pool.
    assert!(poll_with_pool_busy(&runtime, 1, store.read_bytes("big")).is_none(), "16 MiB read in one go");
    let read = poll_with_pool_busy(&runtime, 40, store.read_bytes("big"));
    let read = read.expect("a cached 16 MiB read waited for the blocking pool");
    assert_eq!(read.unwrap(), v);
}

#[test]
fn what_the_cache_does_not_hold_is_read_on_the_pool_with_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (runtime, store) = setup(dir.path());
    for (len, dropped) in [(3 * MIB, MIB..2 * MIB), (MIB, 0..MIB), (5 * MIB / 2, 2 * MIB..5 * MIB / 2)] {
        let v = value(len);
        let key = format!("v{len}");
        runtime.block_on(store.save_bytes(&key, v.clone())).unwrap();
        // Durable saves flush the file, so its pages are clean and may be dropped from the cache.
        let fd = rustix::fs::open(dir.path().join(&key), OFlags::RDONLY, Mode::empty()).unwrap();
        rustix::fs::fadvise(
            &fd,
            dropped.start as u64,
            std::num::NonZeroU64::new((dropped.end - dropped.start) as u64),
            Advice::DontNeed,
        )
        .unwrap();
        assert_eq!(runtime.block_on(store.read_bytes(&key)).unwrap(), v, "{len} bytes, {dropped:?} not cached");
        // And again, cached now.
        assert_eq!(runtime.block_on(store.read_bytes(&key)).unwrap(), v);
    }
}

#[test]
fn a_file_that_grows_after_its_stat_is_read_to_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let (runtime, store) = setup(dir.path());
    let v = value(2 * MIB);
    runtime.block_on(store.save_bytes("grows", v.clone())).unwrap();
    let read = store.read_bytes("grows");
    let mut read = pin!(read);
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let _guard = runtime.enter();
    // The first poll reads the first slice and yields; another program appends meanwhile.
    assert!(runtime.block_on(async { read.as_mut().poll(&mut cx).is_pending() }));
    let mut file = std::fs::OpenOptions::new().append(true).open(dir.path().join("grows")).unwrap();
    std::io::Write::write_all(&mut file, b"tail").unwrap();
    // Read to its end, as a blocking read does.
    let mut expected = v.to_vec();
    expected.extend_from_slice(b"tail");
    assert_eq!(runtime.block_on(read).unwrap(), expected);
}
