//! Building a store: URL or backend, then limits, access, cache, outside layers and backend
//! options.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::Result;
use crate::options::{Access, CacheOptions, Limits};
use crate::raw::backend::Backend;
use crate::raw::layer::{AccessLayer, CacheLayer, LimitsLayer};
use crate::raw::registry::open_backend;
use crate::staging::Staging;
use crate::store::{ObjectStore, Shared};

/// Configures and opens an [`ObjectStore`]. Start with [`ObjectStore::builder`].
///
/// ```
/// use store_core::{Access, CacheOptions, CachePolicy, Limits, ObjectStore};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = ObjectStore::builder("memory://")
///     .limits(Limits { max_objects: Some(10_000), max_bytes: Some(1 << 30), ..Limits::default() })
///     .access(Access { delete: false, ..Access::default() })
///     .cache(CacheOptions { policy: CachePolicy::Trust, ..CacheOptions::default() })
///     .build()
///     .await?;
/// store.save("k", "v").await?;
/// assert!(store.delete("k").await.is_err());
/// # Ok::<(), store_core::Error>(()) }).unwrap();
/// ```
#[must_use = "a builder does nothing until build() is awaited"]
pub struct StoreBuilder {
    target: Target,
    limits: Limits,
    access: Access,
    cache: CacheOptions,
    options: Vec<(String, String)>,
    staging_dir: Option<PathBuf>,
    layers: Vec<Box<LayerFn>>,
}

/// Wraps a stack in an outside layer; see [`StoreBuilder::layer`].
type LayerFn = dyn Fn(Arc<dyn Backend>) -> Arc<dyn Backend> + Send + Sync;

enum Target {
    Url(String),
    Backend(Arc<dyn Backend>),
}

impl StoreBuilder {
    pub(crate) fn new(url: String) -> StoreBuilder {
        StoreBuilder {
            target: Target::Url(url),
            limits: Limits::default(),
            access: Access::default(),
            cache: CacheOptions::default(),
            options: Vec::new(),
            staging_dir: None,
            layers: Vec::new(),
        }
    }

    /// A builder over a backend made by the caller (for custom backends and tests).
    pub fn for_backend(backend: Arc<dyn Backend>) -> StoreBuilder {
        StoreBuilder { target: Target::Backend(backend), ..StoreBuilder::new(String::new()) }
    }

    /// Sets the limits (default: none).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the access (default: everything allowed).
    pub fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    /// Sets the read cache (default: 128 MiB, revalidated).
    pub fn cache(mut self, cache: CacheOptions) -> Self {
        self.cache = cache;
        self
    }

    /// Passes an option to the backend, as if it were in the URL's query (for example
    /// `("durability", "buffered")` for `file://`). Unknown options are refused by name.
    pub fn option(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.push((name.into(), value.into()));
        self
    }

    /// Where `get_file_path` stages files for backends whose objects are not files (default: a
    /// temporary folder removed with the store).
    pub fn staging_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.staging_dir = Some(dir.into());
        self
    }

    /// Puts an outside layer (one made by another crate, such as store-monitor's metrics) on top
    /// of the stack: `f` gets the stack built so far and returns the layer that wraps it.
    ///
    /// Outside layers go above every built-in layer (backend, limits, cache, access), so they
    /// see each call the facade makes exactly as it makes it: cache hits (including the no-I/O
    /// [`Backend::get_ready`] path of cached reads) and refused operations included. Several
    /// calls stack in call order: the first wraps the built-in stack, the last is the top. A
    /// layer sits on the hot path of cached reads, so its `get_ready` should cost a few
    /// nanoseconds.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use store_core::raw::{Backend, layer::AccessLayer};
    /// use store_core::{Access, ObjectStore};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let store = ObjectStore::builder("memory://")
    ///     .layer(|inner: Arc<dyn Backend>| -> Arc<dyn Backend> {
    ///         Arc::new(AccessLayer::new(inner, Access::READ_ONLY))
    ///     })
    ///     .build()
    ///     .await?;
    /// assert!(store.save("k", "v").await.is_err());
    /// # Ok::<(), store_core::Error>(()) }).unwrap();
    /// ```
    pub fn layer(mut self, f: impl Fn(Arc<dyn Backend>) -> Arc<dyn Backend> + Send + Sync + 'static) -> Self {
        self.layers.push(Box::new(f));
        self
    }

    /// Opens the backend and stacks the layers the options call for.
    pub async fn build(self) -> Result<ObjectStore> {
        let backend = match self.target {
            Target::Url(url) => open_backend(&url, self.options).await?,
            Target::Backend(backend) => backend,
        };
        let url = backend.name().to_string();
        let mut stack = backend;
        if !self.limits.is_unlimited() {
            stack = Arc::new(LimitsLayer::new(stack, self.limits).await?);
        }
        let mut cache = None;
        if self.cache.capacity_bytes > 0 {
            let layer = Arc::new(CacheLayer::new(stack, self.cache));
            cache = Some(layer.clone());
            stack = layer;
        }
        if !self.access.is_full() {
            stack = Arc::new(AccessLayer::new(stack, self.access));
        }
        for layer in &self.layers {
            stack = layer(stack);
        }
        Ok(ObjectStore::from_shared(Shared {
            url,
            stack,
            cache,
            limits: self.limits,
            access: self.access,
            staging: Arc::new(Staging::new(self.staging_dir)),
        }))
    }
}

