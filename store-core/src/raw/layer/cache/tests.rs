//! The cache layer's unit tests: capacity, bypass, policies, counters.

use super::*;
use crate::raw::memory::MemoryBackend;

fn layer(capacity_bytes: u64, max_entry_bytes: u64, policy: CachePolicy) -> (Arc<MemoryBackend>, CacheLayer) {
    let memory = Arc::new(MemoryBackend::new());
    let cache = CacheLayer::new(memory.clone(), CacheOptions { capacity_bytes, max_entry_bytes, policy });
    (memory, cache)
}

fn key(s: &str) -> KeyBuf {
    KeyBuf::parse(s).unwrap()
}

#[tokio::test]
async fn stays_within_its_capacity_in_bytes() {
    let (_, cache) = layer(64 * 1024, 8 * 1024, CachePolicy::Trust);
    for i in 0..100 {
        cache.put(&key(&format!("k{i}")), Bytes::from(vec![0u8; 4096]), &PutMode::Overwrite).await.unwrap();
    }
    let held = cache.weighted_size();
    assert!(held <= 64 * 1024, "the cache holds {held} bytes, more than its capacity");
    assert!(cache.entry_count() >= 10, "the cache should hold about 15 entries of 4 KiB");
}

#[tokio::test]
async fn large_values_bypass_it() {
    let (_, cache) = layer(1 << 20, 8 * 1024, CachePolicy::Trust);
    cache.put(&key("big"), Bytes::from(vec![1u8; 8 * 1024 + 1]), &PutMode::Overwrite).await.unwrap();
    cache.put(&key("small"), Bytes::from(vec![1u8; 100]), &PutMode::Overwrite).await.unwrap();
    let read = crate::raw::backend::get_object(&cache, &key("big")).await.unwrap();
    assert_eq!(read.bytes.len(), 8 * 1024 + 1);
    assert_eq!(cache.entry_count(), 1, "only the small value may be cached");
}

#[tokio::test]
async fn trust_serves_the_cached_copy_and_forget_drops_it() {
    let (memory, cache) = layer(1 << 20, 1 << 20, CachePolicy::Trust);
    cache.put(&key("k"), Bytes::from_static(b"v1"), &PutMode::Overwrite).await.unwrap();
    // Changed beneath the cache, as another process would.
    memory.put(&key("k"), Bytes::from_static(b"v2"), &PutMode::Overwrite).await.unwrap();
    assert_eq!(&cache.get_ready(&key("k")).unwrap()[..], b"v1");
    cache.forget(&key("k"));
    assert!(cache.get_ready(&key("k")).is_none());
    let read = crate::raw::backend::get_object(&cache, &key("k")).await.unwrap();
    assert_eq!(&read.bytes[..], b"v2");
    assert_eq!(&cache.get_ready(&key("k")).unwrap()[..], b"v2");
}

#[tokio::test]
async fn counts_hits_and_misses_under_trust() {
    let (memory, cache) = layer(1 << 20, 1 << 20, CachePolicy::Trust);
    assert_eq!(cache.stats(), CacheStats::default());
    cache.put(&key("k"), Bytes::from_static(b"v1"), &PutMode::Overwrite).await.unwrap();
    assert!(cache.get_ready(&key("k")).is_some());
    crate::raw::backend::get_object(&cache, &key("k")).await.unwrap();
    // Absent: get_ready counts nothing, get counts a miss.
    assert!(cache.get_ready(&key("nope")).is_none());
    assert!(crate::raw::backend::get_object(&cache, &key("nope")).await.is_err());
    // Read from the backend, then served from the cache.
    memory.put(&key("m"), Bytes::from_static(b"vm"), &PutMode::Overwrite).await.unwrap();
    crate::raw::backend::get_object(&cache, &key("m")).await.unwrap();
    assert!(cache.get_ready(&key("m")).is_some());
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses, stats.evictions), (3, 2, 0));
    assert_eq!(stats.entries, 2);
    assert_eq!(stats.bytes, cache.weighted_size());
    assert_eq!(stats.bytes, 2 * (1 + 2 + 96), "two one-byte keys with two-byte values");
}

#[tokio::test]
async fn hits_and_misses_are_counted_from_the_first_stats_call() {
    let (_memory, cache) = layer(1 << 20, 1 << 20, CachePolicy::Trust);
    cache.put(&key("k"), Bytes::from_static(b"v1"), &PutMode::Overwrite).await.unwrap();
    assert!(cache.get_ready(&key("k")).is_some());
    assert!(crate::raw::backend::get_object(&cache, &key("nope")).await.is_err());
    let first = cache.stats();
    assert_eq!((first.hits, first.misses, first.entries), (0, 0, 1), "not counted before anyone asked");
    assert!(cache.get_ready(&key("k")).is_some());
    assert!(crate::raw::backend::get_object(&cache, &key("nope")).await.is_err());
    assert_eq!((cache.stats().hits, cache.stats().misses), (1, 1));
}

