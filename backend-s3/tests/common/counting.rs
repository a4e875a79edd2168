//! An `object_store` decorator that counts requests and body bytes, to check what an operation
//! costs on the wire.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions,
    PutOptions, PutPayload, PutResult, Result,
};

/// Counts of what went through.
#[derive(Debug, Default)]
pub struct Counts {
    pub gets: AtomicU64,
    pub conditional_gets: AtomicU64,
    pub not_modified: AtomicU64,
    pub body_bytes: AtomicU64,
    pub puts: AtomicU64,
    pub multipart_uploads: AtomicU64,
}

impl Counts {
    pub fn get(&self, counter: &AtomicU64) -> u64 {
        counter.load(Ordering::SeqCst)
    }
}

/// Wraps a store and counts.
#[derive(Debug)]
pub struct Counting {
    pub inner: Arc<dyn ObjectStore>,
    pub counts: Arc<Counts>,
}

impl fmt::Display for Counting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counting({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for Counting {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        self.counts.puts.fetch_add(1, Ordering::SeqCst);
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.counts.multipart_uploads.fetch_add(1, Ordering::SeqCst);
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.counts.gets.fetch_add(1, Ordering::SeqCst);
        if options.if_none_match.is_some() {
            self.counts.conditional_gets.fetch_add(1, Ordering::SeqCst);
        }
        match self.inner.get_opts(location, options).await {
            Err(e @ object_store::Error::NotModified { .. }) => {
                self.counts.not_modified.fetch_add(1, Ordering::SeqCst);
                Err(e)
            }
            Ok(result) => {
                // Count the body as it is read.
                let counts = self.counts.clone();
                let meta = result.meta.clone();
                let range = result.range.clone();
                let attributes = result.attributes.clone();
                let stream = result
                    .into_stream()
                    .map(move |chunk| {
                        if let Ok(bytes) = &chunk {
                            counts.body_bytes.fetch_add(bytes.len() as u64, Ordering::SeqCst);
                        }
                        chunk
                    })
                    .boxed();
                Ok(GetResult {
                    payload: object_store::GetResultPayload::Stream(stream),
                    meta,
                    range,
                    attributes,
                    extensions: Default::default(),
                })
            }
            other => other,
        }
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(&self, prefix: Option<&Path>, offset: &Path) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}
