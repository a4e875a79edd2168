//! Scans: bring the index up to date with one listing, reading only the headers of objects
//! whose version changed (all of them on a cold start), by ranged reads (see `head.rs`).
//!
//! A full scan also counts what lies outside the manager's folders, and the first one of a
//! manager starts from the index snapshot in the store (`snapshot.rs`).
//!
//! Invariants: one scan at a time; a scan never undoes a change this process made after it
//! started (entries carry epochs); an object that cannot be read is recorded as such (it still
//! takes room) unless the failure is transient, which fails the scan.

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt, stream};
use store_core::ObjectMeta;

use crate::error::Result;
use crate::index::{Entry, Figures, Index, Kind, Place, is_internal};
use crate::manager::{Manager, entry_for};

/// Headers read at once while a scan re-reads what changed: local files (reads on the blocking
/// pool) and remote objects (requests waiting on the network, which more in flight hide).
const READ_CONCURRENCY_LOCAL: usize = 16;
const READ_CONCURRENCY_REMOTE: usize = 64;

impl Manager {
    /// Scans every folder once if no full scan has completed yet (quotas need every figure).
    pub(crate) async fn ensure_loaded(&self) -> Result<()> {
        if self.index().loaded {
            return Ok(());
        }
        self.sync(None).await
    }

    /// Brings the index up to date for one folder (`Some`) or for the whole store (`None`).
    ///
    /// A full scan lists the whole store once: objects outside the category folders and the
    /// archive are counted (unmanaged, or the manager's and monitor's own files). The first
    /// full scan of a manager also reads the index snapshot (`snapshot.rs`) beside the listing,
    /// and reads headers only of objects whose version it does not record.
    pub(crate) async fn sync(&self, scope: Option<&Place>) -> Result<()> {
        let _one_scan_at_a_time = self.inner.scan_lock.lock().await;
        let start = self.index().epoch;
        let full = scope.is_none();
        let cold = full && !self.index().loaded;
        // Before the listing: a copy a manager adds after this is either listed or bumps it.
        let marker = match full && self.uses_marker() {
            true => Some(self.marker_version().await?),
            false => None,
        };
        let prefix = scope.map(Place::prefix).unwrap_or_default();
        let listing = self.inner.store.list(&prefix).try_collect::<Vec<ObjectMeta>>();
        let (listed, snapshot) = match cold && self.index_snapshots().is_some() {
            true => futures::join!(listing, self.read_snapshot()),
            false => (listing.await, None),
        };
        let listed = listed?;
        let listed_count = listed.len() as u64;

        // Mark what is unchanged; take what the snapshot records (both the listing and the
        // snapshot are sorted by key: a merge, no lookups); collect what must be read.
        let snapshot_len = snapshot.as_ref().map(Vec::len);
        let mut recorded = snapshot.map(|s| s.into_iter().peekable());
        let mut outside = Outside::default();
        let (scan, to_read, from_snapshot, managed_listed) = {
            let mut index = self.index();
            index.scan_seq += 1;
            let scan = index.scan_seq;
            let (mut to_read, mut from_snapshot, mut managed_listed) = (Vec::new(), 0usize, 0usize);
            for meta in listed {
                let Some((place, key)) = Place::classify(meta.key.as_str()) else {
                    outside.add(meta);
                    continue;
                };
                if scope.is_some_and(|scope| *scope != place) {
                    continue;
                }
                managed_listed += 1;
                let known = index.folders.get_mut(&place).and_then(|f| f.entries.get_mut(key));
                match known {
                    Some(e) if e.epoch > start || unchanged(e, &meta) => {
                        e.seen = scan;
                        continue;
                    }
                    _ => {}
                }
                let from = recorded.as_mut().and_then(|records| {
                    while records.next_if(|(k, _)| k.as_str() < meta.key.as_str()).is_some() {}
                    records.next_if(|(k, _)| k.as_str() == meta.key.as_str()).map(|(_, entry)| entry)
                });
                match from {
                    Some(entry) if entry.version.as_ref() == Some(&meta.version) => {
                        let entry = Entry { epoch: start, seen: scan, ..entry };
                        index.put(&place, key, entry);
                        from_snapshot += 1;
                    }
                    _ => {
                        let key = key.to_string();
                        to_read.push((place, key, meta));
                    }
                }
            }
            (scan, to_read, from_snapshot, managed_listed)
        };
        // The snapshot holds exactly what the store holds: nothing new to persist (yet).
        let snapshot_current = snapshot_len.is_some_and(|len| len == from_snapshot) && from_snapshot == managed_listed;

        let mut reads = stream::iter(to_read)
            .map(|(place, key, meta)| async move {
                let result = self.read_head(&place.store_key(&key), Some(&meta)).await;
                (place, key, meta, result)
            })
            .buffer_unordered(match self.inner.store.capabilities().local_paths {
                true => READ_CONCURRENCY_LOCAL,
                false => READ_CONCURRENCY_REMOTE,
            });
        while let Some((place, key, meta, result)) = reads.next().await {
            let mut entry = match result {
                Ok(object) => entry_for(&place, &key, &object, start),
                // Gone since the listing, or changing under the reads: the next scan sees it.
                Err(e) if e.is_not_found() || matches!(e, store_core::Error::Precondition { .. }) => continue,
                Err(e) if e.is_transient() => return Err(e.into()),
                // Unreadable (a link out of the root, a file the process may not read): it still
                // takes room; `problems` names it; the next scan tries again.
                Err(e) => {
                    tracing::warn!("the manager cannot read '{}': {e}", place.store_key(&key));
                    unreadable(&meta, &e, start)
                }
            };
            let mut index = self.index();
            match index.folders.get_mut(&place).and_then(|f| f.entries.get_mut(key.as_str())) {
                Some(e) if e.epoch > start => e.seen = scan,
                _ => {
                    entry.seen = scan;
                    index.put(&place, &key, entry);
                }
            }
        }
        drop(reads);

        let changed = {
            let mut index = self.index();
            let before = index.changes;
            let places: Vec<Place> = match scope {
                Some(place) => vec![place.clone()],
                None => index.folders.keys().cloned().collect(),
            };
            for place in places {
                forget_unseen(&mut index, &place, scan, start);
            }
            if full {
                index.loaded = true;
                index.listed = listed_count;
                index.unmanaged = outside.unmanaged;
                index.internal = outside.internal;
                if let Some(marker) = marker {
                    index.marker_seen = Some(marker);
                }
                if snapshot_current && index.changes == before {
                    index.persisted = index.changes;
                }
            }
            index.changes != index.persisted
        };
        drop(_one_scan_at_a_time);
        match (full, changed) {
            (true, true) => self.persist_quietly().await,
            (false, true) => self.schedule_snapshot(),
            _ => {}
        }
        Ok(())
    }
}