/// Opens the store at `url` with default limits, access and cache.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = store_core::open("memory://").await?;
/// store.save_bytes("model.bin", vec![1u8, 2, 3]).await?;
/// assert_eq!(&store.read_bytes("model.bin").await?[..], &[1, 2, 3]);
/// # Ok::<(), store_core::Error>(()) }).unwrap();
/// ```
pub async fn open(url: &str) -> Result<ObjectStore> {
    ObjectStore::builder(url).build().await
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Mutex;

    use async_trait::async_trait;
    use bytes::Bytes;
    use futures::stream::BoxStream;

    use super::*;
    use crate::key::{Key, KeyBuf};
    use crate::options::{CacheOptions, CachePolicy};
    use crate::raw::backend::{
        ByteRange, ByteStream, Capabilities, GetOptions, GetResult, ObjectMeta, ObjectStream, PutMode, RangeRead,
        StoreLock, Usage, Version,
    };
    use crate::raw::ledger::UsageLedger;

    /// Records its tag for each call, then forwards it.
    #[derive(Debug)]
    struct Tagging {
        inner: Arc<dyn Backend>,
        tag: &'static str,
        log: Arc<Mutex<Vec<String>>>,
    }

    impl Tagging {
        fn log(&self, method: &str) {
            self.log.lock().unwrap().push(format!("{} {method}", self.tag));
        }
    }

    #[async_trait]
    impl Backend for Tagging {
        fn name(&self) -> &str {
            self.inner.name()
        }
        fn capabilities(&self) -> Capabilities {
            self.inner.capabilities()
        }
        async fn put(&self, key: &Key, value: Bytes, mode: &PutMode) -> Result<ObjectMeta> {
            self.log("put");
            self.inner.put(key, value, mode).await
        }
        async fn put_stream(
            &self,
            key: &Key,
            body: ByteStream,
            size: Option<u64>,
            mode: &PutMode,
        ) -> Result<ObjectMeta> {
            self.log("put_stream");
            self.inner.put_stream(key, body, size, mode).await
        }
        async fn get(&self, key: &Key, opts: &GetOptions) -> Result<GetResult> {
            self.log("get");
            self.inner.get(key, opts).await
        }
        async fn get_range(&self, key: &Key, range: &ByteRange, if_match: Option<&Version>) -> Result<RangeRead> {
            self.log("get_range");
            self.inner.get_range(key, range, if_match).await
        }
        async fn get_stream(
            &self,
            key: &Key,
            range: Option<&ByteRange>,
            if_match: Option<&Version>,
        ) -> Result<ObjectStream> {
            self.log("get_stream");
            self.inner.get_stream(key, range, if_match).await
        }
        fn get_ready(&self, key: &Key) -> Option<Bytes> {
            self.log("get_ready");
            self.inner.get_ready(key)
        }
        fn version_now(&self, key: &Key) -> Option<Result<Version>> {
            self.inner.version_now(key)
        }
        async fn head(&self, key: &Key) -> Result<ObjectMeta> {
            self.inner.head(key).await
        }
        async fn delete(&self, key: &Key, if_match: Option<&Version>) -> Result<()> {
            self.log("delete");
            self.inner.delete(key, if_match).await
        }
        fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>> {
            self.inner.list(prefix)
        }
        fn list_keys(&self, prefix: &str) -> BoxStream<'static, Result<KeyBuf>> {
            self.inner.list_keys(prefix)
        }
        async fn usage(&self) -> Result<Usage> {
            self.inner.usage().await
        }
        async fn local_path(&self, key: &Key, create_parents: bool) -> Result<Option<PathBuf>> {
            self.inner.local_path(key, create_parents).await
        }
        fn usage_ledger(&self) -> Option<Arc<dyn UsageLedger>> {
            self.inner.usage_ledger()
        }
        async fn lock_store(&self) -> Result<Option<StoreLock>> {
            self.inner.lock_store().await
        }
    }

    fn tagging(
        tag: &'static str,
        log: &Arc<Mutex<Vec<String>>>,
    ) -> impl Fn(Arc<dyn Backend>) -> Arc<dyn Backend> + Send + Sync + use<> {
        let log = log.clone();
        move |inner| Arc::new(Tagging { inner, tag, log: log.clone() })
    }

    #[tokio::test]
    async fn outside_layers_stack_in_call_order_above_the_cache_and_access() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let store = ObjectStore::builder("memory://")
            .cache(CacheOptions { policy: CachePolicy::Trust, ..CacheOptions::default() })
            .access(Access { delete: false, ..Access::default() })
            .layer(tagging("first", &log))
            .layer(tagging("second", &log))
            .build()
            .await
            .unwrap();
        assert_eq!(store.cache_stats().unwrap().hits, 0, "counting starts");
        store.save("k", "v").await.unwrap();
        // A cache hit is answered by get_ready, and still passes through both outside layers.
        assert_eq!(store.read("k").await.unwrap(), "v");
        // A refused delete is seen too: the outside layers sit above access.
        assert!(store.delete("k").await.is_err());
        let log = log.lock().unwrap().clone();
        assert_eq!(
            log,
            ["second put", "first put", "second get_ready", "first get_ready", "second delete", "first delete"]
        );
        assert_eq!(store.cache_stats().unwrap().hits, 1);
    }

    #[test]
    fn the_blocking_builder_takes_outside_layers_too() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let store = crate::blocking::builder("memory://").layer(tagging("only", &log)).build().unwrap();
        store.save("k", "v").unwrap();
        assert_eq!(log.lock().unwrap().as_slice(), ["only put"]);
        assert!(store.cache_stats().is_some());
        let uncached = crate::blocking::builder("memory://").cache(CacheOptions::DISABLED).build().unwrap();
        assert_eq!(uncached.cache_stats(), None);
    }
}
