//! Scans: bring the index up to date with one listing, reading only the headers of objects
//! whose version changed (all of them on a cold start), by ranged reads (see `head.rs`).
//!
//! Invariants: one scan at a time; a scan never undoes a change this process made after it
//! started (entries carry epochs); an object that cannot be read is recorded as such (it still
//! takes room) unless the failure is transient, which fails the scan.

use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt, stream};
use store_core::ObjectMeta;

use crate::error::Result;
use crate::index::{Entry, Index, Kind, Place};
use crate::manager::{Manager, entry_for};

/// Objects read at once while a scan re-reads what changed.
const READ_CONCURRENCY: usize = 16;

impl Manager {
    /// Scans every folder once if no full scan has completed yet (quotas need every figure).
    pub(crate) async fn ensure_loaded(&self) -> Result<()> {
        if self.index().loaded {
            return Ok(());
        }
        self.sync(None).await
    }

    /// Brings the index up to date for one folder (`Some`) or for the whole store (`None`).
    pub(crate) async fn sync(&self, scope: Option<&Place>) -> Result<()> {
        let _one_scan_at_a_time = self.inner.scan_lock.lock().await;
        let start = self.index().epoch;
        let prefix = scope.map(Place::prefix).unwrap_or_default();
        let listed: Vec<ObjectMeta> = self.inner.store.list(&prefix).try_collect().await?;

        let mut groups: HashMap<Place, Vec<ObjectMeta>> = HashMap::new();
        match scope {
            Some(place) => {
                groups.insert(place.clone(), listed);
            }
            None => {
                for meta in listed {
                    if let Some((place, _)) = Place::classify(meta.key.as_str()) {
                        groups.entry(place).or_default().push(meta);
                    }
                }
            }
        }

        // Mark what is unchanged; collect what must be read.
        let (scan, to_read) = {
            let mut index = self.index();
            index.scan_seq += 1;
            let scan = index.scan_seq;
            let mut to_read = Vec::new();
            for (place, metas) in &groups {
                let skip = place.prefix().len();
                let mut folder = index.folders.get_mut(place);
                for meta in metas {
                    let key = &meta.key.as_str()[skip..];
                    match folder.as_mut().and_then(|f| f.entries.get_mut(key)) {
                        Some(e) if e.epoch > start || e.version.as_ref() == Some(&meta.version) => e.seen = scan,
                        _ => to_read.push((place.clone(), key.to_string(), meta.clone())),
                    }
                }
            }
            (scan, to_read)
        };

        let mut reads = stream::iter(to_read)
            .map(|(place, key, meta)| async move {
                let result = self.read_head(&place.store_key(&key), Some(&meta)).await;
                (place, key, meta, result)
            })
            .buffer_unordered(READ_CONCURRENCY);
        while let Some((place, key, meta, result)) = reads.next().await {
            let mut entry = match result {
                Ok(object) => entry_for(&place, &key, &object, start),
                // Gone since the listing, or changing under the reads: the next scan sees it.
                Err(e) if e.is_not_found() || matches!(e, store_core::Error::Precondition { .. }) => continue,
                Err(e) if e.is_transient() => return Err(e.into()),
                // Unreadable for good (a link out of the root, a file the process may not read):
                // it still takes room; `problems` names it.
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

        let mut index = self.index();
        let places: Vec<Place> = match scope {
            Some(place) => vec![place.clone()],
            None => index.folders.keys().cloned().collect(),
        };
        for place in places {
            forget_unseen(&mut index, &place, scan, start);
        }
        if scope.is_none() {
            index.loaded = true;
        }
        Ok(())
    }
}

/// The entry of an object that cannot be read (as listed: its size and version).
fn unreadable(meta: &ObjectMeta, e: &store_core::Error, epoch: u64) -> Entry {
    Entry {
        version: Some(meta.version.clone()),
        stored_size: meta.size,
        epoch,
        seen: 0,
        kind: Kind::Corrupt(format!("cannot be read: {e}")),
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
