//! Hostile stored objects: property tests of the manager's format (`format::encode`/`decode`,
//! docs/FORMAT.md): a 16-byte prefix, a JSON header, a raw or zstd payload, an xxh3 checksum.
//!
//! - random bytes, and random bytes behind a valid-looking prefix, decode to an error, never a
//!   panic (and never to a value whose size and checksum disagree with its header);
//! - every value round-trips through `encode` and `decode`, raw and compressed, header included;
//! - a valid frame damaged in any way (bit flips, truncation, insertion, deletion, appended bytes,
//!   header fields changed, header length field changed, codec/flags/version bytes, a payload of
//!   another value) either fails to decode or decodes to exactly the original value: damage is
//!   caught by the structure or the checksum, never returned as a wrong value;
//! - through the Manager on local disk: an object damaged on disk loads as `Error::Corrupt` whose
//!   key and message name the object.
//!
//! CI-sized case counts; `PROPTEST_CASES` raises them. One line per property and a summary line
//! (`prop_format: ...`) when all have run.
//!
//! `write_fuzz_seed_corpus` (ignored) wrote `fuzz/corpus/frame_decode/` with this encoder:
//! `cargo test -p store-manager --test prop_format -- --ignored write_fuzz_seed_corpus`.

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Map, Value, json};
use store_manager::format::{self, Codec, Encoding, FrameError, Header, MAGIC, PREFIX_LEN};
use store_manager::{Category, Checksum, Error, Manager, SaveOptions, Settings};

use backend_local as _;

// ----- the runner and the summary line ------------------------------------------------------

const FILE: &str = "prop_format";
const CHECKS: usize = 5;
static TALLY: store_core::testkit::Tally = store_core::testkit::Tally::new(FILE, CHECKS);

/// Runs a property (store_core::testkit::property); `detail` is printed after the figures.
fn property<S>(
    name: &str,
    default: u32,
    strategy: S,
    detail: impl Fn() -> String,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S: Strategy,
    S::Value: Debug,
{
    store_core::testkit::property(&TALLY, name, default, strategy, detail, test);
}

// ----- values and headers -----------------------------------------------------------------

/// A value: random bytes, repetitive (compressible) text, or trading-like JSON.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..600),
        2 => (prop::collection::vec(any::<u8>(), 1..24), 1usize..200).prop_map(|(unit, n)| unit.repeat(n)),
        2 => (0u32..400).prop_map(|n| {
            serde_json::to_vec(&json!({"equity": 100_000.5 + f64::from(n), "positions": {"SPY": n, "QQQ": n * 2},
                "fills": (0..n % 40).map(|i| json!({"px": 472.65 + f64::from(i), "qty": i})).collect::<Vec<_>>()}))
            .unwrap_or_default()
        }),
    ]
}

fn metadata() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(
        "[a-z_]{1,8}",
        prop_oneof![
            any::<i64>().prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            Just(json!(["v2", {"nested": true}])),
        ],
        0..4,
    )
    .prop_map(|m| m.into_iter().collect())
}

/// A header for `value`, with arbitrary other fields.
fn header_for(
    value: &[u8],
    key: String,
    category: String,
    meta: Map<String, Value>,
    times: (u64, Option<u64>),
) -> Header {
    Header {
        key,
        category,
        encoding: if value.first() == Some(&b'{') { Encoding::Json } else { Encoding::Bytes },
        size: value.len() as u64,
        checksum: Checksum::of(value).to_string(),
        created_ms: times.0,
        expires_ms: times.1,
        metadata: meta,
        archived_ms: times.1.map(|t| t / 2),
        purge_after_ms: None,
    }
}

/// A value and its encoded frame.
#[derive(Debug, Clone)]
struct Framed {
    value: Vec<u8>,
    header: Header,
    level: Option<i32>,
    stored: Vec<u8>,
}

