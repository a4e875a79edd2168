//! [`ObjectStoreAdapter`] and its `object_store::ObjectStore` implementation: every trait method
//! forwarded explicitly to the facade (and so through the whole layer stack).

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyMode, CopyOptions, Error as OsError, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta as OsMeta,
    PutMode as OsPutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, RenameTargetMode,
    Result, UpdateVersion,
};

use super::error::{generic, to_object_store};
use super::multipart::{Staged, Upload};
use super::paths;
use crate::{ObjectMeta, ObjectStore, PutMode, Version};

/// How many deletes of a `delete_stream` run at once.
const DELETE_CONCURRENCY: usize = 10;

/// An objstore [`ObjectStore`] (any stack: local disk, S3, memory; with its cache, limits,
/// access and metrics layers; or a project view) as an `object_store::ObjectStore`.
///
/// Cheap to clone; clones share the store and the uploads of the
/// [`MultipartStore`](object_store::multipart::MultipartStore) API. See the [module
/// documentation](super) for what maps to what.
#[derive(Clone)]
pub struct ObjectStoreAdapter {
    pub(super) store: ObjectStore,
    /// Uploads started with `MultipartStore::create_multipart` and not yet completed or aborted.
    pub(super) staged: Arc<Staged>,
}

impl ObjectStoreAdapter {
    /// Wraps `store`. Paths are keys of `store` (of its project, for a project view).
    pub fn new(store: ObjectStore) -> ObjectStoreAdapter {
        ObjectStoreAdapter { store, staged: Arc::default() }
    }

    /// The wrapped store.
    pub fn store(&self) -> &ObjectStore {
        &self.store
    }

    /// The wrapped store, back.
    pub fn into_inner(self) -> ObjectStore {
        self.store
    }
}

impl fmt::Debug for ObjectStoreAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStoreAdapter").field("backend", &self.store.backend().name()).finish_non_exhaustive()
    }
}

impl fmt::Display for ObjectStoreAdapter {
    /// `ObjectStoreAdapter(NAME)`, with the backend's name (`s3://bucket/prefix`, never the
    /// credentials a URL's query may hold): data tools print their stores in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectStoreAdapter({})", self.store.backend().name())
    }
}

impl From<ObjectStore> for ObjectStoreAdapter {
    fn from(store: ObjectStore) -> ObjectStoreAdapter {
        ObjectStoreAdapter::new(store)
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl object_store::ObjectStore for ObjectStoreAdapter {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        // Tags are ignored, as the trait asks of stores without tagging; attributes are refused.
        let PutOptions { mode, tags: _, attributes, extensions: _ } = opts;
        if !attributes.is_empty() {
            return Err(not_implemented("put_opts with attributes (objstore keeps no attributes)"));
        }
        let key = paths::key(location)?;
        let mode = match mode {
            OsPutMode::Overwrite => PutMode::Overwrite,
            OsPutMode::Create => PutMode::Create,
            OsPutMode::Update(version) => PutMode::Update(expected_version(version, key)?),
        };
        let meta = self.store.save_bytes_with(key, Bytes::from(payload), mode).await;
        Ok(put_result(&meta.map_err(|e| to_object_store(e, key))?))
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        let PutMultipartOptions { tags: _, attributes, extensions: _ } = opts;
        if !attributes.is_empty() {
            return Err(not_implemented("put_multipart_opts with attributes (objstore keeps no attributes)"));
        }
        Ok(Box::new(Upload::new(self.store.clone(), location)?))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.read(location, &options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.read_ranges(location, ranges).await
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        let store = self.store.clone();
        locations
            .map(move |location| {
                let store = store.clone();
                async move {
                    let location = location?;
                    let key = paths::key(&location)?;
                    store.delete(key).await.map_err(|e| to_object_store(e, key))?;
                    Ok(location)
                }
            })
            .buffered(DELETE_CONCURRENCY)
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<OsMeta>> {
        self.list_from(prefix, None)
    }

    fn list_with_offset(&self, prefix: Option<&Path>, offset: &Path) -> BoxStream<'static, Result<OsMeta>> {
        self.list_from(prefix, Some(offset))
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.list_one_level(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        let CopyOptions { mode, extensions: _ } = options;
        let mode = match mode {
            CopyMode::Overwrite => PutMode::Overwrite,
            CopyMode::Create => PutMode::Create,
        };
        self.copy(from, to, mode).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        let RenameOptions { target_mode, extensions: _ } = options;
        let mode = match target_mode {
            RenameTargetMode::Overwrite => PutMode::Overwrite,
            RenameTargetMode::Create => PutMode::Create,
        };
        self.copy(from, to, mode).await?;
        let key = paths::key(from)?;
        match self.store.delete(key).await {
            // Someone else removed the source meanwhile: it has moved all the same.
            Ok(()) | Err(crate::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(to_object_store(e, key)),
        }
    }
}

impl ObjectStoreAdapter {
    /// Copies `from` to `to` within the store: a read and a save, both through every layer.
    async fn copy(&self, from: &Path, to: &Path, mode: PutMode) -> Result<()> {
        let (from_key, to_key) = (paths::key(from)?, paths::key(to)?);
        let bytes = self.store.read_bytes(from_key).await.map_err(|e| to_object_store(e, from_key))?;
        self.store.save_bytes_with(to_key, bytes, mode).await.map_err(|e| to_object_store(e, to_key))?;
        Ok(())
    }
}

/// The version a compare-and-swap expects: the e_tag this adapter handed out (objstore keeps one
/// version per key, so `version` is only a fallback for callers that kept nothing else).
fn expected_version(version: UpdateVersion, key: &str) -> Result<Version> {
    match version.e_tag.or(version.version) {
        Some(tag) => Ok(Version::new(tag)),
        None => Err(generic(format!(
            "cannot update '{key}' conditionally without the e_tag it was read or written with (PutMode::Update \
             needs UpdateVersion::e_tag)"
        ))),
    }
}

/// What a put answers: the new version as the e_tag (objstore has no object versioning, so no
/// `version`).
pub(super) fn put_result(meta: &ObjectMeta) -> PutResult {
    PutResult { e_tag: Some(meta.version.as_str().to_string()), version: None, extensions: Default::default() }
}

/// An objstore object's metadata as object_store's, at `location`.
pub(super) fn os_meta(meta: &ObjectMeta, location: Path) -> OsMeta {
    OsMeta {
        location,
        last_modified: meta.modified.map(DateTime::<Utc>::from).unwrap_or_default(),
        size: meta.size,
        e_tag: Some(meta.version.as_str().to_string()),
        version: None,
    }
}

/// The error for an option objstore cannot honour.
pub(super) fn not_implemented(operation: &str) -> OsError {
    OsError::NotImplemented {
        operation: operation.to_string(),
        implementer: "objstore::compat::ObjectStoreAdapter".into(),
    }
}

/// A stream with nothing in it.
pub(super) fn nothing<T: Send + 'static>() -> BoxStream<'static, Result<T>> {
    stream::empty().boxed()
}

/// `result`'s error mapped for `path`.
pub(super) fn at<T>(result: crate::Result<T>, path: &str) -> Result<T> {
    result.map_err(|e| to_object_store(e, path))
}
