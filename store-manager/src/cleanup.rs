//! Expiry: expired objects are archived (when the settings say so) and removed; archived copies
//! are removed once their retention (`auto_cleanup.keep_days`) has passed; superseded copies (an
//! older copy of a key that a newer save holds in another category, left by a move that a crash
//! or a failed flush interrupted) are removed.
//!
//! Invariant: every delete here is conditional on the version that was read and judged (expired,
//! superseded, past retention); an object saved again since then is left alone.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::{StreamExt, stream};
use serde::Serialize;
use store_core::{PutMode, Version};

use crate::category::Category;
use crate::error::Result;
use crate::format;
use crate::index::{Kind, Place};
use crate::manager::{Manager, entry_for, frame_error, run_cpu};
use crate::object::StoredObject;

/// Objects expired at once.
const CLEANUP_CONCURRENCY: usize = 8;

/// What a cleanup did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CleanupReport {
    /// Expired objects removed from their category (archived first when `archived` counts them).
    pub expired: usize,
    /// How many of those were archived.
    pub archived: usize,
    /// Archived copies removed because their retention passed.
    pub purged: usize,
    /// Bytes the store holds less than before (removed minus archived copies written).
    pub freed_bytes: u64,
    /// Expired objects left in place, with the reason (a corrupt value cannot be archived).
    pub skipped: Vec<String>,
    /// Older copies of keys whose newer copy lives in another category, removed (a move between
    /// categories puts the new copy, then deletes the old one; a crash between the two, or a
    /// failed flush of the delete, leaves both). Loads, listings and searches already ignore
    /// them; until a cleanup they count in their category's usage.
    pub superseded: usize,
}

impl CleanupReport {
    /// Objects removed: expired ones, purged archive copies and superseded copies.
    pub fn removed(&self) -> usize {
        self.expired + self.purged + self.superseded
    }
}

/// What a cleanup does to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Task {
    Supersede,
    Expire,
    Purge,
}

enum Outcome {
    Expired { archived: bool, freed: u64, written: u64 },
    Purged { freed: u64 },
    Superseded { freed: u64 },
    Untouched,
    Skipped(String),
}

impl Manager {
    /// Removes every expired object (archiving it first when `auto_cleanup.archive_before_delete`)
    /// and every archived copy past its retention. Returns how many objects were removed.
    pub async fn cleanup_expired(&self) -> Result<usize> {
        Ok(self.cleanup().await?.removed())
    }

    /// [`Manager::cleanup_expired`] with the details.
    pub async fn cleanup(&self) -> Result<CleanupReport> {
        self.ready()?;
        self.sync(None).await?;
        let now = self.now();
        let mut work: Vec<(Place, String, Task)> = Vec::new();
        {
            let index = self.index();
            for (place, folder) in &index.folders {
                for (key, entry) in &folder.entries {
                    if entry.version.is_none() {
                        continue;
                    }
                    let superseded = |category: &Category| index.owner.get(key).is_some_and(|owner| owner != category);
                    let task = match (&entry.kind, place) {
                        (Kind::Managed(_), Place::Live(category)) if superseded(category) => Task::Supersede,
                        (Kind::Managed(o), _) if o.is_expired(now) => Task::Expire,
                        (Kind::Archived(a), _) if a.purge_after <= now => Task::Purge,
                        _ => continue,
                    };
                    work.push((place.clone(), key.to_string(), task));
                }
            }
        }
        work.sort();
        let archive = self.inner.settings.auto_cleanup.archive_before_delete;
        let outcomes: Vec<Result<Outcome>> = stream::iter(work)
            .map(|(place, key, task)| async move {
                match (place, task) {
                    (Place::Live(category), Task::Supersede) => self.remove_superseded(category, key).await,
                    (Place::Live(category), _) => self.expire_one(category, key, archive, now).await,
                    (Place::Archive(category), _) => self.purge_one(category, key, now).await,
                }
            })
            .buffer_unordered(CLEANUP_CONCURRENCY)
            .collect()
            .await;
        let mut report = CleanupReport::default();
        let mut written_total = 0u64;
        let mut freed_total = 0u64;
        for outcome in outcomes {
            match outcome? {
                Outcome::Expired { archived, freed, written } => {
                    report.expired += 1;
                    report.archived += usize::from(archived);
                    freed_total += freed;
                    written_total += written;
                }
                Outcome::Purged { freed } => {
                    report.purged += 1;
                    freed_total += freed;
                }
                Outcome::Superseded { freed } => {
                    report.superseded += 1;
                    freed_total += freed;
                }
                Outcome::Untouched => {}
                Outcome::Skipped(why) => report.skipped.push(why),
            }
        }
        report.freed_bytes = freed_total.saturating_sub(written_total);
        report.skipped.sort();
        if report.removed() > 0 || report.archived > 0 {
            self.schedule_snapshot();
        }
        Ok(report)
    }

    /// The copies a [`Manager::cleanup`] would remove as superseded (see
    /// [`CleanupReport::superseded`]): each key's older copies in categories other than the one
    /// holding its newest copy, by category and key. Changes nothing.
    pub async fn superseded_copies(&self) -> Result<Vec<StoredObject>> {
        self.ready()?;
        self.sync(None).await?;
        let index = self.index();
        let mut out: Vec<StoredObject> = Vec::new();
        for (place, folder) in &index.folders {
            let Place::Live(category) = place else { continue };
            for (key, entry) in &folder.entries {
                let superseded = index.owner.get(key).is_some_and(|owner| owner != category);
                if let (true, Some(object), Some(_)) = (superseded, entry.managed(), &entry.version) {
                    out.push((**object).clone());
                }
            }
        }
        drop(index);
        out.sort_by(|a, b| (&a.category, &a.key).cmp(&(&b.category, &b.key)));
        Ok(out)
    }

