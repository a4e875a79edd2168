//! The persisted index: a snapshot of the manager's index kept in the store itself, so that a new
//! process starts from it instead of reading every object's header.
//!
//! One object, [`SNAPSHOT_KEY`] (`_manager/index`): an 8-byte magic, a format version byte, then
//! one zstd frame (content size declared) of JSON: for every object of the category folders and
//! the archive, its store key, the backend's version, its stored size and what its header said
//! (docs/FORMAT.md gives the fields). It is a rebuildable cache, never the truth:
//!
//! - a cold start lists the store once and reads the snapshot; an object whose listed version is
//!   the snapshot's is taken from it, every other one has its header read (`head.rs`);
//! - a snapshot that cannot be decoded (damaged, another format, another version, entries outside
//!   the manager's folders) is ignored with a warning, and the next scan writes a new one;
//! - it is written after a full scan that changed the index, and at most every
//!   [`DEFAULT_SNAPSHOT_INTERVAL`] (see [`crate::Manager::set_index_snapshots`]) after other
//!   changes; [`crate::Manager::persist_index`] writes it at once. A failed write (a read-only
//!   store) is logged and changes nothing else.
//!
//! Invariant: an entry is only ever used for the exact version it was recorded for, so a stale,
//! copied or concurrent snapshot costs header reads, never a wrong answer.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use store_core::Version;

use crate::codec;
use crate::format;
use crate::index::{Entry, Kind, Place};
use crate::manager::stored_object_from;
use crate::object::{ArchivedObject, Checksum};

/// Where the snapshot lives in the manager's store.
pub const SNAPSHOT_KEY: &str = "_manager/index";
/// How often, at most, changes other than scans are written to the snapshot, by default.
pub const DEFAULT_SNAPSHOT_INTERVAL: Duration = Duration::from_secs(60);
/// The first bytes of a snapshot.
const MAGIC: [u8; 8] = [0x89, b'O', b'S', b'I', b'\r', b'\n', 0x1A, b'\n'];
/// The snapshot format this crate writes and reads.
const SNAPSHOT_VERSION: u8 = 1;
/// The largest decoded snapshot read (a bound on memory; ~1 KiB per object is generous).
const MAX_DECODED: u64 = 1 << 30;
/// The zstd level snapshots are written with.
const LEVEL: i32 = 1;

#[derive(Serialize, Deserialize)]
struct Snapshot {
    /// When it was written, in milliseconds since the Unix epoch.
    written_ms: u64,
    /// One per object of the category folders and the archive.
    objects: Vec<Record>,
}

#[derive(Serialize, Deserialize)]
struct Record {
    /// Store key (in the manager's store, or view).
    k: String,
    /// The backend's version.
    v: String,
    /// Stored size in bytes.
    n: u64,
    /// The header, for managed objects and archived copies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    h: Option<HeaderRecord>,
    /// Why it is damaged, for corrupt objects. Neither `h` nor `c`: a foreign object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    c: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct HeaderRecord {
    size: u64,
    compressed: bool,
    created_ms: u64,
    #[serde(default)]
    expires_ms: Option<u64>,
    #[serde(default)]
    metadata: Map<String, Value>,
    checksum: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    archived_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    purge_after_ms: Option<u64>,
}

/// What a snapshot says about the objects it lists, sorted by store key (as listings are): the
/// entry to use while the object still has the version the entry holds.
pub(crate) type Recorded = Vec<(String, Entry)>;

