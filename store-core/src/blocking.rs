//! The same Object Store for synchronous code (a backtest loop that is not async).
//!
//! Every method blocks the calling thread until the operation is done. Backends do their I/O
//! right on that thread (no hand-off to a thread pool), so a small read costs about what
//! `std::fs::read` costs, and a cache hit needs no executor at all. Network backends run on a
//! small runtime owned by this module.
//!
//! Call it from ordinary threads. Called from inside async code it works (it never panics), but
//! it blocks that executor thread for the whole operation, as any blocking call would; async code
//! should use [`crate::ObjectStore`].
//!
//! ```
//! use store_core::blocking;
//! let store = blocking::open("memory://")?;   // or blocking::ObjectStore::open(..)
//! store.save("state/2024-01-02", "{\"equity\": 100000}")?;
//! assert!(store.contains_key("state/2024-01-02")?);
//! for entry in store.entries() {
//!     let (key, value) = entry?;
//!     println!("{key}: {} bytes", value.len());
//! }
//! # Ok::<(), store_core::Error>(())
//! ```

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use serde::Serialize;
use serde::de::DeserializeOwned;

use std::io::Read as _;

use crate::error::{Error, Result};
use crate::options::{Access, CacheOptions, Limits};
use crate::raw::backend::{Backend, ByteRange, Capabilities, Object, ObjectMeta, PutMode, RangeRead, Usage, Version};
use crate::raw::io::BlockingScope;
use crate::raw::layer::CacheStats;

/// A blocking handle on an [`crate::ObjectStore`]. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ObjectStore {
    inner: crate::ObjectStore,
}

/// Opens the store at `url` (see [`crate::open`]).
pub fn open(url: &str) -> Result<ObjectStore> {
    builder(url).build()
}

/// Starts building a blocking store (see [`crate::ObjectStore::builder`]).
pub fn builder(url: impl Into<String>) -> StoreBuilder {
    StoreBuilder { inner: crate::ObjectStore::builder(url) }
}

/// Builds a blocking [`ObjectStore`]; the same options as [`crate::StoreBuilder`].
#[must_use = "a builder does nothing until build() is called"]
pub struct StoreBuilder {
    inner: crate::StoreBuilder,
}

impl StoreBuilder {
    /// Sets the limits.
    pub fn limits(self, limits: Limits) -> Self {
        StoreBuilder { inner: self.inner.limits(limits) }
    }
    /// Sets the access.
    pub fn access(self, access: Access) -> Self {
        StoreBuilder { inner: self.inner.access(access) }
    }
    /// Sets the read cache.
    pub fn cache(self, cache: CacheOptions) -> Self {
        StoreBuilder { inner: self.inner.cache(cache) }
    }
    /// Passes an option to the backend.
    pub fn option(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        StoreBuilder { inner: self.inner.option(name, value) }
    }
    /// Sets the staging folder of `get_file_path`.
    pub fn staging_dir(self, dir: impl Into<PathBuf>) -> Self {
        StoreBuilder { inner: self.inner.staging_dir(dir) }
    }
    /// Puts an outside layer on top of the stack (see [`crate::StoreBuilder::layer`]).
    pub fn layer(self, f: impl Fn(Arc<dyn Backend>) -> Arc<dyn Backend> + Send + Sync + 'static) -> Self {
        StoreBuilder { inner: self.inner.layer(f) }
    }
    /// Opens the store.
    pub fn build(self) -> Result<ObjectStore> {
        Ok(ObjectStore { inner: run_result(self.inner.build())? })
    }
}

fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("objstore-blocking")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::io("cannot start the blocking facade's runtime", std::io::Error::other(e.clone())))
}

/// Runs `fut` to completion on this thread, with the module's runtime as context (for network
/// I/O and timers) and this thread marked as one that may block (for file I/O). This is how every
/// blocking method runs; crates above the store (the manager) use it for their blocking twins.
pub fn block_on<F: Future>(fut: F) -> Result<F::Output> {
    let runtime = runtime()?;
    let _context = runtime.enter();
    let _scope = BlockingScope::enter();
    Ok(futures::executor::block_on(fut))
}

fn run_result<T>(fut: impl Future<Output = Result<T>>) -> Result<T> {
    block_on(fut)?
}

impl ObjectStore {
    /// Opens the store at `url`; the same as [`open`].
    pub fn open(url: &str) -> Result<ObjectStore> {
        open(url)
    }

