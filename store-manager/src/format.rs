//! The stored format of a managed object (docs/FORMAT.md describes it byte by byte):
//!
//! ```text
//! offset  size  field
//!      0     8  magic: 0x89 'O' 'S' 'M' '\r' '\n' 0x1A '\n'
//!      8     1  format version: 1
//!      9     1  codec of the payload: 0 = none, 1 = zstd (one frame, content size set)
//!     10     2  flags: 0 (u16, little-endian; readers refuse other values)
//!     12     4  header length H (u32, little-endian)
//!     16     H  header: a UTF-8 JSON object (key, category, encoding, size, checksum, times, metadata)
//!   16+H     …  payload: the value's bytes, raw or as one zstd frame, up to the end of the object
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::codec;
use crate::object::Checksum;

/// The first eight bytes of every managed object.
pub const MAGIC: [u8; 8] = [0x89, b'O', b'S', b'M', b'\r', b'\n', 0x1A, b'\n'];
/// The format version this crate writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Bytes before the header.
pub const PREFIX_LEN: usize = 16;
/// The longest header this crate writes or reads (1 MiB): the key and the user's metadata must
/// fit. A longer header length in a prefix marks the object as damaged (it is never read).
pub const MAX_HEADER_LEN: usize = 1 << 20;

/// How the payload is coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// The value's bytes as they are.
    Raw = 0,
    /// One zstd frame.
    Zstd = 1,
}

/// What the original bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// JSON text (saved with `Manager::save`).
    Json,
    /// Opaque bytes (saved with `Manager::save_bytes`).
    Bytes,
}

/// The JSON header. Readers ignore fields they do not know (later versions may add some).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The key the value was saved under (without the category folder).
    pub key: String,
    /// The category's name.
    pub category: String,
    /// What the original bytes are.
    pub encoding: Encoding,
    /// The original size in bytes.
    pub size: u64,
    /// `xxh3-64:` and 16 hex digits: the checksum of the original bytes.
    pub checksum: String,
    /// When it was saved, in milliseconds since the Unix epoch (UTC).
    pub created_ms: u64,
    /// When it expires, in milliseconds since the Unix epoch, or null.
    #[serde(default)]
    pub expires_ms: Option<u64>,
    /// The user's metadata.
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// In the archive only: when the object was archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_ms: Option<u64>,
    /// In the archive only: when the archived copy is removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_after_ms: Option<u64>,
}

/// Why bytes could not be read as a managed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The bytes do not start with the magic: not written by the manager.
    NotManaged,
    /// They do, but something is wrong; the text says what.
    Corrupt(String),
}

/// A parsed object whose payload is not decoded yet.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The header.
    pub header: Header,
    /// The payload's codec.
    pub codec: Codec,
    /// The checksum the header declares.
    pub checksum: Checksum,
    /// The payload, as stored.
    pub payload: Bytes,
}

/// Encodes a value. With `compress_level`, the payload is a zstd frame when that is smaller than
/// the value, else the raw value.
pub fn encode(header: &Header, data: &[u8], compress_level: Option<i32>) -> Result<Vec<u8>, String> {
    let header_json = serde_json::to_vec(header).map_err(|e| format!("cannot write the header: {e}"))?;
    if header_json.len() > MAX_HEADER_LEN {
        return Err(format!(
            "the header (key and metadata) takes {} bytes, over the {MAX_HEADER_LEN}-byte limit; keep metadata small \
             (put large data in the value)",
            header_json.len()
        ));
    }
    let header_len = u32::try_from(header_json.len()).map_err(|_| "the metadata is larger than 4 GiB".to_string())?;
    let room = match compress_level {
        Some(_) => codec::compress_bound(data.len()).max(data.len()),
        None => data.len(),
    };
    let mut out = Vec::with_capacity(PREFIX_LEN + header_json.len() + room);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&[FORMAT_VERSION, Codec::Raw as u8, 0, 0]);
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(&header_json);
    let body = out.len();
    if let Some(level) = compress_level {
        codec::compress_into(data, level, &mut out).map_err(|e| format!("zstd failed: {e}"))?;
        if out.len() - body < data.len() {
            out[9] = Codec::Zstd as u8;
            return Ok(out);
        }
        out.truncate(body);
    }
    out.extend_from_slice(data);
    Ok(out)
}