#[tokio::test]
async fn a_revalidated_copy_is_a_hit_and_a_changed_one_a_miss() {
    let (memory, cache) = layer(1 << 20, 1 << 20, CachePolicy::Revalidate);
    assert_eq!(cache.stats(), CacheStats::default(), "counting starts");
    cache.put(&key("k"), Bytes::from_static(b"v1"), &PutMode::Overwrite).await.unwrap();
    // get_ready answers once the backend confirmed the version at once (memory does).
    assert_eq!(cache.get_ready(&key("k")).as_deref(), Some(&b"v1"[..]));
    crate::raw::backend::get_object(&cache, &key("k")).await.unwrap();
    assert_eq!((cache.stats().hits, cache.stats().misses), (2, 0));
    memory.put(&key("k"), Bytes::from_static(b"v2"), &PutMode::Overwrite).await.unwrap();
    assert_eq!(cache.get_ready(&key("k")), None, "served a changed value from the cache");
    let read = crate::raw::backend::get_object(&cache, &key("k")).await.unwrap();
    assert_eq!(&read.bytes[..], b"v2");
    assert_eq!((cache.stats().hits, cache.stats().misses), (2, 1));
    assert_eq!(cache.get_ready(&key("k")).as_deref(), Some(&b"v2"[..]));
    memory.delete(&key("k"), None).await.unwrap();
    assert_eq!(cache.get_ready(&key("k")), None, "served a deleted value from the cache");
    assert!(crate::raw::backend::get_object(&cache, &key("k")).await.is_err());
    assert_eq!((cache.stats().hits, cache.stats().misses), (3, 2));
}

#[tokio::test]
async fn counts_evictions_but_not_overwrites_or_deletes() {
    let (_, cache) = layer(1 << 20, 1 << 20, CachePolicy::Trust);
    for i in 0..10u8 {
        cache.put(&key("same"), Bytes::from(vec![i; 100]), &PutMode::Overwrite).await.unwrap();
    }
    cache.delete(&key("same"), None).await.unwrap();
    cache.put(&key("other"), Bytes::from_static(b"x"), &PutMode::Overwrite).await.unwrap();
    cache.forget(&key("other"));
    assert_eq!(cache.stats().evictions, 0);
    assert_eq!(cache.stats().entries, 0);

    let (_, small) = layer(64 * 1024, 8 * 1024, CachePolicy::Trust);
    for i in 0..100 {
        small.put(&key(&format!("k{i}")), Bytes::from(vec![0u8; 4096]), &PutMode::Overwrite).await.unwrap();
    }
    let stats = small.stats();
    assert!(stats.bytes <= 64 * 1024, "holds {} bytes", stats.bytes);
    assert_eq!(stats.entries + stats.evictions, 100, "every value is either held or was evicted: {stats:?}");
}

#[tokio::test]
async fn revalidate_answers_not_modified_without_rereading() {
    let (_, cache) = layer(1 << 20, 1 << 20, CachePolicy::Revalidate);
    let meta = cache.put(&key("k"), Bytes::from_static(b"v1"), &PutMode::Overwrite).await.unwrap();
    let opts = GetOptions { if_none_match: Some(meta.version) };
    assert!(matches!(cache.get(&key("k"), &opts).await.unwrap(), GetResult::NotModified));
}

#[tokio::test]
async fn the_largest_cacheable_value_under_the_longest_key_is_cached() {
    // The map is split in shards; each must still hold the heaviest entry the options allow.
    let options = CacheOptions { policy: CachePolicy::Trust, ..CacheOptions::default() };
    let (_, cache) = layer(options.capacity_bytes, options.max_entry_bytes, options.policy);
    let long = key(&"k".repeat(crate::key::MAX_KEY_BYTES));
    let largest = Bytes::from(vec![7u8; options.max_entry_bytes as usize]);
    cache.put(&long, largest.clone(), &PutMode::Overwrite).await.unwrap();
    assert!(cache.get_ready(&long).is_some_and(|b| b == largest), "the largest cacheable value was not cached");
    for (capacity, max_entry) in [(64 * 1024, 8 * 1024), (1 << 20, 900 << 10), (10 << 20, 1 << 20), (1 << 30, 32 << 20)]
    {
        let (_, cache) = layer(capacity, max_entry, CachePolicy::Trust);
        let value = Bytes::from(vec![1u8; max_entry as usize]);
        cache.put(&key("k"), value.clone(), &PutMode::Overwrite).await.unwrap();
        let cached = cache.get_ready(&key("k"));
        assert!(cached.is_some_and(|b| b == value), "capacity {capacity}, entries up to {max_entry}: not cached");
    }
}

#[tokio::test]
async fn a_value_heavier_than_the_cache_leaves_no_older_copy_behind() {
    // Entries may be larger than the whole cache: the new value cannot be held, and the old
    // one must not be served in its place.
    let (_, cache) = layer(4096, 1 << 20, CachePolicy::Trust);
    cache.put(&key("k"), Bytes::from_static(b"v1"), &PutMode::Overwrite).await.unwrap();
    assert_eq!(&cache.get_ready(&key("k")).unwrap()[..], b"v1");
    let heavy = Bytes::from(vec![2u8; 64 * 1024]);
    cache.put(&key("k"), heavy.clone(), &PutMode::Overwrite).await.unwrap();
    assert_eq!(cache.get_ready(&key("k")), None, "served a copy that is not the stored value");
    let read = crate::raw::backend::get_object(&cache, &key("k")).await.unwrap();
    assert_eq!(read.bytes, heavy);
    let stats = cache.stats();
    assert_eq!((stats.entries, stats.bytes, stats.evictions), (0, 0, 0), "a refused value is no eviction");
}