    async fn expire_one(&self, category: Category, key: String, archive: bool, now: SystemTime) -> Result<Outcome> {
        let _guard = self.lock_key(&key).await;
        let start = self.index().epoch;
        let place = Place::Live(category.clone());
        let store_key = place.store_key(&key);
        let store = &self.inner.store;
        // Archiving needs the value; deciding and deleting need only the header.
        let read = match archive {
            true => self.read_recorded(&place, &key, start).await?,
            false => self.read_head_recorded(&place, &key, start).await?,
        };
        let Some(object) = read else {
            return Ok(Outcome::Untouched);
        };
        let frame = match format::decode_head(&object.bytes, object.meta.size) {
            Ok(frame) => frame,
            Err(e) => return Ok(Outcome::Skipped(frame_error(&store_key, e).to_string())),
        };
        // Another process may have saved it again since the scan.
        if frame.header.expires_ms.is_none_or(|at| format::from_ms(at) > now) {
            return Ok(Outcome::Untouched);
        }
        let mut written = 0;
        if archive {
            let size = frame.header.size as usize;
            let header = frame.header.clone();
            let data = match run_cpu(size, move || frame.open()).await {
                Ok(data) => data,
                Err(e) => return Ok(Outcome::Skipped(frame_error(&store_key, e).to_string())),
            };
            let keep = Duration::from_secs(u64::from(self.inner.settings.auto_cleanup.keep_days) * 86_400);
            let archived_header = format::Header {
                archived_ms: Some(format::to_ms(now)),
                purge_after_ms: Some(format::to_ms(now + keep)),
                ..header
            };
            let level = Some(self.inner.settings.compression_level);
            let encoded = run_cpu(size, move || format::encode(&archived_header, &data, level)).await;
            let encoded = match encoded {
                Ok(e) => Bytes::from(e),
                Err(why) => return Ok(Outcome::Skipped(format!("{store_key}: {why}"))),
            };
            written = encoded.len() as u64;
            let archive_place = Place::Archive(category.clone());
            let archive_key = archive_place.store_key(&key);
            let meta = store.save_bytes_with(&archive_key, encoded.clone(), PutMode::Overwrite).await?;
            let archived_object = store_core::Object { bytes: encoded, meta };
            let mut index = self.index();
            let epoch = index.next_epoch();
            index.put(&archive_place, &key, entry_for(&archive_place, &key, &archived_object, epoch));
        }
        if !self.delete_if_unchanged(&place, &key, &object.meta.version).await? {
            return Ok(Outcome::Untouched);
        }
        Ok(Outcome::Expired { archived: archive, freed: object.meta.size, written })
    }

    /// Removes the copy of `key` in `category` when a newer copy of it lives in the category the
    /// index says owns it (both read again now, under the key's lock; only the version read is
    /// deleted, so a save since then survives).
    async fn remove_superseded(&self, category: Category, key: String) -> Result<Outcome> {
        let _guard = self.lock_key(&key).await;
        let start = self.index().epoch;
        let owner = self.index().owner.get(key.as_str()).cloned();
        let Some(owner) = owner.filter(|owner| *owner != category) else { return Ok(Outcome::Untouched) };
        let place = Place::Live(category);
        let Some(old) = self.read_head_recorded(&place, &key, start).await? else { return Ok(Outcome::Untouched) };
        let Some(new) = self.read_head_recorded(&Place::Live(owner), &key, start).await? else {
            return Ok(Outcome::Untouched);
        };
        let created =
            |o: &store_core::Object| format::decode_head(&o.bytes, o.meta.size).ok().map(|f| f.header.created_ms);
        match (created(&old), created(&new)) {
            (Some(old), Some(new)) if new > old => {}
            // A damaged copy, or two saves in the same millisecond: leave both.
            _ => return Ok(Outcome::Untouched),
        }
        if !self.delete_if_unchanged(&place, &key, &old.meta.version).await? {
            return Ok(Outcome::Untouched);
        }
        Ok(Outcome::Superseded { freed: old.meta.size })
    }

    /// Deletes `key` in `place` only while it still holds `version`, the one that was read (a
    /// save since then must survive). True when it was deleted.
    async fn delete_if_unchanged(&self, place: &Place, key: &str, version: &Version) -> Result<bool> {
        match self.inner.store.delete_if_match(&place.store_key(key), version).await {
            Ok(()) => {}
            // Saved again since it was read (the index learns the new version at the next scan),
            // or already gone.
            Err(store_core::Error::Precondition { .. }) => return Ok(false),
            Err(e) if e.is_not_found() => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        let mut index = self.index();
        let epoch = index.next_epoch();
        index.put(place, key, crate::manager::tombstone(epoch));
        Ok(true)
    }

    async fn purge_one(&self, category: Category, key: String, now: SystemTime) -> Result<Outcome> {
        let _guard = self.lock_key(&key).await;
        let start = self.index().epoch;
        let place = Place::Archive(category);
        let Some(object) = self.read_head_recorded(&place, &key, start).await? else {
            return Ok(Outcome::Untouched);
        };
        let due = format::decode_head(&object.bytes, object.meta.size)
            .ok()
            .and_then(|f| f.header.purge_after_ms)
            .is_some_and(|at| format::from_ms(at) <= now);
        if !due {
            return Ok(Outcome::Untouched);
        }
        if !self.delete_if_unchanged(&place, &key, &object.meta.version).await? {
            return Ok(Outcome::Untouched);
        }
        Ok(Outcome::Purged { freed: object.meta.size })
    }
}