/// Parses the prefix and header of a stored object (the payload is not touched).
pub fn decode(bytes: &Bytes) -> Result<Frame, FrameError> {
    decode_head(bytes, bytes.len() as u64)
}

/// The header length a prefix announces: `Ok(None)` when `bytes` do not start like a managed
/// object (or are too short to say), an error when the length is over [`MAX_HEADER_LEN`] or
/// reaches past the object's end (`object_size`). How a reader sizes its read of the header.
pub fn header_end(bytes: &[u8], object_size: u64) -> Result<Option<usize>, FrameError> {
    if bytes.len() < PREFIX_LEN || bytes[..MAGIC.len()] != MAGIC {
        return Ok(None);
    }
    let header_len = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) as usize;
    if header_len > MAX_HEADER_LEN {
        return Err(FrameError::Corrupt(format!(
            "the prefix announces a header of {header_len} bytes, over the {MAX_HEADER_LEN}-byte limit"
        )));
    }
    let end = PREFIX_LEN + header_len;
    if end as u64 > object_size {
        return Err(FrameError::Corrupt(format!(
            "truncated: the header needs {header_len} bytes, the object has {object_size}"
        )));
    }
    Ok(Some(end))
}

/// Parses the prefix and header from the first bytes of an object of `object_size` bytes (at
/// least up to the header's end, as [`header_end`] gives it); the payload in the frame is what
/// `bytes` hold of it.
pub fn decode_head(bytes: &Bytes, object_size: u64) -> Result<Frame, FrameError> {
    let corrupt = |s: String| Err(FrameError::Corrupt(s));
    let magic_seen = bytes.len().min(MAGIC.len());
    if bytes[..magic_seen] != MAGIC[..magic_seen] || bytes.len() < 4 {
        return Err(FrameError::NotManaged);
    }
    if bytes.len() < PREFIX_LEN {
        return corrupt(format!("truncated: {} bytes, shorter than the {PREFIX_LEN}-byte prefix", bytes.len()));
    }
    if bytes[8] != FORMAT_VERSION {
        return corrupt(format!(
            "format version {} (this reader knows version {FORMAT_VERSION}; a newer objstore may read it)",
            bytes[8]
        ));
    }
    let codec = match bytes[9] {
        0 => Codec::Raw,
        1 => Codec::Zstd,
        other => return corrupt(format!("unknown codec {other}")),
    };
    if bytes[10] != 0 || bytes[11] != 0 {
        return corrupt(format!("unknown flags {:#06x}", u16::from_le_bytes([bytes[10], bytes[11]])));
    }
    let header_end = header_end(bytes, object_size)?.unwrap_or(PREFIX_LEN);
    if header_end > bytes.len() {
        return corrupt(format!(
            "the header ends at byte {header_end}, and only {} bytes of the object were read",
            bytes.len()
        ));
    }
    let header: Header = match serde_json::from_slice(&bytes[PREFIX_LEN..header_end]) {
        Ok(h) => h,
        Err(e) => return corrupt(format!("unreadable header: {e}")),
    };
    let Some(checksum) = Checksum::parse(&header.checksum) else {
        return corrupt(format!("unreadable checksum {:?}", header.checksum));
    };
    Ok(Frame { header, codec, checksum, payload: bytes.slice(header_end..) })
}

impl Frame {
    /// Decodes the payload and checks it against the header's size and checksum.
    pub fn open(&self) -> Result<Bytes, FrameError> {
        let size = self.header.size;
        let data = match self.codec {
            Codec::Raw => {
                if self.payload.len() as u64 != size {
                    return Err(FrameError::Corrupt(format!(
                        "truncated: the payload has {} bytes, the header says {size}",
                        self.payload.len()
                    )));
                }
                self.payload.clone()
            }
            Codec::Zstd => {
                match codec::frame_content_size(&self.payload) {
                    Some(declared) if declared == size => {}
                    Some(declared) => {
                        return Err(FrameError::Corrupt(format!(
                            "the zstd frame holds {declared} bytes, the header says {size}"
                        )));
                    }
                    None => return Err(FrameError::Corrupt("truncated or unreadable zstd frame".into())),
                }
                let len = usize::try_from(size).map_err(|_| FrameError::Corrupt(format!("size {size} too big")))?;
                let data = codec::decompress(&self.payload, len)
                    .map_err(|e| FrameError::Corrupt(format!("the zstd frame does not decode: {e}")))?;
                if data.len() != len {
                    return Err(FrameError::Corrupt(format!(
                        "truncated: the zstd frame gave {} bytes, the header says {size}",
                        data.len()
                    )));
                }
                Bytes::from(data)
            }
        };
        let actual = Checksum::of(&data);
        if actual != self.checksum {
            return Err(FrameError::Corrupt(format!("checksum mismatch: stored {}, computed {actual}", self.checksum)));
        }
        Ok(data)
    }
}

