//! Saves: single PUTs, and multipart uploads that stream and never leave parts behind.
//!
//! A single PUT signs a hash of the whole body (about 11 ms of client CPU per 16 MiB here);
//! multipart signs each part as it goes, and the parts travel at once. Values of at least
//! `multipart_threshold` bytes go up as multipart uploads, from memory (a put) or from a stream
//! (a streamed put: parts of `part_size` are cut as the bytes arrive, at most
//! `upload_concurrency` of them in flight, so memory stays at about their product).
//!
//! Every multipart upload that does not complete is aborted: when a part, the stream or the
//! completion fails (the caller gets that error), and when the save's future is dropped (a
//! timeout around it, a cancelled task), in which case the abort is sent from a task of its own.
//! So no orphaned parts are left to be billed while invisible to usage and limits.
//!
//! Create-only and compare-and-swap saves are single conditional PUTs (S3 has no conditional
//! multipart upload that every server honours): a streamed one is gathered in memory first.

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use object_store::{
    MultipartUpload, ObjectStore as _, PutMode as OsPutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult,
    UpdateVersion,
};
use store_core::raw::ByteStream;
use store_core::raw::backend::SizeCheck;
use store_core::{Error, Key, KeyBuf, ObjectMeta, PutMode, Result, Version};

use crate::Inner;

impl Inner {
    /// Saves `value` under `key` as `mode` allows.
    pub(crate) async fn put(&self, key: &Key, value: Bytes, mode: &PutMode) -> Result<ObjectMeta> {
        let size = value.len() as u64;
        let put = if *mode == PutMode::Overwrite && size >= self.options.multipart_threshold {
            let mut upload = self.start_multipart(key).await?;
            let part_size = self.options.part_size;
            let mut offset = 0;
            while offset < value.len() {
                let end = (offset + part_size).min(value.len());
                upload.send(value.slice(offset..end)).await?;
                offset = end;
            }
            upload.complete().await?
        } else {
            self.single_put(key, value, mode).await?
        };
        Ok(self.saved(key, size, put))
    }

    /// Saves a stream under `key`: one PUT when it is small (or the put is conditional), else a
    /// multipart upload fed as the bytes arrive.
    pub(crate) async fn put_stream(
        &self,
        key: &Key,
        mut body: ByteStream,
        size: Option<u64>,
        mode: &PutMode,
    ) -> Result<ObjectMeta> {
        let mut check = SizeCheck::new(size);
        let threshold = usize::try_from(self.options.multipart_threshold).unwrap_or(usize::MAX);
        let conditional = *mode != PutMode::Overwrite;
        // Gather up to the threshold: a small value (or any conditional one) is one PUT. A value
        // known to be large goes straight to parts (no threshold's worth held beside them).
        let known_large = !conditional && size.is_some_and(|size| size >= threshold as u64);
        let mut gathered = Vec::new();
        let mut ended = false;
        while !known_large && (conditional || gathered.len() < threshold) {
            match body.next().await.transpose()? {
                Some(chunk) => {
                    check.add(key, chunk.len())?;
                    gathered.extend_from_slice(&chunk);
                }
                None => {
                    ended = true;
                    break;
                }
            }
        }
        if ended {
            let total = check.finish(key)?;
            let put = self.within("save", Some(key), self.single_put(key, Bytes::from(gathered), mode)).await?;
            return Ok(self.saved(key, total, put));
        }
        // Each part gets a buffer of its own, exactly its size: a part in flight never keeps a
        // larger shared allocation alive, so memory stays at about part_size × parts in flight.
        let part_size = self.options.part_size;
        let mut upload = self.start_multipart(key).await?;
        let first = Bytes::from(gathered);
        let mut offset = 0;
        while first.len() - offset >= part_size {
            upload.send(first.slice(offset..offset + part_size)).await?;
            offset += part_size;
        }
        let mut part = Vec::with_capacity(part_size);
        part.extend_from_slice(&first[offset..]);
        drop(first);
        while let Some(chunk) = body.next().await.transpose()? {
            check.add(key, chunk.len())?;
            let mut rest = &chunk[..];
            while !rest.is_empty() {
                let take = rest.len().min(part_size - part.len());
                part.extend_from_slice(&rest[..take]);
                rest = &rest[take..];
                if part.len() == part_size {
                    let full = std::mem::replace(&mut part, Vec::with_capacity(part_size));
                    upload.send(Bytes::from(full)).await?;
                }
            }
        }
        let total = check.finish(key)?;
        if !part.is_empty() {
            upload.send(Bytes::from(part)).await?;
        }
        let put = upload.complete().await?;
        Ok(self.saved(key, total, put))
    }

