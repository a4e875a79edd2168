//! Multipart uploads: object_store's `MultipartUpload` (from `put_multipart`, what `BufWriter`,
//! `WriteMultipart` and parquet's async writer use) and its lower-level `MultipartStore`.
//!
//! The store saves whole values atomically, so an upload collects its parts in memory and
//! `complete` saves them as one value with one overwrite, through every layer (limits count it
//! once, at its full size; the cache sees one write). Until then nothing is visible, and `abort`
//! (or dropping a `MultipartUpload`) leaves nothing behind. Parts keep the order of the
//! `put_part` calls, whichever of their futures finishes first; with `MultipartStore` they take
//! the order of the part ids given to `complete_multipart`. Two uploads to one key: the last to
//! complete wins, as on S3.
//!
//! A store with `Limits::max_object_bytes` refuses a part that takes the upload past it at once,
//! not at `complete`. `MultipartStore` uploads that are never completed nor aborted keep their
//! parts until the adapter (and its clones) are dropped.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use bytes::Bytes;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{MultipartId, MultipartUpload, PutMultipartOptions, PutPayload, PutResult, Result, UploadPart};

use super::adapter::{ObjectStoreAdapter, at, not_implemented, put_result};
use super::error::{generic, to_object_store};
use super::paths;
use crate::{Error, LimitKind, ObjectStore, PutMode};

/// An upload from `put_multipart`: parts in memory until `complete`.
#[derive(Debug)]
pub(super) struct Upload {
    store: ObjectStore,
    key: String,
    parts: Vec<PutPayload>,
    size: u64,
    finished: bool,
}

impl Upload {
    pub(super) fn new(store: ObjectStore, location: &Path) -> Result<Upload> {
        let key = paths::key(location)?.to_string();
        Ok(Upload { store, key, parts: Vec::new(), size: 0, finished: false })
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl MultipartUpload for Upload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let accepted = if self.finished {
            Err(finished(&self.key))
        } else {
            within_limit(&self.store, &self.key, self.size + data.content_length() as u64)
        };
        if accepted.is_ok() {
            self.size += data.content_length() as u64;
            self.parts.push(data);
        }
        Box::pin(futures::future::ready(accepted))
    }

    async fn complete(&mut self) -> Result<PutResult> {
        if self.finished {
            return Err(finished(&self.key));
        }
        self.finished = true;
        let value = concat(std::mem::take(&mut self.parts));
        let meta = at(self.store.save_bytes_with(&self.key, value, PutMode::Overwrite).await, &self.key)?;
        Ok(put_result(&meta))
    }

    async fn abort(&mut self) -> Result<()> {
        self.finished = true;
        self.parts = Vec::new();
        Ok(())
    }
}

/// `MultipartStore` uploads not yet completed or aborted, by id.
#[derive(Debug, Default)]
pub(super) struct Staged {
    uploads: Mutex<HashMap<MultipartId, Staging>>,
    next_id: AtomicU64,
}

#[derive(Debug)]
struct Staging {
    key: String,
    parts: BTreeMap<usize, PutPayload>,
}

impl Staged {
    fn uploads(&self) -> MutexGuard<'_, HashMap<MultipartId, Staging>> {
        // Every change under the lock is one insert or remove: a poisoned map is still whole.
        self.uploads.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl MultipartStore for ObjectStoreAdapter {
    async fn create_multipart(&self, path: &Path) -> Result<MultipartId> {
        let key = paths::key(path)?.to_string();
        let id = format!("objstore-{:x}", self.staged.next_id.fetch_add(1, Ordering::Relaxed));
        self.staged.uploads().insert(id.clone(), Staging { key, parts: BTreeMap::new() });
        Ok(id)
    }

    async fn create_multipart_opts(&self, path: &Path, opts: PutMultipartOptions) -> Result<MultipartId> {
        let PutMultipartOptions { tags: _, attributes, extensions: _ } = opts;
        if !attributes.is_empty() {
            return Err(not_implemented("create_multipart_opts with attributes (objstore keeps no attributes)"));
        }
        self.create_multipart(path).await
    }

    async fn put_part(&self, path: &Path, id: &MultipartId, part_idx: usize, data: PutPayload) -> Result<PartId> {
        let mut uploads = self.staged.uploads();
        let staging = staging(&mut uploads, path, id)?;
        let others: u64 =
            staging.parts.iter().filter(|(i, _)| **i != part_idx).map(|(_, p)| p.content_length() as u64).sum();
        within_limit(&self.store, &staging.key, others + data.content_length() as u64)?;
        staging.parts.insert(part_idx, data);
        Ok(PartId { content_id: part_idx.to_string() })
    }

    async fn complete_multipart(&self, path: &Path, id: &MultipartId, parts: Vec<PartId>) -> Result<PutResult> {
        let Staging { key, parts: mut uploaded } = {
            let mut uploads = self.staged.uploads();
            staging(&mut uploads, path, id)?;
            uploads.remove(id).ok_or_else(|| unknown(path, id))?
        };
        let mut value = Vec::with_capacity(parts.len());
        for part in &parts {
            let payload = part.content_id.parse::<usize>().ok().and_then(|i| uploaded.remove(&i));
            value.push(payload.ok_or_else(|| {
                generic(format!(
                    "part '{}' of upload {id} of '{key}' was not uploaded (or given twice)",
                    part.content_id
                ))
            })?);
        }
        let meta = at(self.store.save_bytes_with(&key, concat(value), PutMode::Overwrite).await, &key)?;
        Ok(put_result(&meta))
    }

    async fn abort_multipart(&self, path: &Path, id: &MultipartId) -> Result<()> {
        let mut uploads = self.staged.uploads();
        if uploads.get(id).is_some_and(|s| s.key == path.as_ref()) {
            uploads.remove(id);
        }
        Ok(())
    }
}

/// The staging of upload `id`, which must be one of `path`.
fn staging<'a>(
    uploads: &'a mut HashMap<MultipartId, Staging>,
    path: &Path,
    id: &MultipartId,
) -> Result<&'a mut Staging> {
    match uploads.get_mut(id) {
        Some(staging) if staging.key == path.as_ref() => Ok(staging),
        _ => Err(unknown(path, id)),
    }
}

fn unknown(path: &Path, id: &MultipartId) -> object_store::Error {
    generic(format!("no multipart upload {id} of '{path}' is open here: it was completed, aborted or never created"))
}

fn finished(key: &str) -> object_store::Error {
    generic(format!("the multipart upload of '{key}' was already completed or aborted; start a new one"))
}

/// Refuses an upload that would pass the store's `max_object_bytes` at `size` bytes.
fn within_limit(store: &ObjectStore, key: &str, size: u64) -> Result<()> {
    match store.limits().max_object_bytes {
        Some(limit) if size > limit => Err(to_object_store(
            Error::LimitExceeded {
                key: key.to_string(),
                kind: LimitKind::ObjectSize,
                used: size,
                limit,
                requested: size,
            },
            key,
        )),
        _ => Ok(()),
    }
}

/// The parts as one value (no copy for a single chunk).
fn concat(parts: Vec<PutPayload>) -> Bytes {
    Bytes::from(parts.into_iter().flatten().collect::<PutPayload>())
}