/// Milliseconds since the Unix epoch (0 for earlier times).
pub fn to_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).unwrap_or(0)
}

/// The time `ms` milliseconds after the Unix epoch.
pub fn from_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn header(data: &[u8]) -> Header {
        Header {
            key: "k".into(),
            category: "llm_cache".into(),
            encoding: Encoding::Json,
            size: data.len() as u64,
            checksum: Checksum::of(data).to_string(),
            created_ms: 1_700_000_000_000,
            expires_ms: None,
            metadata: Map::new(),
            archived_ms: None,
            purge_after_ms: None,
        }
    }

    #[test]
    fn round_trips_raw_and_compressed() {
        let data = br#"{"symbol":"SPY","iv":0.21}"#.repeat(50);
        for level in [None, Some(1)] {
            let stored = Bytes::from(encode(&header(&data), &data, level).unwrap());
            let frame = decode(&stored).unwrap();
            assert_eq!(frame.codec, if level.is_some() { Codec::Zstd } else { Codec::Raw });
            assert_eq!(frame.open().unwrap(), data[..]);
        }
        // Incompressible data stays raw even when compression was asked for.
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        let stored = Bytes::from(encode(&header(&noise), &noise, Some(1)).unwrap());
        assert_eq!(decode(&stored).unwrap().codec, Codec::Raw);
    }

    #[test]
    fn header_lengths_are_bounded_and_checked_against_the_object_size() {
        let data = b"[1,2,3]";
        let stored = Bytes::from(encode(&header(data), data, None).unwrap());
        let end = header_end(&stored, stored.len() as u64).unwrap().unwrap();
        assert!(end > PREFIX_LEN && end < stored.len());
        // The first bytes of a larger object decode alone, as a scan reads them.
        let head = stored.slice(..end);
        assert_eq!(decode_head(&head, stored.len() as u64).unwrap().header.size, data.len() as u64);
        assert!(matches!(decode_head(&stored.slice(..end - 1), stored.len() as u64), Err(FrameError::Corrupt(_))));
        // A length past the object's end, or over the bound, is damage, not a read of 4 GiB.
        assert!(header_end(&stored, end as u64 - 1).is_err());
        let mut huge = stored[..PREFIX_LEN].to_vec();
        huge[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        let err = header_end(&huge, u64::MAX).unwrap_err();
        assert!(matches!(&err, FrameError::Corrupt(r) if r.contains("over the")), "{err:?}");
        assert_eq!(header_end(b"plain text that is long enough", 100).unwrap(), None);
        // The writer refuses what readers would refuse.
        let mut big = header(data);
        big.metadata.insert("notes".into(), Value::String("x".repeat(MAX_HEADER_LEN)));
        assert!(encode(&big, data, None).unwrap_err().contains("keep metadata small"));
    }

    #[test]
    fn every_truncation_and_bit_flip_is_an_error_never_a_panic() {
        let data = br#"{"equity":100000.5,"positions":{"SPY":10}}"#.repeat(20);
        for level in [None, Some(1)] {
            let stored = encode(&header(&data), &data, level).unwrap();
            for cut in 0..stored.len() {
                let b = Bytes::copy_from_slice(&stored[..cut]);
                let opened = decode(&b).and_then(|f| f.open());
                assert!(opened.is_err(), "cut at {cut} decoded");
            }
            for i in 0..stored.len() {
                let mut flipped = stored.clone();
                flipped[i] ^= 0x10;
                let b = Bytes::from(flipped);
                if let Ok(v) = decode(&b).and_then(|f| f.open()) {
                    // A flip inside the JSON header can land on a field that does not change the
                    // value (a metadata byte); the value itself must still be exact.
                    assert_eq!(v, data[..], "flip at {i} gave different bytes");
                }
            }
        }
        assert_eq!(decode(&Bytes::from_static(b"plain text")).unwrap_err(), FrameError::NotManaged);
        assert_eq!(decode(&Bytes::new()).unwrap_err(), FrameError::NotManaged);
    }
}