fn framed() -> impl Strategy<Value = Framed> {
    (
        value(),
        "\\PC{1,24}",
        prop::sample::select(&["llm_cache", "trading_state", "fx-models", "research_data"][..]),
        metadata(),
        (any::<u64>(), prop::option::of(any::<u64>())),
        prop::option::of(1i32..4),
    )
        .prop_map(|(value, key, category, meta, times, level)| {
            let header = header_for(&value, key, category.to_string(), meta, times);
            let stored = format::encode(&header, &value, level).unwrap_or_else(|e| panic!("encode: {e}"));
            Framed { value, header, level, stored }
        })
}

/// Decodes and opens `stored`.
fn open(stored: &[u8]) -> Result<Bytes, FrameError> {
    format::decode(&Bytes::copy_from_slice(stored)).and_then(|frame| frame.open())
}

// ----- random bytes -------------------------------------------------------------------------

fn header_len_of(stored: &[u8]) -> usize {
    u32::from_le_bytes([stored[12], stored[13], stored[14], stored[15]]) as usize
}

#[test]
fn random_bytes_are_errors_never_panics() {
    // Plain random bytes, and random bytes behind the magic and a plausible prefix.
    let plain = prop::collection::vec(any::<u8>(), 0..300);
    let behind_magic = (
        prop::sample::select(&[0u8, 1, 2, 255][..]),
        prop::sample::select(&[0u8, 1, 2, 7][..]),
        any::<u16>(),
        prop_oneof![0u32..64, any::<u32>()],
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(version, codec, flags, header_len, rest)| {
            let mut b = MAGIC.to_vec();
            b.push(version);
            b.push(codec);
            b.extend_from_slice(&(flags % 3).to_le_bytes());
            b.extend_from_slice(&header_len.to_le_bytes());
            b.extend_from_slice(&rest);
            b
        });
    // A real prefix and a random JSON-ish header.
    let json_header = (
        "\\{(\"[a-z_]{1,9}\":(\"[ -~]{0,20}\"|[0-9]{1,22}|null),?){0,10}\\}",
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(json, payload)| {
            let mut b = MAGIC.to_vec();
            b.extend_from_slice(&[1, 0, 0, 0]);
            b.extend_from_slice(&(json.len() as u32).to_le_bytes());
            b.extend_from_slice(json.as_bytes());
            b.extend_from_slice(&payload);
            b
        });
    let strategy = prop_oneof![plain, behind_magic, json_header];
    let (not_managed, corrupt, decoded) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let detail = || {
        format!(
            " not_managed={} corrupt={} opened={}",
            not_managed.load(Ordering::Relaxed),
            corrupt.load(Ordering::Relaxed),
            decoded.load(Ordering::Relaxed)
        )
    };
    property("random_bytes_are_errors_never_panics", 3000, strategy, detail, |bytes| {
        let stored = Bytes::from(bytes.clone());
        match format::decode(&stored) {
            Err(FrameError::NotManaged) => {
                prop_assert!(bytes.len() < 4 || !bytes.starts_with(&MAGIC[..bytes.len().min(8)]));
                not_managed.fetch_add(1, Ordering::Relaxed);
            }
            Err(FrameError::Corrupt(reason)) => {
                prop_assert!(!reason.is_empty());
                corrupt.fetch_add(1, Ordering::Relaxed);
            }
            Ok(frame) => match frame.open() {
                Ok(value) => {
                    // Only a self-consistent frame can open: size and checksum as declared.
                    prop_assert_eq!(value.len() as u64, frame.header.size);
                    prop_assert_eq!(Checksum::of(&value), frame.checksum);
                    decoded.fetch_add(1, Ordering::Relaxed);
                }
                Err(FrameError::Corrupt(reason)) => {
                    prop_assert!(!reason.is_empty());
                    corrupt.fetch_add(1, Ordering::Relaxed);
                }
                Err(FrameError::NotManaged) => prop_assert!(false, "open() said NotManaged after decode() accepted"),
            },
        }
        Ok(())
    });
}

// ----- round trips --------------------------------------------------------------------------

