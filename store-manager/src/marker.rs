//! The change marker: how a manager answers a load of an absent key with one request.
//!
//! A key lives in one of many category folders, and no single request asks an S3 server
//! whether any of them holds it. So every manager that adds a live copy of a key (a new key, or a
//! key moved into another category) also rewrites one small object, [`MARKER_KEY`]
//! (`_manager/changes`), before its save returns. A full scan reads the marker's version before
//! it lists; as long as the marker keeps that version, no manager has added a copy the index
//! does not know, and a key the index does not hold is absent: one HEAD of the marker answers.
//! When the marker changed, the manager lists again (or probes the categories, when a listing
//! would cost more requests).
//!
//! Used on stores whose objects are not local files (S3, memory); on local disk probing every
//! category costs a few `openat` calls, cheaper than a write per save.
//!
//! Invariants: a manager bumps the marker after its put and before its save returns, so a
//! reader that sees the old marker after that save returned has listed the new copy; a bump of
//! its own keeps this index current only when it replaced exactly the version this index saw
//! (a compare-and-swap), else the index is no longer known to be current. Objects written into
//! category folders by other means than a manager are not signalled: the next full scan (a
//! listing, `find`, usage, a monitor check) sees them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use bytes::Bytes;
use store_core::{PutMode, Version};

use crate::error::Result;
use crate::manager::Manager;

/// The marker every manager rewrites when it adds a live copy of a key.
pub const MARKER_KEY: &str = "_manager/changes";

/// Requests a listing takes per this many objects (an S3 page).
const PAGE: u64 = 1000;

impl Manager {
    /// True when this manager keeps and checks the change marker.
    pub(crate) fn uses_marker(&self) -> bool {
        !self.inner.store.capabilities().local_paths
    }

    /// The marker's version now (`None` when there is no marker yet).
    pub(crate) async fn marker_version(&self) -> Result<Option<Version>> {
        match self.inner.store.head(MARKER_KEY).await {
            Ok(meta) => Ok(Some(meta.version)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// True when the index holds every live copy any manager added: a full scan completed and
    /// the marker has not changed since (one request).
    pub(crate) async fn index_is_current(&self) -> Result<bool> {
        let seen = {
            let index = self.index();
            if !index.loaded || !self.uses_marker() {
                return Ok(false);
            }
            index.marker_seen.clone()
        };
        let Some(seen) = seen else { return Ok(false) };
        Ok(self.marker_version().await? == seen)
    }

    /// True when listing the whole store again costs no more requests than probing `probes`
    /// categories.
    pub(crate) fn relisting_is_cheap(&self, probes: usize) -> bool {
        self.index().listed.div_ceil(PAGE) <= probes as u64
    }

    /// Tells other managers that this one added a live copy of `key` (see the module docs).
    pub(crate) async fn bump_marker(&self, key: &str) {
        let _one_bump_at_a_time = self.inner.marker_lock.lock().await;
        let store = &self.inner.store;
        let seen = self.index().marker_seen.clone();
        let exact = store.capabilities().conditional_put;
        let mode = match &seen {
            Some(Some(version)) if exact => PutMode::Update(version.clone()),
            Some(None) if exact => PutMode::Create,
            _ => PutMode::Overwrite,
        };
        let keeps_current = mode != PutMode::Overwrite;
        let result = match store.save_bytes_with(MARKER_KEY, token(), mode).await {
            Err(store_core::Error::Precondition { .. } | store_core::Error::AlreadyExists { .. }) => {
                // Another manager bumped it since this index's scan: this index is not current.
                store.save_bytes_with(MARKER_KEY, token(), PutMode::Overwrite).await.map(|meta| (meta, false))
            }
            other => other.map(|meta| (meta, keeps_current)),
        };
        let mut index = self.index();
        match result {
            Ok((meta, still_current)) => {
                index.marker_seen = match still_current && index.marker_seen == seen {
                    true => Some(Some(meta.version.clone())),
                    false => None,
                };
                index.internal.insert(MARKER_KEY.to_string(), (meta.size, meta.version));
            }
            Err(e) => {
                index.marker_seen = None;
                tracing::warn!(
                    "'{key}' was saved, but the change marker {MARKER_KEY} could not be written ({e}): other managers \
                     may answer that it is absent until their next full scan"
                );
            }
        }
    }
}

/// Content unique to this write (on S3 the version is the content's hash).
fn token() -> Bytes {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    Bytes::from(format!("{} {nanos} {}\n", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)))
}
