//! Permissions: refuses what [`Access`] does not allow, before anything reaches storage.
//!
//! Read covers gets (whole, ranged, streamed), head, listing and local paths; write covers puts
//! (whole and streamed); delete covers deletes (conditional or not).
//! Usage figures stay readable for monitoring, and the store lock passes through.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};

use crate::error::{Error, Operation, Result};
use crate::key::{Key, KeyBuf};
use crate::options::Access;
use crate::raw::backend::{
    Backend, ByteRange, ByteStream, Capabilities, GetOptions, GetResult, Object, ObjectMeta, ObjectStream, PutMode,
    RangeRead, StoreLock, Usage, Version,
};
use crate::raw::ledger::UsageLedger;
use crate::raw::value_buffer::ValueAllocator;

/// A [`Backend`] that enforces [`Access`].
#[derive(Debug)]
pub struct AccessLayer {
    inner: Arc<dyn Backend>,
    access: Access,
}

impl AccessLayer {
    /// Wraps `inner`, allowing what `access` allows.
    pub fn new(inner: Arc<dyn Backend>, access: Access) -> AccessLayer {
        AccessLayer { inner, access }
    }

    fn allow(&self, operation: Operation) -> Result<()> {
        let allowed = match operation {
            Operation::Read => self.access.read,
            Operation::Write => self.access.write,
            Operation::Delete => self.access.delete,
        };
        if allowed { Ok(()) } else { Err(Error::PermissionDenied { operation, reason: None }) }
    }

    fn refused_stream<T: Send + 'static>(&self) -> Option<BoxStream<'static, Result<T>>> {
        self.allow(Operation::Read).err().map(|e| stream::once(async move { Err(e) }).boxed())
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl Backend for AccessLayer {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn put(&self, key: &Key, value: Bytes, mode: &PutMode) -> Result<ObjectMeta> {
        self.allow(Operation::Write)?;
        self.inner.put(key, value, mode).await
    }

    async fn put_stream(&self, key: &Key, body: ByteStream, size: Option<u64>, mode: &PutMode) -> Result<ObjectMeta> {
        self.allow(Operation::Write)?;
        self.inner.put_stream(key, body, size, mode).await
    }

    async fn get(&self, key: &Key, opts: &GetOptions) -> Result<GetResult> {
        self.allow(Operation::Read)?;
        self.inner.get(key, opts).await
    }

    async fn put_in_place(&self, key: &Key, size: u64, mode: &PutMode) -> Result<ObjectMeta> {
        self.allow(Operation::Write)?;
        self.inner.put_in_place(key, size, mode).await
    }

    async fn get_to_file(&self, key: &Key, file: Arc<std::fs::File>) -> Result<ObjectMeta> {
        self.allow(Operation::Read)?;
        self.inner.get_to_file(key, file).await
    }

    async fn get_into(&self, key: &Key, alloc: &dyn ValueAllocator) -> Result<Object> {
        self.allow(Operation::Read)?;
        self.inner.get_into(key, alloc).await
    }

    async fn get_range(&self, key: &Key, range: &ByteRange, if_match: Option<&Version>) -> Result<RangeRead> {
        self.allow(Operation::Read)?;
        self.inner.get_range(key, range, if_match).await
    }

    async fn get_stream(
        &self,
        key: &Key,
        range: Option<&ByteRange>,
        if_match: Option<&Version>,
    ) -> Result<ObjectStream> {
        self.allow(Operation::Read)?;
        self.inner.get_stream(key, range, if_match).await
    }

    fn get_ready(&self, key: &Key) -> Option<Bytes> {
        // Without read permission, let get() answer with the refusal.
        if self.access.read { self.inner.get_ready(key) } else { None }
    }

    fn version_now(&self, key: &Key) -> Option<Result<Version>> {
        // Without read permission, let get() answer with the refusal.
        if self.access.read { self.inner.version_now(key) } else { None }
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        self.allow(Operation::Read)?;
        self.inner.head(key).await
    }

    async fn delete(&self, key: &Key, if_match: Option<&Version>) -> Result<()> {
        self.allow(Operation::Delete)?;
        self.inner.delete(key, if_match).await
    }

    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>> {
        self.refused_stream().unwrap_or_else(|| self.inner.list(prefix))
    }

    fn list_keys(&self, prefix: &str) -> BoxStream<'static, Result<KeyBuf>> {
        self.refused_stream().unwrap_or_else(|| self.inner.list_keys(prefix))
    }

    async fn usage(&self) -> Result<Usage> {
        self.inner.usage().await
    }

    async fn local_path(&self, key: &Key, create_parents: bool) -> Result<Option<PathBuf>> {
        self.allow(Operation::Read)?;
        self.inner.local_path(key, create_parents).await
    }

    fn usage_ledger(&self) -> Option<Arc<dyn UsageLedger>> {
        self.inner.usage_ledger()
    }

    async fn lock_store(&self) -> Result<Option<StoreLock>> {
        self.inner.lock_store().await
    }
}