#[test]
fn values_round_trip() {
    let (raw, zstd) = (AtomicU64::new(0), AtomicU64::new(0));
    let detail = || format!(" raw={} zstd={}", raw.load(Ordering::Relaxed), zstd.load(Ordering::Relaxed));
    property("values_round_trip", 1000, framed(), detail, |f| {
        let frame =
            format::decode(&Bytes::from(f.stored.clone())).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(&frame.header, &f.header);
        match frame.codec {
            Codec::Raw => {
                raw.fetch_add(1, Ordering::Relaxed);
                prop_assert_eq!(f.stored.len(), PREFIX_LEN + header_len_of(&f.stored) + f.value.len());
            }
            Codec::Zstd => {
                zstd.fetch_add(1, Ordering::Relaxed);
                prop_assert!(f.level.is_some(), "compressed without being asked");
                prop_assert!(frame.payload.len() < f.value.len(), "kept a zstd payload that is not smaller");
            }
        }
        let opened = frame.open().map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(&opened[..], &f.value[..]);
        Ok(())
    });
}

// ----- damaged frames -----------------------------------------------------------------------

/// A way to damage a frame; positions and lengths are taken modulo the frame's size.
#[derive(Debug, Clone)]
enum Damage {
    /// Flip these bits (position, bit).
    Flips(Vec<(usize, u8)>),
    /// Keep only the first n bytes.
    Truncate(usize),
    /// Insert bytes at a position.
    Insert(usize, Vec<u8>),
    /// Remove a run of bytes.
    Remove(usize, usize),
    /// Append bytes after the payload.
    Append(Vec<u8>),
    /// Set the header length field.
    HeaderLen(u32),
    /// Add to the header length field.
    HeaderLenBy(i8),
    /// Set the version, codec or a flags byte.
    PrefixByte(usize, u8),
    /// Rewrite the header with a changed size, checksum or encoding (prefix length updated).
    Field(FieldChange),
    /// Replace the payload with the payload of another value (same header).
    OtherPayload(Vec<u8>),
    /// Flip bits in the payload only.
    PayloadFlip(usize, u8),
}

#[derive(Debug, Clone)]
enum FieldChange {
    SizeBy(i64),
    Checksum(u64),
    ChecksumText(String),
    Encoding,
    Key(String),
    Metadata,
    Expires(Option<u64>),
}

fn damage() -> impl Strategy<Value = Damage> {
    let field = prop_oneof![
        (-3i64..4).prop_filter("a change", |d| *d != 0).prop_map(FieldChange::SizeBy),
        any::<u64>().prop_map(FieldChange::Checksum),
        prop_oneof![Just("xxh3-64:".to_string()), "xxh3-64:[0-9a-fA-F]{0,17}", "\\PC{0,20}"]
            .prop_map(FieldChange::ChecksumText),
        Just(FieldChange::Encoding),
        "\\PC{0,10}".prop_map(FieldChange::Key),
        Just(FieldChange::Metadata),
        prop::option::of(any::<u64>()).prop_map(FieldChange::Expires),
    ];
    prop_oneof![
        3 => prop::collection::vec((any::<usize>(), 0u8..8), 1..4).prop_map(Damage::Flips),
        2 => any::<usize>().prop_map(Damage::Truncate),
        1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(p, b)| Damage::Insert(p, b)),
        1 => (any::<usize>(), 1usize..16).prop_map(|(p, n)| Damage::Remove(p, n)),
        1 => prop::collection::vec(any::<u8>(), 1..16).prop_map(Damage::Append),
        1 => any::<u32>().prop_map(Damage::HeaderLen),
        1 => any::<i8>().prop_filter("a change", |d| *d != 0).prop_map(Damage::HeaderLenBy),
        1 => (8usize..12, any::<u8>()).prop_map(|(i, b)| Damage::PrefixByte(i, b)),
        3 => field.prop_map(Damage::Field),
        1 => value().prop_map(Damage::OtherPayload),
        3 => (any::<usize>(), 0u8..8).prop_map(|(p, b)| Damage::PayloadFlip(p, b)),
    ]
}

