//! The manager's stored format on arbitrary bytes: `decode` and `Frame::open` never panic, and a
//! frame that opens yields exactly `header.size` bytes whose xxh3 checksum is the one the header
//! declares (so a damaged object is an error, never a wrong value). Inputs of the form
//! `[selector, value…]` also round-trip `value` through `encode` (raw, and zstd at level 1).

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use store_manager::Checksum;
use store_manager::format::{self, Codec, Encoding, FrameError, Header};

fuzz_target!(|data: &[u8]| {
    check_stored(data);
    if let Some((&b'R', value)) = data.split_first() {
        round_trip(value);
    }
});

fn check_stored(data: &[u8]) {
    let bytes = Bytes::copy_from_slice(data);
    let frame = match format::decode(&bytes) {
        Ok(frame) => frame,
        Err(FrameError::NotManaged) => {
            assert!(data.len() < 8 || data[..8] != format::MAGIC, "a frame with the magic called not managed");
            return;
        }
        Err(FrameError::Corrupt(reason)) => {
            assert!(!reason.is_empty());
            return;
        }
    };
    if let Ok(value) = frame.open() {
        assert_eq!(value.len() as u64, frame.header.size, "opened a value of the wrong size");
        assert_eq!(Checksum::of(&value), frame.checksum, "opened a value whose checksum is not the header's");
        if frame.codec == Codec::Raw {
            assert_eq!(value, frame.payload, "a raw payload opened to other bytes");
        }
    }
}

fn round_trip(value: &[u8]) {
    let header = Header {
        key: "fuzz/key".into(),
        category: "research_data".into(),
        encoding: Encoding::Bytes,
        size: value.len() as u64,
        checksum: Checksum::of(value).to_string(),
        created_ms: 1_736_899_200_000,
        expires_ms: None,
        metadata: Default::default(),
        archived_ms: None,
        purge_after_ms: None,
    };
    for level in [None, Some(1)] {
        let stored = match format::encode(&header, value, level) {
            Ok(stored) => Bytes::from(stored),
            Err(e) => panic!("encode failed: {e}"),
        };
        let frame = match format::decode(&stored) {
            Ok(frame) => frame,
            Err(e) => panic!("a frame just encoded does not decode: {e:?}"),
        };
        match frame.open() {
            Ok(back) => assert_eq!(&back[..], value, "round trip changed the value"),
            Err(e) => panic!("a frame just encoded does not open: {e:?}"),
        }
    }
}
