//! What the `object_store::ObjectStore` trait itself costs a get: [`OneValue`], a store that
//! holds a single value in a field and answers every get with it, doing nothing but what the
//! trait's types require of any implementation (the boxed future `async_trait` makes, the
//! `Path` and the `e_tag` `String` of the `ObjectMeta`, the boxed payload stream, and collecting
//! it with `GetResult::bytes`). `compat.rs` sets it beside the facade's `read_object`: the share
//! of a facade cache hit that the trait's own types take, before the adapter does any work.

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta, PutMultipartOptions,
    PutOptions, PutPayload, PutResult, Result,
};

/// One value, served for every path; every other operation is refused.
#[derive(Debug)]
pub struct OneValue {
    value: Bytes,
    e_tag: String,
    modified: DateTime<Utc>,
}

impl OneValue {
    pub fn new(value: Bytes) -> OneValue {
        OneValue { value, e_tag: "1".into(), modified: Utc::now() }
    }
}

impl std::fmt::Display for OneValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OneValue")
    }
}

fn refused<T>() -> Result<T> {
    Err(object_store::Error::NotImplemented { operation: "anything but get".into(), implementer: "OneValue".into() })
}

#[async_trait]
impl object_store::ObjectStore for OneValue {
    async fn put_opts(&self, _: &Path, _: PutPayload, _: PutOptions) -> Result<PutResult> {
        refused()
    }

    async fn put_multipart_opts(&self, _: &Path, _: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        refused()
    }

    async fn get_opts(&self, location: &Path, _: GetOptions) -> Result<GetResult> {
        let size = self.value.len() as u64;
        let meta = ObjectMeta {
            location: location.clone(),
            last_modified: self.modified,
            size,
            e_tag: Some(self.e_tag.clone()),
            version: None,
        };
        let value = self.value.clone();
        Ok(GetResult {
            payload: GetResultPayload::Stream(stream::once(async move { Ok(value) }).boxed()),
            meta,
            range: 0..size,
            attributes: Default::default(),
            extensions: Default::default(),
        })
    }

    fn delete_stream(&self, _: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        stream::once(async { refused() }).boxed()
    }

    fn list(&self, _: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        stream::once(async { refused() }).boxed()
    }

    async fn list_with_delimiter(&self, _: Option<&Path>) -> Result<ListResult> {
        refused()
    }

    async fn copy_opts(&self, _: &Path, _: &Path, _: CopyOptions) -> Result<()> {
        refused()
    }
}
