//! Streamed reads and saves: values that never sit in memory whole, never mixed, never left
//! half-written, and counted by limits.

use std::time::Duration;

use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};

use super::{ok, pattern, snapshot};
use crate::raw::ByteStream;
use crate::testkit::Kit;
use crate::{ByteRange, Error, LimitKind, Limits, ObjectStore, PutMode, assert_err};

/// `value` as a stream of chunks of `chunk` bytes.
fn chunks_of(value: &Bytes, chunk: usize) -> ByteStream {
    crate::raw::backend::chunked(value.clone(), chunk)
}

/// A stream that yields `value` and then fails with an I/O error.
fn failing_after(value: Bytes) -> ByteStream {
    stream::iter([Ok(value), Err(Error::io("the source broke", std::io::ErrorKind::BrokenPipe.into()))]).boxed()
}

/// Reads a stream to its end.
async fn collect(body: ByteStream) -> crate::Result<Bytes> {
    let parts: Vec<Bytes> = body.try_collect().await?;
    Ok(parts.concat().into())
}

/// A value streamed in (known and unknown size, small and multipart-sized) reads back whole
/// and streamed out, by ranges too, and through `read_to_writer`.
pub async fn streamed_round_trips(kit: Kit) {
    let s = kit.store().await;
    let big = pattern(11, 20 * 1024 * 1024 + 5);
    let meta =
        ok(s.save_stream("big/model.bin", chunks_of(&big, 64 * 1024 + 3), Some(big.len() as u64)).await, "stream in");
    assert_eq!(meta.size, big.len() as u64);
    assert!(ok(s.read_bytes("big/model.bin").await, "read") == big, "a streamed save came back different");
    let out = ok(s.read_stream("big/model.bin", None).await, "stream out");
    assert_eq!((out.meta.size, out.range.clone()), (big.len() as u64, 0..big.len() as u64));
    assert!(ok(collect(out.body).await, "collect") == big, "a streamed read came back different");
    let part =
        ok(s.read_stream("big/model.bin", Some(ByteRange::bounded(1_000_000..9_000_000))).await, "stream a range");
    assert!(ok(collect(part.body).await, "collect range") == big.slice(1_000_000..9_000_000));
    let mut sink = Vec::new();
    assert_eq!(ok(s.read_to_writer("big/model.bin", &mut sink).await, "to writer"), big.len() as u64);
    assert!(sink == big[..], "read_to_writer wrote other bytes");
    // Unknown size, one chunk, none at all.
    let small = pattern(12, 70_000);
    ok(s.save_stream("small", chunks_of(&small, 1000), None).await, "unknown size");
    assert!(ok(s.read_bytes("small").await, "read") == small);
    ok(s.save_stream("nothing", stream::empty().boxed(), Some(0)).await, "empty stream");
    assert!(ok(s.read_bytes("nothing").await, "read empty").is_empty());
    let empty = ok(s.read_stream("nothing", None).await, "stream empty");
    assert!(ok(collect(empty.body).await, "collect empty").is_empty());
    // From a reader.
    let reader = std::io::Cursor::new(small.to_vec());
    ok(s.save_from_reader("from-reader", reader, None).await, "save_from_reader");
    assert!(ok(s.read_bytes("from-reader").await, "read") == small);
    assert_err!(s.read_stream("absent", None).await, Error::NotFound { .. });
    // Conditional streamed saves.
    if s.capabilities().conditional_put {
        assert_err!(
            s.save_stream_with("small", chunks_of(&small, 100), None, PutMode::Create).await,
            Error::AlreadyExists { .. }
        );
        let current = ok(s.head("small").await, "head");
        ok(
            s.save_stream_with("small", chunks_of(&big, 1 << 20), None, PutMode::Update(current.version.clone())).await,
            "swap",
        );
        assert_err!(
            s.save_stream_with("small", chunks_of(&small, 100), None, PutMode::Update(current.version)).await,
            Error::Precondition { .. }
        );
        assert_eq!(ok(s.head("small").await, "head").size, big.len() as u64);
    }
}