    /// Starts building a store; the same as [`builder`].
    pub fn builder(url: impl Into<String>) -> StoreBuilder {
        builder(url)
    }

    /// Wraps an async store.
    pub fn from_async(inner: crate::ObjectStore) -> ObjectStore {
        ObjectStore { inner }
    }

    /// The async store behind this handle.
    pub fn as_async(&self) -> &crate::ObjectStore {
        &self.inner
    }

    /// See [`crate::ObjectStore::save`].
    pub fn save(&self, key: &str, value: &str) -> Result<()> {
        run_result(self.inner.save(key, value))
    }
    /// See [`crate::ObjectStore::read`].
    pub fn read(&self, key: &str) -> Result<String> {
        run_result(self.inner.read(key))
    }
    /// See [`crate::ObjectStore::save_bytes`].
    pub fn save_bytes(&self, key: &str, value: impl Into<Bytes>) -> Result<()> {
        run_result(self.inner.save_bytes(key, value))
    }
    /// See [`crate::ObjectStore::save_bytes_with`].
    pub fn save_bytes_with(&self, key: &str, value: impl Into<Bytes>, mode: PutMode) -> Result<ObjectMeta> {
        run_result(self.inner.save_bytes_with(key, value, mode))
    }
    /// See [`crate::ObjectStore::read_bytes`].
    pub fn read_bytes(&self, key: &str) -> Result<Bytes> {
        // A cache hit needs no executor at all.
        match self.inner.read_bytes_ready(key)? {
            Some(bytes) => Ok(bytes),
            None => run_result(self.inner.read_bytes(key)),
        }
    }
    /// See [`crate::ObjectStore::read_bytes_into`]. On local disk the value is read into
    /// `alloc`'s memory on the calling thread.
    pub fn read_bytes_into(&self, key: &str, alloc: &dyn crate::raw::ValueAllocator) -> Result<Bytes> {
        match self.inner.read_bytes_ready(key)? {
            Some(bytes) => Ok(bytes),
            None => run_result(self.inner.read_bytes_into(key, alloc)),
        }
    }
    /// See [`crate::ObjectStore::read_to_file`].
    pub fn read_to_file(&self, key: &str, file: &std::fs::File) -> Result<ObjectMeta> {
        run_result(self.inner.read_to_file(key, file))
    }
    /// See [`crate::ObjectStore::read_object`].
    pub fn read_object(&self, key: &str) -> Result<Object> {
        run_result(self.inner.read_object(key))
    }
    /// See [`crate::ObjectStore::head`].
    pub fn head(&self, key: &str) -> Result<ObjectMeta> {
        run_result(self.inner.head(key))
    }
    /// See [`crate::ObjectStore::save_json`].
    pub fn save_json<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        run_result(self.inner.save_json(key, value))
    }
    /// See [`crate::ObjectStore::read_json`].
    pub fn read_json<T: DeserializeOwned>(&self, key: &str) -> Result<T> {
        run_result(self.inner.read_json(key))
    }
    /// See [`crate::ObjectStore::save_xml`].
    pub fn save_xml<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        run_result(self.inner.save_xml(key, value))
    }
    /// See [`crate::ObjectStore::read_xml`].
    pub fn read_xml<T: DeserializeOwned>(&self, key: &str) -> Result<T> {
        run_result(self.inner.read_xml(key))
    }
    /// See [`crate::ObjectStore::contains_key`].
    pub fn contains_key(&self, key: &str) -> Result<bool> {
        run_result(self.inner.contains_key(key))
    }
    /// See [`crate::ObjectStore::delete`].
    pub fn delete(&self, key: &str) -> Result<()> {
        run_result(self.inner.delete(key))
    }
    /// See [`crate::ObjectStore::delete_if_match`].
    pub fn delete_if_match(&self, key: &str, version: &Version) -> Result<()> {
        run_result(self.inner.delete_if_match(key, version))
    }
    /// See [`crate::ObjectStore::read_range`].
    pub fn read_range(&self, key: &str, range: impl Into<ByteRange>) -> Result<Bytes> {
        run_result(self.inner.read_range(key, range))
    }
    /// See [`crate::ObjectStore::read_range_with`].
    pub fn read_range_with(
        &self,
        key: &str,
        range: impl Into<ByteRange>,
        if_match: Option<&Version>,
    ) -> Result<RangeRead> {
        run_result(self.inner.read_range_with(key, range, if_match))
    }
    /// Copies `key`'s value into `writer` chunk by chunk (1 MiB on local disk), never holding it
    /// whole; returns the number of bytes written.
    pub fn read_to_writer<W: std::io::Write + ?Sized>(&self, key: &str, writer: &mut W) -> Result<u64> {
        run_result(async {
            let mut body = self.inner.read_stream(key, None).await?.body;
            let mut written = 0u64;
            while let Some(chunk) = body.next().await.transpose()? {
                writer.write_all(&chunk).map_err(|e| Error::io(format!("cannot write '{key}' out"), e))?;
                written += chunk.len() as u64;
            }
            writer.flush().map_err(|e| Error::io(format!("cannot write '{key}' out"), e))?;
            Ok(written)
        })
    }
    /// Saves what `reader` yields, read in chunks of 1 MiB and streamed into the store (see
    /// [`crate::ObjectStore::save_stream`]); `size`, when known, lets limits decide at once.
    pub fn save_from_reader<R: std::io::Read + Send + 'static>(
        &self,
        key: &str,
        reader: R,
        size: Option<u64>,
    ) -> Result<ObjectMeta> {
        let owned = key.to_string();
        // This thread may block: the reader is read right here, as the store asks for chunks.
        let body = futures::stream::unfold(Some(reader), move |state| {
            let key = owned.clone();
            async move {
                let mut reader = state?;
                let mut buf = Vec::with_capacity(crate::large_values::READ_CHUNK);
                match (&mut reader).take(crate::large_values::READ_CHUNK as u64).read_to_end(&mut buf) {
                    Ok(0) => None,
                    Ok(_) => Some((Ok(Bytes::from(buf)), Some(reader))),
                    Err(e) => Some((Err(Error::io(format!("cannot save '{key}': cannot read its source"), e)), None)),
                }
            }
        })
        .boxed();
        run_result(self.inner.save_stream(key, body, size))
    }
    /// See [`crate::ObjectStore::keys`].
    pub fn keys(&self) -> Result<Vec<String>> {
        run_result(self.inner.keys())
    }
    /// Every (key, value) pair, sorted, read lazily (see [`crate::ObjectStore::entries`]).
    pub fn entries(&self) -> Entries {
        Entries { stream: self.inner.entries().boxed() }
    }
    /// See [`crate::ObjectStore::get_file_path`].
    pub fn get_file_path(&self, key: &str) -> Result<PathBuf> {
        run_result(self.inner.get_file_path(key))
    }
    /// See [`crate::ObjectStore::save_from_file`].
    pub fn save_from_file(&self, key: &str) -> Result<()> {
        run_result(self.inner.save_from_file(key))
    }
    /// See [`crate::ObjectStore::persist`].
    pub fn persist(&self) -> Result<()> {
        run_result(self.inner.persist())
    }
    /// See [`crate::ObjectStore::clear`].
    pub fn clear(&self) {
        self.inner.clear()
    }
    /// See [`crate::ObjectStore::cache_stats`].
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.inner.cache_stats()
    }
    /// See [`crate::ObjectStore::cache_policy`].
    pub fn cache_policy(&self) -> Option<crate::CachePolicy> {
        self.inner.cache_policy()
    }
    /// See [`crate::ObjectStore::project`].
    pub fn project(&self, project_id: &str) -> ObjectStore {
        ObjectStore { inner: self.inner.project(project_id) }
    }
    /// See [`crate::ObjectStore::limits`].
    pub fn limits(&self) -> Limits {
        self.inner.limits()
    }
    /// See [`crate::ObjectStore::usage`].
    pub fn usage(&self) -> Result<Usage> {
        run_result(self.inner.usage())
    }
    /// See [`crate::ObjectStore::capabilities`].
    pub fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    /// See [`crate::ObjectStore::url`].
    pub fn url(&self) -> &str {
        self.inner.url()
    }
}

/// The iterator of [`ObjectStore::entries`].
pub struct Entries {
    stream: BoxStream<'static, Result<(String, Bytes)>>,
}

impl Iterator for Entries {
    type Item = Result<(String, Bytes)>;
    fn next(&mut self) -> Option<Self::Item> {
        match block_on(self.stream.next()) {
            Ok(item) => item,
            Err(e) => Some(Err(e)),
        }
    }
}