/// Rebuilds a frame from its parts (prefix bytes 8..12 kept), with a header given as JSON.
fn reframe(stored: &[u8], header_json: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = stored[..12].to_vec();
    out.extend_from_slice(&(header_json.len() as u32).to_le_bytes());
    out.extend_from_slice(header_json);
    out.extend_from_slice(payload);
    out
}

/// Applies `damage` to `f`; `None` when it happens to leave the bytes unchanged.
fn apply(f: &Framed, damage: &Damage) -> Option<Vec<u8>> {
    let mut b = f.stored.clone();
    let n = b.len();
    let body = PREFIX_LEN + header_len_of(&b);
    match damage {
        Damage::Flips(flips) => {
            for (p, bit) in flips {
                b[p % n] ^= 1 << bit;
            }
        }
        Damage::Truncate(len) => b.truncate(len % n),
        Damage::Insert(p, bytes) => {
            let at = p % (n + 1);
            b.splice(at..at, bytes.iter().copied());
        }
        Damage::Remove(p, len) => {
            let at = p % n;
            b.drain(at..(at + len).min(n));
        }
        Damage::Append(bytes) => b.extend_from_slice(bytes),
        Damage::HeaderLen(len) => b[12..16].copy_from_slice(&len.to_le_bytes()),
        Damage::HeaderLenBy(d) => {
            let len = (header_len_of(&b) as i64 + i64::from(*d)).clamp(0, i64::from(u32::MAX)) as u32;
            b[12..16].copy_from_slice(&len.to_le_bytes());
        }
        Damage::PrefixByte(i, v) => b[*i] = *v,
        Damage::Field(change) => {
            let mut h = f.header.clone();
            match change {
                FieldChange::SizeBy(d) => h.size = h.size.saturating_add_signed(*d),
                FieldChange::Checksum(c) => h.checksum = Checksum(*c).to_string(),
                FieldChange::ChecksumText(t) => h.checksum = t.clone(),
                FieldChange::Encoding => {
                    h.encoding = if h.encoding == Encoding::Json { Encoding::Bytes } else { Encoding::Json }
                }
                FieldChange::Key(k) => h.key = k.clone(),
                FieldChange::Metadata => {
                    h.metadata.insert("tampered".into(), json!(true));
                }
                FieldChange::Expires(e) => h.expires_ms = *e,
            }
            let json = serde_json::to_vec(&h).unwrap_or_default();
            b = reframe(&f.stored, &json, &f.stored[body..]);
        }
        Damage::OtherPayload(other) => {
            let frame = format::encode(&f.header, other, f.level).unwrap_or_default();
            let other_body = PREFIX_LEN + header_len_of(&frame);
            b = f.stored[..body].to_vec();
            b[9] = frame[9];
            b.extend_from_slice(&frame[other_body..]);
        }
        Damage::PayloadFlip(p, bit) => {
            if n > body {
                b[body + p % (n - body)] ^= 1 << bit;
            }
        }
    }
    (b != f.stored).then_some(b)
}

/// Damage that changes what the value is or how it is read: it must be an error. (A flip in a
/// zstd payload may land on a bit that does not change the output, such as the window size
/// descriptor of a small frame: then the value is exact, which is fine.)
fn must_fail(damage: &Damage, f: &Framed) -> bool {
    let raw = f.stored[9] == Codec::Raw as u8;
    match damage {
        Damage::PayloadFlip(..) => raw,
        Damage::Truncate(_) | Damage::HeaderLen(_) | Damage::HeaderLenBy(_) => true,
        Damage::Append(_) | Damage::Remove(..) => true,
        Damage::Field(FieldChange::SizeBy(_) | FieldChange::Checksum(_) | FieldChange::ChecksumText(_)) => true,
        Damage::OtherPayload(v) => v.as_slice() != f.value.as_slice(),
        _ => false,
    }
}

