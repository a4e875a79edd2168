//! Large values go up as multipart uploads with parts in parallel.
//!
//! A single PUT signs a hash of the whole body (about 11 ms of client CPU per 16 MiB here);
//! multipart signs each part as it goes, and the parts travel at once.

use bytes::Bytes;
use object_store::path::Path;
use object_store::{PutMultipartOptions, PutResult, WriteMultipart};

/// Uploads `value` in parts of `part_size`, `concurrency` at a time.
pub(crate) async fn multipart(
    store: &dyn object_store::ObjectStore,
    path: &Path,
    value: Bytes,
    part_size: usize,
    concurrency: usize,
) -> object_store::Result<PutResult> {
    let upload = store.put_multipart_opts(path, PutMultipartOptions::default()).await?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, part_size);
    let mut offset = 0;
    while offset < value.len() {
        if let Err(e) = writer.wait_for_capacity(concurrency).await {
            let _ = writer.abort().await;
            return Err(e);
        }
        let end = (offset + part_size).min(value.len());
        writer.put(value.slice(offset..end));
        offset = end;
    }
    writer.finish().await
}
