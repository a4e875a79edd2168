//! Whole reads into the caller's memory (`read_bytes_into`): the same value as `read_bytes` at
//! every size, fresh after an overwrite, absent after a delete, whether the backend reads into
//! the caller's buffer or answers with its own; a buffer is asked for only at the value's exact
//! size. On local disk a call that may block reads into the caller's buffer.

use std::mem::MaybeUninit;
use std::sync::Mutex;

use bytes::Bytes;

use super::{ok, pattern};
use crate::raw::{ValueAllocator, ValueBuffer};
use crate::testkit::Kit;
use crate::{CacheOptions, Error, ObjectStore, assert_err, blocking};

/// Gives `Vec` buffers and remembers what it was asked for and where the buffers live.
#[derive(Default)]
struct Recorder {
    decline: bool,
    asked: Mutex<Vec<usize>>,
    given: Mutex<Vec<usize>>,
}

impl Recorder {
    fn declining() -> Recorder {
        Recorder { decline: true, ..Recorder::default() }
    }

    fn asked(&self) -> Vec<usize> {
        self.asked.lock().map(|a| a.clone()).unwrap_or_default()
    }

    /// True when `bytes` are the start of a buffer this recorder gave.
    fn gave(&self, bytes: &Bytes) -> bool {
        let at = bytes.as_ptr() as usize;
        self.given.lock().map(|g| g.contains(&at)).unwrap_or(false)
    }
}

impl ValueAllocator for Recorder {
    fn allocate(&self, len: usize) -> Option<Box<dyn ValueBuffer>> {
        if let Ok(mut asked) = self.asked.lock() {
            asked.push(len);
        }
        if self.decline {
            return None;
        }
        let buffer = VecBuffer { bytes: Vec::with_capacity(len), len };
        if let Ok(mut given) = self.given.lock() {
            given.push(buffer.bytes.as_ptr() as usize);
        }
        Some(Box::new(buffer))
    }
}

struct VecBuffer {
    bytes: Vec<u8>,
    len: usize,
}

impl ValueBuffer for VecBuffer {
    fn room(&mut self) -> &mut [MaybeUninit<u8>] {
        &mut self.bytes.spare_capacity_mut()[..self.len]
    }

    #[allow(unsafe_code)]
    unsafe fn into_bytes(mut self: Box<Self>, filled: usize) -> Bytes {
        assert!(filled <= self.len, "a backend handed on {filled} bytes of a {}-byte buffer", self.len);
        // SAFETY: the caller wrote the first `filled` bytes of the room (the trait's contract),
        // which lie within the capacity.
        unsafe { self.bytes.set_len(filled) };
        Bytes::from(self.bytes)
    }
}

/// `read_bytes_into` answers what `read_bytes` does, with and without a cache, from the async
/// and the blocking facade; buffers are asked for at the value's size only; a declined buffer
/// changes nothing; a missing key is `NotFound` and asks for no buffer.
pub async fn reads_into_caller_memory(kit: Kit) {
    let url = kit.url();
    let cached = kit.open(&url).await;
    let uncached = kit.build(ObjectStore::builder(&url).cache(CacheOptions::DISABLED)).await;
    let sizes = [0usize, 1, 64 * 1024 + 3, 3 * 1024 * 1024 + 17];
    for (i, &size) in sizes.iter().enumerate() {
        let key = format!("into/{size}.bin");
        let value = pattern(i as u64, size);
        ok(cached.save_bytes(&key, value.clone()).await, "save");
        for (which, s) in [("uncached", &uncached), ("cached", &cached), ("cached, again", &cached)] {
            let alloc = Recorder::default();
            let read = ok(s.read_bytes_into(&key, &alloc).await, &format!("read_bytes_into {key} ({which})"));
            assert!(read == value, "{key} ({which}): read_bytes_into gave other bytes than were saved");
            let asked = alloc.asked();
            assert!(asked.iter().all(|&n| n == size), "{key} ({which}): buffers asked for {asked:?}, not {size}");
        }
        // Overwritten by another handle: never the old value, into the caller's memory or not.
        let newer = pattern(100 + i as u64, size + 5);
        ok(uncached.save_bytes(&key, newer.clone()).await, "overwrite");
        let read = ok(cached.read_bytes_into(&key, &Recorder::default()).await, "read after overwrite");
        assert!(read == newer, "{key}: read_bytes_into served the value from before an overwrite");
        let declined = ok(uncached.read_bytes_into(&key, &Recorder::declining()).await, "read, buffer declined");
        assert!(declined == newer, "{key}: a declined buffer changed the value read");
    }
    let alloc = Recorder::default();
    assert_err!(uncached.read_bytes_into("into/absent", &alloc).await, Error::NotFound { ref key } if key == "into/absent");
    assert!(alloc.asked().is_empty(), "a missing key asked for a buffer");
    ok(uncached.delete("into/1.bin").await, "delete");
    assert_err!(cached.read_bytes_into("into/1.bin", &Recorder::default()).await, Error::NotFound { .. });
    assert_err!(cached.read_bytes_into("../escape", &Recorder::default()).await, Error::InvalidKey { .. });

    // The blocking facade (the thread may block): local disk reads into the caller's buffer.
    let local = cached.capabilities().local_paths;
    let done = tokio::task::spawn_blocking(move || {
        let s = ok(blocking::ObjectStore::builder(&url).cache(CacheOptions::DISABLED).build(), "blocking open");
        let value = pattern(7, 2 * 1024 * 1024 + 1);
        ok(s.save_bytes("into/blocking.bin", value.clone()), "save");
        let alloc = Recorder::default();
        let read = ok(s.read_bytes_into("into/blocking.bin", &alloc), "blocking read_bytes_into");
        assert!(read == value, "blocking read_bytes_into gave other bytes than were saved");
        if local {
            assert_eq!(alloc.asked(), vec![value.len()], "local disk: the buffers asked for");
            assert!(alloc.gave(&read), "local disk: the value was not read into the caller's buffer");
        }
    })
    .await;
    if let Err(e) = done {
        panic!("{e}");
    }
}