/// True when the entry describes exactly the listed object (an unreadable one is tried again).
fn unchanged(entry: &Entry, meta: &ObjectMeta) -> bool {
    entry.version.as_ref() == Some(&meta.version) && !matches!(entry.kind, Kind::Unreadable(_))
}

/// What a full listing found outside the category folders and the archive.
#[derive(Default)]
struct Outside {
    unmanaged: Figures,
    internal: BTreeMap<String, (u64, store_core::Version)>,
}

impl Outside {
    fn add(&mut self, meta: ObjectMeta) {
        if is_internal(meta.key.as_str()) {
            self.internal.insert(meta.key.as_str().to_string(), (meta.size, meta.version));
        } else {
            self.unmanaged.files += 1;
            self.unmanaged.bytes += meta.size;
        }
    }
}

/// The entry of an object that cannot be read (as listed: its size and version).
fn unreadable(meta: &ObjectMeta, e: &store_core::Error, epoch: u64) -> Entry {
    Entry {
        version: Some(meta.version.clone()),
        stored_size: meta.size,
        epoch,
        seen: 0,
        kind: Kind::Unreadable(e.to_string()),
    }
}

/// Forgets the entries of `place` the scan did not see, unless this process changed them
/// after the scan started.
fn forget_unseen(index: &mut Index, place: &Place, scan: u64, start: u64) {
    let Some(folder) = index.folders.get(place) else { return };
    let gone: Vec<Box<str>> =
        folder.entries.iter().filter(|(_, e)| e.seen != scan && e.epoch <= start).map(|(k, _)| k.clone()).collect();
    for key in gone {
        index.forget(place, &key);
    }
}
