//! When the index snapshot (`snapshot.rs`) is read and written.
//!
//! Read once, by a manager's first full scan. Written after a full scan that changed the index,
//! after other changes at most every interval (a deferred write on the runtime, when there is
//! one), and on [`Manager::persist_index`]. One write at a time per manager; a write captures the
//! index's change count, so changes made while it runs are written by the next one.
//!
//! Invariant: snapshots never decide an answer by themselves (see `snapshot.rs`); a failed read
//! or write is a warning, never an error of the operation that caused it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use store_core::PutMode;

use crate::error::Result;
use crate::index::Entry;
use crate::manager::{Manager, run_cpu};
use crate::snapshot::{self, Recorded, SNAPSHOT_KEY};

impl Manager {
    /// Keeps a snapshot of the index in the store (`_manager/index`), written after scans that
    /// changed it and at most every `every` after other changes (`Some`, the default is one
    /// minute on stores that outlive the process), or never reads nor writes one (`None`). A
    /// new process over the same store starts from the snapshot: it reads headers only of the
    /// objects that changed since.
    pub fn set_index_snapshots(&self, every: Option<Duration>) {
        *self.inner.snapshot_every.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = every;
    }

    /// How often the index snapshot is written after changes; `None` when snapshots are off.
    pub fn index_snapshots(&self) -> Option<Duration> {
        *self.inner.snapshot_every.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes the index snapshot now, when the index changed since the last one. True when it
    /// wrote one. For a process about to exit (the next one then starts without reading any
    /// header).
    pub async fn persist_index(&self) -> Result<bool> {
        if self.index_snapshots().is_none() {
            return Ok(false);
        }
        let _one_write_at_a_time = self.inner.snapshot_lock.lock().await;
        let (changes, entries) = {
            let index = self.index();
            if index.changes == index.persisted || !index.loaded {
                return Ok(false);
            }
            let entries: Vec<(String, Entry)> = index
                .folders
                .iter()
                .flat_map(|(place, folder)| folder.entries.iter().map(move |(k, e)| (place.store_key(k), e.clone())))
                .collect();
            (index.changes, entries)
        };
        let now_ms = crate::format::to_ms(self.now());
        let bytes = run_cpu(entries.len() * 256, move || snapshot::encode(entries, now_ms)).await;
        let bytes = bytes.map_err(|message| crate::Error::Serialization {
            key: SNAPSHOT_KEY.to_string(),
            writing: true,
            message,
        })?;
        let size = bytes.len() as u64;
        let meta = self.inner.store.save_bytes_with(SNAPSHOT_KEY, Bytes::from(bytes), PutMode::Overwrite).await?;
        *self.inner.last_snapshot.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
        let mut index = self.index();
        index.persisted = index.persisted.max(changes);
        index.internal.insert(SNAPSHOT_KEY.to_string(), (size, meta.version));
        Ok(true)
    }

    /// [`Manager::persist_index`], logging a failure instead of returning it.
    pub(crate) async fn persist_quietly(&self) {
        match self.persist_index().await {
            Ok(_) => {}
            // Whoever may only read the store still uses it; the next writer writes the snapshot.
            Err(crate::Error::Store(e)) if refused(&e) => {
                tracing::debug!("the index snapshot cannot be written (no write access to the store): {e}");
            }
            Err(e) => tracing::warn!("the index snapshot {SNAPSHOT_KEY} was not written: {e}"),
        }
    }

    /// Schedules a write of the snapshot, at most one interval after the last one, unless one is
    /// scheduled already (or there is no runtime to run it on; the next scan writes it then).
    pub(crate) fn schedule_snapshot(&self) {
        let Some(every) = self.index_snapshots() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        if self.inner.snapshot_pending.swap(true, Ordering::AcqRel) {
            return;
        }
        let last = *self.inner.last_snapshot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let wait = last.map_or(every, |at| every.saturating_sub(at.elapsed()));
        let weak = Arc::downgrade(&self.inner);
        runtime.spawn(async move {
            tokio::time::sleep(wait).await;
            let Some(inner) = weak.upgrade() else { return };
            inner.snapshot_pending.store(false, Ordering::Release);
            Manager { inner }.persist_quietly().await;
        });
    }

    /// The snapshot in the store, decoded; `None` when there is none or it cannot be used (a
    /// warning says why; the scan then reads every header and writes a new one).
    pub(crate) async fn read_snapshot(&self) -> Option<Recorded> {
        let bytes = match self.inner.store.read_bytes(SNAPSHOT_KEY).await {
            Ok(bytes) => bytes,
            Err(e) if e.is_not_found() => return None,
            Err(e) => {
                tracing::warn!("the index snapshot {SNAPSHOT_KEY} cannot be read ({e}); reading the headers instead");
                return None;
            }
        };
        let decoded = run_cpu(bytes.len() * 8, move || snapshot::decode(&bytes)).await;
        match decoded {
            Ok(recorded) => Some(recorded),
            Err(why) => {
                tracing::warn!("ignoring the index snapshot {SNAPSHOT_KEY}: {why}; it is rebuilt from the objects");
                None
            }
        }
    }
}

/// True when the store refused a write for lack of permission (a read-only folder or mount, an
/// `Access` without saves, an S3 credential that may only read).
fn refused(e: &store_core::Error) -> bool {
    match e {
        store_core::Error::PermissionDenied { .. } => true,
        store_core::Error::Backend { message, .. } => message.contains("AccessDenied") || message.contains("refused"),
        _ => false,
    }
}