/// Encodes entries of the category folders and the archive, by store key (tombstones and
/// unreadable objects are left out: they are not facts about a version).
pub(crate) fn encode(entries: Vec<(String, Entry)>, now_ms: u64) -> Result<Vec<u8>, String> {
    let mut objects = Vec::with_capacity(entries.len());
    for (store_key, entry) in entries {
        let Some(version) = &entry.version else { continue };
        let (h, c) = match &entry.kind {
            Kind::Managed(o) => (Some(header_record(o, None)), None),
            Kind::Archived(a) => (Some(header_record(&a.object, Some(a))), None),
            Kind::Foreign => (None, None),
            Kind::Corrupt(reason) => (None, Some(reason.clone())),
            Kind::Unreadable(_) | Kind::Tombstone => continue,
        };
        objects.push(Record { k: store_key, v: version.to_string(), n: entry.stored_size, h, c });
    }
    objects.sort_unstable_by(|a, b| a.k.cmp(&b.k));
    let json = serde_json::to_vec(&Snapshot { written_ms: now_ms, objects }).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(MAGIC.len() + 1 + codec::compress_bound(json.len()));
    out.extend_from_slice(&MAGIC);
    out.push(SNAPSHOT_VERSION);
    codec::compress_into(&json, LEVEL, &mut out).map_err(|e| format!("zstd failed: {e}"))?;
    Ok(out)
}

/// Decodes a snapshot; the error says why it cannot be used.
pub(crate) fn decode(bytes: &[u8]) -> Result<Recorded, String> {
    let Some(rest) = bytes.strip_prefix(&MAGIC[..]) else {
        return Err("it is not a manager index snapshot (no magic)".into());
    };
    let Some((&version, frame)) = rest.split_first() else { return Err("it is truncated".into()) };
    if version != SNAPSHOT_VERSION {
        return Err(format!("it has format version {version}; this manager reads version {SNAPSHOT_VERSION}"));
    }
    let size = codec::frame_content_size(frame).ok_or("its zstd frame is damaged or declares no size")?;
    if size > MAX_DECODED {
        return Err(format!("it declares {size} bytes, over the {MAX_DECODED}-byte bound"));
    }
    let json = codec::decompress(frame, size as usize).map_err(|e| format!("its zstd frame does not decode: {e}"))?;
    let snapshot: Snapshot = serde_json::from_slice(&json).map_err(|e| format!("its JSON is unreadable: {e}"))?;
    let mut out = Vec::with_capacity(snapshot.objects.len());
    for record in snapshot.objects {
        let Some((place, key)) = Place::classify(&record.k) else {
            return Err(format!("it lists '{}', which is outside the manager's folders", record.k));
        };
        if record.v.is_empty() {
            return Err(format!("it lists '{}' without a version", record.k));
        }
        let kind = match (record.h, record.c, &place) {
            (Some(h), None, _) => header_kind(&place, key, h, record.n)?,
            (None, Some(reason), _) => Kind::Corrupt(reason),
            (None, None, _) => Kind::Foreign,
            (Some(_), Some(_), _) => return Err(format!("'{}' is both described and corrupt", record.k)),
        };
        let entry = Entry { version: Some(Version::new(record.v)), stored_size: record.n, epoch: 0, seen: 0, kind };
        out.push((record.k, entry));
    }
    // Written sorted; sorted again in case another writer did not.
    if !out.is_sorted_by(|a, b| a.0 <= b.0) {
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    }
    Ok(out)
}

fn header_record(o: &crate::object::StoredObject, archived: Option<&ArchivedObject>) -> HeaderRecord {
    HeaderRecord {
        size: o.size,
        compressed: o.compressed,
        created_ms: format::to_ms(o.created),
        expires_ms: o.expires.map(format::to_ms),
        metadata: o.metadata.clone(),
        checksum: o.checksum.to_string(),
        archived_ms: archived.map(|a| format::to_ms(a.archived)),
        purge_after_ms: archived.map(|a| format::to_ms(a.purge_after)),
    }
}

