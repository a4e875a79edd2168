//! Ranged reads: the bytes asked for, clamped at the end, refused when empty, reversed or past
//! the end; conditional on a version; served from the cache without going stale.

use super::{ok, pattern};
use crate::testkit::Kit;
use crate::{ByteRange, CacheOptions, CachePolicy, Error, ObjectStore, assert_err};

/// Bounded, open-ended and suffix ranges return exactly those bytes, with the whole value's
/// metadata; bad ranges are `InvalidRange` naming the key; a stale `if_match` is `Precondition`.
pub async fn ranged_reads(kit: Kit) {
    let s = kit.store().await;
    let value = pattern(3, 3 * 1024 * 1024 + 17);
    let len = value.len() as u64;
    let saved = ok(s.save_bytes_with("models/m.bin", value.clone(), crate::PutMode::Overwrite).await, "save");
    let slice = |r: std::ops::Range<u64>| value.slice(r.start as usize..r.end as usize);
    for (range, expect) in [
        (ByteRange::bounded(0..1), 0..1),
        (ByteRange::bounded(10..4096), 10..4096),
        (ByteRange::bounded(len - 8..len), len - 8..len),
        (ByteRange::bounded(len - 8..len + 1000), len - 8..len),
        (ByteRange::From(1_000_000), 1_000_000..len),
        (ByteRange::Last(16), len - 16..len),
        (ByteRange::Last(len + 5), 0..len),
    ] {
        let read = ok(s.read_range_with("models/m.bin", range, None).await, &format!("read {range}"));
        assert_eq!(read.range, expect, "{range}: the range answered");
        assert!(read.bytes == slice(expect.clone()), "{range}: other bytes than asked for");
        assert_eq!(read.meta.size, len, "{range}: the whole value's size");
        assert_eq!(read.meta.version, saved.version, "{range}: the value's version");
    }
    assert_eq!(&ok(s.read_range("models/m.bin", 5..9).await, "read_range")[..], &value[5..9]);
    for bad in [
        ByteRange::Bounded { start: 9, end: 5 },
        ByteRange::bounded(7..7),
        ByteRange::bounded(len..len + 3),
        ByteRange::From(len),
        ByteRange::Last(0),
    ] {
        assert_err!(s.read_range("models/m.bin", bad).await, Error::InvalidRange { ref key, .. } if key == "models/m.bin");
    }
    assert_err!(s.read_range("absent", 0..4).await, Error::NotFound { .. });
    // The empty value: its last bytes are nothing; any bounded range starts past its end.
    ok(s.save("empty", "").await, "save empty");
    assert!(ok(s.read_range("empty", ByteRange::Last(8)).await, "last of empty").is_empty());
    assert_err!(s.read_range("empty", 0..1).await, Error::InvalidRange { .. });
    // Conditional: the version read stays the version served.
    let right = ok(s.read_range_with("models/m.bin", 0..4, Some(&saved.version)).await, "if_match current");
    assert!(right.bytes == slice(0..4));
    ok(s.save("models/m.bin", "replaced").await, "overwrite");
    assert_err!(s.read_range_with("models/m.bin", 0..4, Some(&saved.version)).await,
        Error::Precondition { ref key, .. } if key == "models/m.bin");
    assert_eq!(&ok(s.read_range("models/m.bin", 0..4).await, "read the new value")[..], b"repl");
}

/// A cached value answers ranges; under the default policy another writer's change is seen,
/// and a range is never cached as if it were the whole value.
pub async fn ranged_reads_through_the_cache(kit: Kit) {
    let url = kit.url();
    let revalidating = kit.open(&url).await;
    let trust = CacheOptions { policy: CachePolicy::Trust, ..CacheOptions::default() };
    let trusting = kit.build(ObjectStore::builder(&url).cache(trust)).await;
    let other = kit.build(ObjectStore::builder(&url).cache(CacheOptions::DISABLED)).await;
    ok(revalidating.save("k", "0123456789").await, "save");
    ok(revalidating.read("k").await, "fill the cache");
    assert_eq!(&ok(revalidating.read_range("k", 2..5).await, "cached range")[..], b"234");
    ok(other.save("k", "abcdefghij").await, "another writer");
    assert_eq!(&ok(revalidating.read_range("k", 2..5).await, "range after a change")[..], b"cde", "stale range");
    // A range read first must not leave a partial value in the cache.
    ok(other.save("r", "whole value").await, "save r");
    assert_eq!(&ok(trusting.read_range("r", 0..5).await, "range first")[..], b"whole");
    assert_eq!(ok(trusting.read("r").await, "then whole"), "whole value", "a range was cached as the value");
}
