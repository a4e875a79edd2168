//! Listings stream: the memory a `list` or `list_keys` of a whole store holds at its peak does
//! not grow with the number of keys (only with the largest folder's), while collecting the keys
//! does. Measured with a counting allocator (this binary's only test, so nothing else allocates
//! meanwhile), on stores whose files were put there by hand, 1,000 per folder. A listing made on
//! a runtime walks on its blocking pool and hands over batches (at most 2,048 entries, two
//! queued): more than the inline walk holds, but as bounded.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use backend_local as _;
use futures::TryStreamExt as _;
use store_core::{CacheOptions, ObjectStore};

/// Counts the bytes allocated now and their peak.
struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are added.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = NOW.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) };
        NOW.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let now = NOW.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size - layout.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                NOW.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most bytes `f` held at once beyond what was allocated when it started.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = NOW.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

/// `count` one-byte files in folders of 1,000, written by hand (not through the store).
fn fill(root: &Path, count: usize) {
    for i in 0..count {
        let dir = root.join(format!("day-{:04}", i / 1000));
        if i % 1000 == 0 {
            std::fs::create_dir_all(&dir).unwrap();
        }
        std::fs::write(dir.join(format!("quote-{i:07}.json")), b"1").unwrap();
    }
}

#[test]
fn listings_hold_one_folder_at_a_time_not_every_key() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut peaks = Vec::new();
    for count in [5_000usize, 50_000] {
        let root = tmp.path().join(format!("store-{count}"));
        fill(&root, count);
        let url = format!("file://{}", root.display());
        let store = runtime.block_on(ObjectStore::builder(url).cache(CacheOptions::DISABLED).build()).unwrap();
        // Warm up (lazily built state, the runtime's own buffers) before measuring.
        runtime.block_on(store.list_keys("").try_fold(0usize, |n, _| async move { Ok(n + 1) })).unwrap();
        let (listed, list_peak) =
            peak_during(|| runtime.block_on(store.list("").try_fold(0u64, |n, m| async move { Ok(n + m.size) })));
        assert_eq!(listed.unwrap(), count as u64, "list() saw every one-byte object");
        let (keyed, keys_peak) =
            peak_during(|| runtime.block_on(store.list_keys("").try_fold(0usize, |n, _| async move { Ok(n + 1) })));
        assert_eq!(keyed.unwrap(), count);
        // Made on the runtime, the walk runs on its blocking pool and hands over batches.
        let (on_runtime, async_peak) = peak_during(|| {
            runtime.block_on(async { store.list("").try_fold(0u64, |n, m| async move { Ok(n + m.size) }).await })
        });
        assert_eq!(on_runtime.unwrap(), count as u64, "list() on the runtime saw every one-byte object");
        let (all, collected_peak) = peak_during(|| runtime.block_on(store.keys()).unwrap());
        assert_eq!(all.len(), count);
        drop(all);
        eprintln!(
            "{count} keys: list() peaks at +{list_peak} B, list_keys() at +{keys_peak} B, list() on the runtime at \
             +{async_peak} B, keys() collected at +{collected_peak} B"
        );
        peaks.push((count, list_peak, keys_peak, collected_peak, async_peak));
    }
    let (small, large) = (peaks[0], peaks[1]);
    // Ten times the keys: the collected listing grows with them (the measure sees growth): 45,000
    // more keys are 45,000 more `String`s of 24 bytes in the result and their 18-byte names, over
    // 1.8 MB (the small figure also holds the hand-off's batches, bounded, so no ratio) ...
    assert!(large.3 > small.3 + 45_000 * 42, "keys() should grow with the key count: {peaks:?}");
    // ... and the streamed ones do not (one folder of 1,000 at a time), within 64 KiB of noise.
    let streamed =
        [("list()", small.1, large.1), ("list_keys()", small.2, large.2), ("list() on the runtime", small.4, large.4)];
    for (what, s, l) in streamed {
        assert!(l <= s + s / 2 + 64 * 1024, "{what} held {l} B at 50,000 keys against {s} B at 5,000: {peaks:?}");
        assert!(l < large.3 / 4, "{what} held {l} B, near what collecting every key takes: {peaks:?}");
    }
}
