//! Building a store: URL or backend, then limits, access, cache and backend options.

use std::path::PathBuf;
use std::sync::Arc;

use crate::backend::Backend;
use crate::error::Result;
use crate::layer::{AccessLayer, CacheLayer, LimitsLayer};
use crate::options::{Access, CacheOptions, Limits};
use crate::registry::open_backend;
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
}

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