    /// One PUT, conditional as `mode` asks.
    async fn single_put(&self, key: &Key, value: Bytes, mode: &PutMode) -> Result<PutResult> {
        let path = self.path(key)?;
        let expected = match mode {
            PutMode::Update(v) => Some(v.as_str()),
            _ => None,
        };
        let mode = match mode {
            PutMode::Overwrite => OsPutMode::Overwrite,
            PutMode::Create => OsPutMode::Create,
            PutMode::Update(v) => OsPutMode::Update(UpdateVersion { e_tag: Some(v.to_string()), version: None }),
        };
        self.store
            .put_opts(&path, PutPayload::from(value), PutOptions { mode, ..Default::default() })
            .await
            .map_err(|e| self.context(Some(key), expected).map(e))
    }

    fn saved(&self, key: &Key, size: u64, put: PutResult) -> ObjectMeta {
        ObjectMeta {
            key: KeyBuf::from(key),
            size,
            version: Version::new(put.e_tag.unwrap_or_default()),
            modified: None,
        }
    }

    async fn start_multipart(&self, key: &Key) -> Result<Upload<'_>> {
        let path = self.path(key)?;
        let upload = self
            .within("save", Some(key), async {
                self.bulk
                    .put_multipart_opts(&path, PutMultipartOptions::default())
                    .await
                    .map_err(|e| self.context(Some(key), None).map(e))
            })
            .await?;
        Ok(Upload {
            inner: self,
            key: KeyBuf::from(key),
            upload: Some(upload),
            in_flight: FuturesUnordered::new(),
            concurrency: self.options.upload_concurrency.max(1),
        })
    }
}

/// A multipart upload in progress; aborted unless completed (see the module documentation).
struct Upload<'a> {
    inner: &'a Inner,
    key: KeyBuf,
    upload: Option<Box<dyn MultipartUpload>>,
    in_flight: FuturesUnordered<object_store::UploadPart>,
    concurrency: usize,
}

impl Upload<'_> {
    /// Sends a part, first waiting until fewer than `concurrency` are in flight.
    async fn send(&mut self, part: Bytes) -> Result<()> {
        while self.in_flight.len() >= self.concurrency {
            self.settle_one().await?;
        }
        let Some(upload) = self.upload.as_mut() else { return Err(self.gone()) };
        self.in_flight.push(upload.put_part(PutPayload::from(part)));
        Ok(())
    }

    /// Waits for one part in flight; a failed part aborts the upload.
    async fn settle_one(&mut self) -> Result<()> {
        let Some(done) = self.in_flight.next().await else { return Ok(()) };
        match done {
            Ok(()) => Ok(()),
            Err(e) => Err(self.abort(e).await),
        }
    }

    /// Waits for every part, then completes the upload (aborting it when that fails).
    async fn complete(mut self) -> Result<PutResult> {
        while !self.in_flight.is_empty() {
            self.settle_one().await?;
        }
        let Some(upload) = self.upload.as_mut() else { return Err(self.gone()) };
        let limit = self.inner.options.operation_timeout;
        let completed = match tokio::time::timeout(limit, upload.complete()).await {
            Ok(result) => result,
            Err(_) => {
                let e = self.inner.context(Some(&self.key), None).timed_out(limit, "completing a multipart save");
                self.abort_quietly().await;
                return Err(e);
            }
        };
        match completed {
            Ok(put) => {
                self.upload = None;
                Ok(put)
            }
            Err(e) => Err(self.abort(e).await),
        }
    }

    /// Aborts after `cause`, returning the store's error for it.
    async fn abort(&mut self, cause: object_store::Error) -> Error {
        let error = self.inner.context(Some(&self.key), None).map(cause);
        self.abort_quietly().await;
        error
    }

    async fn abort_quietly(&mut self) {
        self.in_flight.clear();
        if let Some(mut upload) = self.upload.take() {
            if let Err(e) = upload.abort().await {
                tracing::warn!(key = %self.key, error = %e, "cannot abort a failed multipart save; its parts stay \
                    until the bucket's lifecycle rule for incomplete uploads removes them");
            }
        }
    }

    fn gone(&self) -> Error {
        Error::Backend {
            backend: self.inner.name.clone(),
            message: format!("the multipart save of '{}' was already aborted", self.key),
            transient: false,
            source: None,
        }
    }
}

impl Drop for Upload<'_> {
    fn drop(&mut self) {
        // Dropped before completing or aborting: the save's future was dropped midway.
        self.in_flight.clear();
        let Some(mut upload) = self.upload.take() else { return };
        let key = self.key.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Err(e) = upload.abort().await {
                        tracing::warn!(key = %key, error = %e, "cannot abort a cancelled multipart save");
                    }
                });
            }
            Err(_) => tracing::warn!(key = %key, "a cancelled multipart save cannot be aborted outside a runtime"),
        }
    }
}