#[test]
fn damaged_frames_are_caught_never_misread() {
    let (caught, harmless) = (AtomicU64::new(0), AtomicU64::new(0));
    let detail = || {
        format!(" caught={} harmless(value exact)={}", caught.load(Ordering::Relaxed), harmless.load(Ordering::Relaxed))
    };
    property("damaged_frames_are_caught_never_misread", 3000, (framed(), damage()), detail, |(f, damage)| {
        let Some(damaged) = apply(&f, &damage) else { return Ok(()) };
        match open(&damaged) {
            Err(FrameError::Corrupt(reason)) => {
                prop_assert!(!reason.is_empty());
                caught.fetch_add(1, Ordering::Relaxed);
            }
            Err(FrameError::NotManaged) => {
                prop_assert!(damaged.len() < 4 || damaged[..damaged.len().min(8)] != MAGIC[..damaged.len().min(8)]);
                caught.fetch_add(1, Ordering::Relaxed);
            }
            Ok(value) => {
                prop_assert_eq!(&value[..], &f.value[..], "damage {:?} opened to another value", damage);
                prop_assert!(!must_fail(&damage, &f), "damage {:?} went unnoticed", damage);
                harmless.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    });
}

/// Exhaustive on a few frames: every truncation, every single-bit flip of the prefix and payload.
/// Raw frames and the prefix must fail on every one; a zstd payload may open, to the exact value.
#[test]
fn every_truncation_and_payload_bit_flip() {
    let (mut checked, mut harmless) = (0u64, 0u64);
    let mut violations = Vec::new();
    let json_value = serde_json::to_vec(&json!({"equity": 101_250.5, "note": "ünïcødé ✓", "positions": {"SPY": 10}}))
        .unwrap_or_default();
    let values: [(&[u8], Option<i32>); 4] =
        [(b"", None), (&json_value, None), (&json_value, Some(1)), (&b"weights ".repeat(64), Some(3))];
    for (value, level) in values {
        let header = header_for(value, "k".into(), "ml_models".into(), Map::new(), (1_736_899_200_000, None));
        let stored = format::encode(&header, value, level).unwrap_or_else(|e| panic!("{e}"));
        let body = PREFIX_LEN + header_len_of(&stored);
        for cut in 0..stored.len() {
            checked += 1;
            if open(&stored[..cut]).is_ok() {
                violations.push(format!("cut at {cut} of {} opened", stored.len()));
            }
        }
        for i in (0..PREFIX_LEN).chain(body..stored.len()) {
            for bit in 0..8 {
                checked += 1;
                let mut b = stored.clone();
                b[i] ^= 1 << bit;
                match open(&b) {
                    Err(_) => {}
                    // A zstd frame has bits that do not change its output (the window size
                    // descriptor of a small frame): the value is then exact, which is fine.
                    Ok(v) if i >= body && level.is_some() && v[..] == value[..] => harmless += 1,
                    Ok(v) => violations.push(format!("flip of bit {bit} at {i} opened ({} bytes)", v.len())),
                }
            }
        }
    }
    TALLY.finish(
        "every_truncation_and_payload_bit_flip",
        checked,
        violations.len() as u64,
        &format!(" harmless(value exact)={harmless}"),
    );
    assert!(violations.is_empty(), "{violations:#?}");
}

// ----- through the Manager, on disk -----------------------------------------------------------

#[test]
fn corruption_on_disk_is_an_error_naming_the_key() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let url = format!("file://{}", dir.path().display());
    let store = runtime.block_on(store_core::open(&url)).unwrap_or_else(|e| panic!("open: {e}"));
    let manager = Manager::new(store.clone(), Settings::default());
    let key_strategy = "[a-zA-Z0-9_.-]{1,12}(/[a-zA-Z0-9 _.-]{1,12}){0,2}"
        .prop_filter("a valid key", |k| store_core::Key::parse(k).is_ok_and(|p| p.as_str() == k));
    // Damage that the frame's structure or checksum must catch.
    let payload_damage = prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(p, b)| Damage::PayloadFlip(p, b)),
        (any::<usize>()).prop_map(Damage::Truncate),
        prop::collection::vec(any::<u8>(), 1..8).prop_map(Damage::Append),
        any::<u64>().prop_map(|c| Damage::Field(FieldChange::Checksum(c))),
        (-3i64..4).prop_filter("a change", |d| *d != 0).prop_map(|d| Damage::Field(FieldChange::SizeBy(d))),
        any::<i8>().prop_filter("a change", |d| *d != 0).prop_map(Damage::HeaderLenBy),
    ];
    let category =
        prop::sample::select(vec![Category::ResearchData, Category::MlModels, Category::Custom("fx-models".into())]);
    let strategy = (key_strategy, category, value(), any::<bool>(), payload_damage);
    let counter = AtomicU64::new(0);
    let (corrupt, not_managed, harmless) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let detail = || {
        format!(
            " corrupt={} not_managed={} harmless(value exact)={}",
            corrupt.load(Ordering::Relaxed),
            not_managed.load(Ordering::Relaxed),
            harmless.load(Ordering::Relaxed)
        )
    };
    property(
        "corruption_on_disk_is_an_error_naming_the_key",
        150,
        strategy,
        detail,
        |(key, category, value, compress, damage)| {
            // A fresh key per case, so cases do not see each other's objects.
            let key = format!("case{}/{key}", counter.fetch_add(1, Ordering::Relaxed));
            let store_key = format!("{}/{key}", category.name());
            runtime.block_on(async {
                let fail = |m: String| TestCaseError::fail(m);
                let opts = if compress {
                    SaveOptions::new(category.clone()).force_compress()
                } else {
                    SaveOptions::new(category.clone())
                };
                manager.save_bytes(&key, value.clone(), opts).await.map_err(|e| fail(format!("save {key:?}: {e}")))?;
                let loaded = manager.load_bytes(&key).await.map_err(|e| fail(format!("load {key:?}: {e}")))?;
                prop_assert_eq!(loaded.as_deref(), Some(&value[..]));

                // Damage the file on disk, as a failing disk or another program would.
                let path = store.get_file_path(&store_key).await.map_err(|e| fail(format!("path: {e}")))?;
                let stored = std::fs::read(&path).map_err(|e| fail(format!("read {}: {e}", path.display())))?;
                let frame = format::decode(&Bytes::from(stored.clone())).map_err(|e| fail(format!("{e:?}")))?;
                let f =
                    Framed { value: value.clone(), header: frame.header.clone(), level: compress.then_some(1), stored };
                let Some(damaged) = apply(&f, &damage) else { return Ok(()) };
                std::fs::write(&path, &damaged).map_err(|e| fail(format!("write {}: {e}", path.display())))?;

                let err = match manager.load_bytes(&key).await {
                    Err(e) => e,
                    // A flip in a zstd payload that does not change the output: the value is exact.
                    Ok(Some(v)) if v[..] == value[..] && !must_fail(&damage, &f) => {
                        harmless.fetch_add(1, Ordering::Relaxed);
                        manager.delete(&key).await.map_err(|e| fail(format!("delete {key:?}: {e}")))?;
                        return Ok(());
                    }
                    Ok(v) => {
                        let got = v.map(|b| b.len());
                        return Err(fail(format!("damage {damage:?} of {store_key:?} loaded as {got:?} bytes")));
                    }
                };
                let message = err.to_string();
                match err {
                    Error::Corrupt { key: named, reason } => {
                        prop_assert_eq!(&named, &store_key);
                        prop_assert!(message.contains(&store_key) && message.contains("corrupt"), "{}", message);
                        prop_assert!(!reason.is_empty());
                        corrupt.fetch_add(1, Ordering::Relaxed);
                    }
                    Error::NotManaged { key: named } => {
                        // A truncation inside the magic.
                        prop_assert!(damaged.len() < 8, "{:?} called not managed: {}", store_key, message);
                        prop_assert_eq!(&named, &store_key);
                        not_managed.fetch_add(1, Ordering::Relaxed);
                    }
                    other => prop_assert!(false, "damage {:?} of {:?}: {:?}", damage, store_key, other),
                }
                manager.delete(&key).await.map_err(|e| fail(format!("delete {key:?}: {e}")))?;
                Ok(())
            })
        },
    );
}