fn header_kind(place: &Place, key: &str, h: HeaderRecord, stored_size: u64) -> Result<Kind, String> {
    let checksum = Checksum::parse(&h.checksum).ok_or_else(|| format!("'{key}' has an unreadable checksum"))?;
    let object = stored_object_from(
        place.category(),
        key,
        h.size,
        stored_size,
        h.compressed,
        h.created_ms,
        h.expires_ms,
        h.metadata,
        checksum,
    );
    Ok(match (place, h.archived_ms, h.purge_after_ms) {
        (Place::Live(_), None, None) => Kind::Managed(Arc::new(object)),
        (Place::Archive(_), Some(archived), Some(purge)) => Kind::Archived(Arc::new(ArchivedObject {
            object,
            archived: format::from_ms(archived),
            purge_after: format::from_ms(purge),
        })),
        _ => return Err(format!("'{key}' does not match its folder (archive fields)")),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::category::Category;
    use crate::index::Index;

    fn all(index: &Index) -> Vec<(String, Entry)> {
        index
            .folders
            .iter()
            .flat_map(|(place, folder)| folder.entries.iter().map(move |(k, e)| (place.store_key(k), e.clone())))
            .collect()
    }

    fn managed(key: &str, v: &str) -> (Place, String, Entry) {
        let object = stored_object_from(
            &Category::MlModels,
            key,
            10,
            200,
            true,
            1_700_000_000_000,
            Some(1_800_000_000_000),
            [("sharpe".to_string(), Value::from(1.5))].into_iter().collect(),
            Checksum(42),
        );
        let entry = Entry {
            version: Some(Version::new(v)),
            stored_size: 200,
            epoch: 3,
            seen: 1,
            kind: Kind::Managed(Arc::new(object)),
        };
        (Place::Live(Category::MlModels), key.to_string(), entry)
    }

    #[test]
    fn round_trips_what_it_records_and_leaves_out_the_rest() {
        let mut index = Index::default();
        for (place, key, entry) in [managed("a", "v1"), managed("b/c", "v2")] {
            index.put(&place, &key, entry);
        }
        let foreign =
            Entry { version: Some(Version::new("v3")), stored_size: 5, epoch: 1, seen: 1, kind: Kind::Foreign };
        index.put(&Place::Live(Category::LlmCache), "x", foreign);
        let unreadable = Entry {
            version: Some(Version::new("v4")),
            stored_size: 5,
            epoch: 1,
            seen: 1,
            kind: Kind::Unreadable("no".into()),
        };
        index.put(&Place::Live(Category::LlmCache), "y", unreadable);
        let bytes = encode(all(&index), 1).unwrap();
        let recorded: std::collections::HashMap<String, Entry> = decode(&bytes).unwrap().into_iter().collect();
        assert_eq!(recorded.len(), 3, "unreadable objects are not recorded");
        let a = &recorded["ml_models/a"];
        assert_eq!(a.version, Some(Version::new("v1")));
        let o = a.managed().unwrap();
        assert_eq!((o.size, o.stored_size, o.compressed, o.metadata["sharpe"].as_f64()), (10, 200, true, Some(1.5)));
        assert!(matches!(recorded["llm_cache/x"].kind, Kind::Foreign));
    }

    #[test]
    fn damaged_and_foreign_snapshots_are_refused_with_a_reason() {
        let mut index = Index::default();
        let (place, key, entry) = managed("a", "v1");
        index.put(&place, &key, entry);
        let good = encode(all(&index), 1).unwrap();
        assert!(decode(b"{\"objects\": []}").unwrap_err().contains("no magic"));
        assert!(decode(&good[..good.len() - 3]).is_err());
        let mut newer = good.clone();
        newer[8] = 9;
        assert!(decode(&newer).unwrap_err().contains("format version 9"));
        for cut in 0..good.len() {
            let _ = decode(&good[..cut]);
        }
        // Entries outside the manager's folders: someone else's file under that name.
        let json = br#"{"written_ms":1,"objects":[{"k":"top-level","v":"x","n":1}]}"#;
        let mut other = MAGIC.to_vec();
        other.push(SNAPSHOT_VERSION);
        other.extend_from_slice(&zstd::bulk::compress(json, 1).unwrap());
        assert!(decode(&other).unwrap_err().contains("outside the manager's folders"));
    }
}
