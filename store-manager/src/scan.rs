//! Scans: bring the index up to date with one listing, reading only objects whose version
//! changed (all of them on a cold start).

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use store_core::{Object, ObjectMeta};

use crate::error::Result;
use crate::format;
use crate::index::{Index, Place};
use crate::manager::{Manager, entry_for};

/// Objects read at once while a scan re-reads what changed.
const READ_CONCURRENCY: usize = 16;
/// Objects up to this size are read whole by a scan; larger ones, on local disk, only up to the
/// end of their header.
const READ_WHOLE_UP_TO: u64 = 64 * 1024;

impl Manager {
    /// Scans every folder once if no full scan has completed yet (quotas need every figure).
    pub(crate) async fn ensure_loaded(&self) -> Result<()> {
        if self.index().loaded {
            return Ok(());
        }
        self.sync(None).await
    }

    /// Reads what the index needs of an object: on local disk only the prefix and header of a
    /// large one (a 400 MB model is not read to learn its category), else the whole object.
    async fn read_for_index(&self, store_key: &str, meta: ObjectMeta) -> store_core::Result<Object> {
        let store = &self.inner.store;
        if meta.size > READ_WHOLE_UP_TO
            && store.capabilities().local_paths
            && let Some(path) = store.local_file(store_key).await?
        {
            let key = store_key.to_string();
            return store_core::raw::io::offload(move || read_header(&path, &key, meta)).await;
        }
        store.read_object(store_key).await
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
                let result = self.read_for_index(&place.store_key(&key), meta).await;
                (place, key, result)
            })
            .buffer_unordered(READ_CONCURRENCY);
        while let Some((place, key, result)) = reads.next().await {
            let object = match result {
                Ok(object) => object,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e.into()),
            };
            let mut index = self.index();
            match index.folders.get_mut(&place).and_then(|f| f.entries.get_mut(key.as_str())) {
                Some(e) if e.epoch > start => e.seen = scan,
                _ => {
                    let mut entry = entry_for(&place, &key, &object, start);
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

/// The prefix and header of the object in `path` (the listing's metadata describes it; if the
/// file changed since, the next scan sees a new version and reads it again).
fn read_header(path: &Path, key: &str, meta: ObjectMeta) -> store_core::Result<Object> {
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => store_core::Error::NotFound { key: key.to_string() },
        _ => store_core::Error::io(format!("cannot read the header of '{key}'"), e),
    };
    let mut file = File::open(path).map_err(io)?;
    let mut bytes = Vec::with_capacity(4096);
    (&mut file).take(format::PREFIX_LEN as u64).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() == format::PREFIX_LEN && bytes[..8] == format::MAGIC {
        let header_len = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
        let wanted = u64::from(header_len).min(meta.size.saturating_sub(format::PREFIX_LEN as u64));
        file.take(wanted).read_to_end(&mut bytes).map_err(io)?;
    }
    Ok(Object { bytes: Bytes::from(bytes), meta })
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