// ----- the fuzz seed corpus ---------------------------------------------------------------------

/// Writes `fuzz/corpus/frame_decode/`: frames made by this encoder (raw, zstd, with metadata,
/// expiry and archive fields, Unicode keys, an empty value), a few damaged ones, plain bytes,
/// and `R`-prefixed values for the target's round-trip mode.
#[test]
#[ignore = "writes the fuzz seed corpus: `cargo xtask fuzz --write-corpus` runs it"]
fn write_fuzz_seed_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/frame_decode");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let state =
        serde_json::to_vec(&json!({"equity": 101_250.5, "positions": {"SPY": 10, "QQQ": -3}})).unwrap_or_default();
    let surface =
        serde_json::to_vec(&json!({"surface": (0..40).map(|i| json!({"k": 400 + i, "iv": 0.21})).collect::<Vec<_>>()}))
            .unwrap_or_default();
    let mut meta = Map::new();
    meta.insert("strategy".into(), json!("two_part_spread"));
    meta.insert("sharpe".into(), json!(1.8));
    meta.insert("tags".into(), json!(["v2", {"nested": true}]));
    let t = (1_736_899_200_000u64, Some(1_768_435_200_000u64));
    let frames: Vec<(&str, Vec<u8>)> = vec![
        ("raw-json", encode(&state, "trading_state_2025-01-15", "trading_state", Map::new(), (t.0, None), None)),
        ("raw-meta-expiry", encode(&state, "nested/backtest_2025_01_15", "backtest_results", meta.clone(), t, None)),
        ("zstd-surface", encode(&surface, "surface", "options_greeks", Map::new(), (t.0, None), Some(1))),
        ("zstd-repeat", encode(&b"weights ".repeat(200), "forced", "ml_models", Map::new(), (t.0, None), Some(3))),
        ("raw-empty", encode(b"", "empty", "llm_cache", Map::new(), (t.0, None), None)),
        ("raw-unicode-key", encode(b"\x00\x01\xfe\xff", "ünï/κ/😀", "fx-models", meta, (0, Some(u64::MAX)), None)),
    ];
    let mut seeds: Vec<(String, Vec<u8>)> = frames.iter().map(|(n, b)| (format!("frame-{n}"), b.clone())).collect();
    let (_, good) = &frames[2];
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x10;
    seeds.push(("bad-payload-flip".into(), flipped));
    seeds.push(("bad-truncated".into(), good[..good.len() / 2].to_vec()));
    seeds.push(("bad-prefix-only".into(), good[..PREFIX_LEN].to_vec()));
    seeds.push(("plain-text".into(), b"date,close\n2024-01-02,472.65\n".to_vec()));
    seeds.push(("roundtrip-json".into(), [b"R".as_slice(), &state].concat()));
    seeds.push(("roundtrip-repeat".into(), [b"R".as_slice(), &b"abc".repeat(100)].concat()));
    for (name, bytes) in &seeds {
        std::fs::write(dir.join(name), bytes).unwrap_or_else(|e| panic!("{e}"));
    }
    // The frames must still decode (a stale corpus would seed the fuzzer with garbage).
    for (name, bytes) in seeds.iter().filter(|(n, _)| n.starts_with("frame-")) {
        assert!(open(bytes).is_ok(), "{name} does not open");
    }
    eprintln!("wrote {} seeds to {}", seeds.len(), dir.display());

    fn encode(
        v: &[u8],
        key: &str,
        category: &str,
        meta: Map<String, Value>,
        times: (u64, Option<u64>),
        level: Option<i32>,
    ) -> Vec<u8> {
        let header = header_for(v, key.into(), category.into(), meta, times);
        format::encode(&header, v, level).unwrap_or_else(|e| panic!("{e}"))
    }
}
