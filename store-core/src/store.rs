//! The `ObjectStore` facade: LEAN's Object Store API in Rust form.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{self, Stream, StreamExt, TryStreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::builder::StoreBuilder;
use crate::error::{Error, Format, Result};
use crate::key::{Key, KeyBuf, normalise_prefix};
use crate::options::{Access, CachePolicy, Limits};
use crate::raw::backend::{
    Backend, Capabilities, GetOptions, GetResult, Object, ObjectMeta, PutMode, Usage, get_object,
};
use crate::raw::detach::{cancel_on_drop, to_completion};
use crate::raw::io::offload;
use crate::raw::layer::{CacheLayer, CacheStats};
use crate::raw::value_buffer::ValueAllocator;
use crate::staging::{Fingerprint, Staging};

/// How many values `entries()` reads ahead of the consumer.
const ENTRIES_READ_AHEAD: usize = 4;

/// A key-value Object Store. Cheap to clone; clones share the same storage, cache and limits.
///
/// ```
/// # tokio_test_block_on(async {
/// let store = store_core::open("memory://").await?;
/// store.save("greeting", "hello").await?;
/// assert_eq!(store.read("greeting").await?, "hello");
/// store.save_json("params/v1", &serde_json::json!({"lookback": 20})).await?;
/// assert_eq!(store.keys().await?, vec!["greeting", "params/v1"]);
/// # Ok::<(), store_core::Error>(()) });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Runtime::new().unwrap().block_on(f) }
/// ```
#[derive(Clone)]
pub struct ObjectStore {
    pub(crate) shared: Arc<Shared>,
    /// The project a view is scoped to: keys live under `{project}/`.
    project: Option<std::result::Result<KeyBuf, (String, String)>>,
}

pub(crate) struct Shared {
    pub(crate) url: String,
    pub(crate) stack: Arc<dyn Backend>,
    pub(crate) cache: Option<Arc<CacheLayer>>,
    pub(crate) limits: Limits,
    pub(crate) access: Access,
    pub(crate) staging: Arc<Staging>,
}

impl fmt::Debug for ObjectStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ObjectStore");
        d.field("url", &self.shared.url);
        if let Some(p) = &self.project {
            d.field("project", &p.as_ref().map(|k| k.as_str()).unwrap_or_else(|(k, _)| k.as_str()));
        }
        d.finish_non_exhaustive()
    }
}

impl ObjectStore {
    /// Starts building a store for `url` (`file:///abs/dir`, `file://rel/dir`, `memory://`, ...).
    pub fn builder(url: impl Into<String>) -> StoreBuilder {
        StoreBuilder::new(url.into())
    }

    pub(crate) fn from_shared(shared: Shared) -> ObjectStore {
        ObjectStore { shared: Arc::new(shared), project: None }
    }

    /// The URL (or backend name) this store was opened with.
    pub fn url(&self) -> &str {
        &self.shared.url
    }

    /// What the backend can do.
    pub fn capabilities(&self) -> Capabilities {
        self.shared.stack.capabilities()
    }

