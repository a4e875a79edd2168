//! A test layer that runs code of the test's choosing at a chosen moment of a Backend call: just
//! before a delete reaches the storage, or just after a listing ended. It makes races
//! deterministic: "another process saves this key between the manager's look and its delete".
//!
//! Every method forwards to the backend beneath; a hook runs at most once per arming.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::{BoxStream, StreamExt};
use store_core::raw::ledger::UsageLedger;
use store_core::raw::{Backend, ByteStream, StoreLock};
use store_core::{
    ByteRange, Capabilities, GetOptions, GetResult, Key, KeyBuf, ObjectMeta, ObjectStore, ObjectStream, PutMode,
    RangeRead, Result, StoreBuilder, Usage, Version,
};

/// Code a hook runs, given the key of the call that triggered it.
pub type HookFn = Box<dyn FnOnce(String) -> BoxFuture<'static, ()> + Send>;

/// Where hooks wait to be armed; shared by the test and the layer.
#[derive(Clone, Default)]
pub struct Hooks {
    before_delete: Arc<Mutex<Vec<(String, HookFn)>>>,
    after_list: Arc<Mutex<Option<HookFn>>>,
    /// Every call to `local_path`, by key (a scan must never open objects by path).
    pub local_paths: Arc<Mutex<Vec<String>>>,
}

impl Hooks {
    /// Runs `f` once, just before the first delete of a key that ends with `suffix` reaches the
    /// storage (the delete then proceeds as asked).
    pub fn before_delete(&self, suffix: &str, f: impl FnOnce(String) -> BoxFuture<'static, ()> + Send + 'static) {
        self.before_delete.lock().unwrap().push((suffix.to_string(), Box::new(f)));
    }

    /// Runs `f` once, after the next listing yielded its last entry (before the stream ends).
    pub fn after_list(&self, f: impl FnOnce(String) -> BoxFuture<'static, ()> + Send + 'static) {
        *self.after_list.lock().unwrap() = Some(Box::new(f));
    }

    /// A store on `url` with this layer on top.
    pub async fn store(&self, url: &str) -> ObjectStore {
        self.builder(url).build().await.unwrap()
    }

    /// A builder for a store on `url` with this layer on top (add more layers above it).
    pub fn builder(&self, url: &str) -> StoreBuilder {
        let hooks = self.clone();
        ObjectStore::builder(url).layer(move |inner: Arc<dyn Backend>| -> Arc<dyn Backend> {
            Arc::new(HookLayer { inner, hooks: hooks.clone() })
        })
    }
}

#[derive(Clone)]
struct HookLayer {
    inner: Arc<dyn Backend>,
    hooks: Hooks,
}

impl std::fmt::Debug for HookLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HookLayer")
    }
}

#[async_trait]
impl Backend for HookLayer {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn put(&self, key: &Key, value: Bytes, mode: &PutMode) -> Result<ObjectMeta> {
        self.inner.put(key, value, mode).await
    }
    async fn put_stream(&self, key: &Key, body: ByteStream, size: Option<u64>, mode: &PutMode) -> Result<ObjectMeta> {
        self.inner.put_stream(key, body, size, mode).await
    }
    async fn get(&self, key: &Key, opts: &GetOptions) -> Result<GetResult> {
        self.inner.get(key, opts).await
    }
    async fn get_range(&self, key: &Key, range: &ByteRange, if_match: Option<&Version>) -> Result<RangeRead> {
        self.inner.get_range(key, range, if_match).await
    }
    async fn get_stream(
        &self,
        key: &Key,
        range: Option<&ByteRange>,
        if_match: Option<&Version>,
    ) -> Result<ObjectStream> {
        self.inner.get_stream(key, range, if_match).await
    }
    fn get_ready(&self, key: &Key) -> Option<Bytes> {
        self.inner.get_ready(key)
    }
    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        self.inner.head(key).await
    }
    async fn delete(&self, key: &Key, if_match: Option<&Version>) -> Result<()> {
        let hook = {
            let mut armed = self.hooks.before_delete.lock().unwrap();
            armed.iter().position(|(suffix, _)| key.as_str().ends_with(suffix.as_str())).map(|i| armed.remove(i).1)
        };
        if let Some(hook) = hook {
            hook(key.to_string()).await;
        }
        self.inner.delete(key, if_match).await
    }
    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>> {
        let hooks = self.hooks.clone();
        let listed = prefix.to_string();
        let after = futures::stream::once(async move {
            let hook = hooks.after_list.lock().unwrap().take();
            if let Some(hook) = hook {
                hook(listed).await;
            }
        })
        .filter_map(|()| async { None });
        self.inner.list(prefix).chain(after).boxed()
    }
    fn list_keys(&self, prefix: &str) -> BoxStream<'static, Result<KeyBuf>> {
        self.inner.list_keys(prefix)
    }
    async fn usage(&self) -> Result<Usage> {
        self.inner.usage().await
    }
    async fn local_path(&self, key: &Key, create_parents: bool) -> Result<Option<PathBuf>> {
        self.hooks.local_paths.lock().unwrap().push(key.to_string());
        self.inner.local_path(key, create_parents).await
    }
    fn usage_ledger(&self) -> Option<Arc<dyn UsageLedger>> {
        self.inner.usage_ledger()
    }
    async fn lock_store(&self) -> Result<Option<StoreLock>> {
        self.inner.lock_store().await
    }
}