/// A streamed save that fails midway (a broken source, a size that does not match, a dropped
/// future) leaves the old value, or no object, and no usage behind.
pub async fn failed_streamed_saves_leave_nothing(kit: Kit) {
    let s = kit.store().await;
    ok(s.save("kept", "the old value").await, "save");
    let before = snapshot(&s).await;
    let usage = ok(s.usage().await, "usage");
    let part = pattern(5, 9 * 1024 * 1024);
    let broken = s.save_stream("kept", failing_after(part.clone()), None).await;
    assert!(matches!(&broken, Err(e) if e.to_string().contains("the source broke")), "the cause is lost: {broken:?}");
    assert_err!(s.save_stream("new", failing_after(part.clone()), None).await, Error::Io { .. });
    // More, or fewer, bytes than announced.
    assert!(s.save_stream("new", chunks_of(&part, 1 << 20), Some(100)).await.is_err(), "a longer stream was accepted");
    assert!(
        s.save_stream("new", chunks_of(&part, 1 << 20), Some(part.len() as u64 + 1)).await.is_err(),
        "a shorter stream was accepted"
    );
    // A future dropped midway (a timeout around the save).
    let stalls = stream::iter([Ok(part.clone())]).chain(stream::pending()).boxed();
    let timed_out = tokio::time::timeout(Duration::from_millis(300), s.save_stream("new", stalls, None)).await;
    assert!(timed_out.is_err(), "a stalled stream was saved");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(snapshot(&s).await, before, "a failed streamed save left something behind");
    assert_eq!(ok(s.usage().await, "usage"), usage, "a failed streamed save changed usage");
    assert!(!ok(s.contains_key("new").await, "contains_key"));
}

/// Streamed reads yield one version: a value replaced while it is being read comes back whole,
/// old or new, or the stream ends with an error; never a mix.
pub async fn streamed_reads_never_mix(kit: Kit) {
    let url = kit.url();
    let reader = kit.open(&url).await;
    let writer = kit.open(&url).await;
    let (old, new) = (pattern(21, 3 * 1024 * 1024 + 1), pattern(22, 3 * 1024 * 1024 + 1));
    for round in 0..4 {
        ok(writer.save_bytes("k", if round % 2 == 0 { old.clone() } else { new.clone() }).await, "save");
        let stream = ok(reader.read_stream("k", None).await, "open stream");
        let mut body = stream.body;
        let mut got = Vec::new();
        if let Some(first) = body.next().await {
            got.extend_from_slice(&ok(first, "first chunk"));
        }
        // Replaced by another writer while the stream is open.
        ok(writer.save_bytes("k", if round % 2 == 0 { new.clone() } else { old.clone() }).await, "replace");
        let rest: crate::Result<Vec<Bytes>> = body.try_collect().await;
        if let Ok(rest) = rest {
            for chunk in rest {
                got.extend_from_slice(&chunk);
            }
            assert!(got == old[..] || got == new[..], "round {round}: a streamed read mixed two values");
        }
    }
}

/// Limits count a streamed save by its final size and refuse it as soon as it passes one,
/// leaving nothing; a known size is refused before the stream is read at all.
pub async fn streamed_saves_respect_limits(kit: Kit) {
    let url = kit.url();
    let limits =
        Limits { max_bytes: Some(4 * 1024 * 1024), max_objects: Some(3), max_object_bytes: Some(3 * 1024 * 1024) };
    let s = kit.build(ObjectStore::builder(&url).limits(limits)).await;
    ok(s.save_bytes("a", pattern(1, 1024 * 1024)).await, "save a");
    let too_big = pattern(2, 3 * 1024 * 1024 + 1);
    // Unknown size: refused once it passes the object size limit.
    assert_err!(
        s.save_stream("b", chunks_of(&too_big, 256 * 1024), None).await,
        Error::LimitExceeded { kind: LimitKind::ObjectSize, .. }
    );
    // Known size: refused before a byte is read.
    let polled = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watched = {
        let polled = polled.clone();
        chunks_of(&too_big, 1 << 20).inspect(move |_| polled.store(true, std::sync::atomic::Ordering::Relaxed)).boxed()
    };
    assert_err!(s.save_stream("b", watched, Some(too_big.len() as u64)).await, Error::LimitExceeded { .. });
    assert!(!polled.load(std::sync::atomic::Ordering::Relaxed), "a stream of a known, refused size was read");
    // Bytes: 1 MiB stored; 3.5 MiB more passes 4 MiB.
    let fits = pattern(3, 3 * 1024 * 1024 - 1);
    ok(s.save_stream("c", chunks_of(&fits, 256 * 1024), None).await, "a stream that fits");
    assert_err!(
        s.save_stream("d", chunks_of(&pattern(4, 2 * 1024 * 1024), 256 * 1024), None).await,
        Error::LimitExceeded { kind: LimitKind::Bytes, .. }
    );
    let usage = ok(s.usage().await, "usage");
    assert_eq!((usage.objects, usage.bytes), (2, 4 * 1024 * 1024 - 1), "a refused stream was counted or stored");
    assert!(!ok(s.contains_key("b").await, "b") && !ok(s.contains_key("d").await, "d"));
}