    /// The whole layer stack as a [`Backend`] (not scoped to a project view). For adapters and
    /// tools that speak the backend contract.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.shared.stack
    }

    /// The access this store was opened with.
    pub fn access(&self) -> Access {
        self.shared.access
    }

    /// The limits this store enforces.
    pub fn limits(&self) -> Limits {
        self.shared.limits
    }

    /// A view whose keys live under `{project_id}/`. Views share storage, cache and limits.
    /// An invalid project id makes every operation of the view fail with `InvalidKey`.
    pub fn project(&self, project_id: &str) -> ObjectStore {
        let parsed = match (&self.project, Key::parse(project_id)) {
            (Some(Err(e)), _) => Err(e.clone()),
            (_, Err(Error::InvalidKey { key, reason })) => Err((key, format!("bad project id: {reason}"))),
            (_, Err(other)) => Err((project_id.to_string(), other.to_string())),
            (None, Ok(id)) => Ok(id.into_owned()),
            (Some(Ok(outer)), Ok(id)) => {
                id.under(outer).map_err(|e| (project_id.to_string(), format!("bad project id: {e}")))
            }
        };
        ObjectStore { shared: self.shared.clone(), project: Some(parsed) }
    }

    /// This store with one more outside layer on top of its stack (as
    /// [`StoreBuilder::layer`](crate::StoreBuilder::layer) puts one, above every built-in
    /// layer), sharing its cache, limits and staging folder; a view stays the same view. For a
    /// tool handed a store that wants to observe it (the monitor's operation metrics).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use store_core::raw::{Backend, layer::AccessLayer};
    /// use store_core::Access;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let store = store_core::open("memory://").await?;
    /// store.save("k", "v").await?;
    /// let read_only = store.with_layer(|inner| -> Arc<dyn Backend> { Arc::new(AccessLayer::new(inner, Access::READ_ONLY)) });
    /// assert_eq!(read_only.read("k").await?, "v");
    /// assert!(read_only.save("k", "w").await.is_err());
    /// # Ok::<(), store_core::Error>(()) }).unwrap();
    /// ```
    pub fn with_layer(&self, f: impl FnOnce(Arc<dyn Backend>) -> Arc<dyn Backend>) -> ObjectStore {
        let shared = Shared {
            url: self.shared.url.clone(),
            stack: f(self.shared.stack.clone()),
            cache: self.shared.cache.clone(),
            limits: self.shared.limits,
            access: self.shared.access,
            staging: self.shared.staging.clone(),
        };
        ObjectStore { shared: Arc::new(shared), project: self.project.clone() }
    }

    /// The project this view is scoped to (nested views joined with `/`, as its keys are
    /// stored: `store.project("a").project("b")` is `"a/b"`), or `None` for the whole store.
    /// An invalid project id is given as it was written.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let store = store_core::open("memory://").await?;
    /// assert_eq!(store.project_id(), None);
    /// assert_eq!(store.project("managed").project_id(), Some("managed"));
    /// # Ok::<(), store_core::Error>(()) }).unwrap();
    /// ```
    pub fn project_id(&self) -> Option<&str> {
        match &self.project {
            None => None,
            Some(Ok(project)) => Some(project.as_str()),
            Some(Err((given, _))) => Some(given.as_str()),
        }
    }

    /// The project prefix of a view (with a trailing `/`), or `""`.
    fn prefix(&self) -> Result<String> {
        match &self.project {
            None => Ok(String::new()),
            Some(Ok(p)) => Ok(format!("{p}/")),
            Some(Err((key, reason))) => Err(Error::InvalidKey { key: key.clone(), reason: reason.clone() }),
        }
    }

    /// Normalises `key` and places it in the view's project.
    pub(crate) fn key<'a>(&self, key: &'a str) -> Result<Cow<'a, Key>> {
        let parsed = Key::parse(key)?;
        match &self.project {
            None => Ok(parsed),
            Some(Ok(project)) => Ok(Cow::Owned(parsed.under(project)?)),
            Some(Err((key, reason))) => Err(Error::InvalidKey { key: key.clone(), reason: reason.clone() }),
        }
    }

    /// A key as the view's user knows it (without the project prefix).
    fn local_key(&self, full: KeyBuf) -> KeyBuf {
        match &self.project {
            Some(Ok(p)) => match full.as_str().strip_prefix(p.as_str()).and_then(|r| r.strip_prefix('/')) {
                Some(rest) => KeyBuf::from_valid(rest),
                None => full,
            },
            _ => full,
        }
    }

    /// Metadata as the view's user knows it (the key without the project prefix).
    pub(crate) fn local_meta(&self, meta: ObjectMeta) -> ObjectMeta {
        ObjectMeta { key: self.local_key(meta.key), ..meta }
    }

    // ----- writes that end once started -------------------------------------------------

    /// `put` on the stack, run to its end even if this call's future is dropped (a timeout): the
    /// write lands anyway on local disk, so the layers' bookkeeping (room held in the usage
    /// ledger, the cache) must follow it (see [`crate::raw::detach`]).
    pub(crate) async fn put_to_end(&self, key: &Key, value: Bytes, mode: &PutMode) -> Result<ObjectMeta> {
        let (stack, key, mode) = (self.shared.stack.clone(), KeyBuf::from(key), mode.clone());
        to_completion(async move { stack.put(&key, value, &mode).await }).await
    }

    /// `put_stream` on the stack, like [`ObjectStore::put_to_end`]; a stream not yet ended when
    /// the call is dropped fails, and nothing is saved.
    pub(crate) async fn put_stream_to_end(
        &self,
        key: &Key,
        body: crate::raw::ByteStream,
        size: Option<u64>,
        mode: &PutMode,
    ) -> Result<ObjectMeta> {
        let (stack, key, mode) = (self.shared.stack.clone(), KeyBuf::from(key), mode.clone());
        let (body, _cancel) = cancel_on_drop(body);
        to_completion(async move { stack.put_stream(&key, body, size, &mode).await }).await
    }

    /// `put_in_place` on the stack (the key's own file, of `size` bytes), like
    /// [`ObjectStore::put_to_end`].
    async fn put_in_place_to_end(&self, key: &Key, size: u64) -> Result<ObjectMeta> {
        let (stack, key) = (self.shared.stack.clone(), KeyBuf::from(key));
        to_completion(async move { stack.put_in_place(&key, size, &PutMode::Overwrite).await }).await
    }

    /// `delete` on the stack, like [`ObjectStore::put_to_end`].
    pub(crate) async fn delete_to_end(&self, key: &Key, if_match: Option<&crate::Version>) -> Result<()> {
        let (stack, key, if_match) = (self.shared.stack.clone(), KeyBuf::from(key), if_match.cloned());
        to_completion(async move { stack.delete(&key, if_match.as_ref()).await }).await
    }

    // ----- bytes -------------------------------------------------------------------------

    /// Saves bytes under `key`, replacing any value. Returns once the value is durable.
    pub async fn save_bytes(&self, key: &str, value: impl Into<Bytes>) -> Result<()> {
        self.save_bytes_with(key, value, PutMode::Overwrite).await.map(|_| ())
    }

    /// Saves bytes with a [`PutMode`]: create-only, or compare-and-swap on a version read
    /// earlier. Returns the new object's metadata (its version is what a later swap expects).
    pub async fn save_bytes_with(&self, key: &str, value: impl Into<Bytes>, mode: PutMode) -> Result<ObjectMeta> {
        let key = self.key(key)?;
        let meta = self.put_to_end(&key, value.into(), &mode).await?;
        Ok(ObjectMeta { key: self.local_key(meta.key), ..meta })
    }

    /// Reads the bytes under `key`; `NotFound` when there are none.
    pub async fn read_bytes(&self, key: &str) -> Result<Bytes> {
        cooperate().await;
        let key = self.key(key)?;
        if let Some(bytes) = self.shared.stack.get_ready(&key) {
            return Ok(bytes);
        }
        Ok(get_object(&*self.shared.stack, &key).await?.bytes)
    }

    /// Reads the bytes under `key` into memory that `alloc` gives, when the backend can read into
    /// it (local disk on a thread that may block; see [`crate::raw::value_buffer`]): for a caller
    /// that hands values on in buffers of its own kind and would otherwise copy each one (the
    /// Python module's `bytes`). Whether the answer lives in `alloc`'s memory or not, it is the
    /// value: a cache hit, a remote backend or a declined allocation give bytes of their own.
    pub async fn read_bytes_into(&self, key: &str, alloc: &dyn ValueAllocator) -> Result<Bytes> {
        cooperate().await;
        let key = self.key(key)?;
        if let Some(bytes) = self.shared.stack.get_ready(&key) {
            return Ok(bytes);
        }
        Ok(self.shared.stack.get_into(&key, alloc).await?.bytes)
    }

    /// The bytes under `key` when the stack can answer without waiting (a fresh cache hit, or a
    /// cached value confirmed by one `stat` on local disk), else `None` (which never means "absent": call [`ObjectStore::read_bytes`]). For
    /// callers that pay to hand work to another thread or release a lock first (the blocking
    /// facade, the Python module).
    pub fn read_bytes_ready(&self, key: &str) -> Result<Option<Bytes>> {
        let key = self.key(key)?;
        Ok(self.shared.stack.get_ready(&key))
    }

    /// Reads a value together with its metadata (its version is the one of exactly these bytes).
    pub async fn read_object(&self, key: &str) -> Result<Object> {
        cooperate().await;
        let key = self.key(key)?;
        let object = get_object(&*self.shared.stack, &key).await?;
        Ok(Object { meta: ObjectMeta { key: self.local_key(object.meta.key), ..object.meta }, ..object })
    }

    /// A read with [`GetOptions`]: [`GetResult::NotModified`] when `opts.if_none_match` is still
    /// the current version (a conditional read, as cheap as the backend makes it: a cache hit, a
    /// stat on disk, a 304 on S3), else the value with its metadata. For adapters and caches of
    /// their own that keep versions.
    pub async fn read_object_with(&self, key: &str, opts: &GetOptions) -> Result<GetResult> {
        cooperate().await;
        let key = self.key(key)?;
        Ok(match self.shared.stack.get(&key, opts).await? {
            GetResult::Found(object) => GetResult::Found(Object {
                meta: ObjectMeta { key: self.local_key(object.meta.key), ..object.meta },
                ..object
            }),
            GetResult::NotModified => GetResult::NotModified,
        })
    }

    /// The metadata of the object under `key` (size, version, modification time).
    pub async fn head(&self, key: &str) -> Result<ObjectMeta> {
        cooperate().await;
        let key = self.key(key)?;
        let meta = self.shared.stack.head(&key).await?;
        Ok(ObjectMeta { key: self.local_key(meta.key), ..meta })
    }

    // ----- text, JSON, XML ---------------------------------------------------------------

    /// Saves UTF-8 text.
    pub async fn save(&self, key: &str, value: &str) -> Result<()> {
        self.save_bytes(key, Bytes::copy_from_slice(value.as_bytes())).await
    }

    /// Reads UTF-8 text; `Serialization` when the value is not UTF-8.
    pub async fn read(&self, key: &str) -> Result<String> {
        let bytes = self.read_bytes(key).await?;
        match std::str::from_utf8(&bytes) {
            Ok(text) => Ok(text.to_string()),
            Err(e) => Err(decode_error(key, Format::Utf8, e)),
        }
    }

    /// Serialises `value` as JSON and saves it.
    pub async fn save_json<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        let json = serde_json::to_vec(value).map_err(|e| encode_error(key, Format::Json, e))?;
        self.save_bytes(key, json).await
    }

    /// Reads and deserialises JSON.
    pub async fn read_json<T: DeserializeOwned>(&self, key: &str) -> Result<T> {
        let bytes = self.read_bytes(key).await?;
        serde_json::from_slice(&bytes).map_err(|e| decode_error(key, Format::Json, e))
    }

    /// Serialises `value` as XML (quick-xml's serde; the root element is the type's name) and
    /// saves it.
    pub async fn save_xml<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        let xml = quick_xml::se::to_string(value).map_err(|e| encode_error(key, Format::Xml, e))?;
        self.save_bytes(key, xml).await
    }

    /// Reads and deserialises XML.
    pub async fn read_xml<T: DeserializeOwned>(&self, key: &str) -> Result<T> {
        let bytes = self.read_bytes(key).await?;
        let text = std::str::from_utf8(&bytes).map_err(|e| decode_error(key, Format::Xml, e))?;
        quick_xml::de::from_str(text).map_err(|e| decode_error(key, Format::Xml, e))
    }

    // ----- keys --------------------------------------------------------------------------

    /// True when an object exists under `key` (including files other programs put there).
    pub async fn contains_key(&self, key: &str) -> Result<bool> {
        cooperate().await;
        let key = self.key(key)?;
        match self.shared.stack.head(&key).await {
            Ok(_) => Ok(true),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes the object under `key`; `NotFound` when there is none.
    pub async fn delete(&self, key: &str) -> Result<()> {
        let key = self.key(key)?;
        self.delete_to_end(&key, None).await
    }

    /// Every key, sorted, with `/` separators.
    pub async fn keys(&self) -> Result<Vec<String>> {
        self.list_keys("").map_ok(String::from).try_collect().await
    }

    /// The keys starting with `prefix` (a string prefix, not only a folder), sorted, streamed.
    pub fn list_keys(&self, prefix: &str) -> impl Stream<Item = Result<KeyBuf>> + Send + Unpin + use<> {
        let this = self.clone();
        match self.scoped_prefix(prefix) {
            Ok(prefix) => self.shared.stack.list_keys(&prefix).map_ok(move |k| this.local_key(k)).boxed(),
            Err(e) => stream::once(async move { Err(e) }).boxed(),
        }
    }

    /// The metadata of every object whose key starts with `prefix`, sorted, streamed.
    pub fn list(&self, prefix: &str) -> impl Stream<Item = Result<ObjectMeta>> + Send + Unpin + use<> {
        let this = self.clone();
        match self.scoped_prefix(prefix) {
            Ok(prefix) => {
                self.shared.stack.list(&prefix).map_ok(move |m| ObjectMeta { key: this.local_key(m.key), ..m }).boxed()
            }
            Err(e) => stream::once(async move { Err(e) }).boxed(),
        }
    }

    fn scoped_prefix(&self, prefix: &str) -> Result<String> {
        Ok(format!("{}{}", self.prefix()?, normalise_prefix(prefix)?))
    }

    /// Every (key, value) pair, sorted by key, read lazily: only a few values are in memory at
    /// once. Objects deleted while the stream runs are skipped.
    pub fn entries(&self) -> impl Stream<Item = Result<(String, Bytes)>> + Send + Unpin + use<> {
        let this = self.clone();
        self.list_keys("")
            .map(move |key| {
                let this = this.clone();
                async move {
                    let key = key?;
                    match this.read_bytes(key.as_str()).await {
                        Ok(bytes) => Ok(Some((String::from(key), bytes))),
                        Err(Error::NotFound { .. }) => Ok(None),
                        Err(e) => Err(e),
                    }
                }
            })
            .buffered(ENTRIES_READ_AHEAD)
            .try_filter_map(|entry| async move { Ok(entry) })
            .boxed()
    }

    /// How much the store (or this project view) holds, counted now.
    pub async fn usage(&self) -> Result<Usage> {
        if self.project.is_none() {
            return self.shared.stack.usage().await;
        }
        let prefix = self.prefix()?;
        self.shared
            .stack
            .list(&prefix)
            .try_fold(
                Usage::default(),
                |u, m| async move { Ok(Usage { bytes: u.bytes + m.size, objects: u.objects + 1 }) },
            )
            .await
    }

    // ----- files -------------------------------------------------------------------------

    /// A local file path for `key`, with its parent folders created. The file holds the current
    /// value when the key exists; a new key gets a path with no file (and is not an object until
    /// content is saved: no phantom keys).
    ///
    /// On local disk the path is the object itself: writing it changes the value (call
    /// [`ObjectStore::save_from_file`] to make the write durable and count it against limits).
    /// Elsewhere the path is a staged copy; [`ObjectStore::persist`] or `save_from_file` uploads it.
    /// A handle without write access gets a staged copy on local disk too, so that writing the
    /// file cannot change the value behind its back.
    pub async fn get_file_path(&self, key: &str) -> Result<PathBuf> {
        let key = self.key(key)?;
        let in_place = if self.shared.access.write { self.shared.stack.local_path(&key, true).await? } else { None };
        if let Some(path) = in_place {
            // The caller is likely to write the file in place: do not serve a cached copy.
            if let Some(cache) = &self.shared.cache {
                cache.forget(&key);
            }
            return Ok(path);
        }
        let current = match get_object(&*self.shared.stack, &key).await {
            Ok(object) => Some(object.bytes),
            Err(Error::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        self.shared.staging.hand_out(&key, current).await
    }

    /// The file that holds `key`'s value when objects are files (local disk), else `None`.
    /// Unlike [`ObjectStore::get_file_path`] it creates no folder and leaves the cache alone: for
    /// tools that read part of an object in place (the manager reads only an object's header).
    /// The path never leaves the store's root; the file may be gone by the time it is opened.
    pub async fn local_file(&self, key: &str) -> Result<Option<PathBuf>> {
        let key = self.key(key)?;
        self.shared.stack.local_path(&key, false).await
    }

    /// Saves what the file at [`ObjectStore::get_file_path`]`(key)` holds as `key`'s value (LEAN's
    /// `Save(key)`). `NotFound` when there is no such file. The file streams into the store in
    /// chunks (a 400 MB model costs a few MiB of memory, not 400 MB).
    ///
    /// With limits, a file written in place counts as replacing what the key held when this
    /// handle handed out its path: a key that had no object counts as a new object, growth in
    /// place as growth. When a limit refuses a key that had no object, its file is removed (it
    /// was never admitted); a key that had one keeps the file written in place (its old value is
    /// gone) and the error says the limit it passes.
    pub async fn save_from_file(&self, key: &str) -> Result<()> {
        let full = self.key(key)?;
        let path = match self.shared.stack.local_path(&full, false).await? {
            Some(path) => {
                // The file is the object itself, written in place. The backend reads it, never
                // this process by path: it stays beneath the root even if a folder on the way is
                // swapped for a symlink meanwhile, and reads only regular files (a FIFO would
                // block a plain read forever). The cache may hold what was there before.
                if let Some(cache) = &self.shared.cache {
                    cache.forget(&full);
                }
                match self.shared.stack.head(&full).await {
                    Ok(current) => {
                        self.put_in_place_to_end(&full, current.size).await?;
                        return Ok(());
                    }
                    Err(e) if e.is_not_found() => path,
                    Err(e) => return Err(e),
                }
            }
            None => {
                let path = self.shared.staging.path(&full)?;
                let hasher = Arc::new(std::sync::Mutex::new(xxhash_rust::xxh3::Xxh3::new()));
                if let Some(saved) = self.save_staged(&full, &path, hasher.clone()).await? {
                    let hash = hasher.lock().unwrap_or_else(|p| p.into_inner()).digest();
                    self.shared.staging.synced_as(&full, Fingerprint::Content { len: saved.size, hash }).await?;
                    return Ok(());
                }
                path
            }
        };
        Err(Error::io(
            format!(
                "cannot save '{key}' from {}: there is no file; call get_file_path() and write it first",
                path.display()
            ),
            std::io::ErrorKind::NotFound.into(),
        ))
    }

    /// Streams the staged file at `path` into `key`, hashing it on the way (for the staging
    /// fingerprint); `None` when there is no file.
    async fn save_staged(
        &self,
        full: &Key,
        path: &std::path::Path,
        hasher: Arc<std::sync::Mutex<xxhash_rust::xxh3::Xxh3>>,
    ) -> Result<Option<ObjectMeta>> {
        let open_path = path.to_path_buf();
        let opened = offload(move || match std::fs::File::open(&open_path) {
            Ok(file) => {
                let size = file
                    .metadata()
                    .map(|m| m.len())
                    .map_err(|e| Error::io(format!("cannot read {}", open_path.display()), e))?;
                Ok(Some((file, size)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("cannot read {}", open_path.display()), e)),
        })
        .await?;
        let Some((file, size)) = opened else { return Ok(None) };
        let body = crate::large_values::file_stream(file, path.to_path_buf())
            .inspect(move |chunk| {
                if let Ok(chunk) = chunk {
                    hasher.lock().unwrap_or_else(|p| p.into_inner()).update(chunk);
                }
            })
            .boxed();
        Ok(Some(self.put_stream_to_end(full, body, Some(size), &PutMode::Overwrite).await?))
    }

    /// Uploads every staged file (see [`ObjectStore::get_file_path`]) created or changed since it
    /// was handed out or last persisted, and only those. A no-op on local disk.
    pub async fn persist(&self) -> Result<()> {
        for (key, bytes) in self.shared.staging.changed().await? {
            self.put_to_end(&key, bytes.clone(), &PutMode::Overwrite).await?;
            self.shared.staging.synced(&key, &bytes).await?;
        }
        Ok(())
    }

    /// Drops every cached value. Nothing stored is deleted.
    pub fn clear(&self) {
        if let Some(cache) = &self.shared.cache {
            cache.clear();
        }
    }

    /// The read cache's counters (hits, misses, evictions) and what it holds (bytes, entries),
    /// or `None` when the store has no cache. Shared by every view and clone of the store; see
    /// [`CacheStats`] for what counts as a hit. For monitoring: each call settles the cache's
    /// pending housekeeping.
    ///
    /// Hits and misses are counted from the first call on (so a store nobody watches does not
    /// pay for counting on every cached read); call it once when you start watching, as a
    /// monitor does when it is made.
    ///
    /// ```
    /// use store_core::{CacheOptions, CachePolicy, ObjectStore};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let trust = CacheOptions { policy: CachePolicy::Trust, ..CacheOptions::default() };
    /// let store = ObjectStore::builder("memory://").cache(trust).build().await?;
    /// assert_eq!(store.cache_stats().unwrap().hits, 0); // starts counting
    /// store.save("k", "v").await?;
    /// store.read("k").await?;
    /// let stats = store.cache_stats().unwrap();
    /// assert_eq!((stats.hits, stats.misses, stats.entries), (1, 0, 1));
    /// # Ok::<(), store_core::Error>(()) }).unwrap();
    /// ```
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.shared.cache.as_ref().map(|cache| cache.stats())
    }

    /// When cached values are served ([`CachePolicy`]), or `None` without a cache. A caller that
    /// must not wait while it holds a lock (the Python module and its GIL) asks
    /// [`ObjectStore::read_bytes_ready`] only under `Trust`: under the other policies a ready
    /// answer may first `stat` the file.
    pub fn cache_policy(&self) -> Option<CachePolicy> {
        self.shared.cache.as_ref().map(|cache| cache.policy())
    }
}

/// A yield point for reads that may complete without ever waiting: a cache hit, or a small file
/// read inline on local disk. Without it a task reading in a loop never gives its thread back,
/// and on a small runtime other tasks (saves) starve. It consumes one unit of tokio's
/// cooperative budget and yields only when the task has used it all up (outside a tokio runtime
/// it does nothing).
async fn cooperate() {
    tokio::task::consume_budget().await;
}

fn encode_error(key: &str, format: Format, e: impl fmt::Display) -> Error {
    Error::Serialization { key: key.to_string(), format, writing: true, message: e.to_string() }
}

fn decode_error(key: &str, format: Format, e: impl fmt::Display) -> Error {
    Error::Serialization { key: key.to_string(), format, writing: false, message: e.to_string() }
}

#[cfg(test)]
mod tests {
    /// The contract: both facades are cheap to clone and shareable between threads.
    #[test]
    fn facades_are_clone_send_sync() {
        fn shareable<T: Clone + Send + Sync + 'static>() {}
        shareable::<super::ObjectStore>();
        shareable::<crate::blocking::ObjectStore>();
    }
}
