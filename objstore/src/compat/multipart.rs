//! Multipart uploads: object_store's `MultipartUpload` (from `put_multipart`, what `BufWriter`,
//! `WriteMultipart` and parquet's async writer use) and its lower-level `MultipartStore`.
//!
//! An upload from `put_multipart` streams: its parts, in the order of the `put_part` calls, feed
//! one streamed save of the store ([`ObjectStore::save_stream`]), which writes them into a temp
//! file on local disk and into a real multipart upload on S3. A part's future completes once the
//! save has taken the part, so a writer that bounds its parts in flight (as `WriteMultipart`
//! does) bounds memory. Nothing is visible until `complete`; `abort`, or dropping the upload,
//! cancels the save, which leaves nothing behind (no temp file, no S3 upload). Limits count the
//! upload once, at its final size; a part that takes it past `Limits::max_object_bytes` is
//! refused at once. Two uploads to one key: the last to complete wins, as on S3.
//!
//! `MultipartStore` uploads name their parts by index and may send them in any order, so their
//! parts are kept in memory until `complete_multipart` saves them as one value. Uploads never
//! completed nor aborted keep their parts until the adapter (and its clones) are dropped.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{MultipartId, MultipartUpload, PutMultipartOptions, PutPayload, PutResult, Result, UploadPart};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::adapter::{ObjectStoreAdapter, at, not_implemented, put_result};
use super::error::{generic, to_object_store};
use super::paths;
use crate::{Error, LimitKind, ObjectStore, PutMode};

/// A part on its way into the save, and who waits for the save to take it.
type Part = (Bytes, oneshot::Sender<()>);

/// An upload from `put_multipart`: a streamed save fed part by part.
#[derive(Debug)]
pub(super) struct Upload {
    store: ObjectStore,
    key: String,
    /// Feeds the save; `None` once completed or aborted.
    parts: Option<mpsc::UnboundedSender<Part>>,
    /// The save, started with the first part (or at `complete`).
    save: Option<JoinHandle<crate::Result<crate::ObjectMeta>>>,
    /// Set by `complete` only: the parts' channel closing then ends the save's stream; closed any
    /// other way (abort, drop) it fails the save, which then stores nothing.
    completing: Arc<AtomicBool>,
    size: u64,
    finished: bool,
}

impl Upload {
    pub(super) fn new(store: ObjectStore, location: &Path) -> Result<Upload> {
        let key = paths::key(location)?.to_string();
        Ok(Upload { store, key, parts: None, save: None, completing: Arc::default(), size: 0, finished: false })
    }

    /// The channel into the save, starting the save on first use.
    fn sender(&mut self) -> &mpsc::UnboundedSender<Part> {
        if self.parts.is_none() {
            let (tx, rx) = mpsc::unbounded_channel::<Part>();
            let (completing, key) = (self.completing.clone(), self.key.clone());
            let body = futures::stream::unfold(Some(rx), move |rx| {
                let (completing, key) = (completing.clone(), key.clone());
                async move {
                    let mut rx = rx?;
                    match rx.recv().await {
                        Some((bytes, taken)) => {
                            // The part is in the save's hands: its put_part future may complete.
                            let _ = taken.send(());
                            Some((Ok(bytes), Some(rx)))
                        }
                        None if completing.load(Ordering::Acquire) => None,
                        None => {
                            let cancelled = Error::io(
                                format!("the multipart upload of '{key}' was aborted"),
                                std::io::ErrorKind::Interrupted.into(),
                            );
                            Some((Err(cancelled), None))
                        }
                    }
                }
            })
            .boxed();
            let (store, key) = (self.store.clone(), self.key.clone());
            self.save = Some(tokio::spawn(async move { store.save_stream(&key, body, None).await }));
            self.parts = Some(tx);
        }
        // Set just above.
        self.parts.get_or_insert_with(|| mpsc::unbounded_channel().0)
    }

    fn cancel(&mut self) {
        self.finished = true;
        // The channel closes without `completing`: the save's stream fails, so it stores nothing
        // (and leaves nothing: see ObjectStore::save_stream), whether or not the abort below
        // reaches it first.
        self.parts = None;
        if let Some(save) = self.save.take() {
            save.abort();
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.finished {
            self.cancel();
        }
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
        if let Err(e) = accepted {
            return Box::pin(futures::future::ready(Err(e)));
        }
        self.size += data.content_length() as u64;
        let (taken, waiting) = oneshot::channel();
        let key = self.key.clone();
        let sent = self.sender().send((Bytes::from(data), taken));
        Box::pin(async move {
            if sent.is_err() || waiting.await.is_err() {
                // The save ended early (it failed): complete() reports why.
                return Err(generic(format!("the streamed save of '{key}' stopped; complete() says why")));
            }
            Ok(())
        })
    }

    async fn complete(&mut self) -> Result<PutResult> {
        if self.finished {
            return Err(finished(&self.key));
        }
        self.finished = true;
        self.sender();
        // Closing the channel now ends the save's stream.
        self.completing.store(true, Ordering::Release);
        self.parts = None;
        let save = self.save.take().ok_or_else(|| finished(&self.key))?;
        let saved = save.await.map_err(|e| generic(format!("the save of '{}' did not finish: {e}", self.key)))?;
        let meta = at(saved, &self.key)?;
        Ok(put_result(&meta))
    }

    async fn abort(&mut self) -> Result<()> {
        let save = self.save.take();
        self.cancel();
        if let Some(save) = save {
            save.abort();
            // Wait until the save is gone, so that what follows sees no trace of it.
            let _ = save.await;
        }
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
