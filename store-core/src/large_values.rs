//! The facade's large values: ranged reads, streamed reads and saves, and conditional deletes.
//!
//! A value of hundreds of megabytes (an ML model, a year of ticks) should not sit in memory
//! whole. [`ObjectStore::read_range`] reads part of a value (a parquet footer), the stream and
//! writer methods move a value in bounded chunks (local disk: 1 MiB; S3: parts of `part_size`
//! with a few in flight), and [`ObjectStore::save_from_file`] streams the file it saves.
//!
//! Invariants: a streamed read yields bytes of one version only (a value replaced or changed
//! midway ends the stream with an error, never a mix); a streamed save is invisible until it
//! completes and leaves nothing behind when it fails or its future is dropped; limits count it
//! by its final size and refuse it as soon as it passes one.

use std::path::PathBuf;

use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::{Error, Result};
use crate::object::{ByteRange, ObjectMeta, ObjectStream, PutMode, RangeRead, Version};
use crate::raw::ByteStream;
use crate::raw::io::offload;
use crate::store::ObjectStore;

/// The chunk size of streams made from readers and files.
pub(crate) const READ_CHUNK: usize = 1 << 20;

impl ObjectStore {
    /// Reads part of `key`'s value: `read_range(key, 100..200)`, or any [`ByteRange`] (from an
    /// offset, the last `n` bytes). A range that is empty, reversed, or starts past the end is
    /// [`Error::InvalidRange`]; an end past the value's end is clamped. A cached value answers
    /// without reading the backend (after a revalidation, under the default policy).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let store = store_core::open("memory://").await?;
    /// store.save("ticks/spy.csv", "date,close\n2024-01-02,472.65\n").await?;
    /// assert_eq!(&store.read_range("ticks/spy.csv", 0..4).await?[..], b"date");
    /// assert_eq!(&store.read_range("ticks/spy.csv", store_core::ByteRange::Last(7)).await?[..], b"472.65\n");
    /// assert!(store.read_range("ticks/spy.csv", 5..5).await.is_err());
    /// # Ok::<(), store_core::Error>(()) }).unwrap();
    /// ```
    pub async fn read_range(&self, key: &str, range: impl Into<ByteRange>) -> Result<Bytes> {
        Ok(self.read_range_with(key, range, None).await?.bytes)
    }

    /// A ranged read that also answers where the bytes lie and which version they belong to;
    /// with `if_match`, `Precondition` unless the value still holds that version (so the ranges
    /// of one logical read never mix two values).
    pub async fn read_range_with(
        &self,
        key: &str,
        range: impl Into<ByteRange>,
        if_match: Option<&Version>,
    ) -> Result<RangeRead> {
        let full = self.key(key)?;
        let read = self.shared.stack.get_range(&full, &range.into(), if_match).await?;
        Ok(RangeRead { meta: self.local_meta(read.meta), ..read })
    }

    /// Reads `key`'s value (or `range` of it) as a stream of chunks, holding one chunk at a
    /// time.
    pub async fn read_stream(&self, key: &str, range: Option<ByteRange>) -> Result<ObjectStream> {
        let full = self.key(key)?;
        let stream = self.shared.stack.get_stream(&full, range.as_ref(), None).await?;
        Ok(ObjectStream { meta: self.local_meta(stream.meta), ..stream })
    }

    /// Copies `key`'s value into `writer` chunk by chunk; returns the number of bytes written.
    /// The writer is flushed at the end (not shut down).
    pub async fn read_to_writer<W: AsyncWrite + Unpin + ?Sized>(&self, key: &str, writer: &mut W) -> Result<u64> {
        let stream = self.read_stream(key, None).await?;
        let mut body = stream.body;
        let mut written = 0u64;
        while let Some(chunk) = body.try_next().await? {
            writer.write_all(&chunk).await.map_err(|e| Error::io(format!("cannot write '{key}' out"), e))?;
            written += chunk.len() as u64;
        }
        writer.flush().await.map_err(|e| Error::io(format!("cannot write '{key}' out"), e))?;
        Ok(written)
    }

    /// Writes `key`'s whole value into `file` at its position, without holding it in memory:
    /// what `objstore get -o` and `export` do, into a temp file they rename into place. On local
    /// disk the kernel copies it (`copy_file_range`, no byte through this process); elsewhere
    /// it streams in chunks. Returns the metadata of the version written. A value changed while
    /// it is copied is an error (the file then holds part of a value: discard it).
    pub async fn read_to_file(&self, key: &str, file: &std::fs::File) -> Result<ObjectMeta> {
        let full = self.key(key)?;
        let out = file.try_clone().map_err(|e| Error::io(format!("cannot write '{key}' out"), e))?;
        let meta = self.shared.stack.get_to_file(&full, std::sync::Arc::new(out)).await?;
        Ok(self.local_meta(meta))
    }

    /// Saves a value that arrives as a stream of chunks, without holding it whole. `size`, when
    /// known, lets limits decide before the first byte (the stream must then yield exactly that
    /// many bytes). Nothing is visible under `key` until the whole stream is stored.
    pub async fn save_stream(&self, key: &str, body: ByteStream, size: Option<u64>) -> Result<ObjectMeta> {
        self.save_stream_with(key, body, size, PutMode::Overwrite).await
    }

    /// [`ObjectStore::save_stream`] with a [`PutMode`] (create-only, compare-and-swap).
    pub async fn save_stream_with(
        &self,
        key: &str,
        body: ByteStream,
        size: Option<u64>,
        mode: PutMode,
    ) -> Result<ObjectMeta> {
        let full = self.key(key)?;
        let meta = self.put_stream_to_end(&full, body, size, &mode).await?;
        Ok(self.local_meta(meta))
    }

    /// Saves what `reader` yields (read in chunks of 1 MiB), as [`ObjectStore::save_stream`].
    pub async fn save_from_reader<R: AsyncRead + Send + Unpin + 'static>(
        &self,
        key: &str,
        reader: R,
        size: Option<u64>,
    ) -> Result<ObjectMeta> {
        self.save_stream(key, reader_stream(key.to_string(), reader), size).await
    }

    /// Deletes `key`'s object only while it holds `version` (read earlier with
    /// [`ObjectStore::head`] or [`ObjectStore::read_object`]): `Precondition` when another writer
    /// changed it since, `NotFound` when it is gone. How to remove exactly what was examined; see
    /// [`crate::Capabilities::conditional_delete`] for which backends make that exact.
    pub async fn delete_if_match(&self, key: &str, version: &Version) -> Result<()> {
        let full = self.key(key)?;
        self.delete_to_end(&full, Some(version)).await
    }
}

/// The chunks of `reader`, read 1 MiB at a time into fresh buffers; a read error ends the stream
/// with an error naming `key`.
pub fn reader_stream<R: AsyncRead + Send + Unpin + 'static>(key: String, reader: R) -> ByteStream {
    stream::unfold(Some((reader, key)), |state| async move {
        let (mut reader, key) = state?;
        let mut buf = Vec::with_capacity(READ_CHUNK);
        match (&mut reader).take(READ_CHUNK as u64).read_to_end(&mut buf).await {
            Ok(0) => None,
            Ok(_) => Some((Ok(Bytes::from(buf)), Some((reader, key)))),
            Err(e) => Some((Err(Error::io(format!("cannot save '{key}': cannot read its source"), e)), None)),
        }
    })
    .boxed()
}

/// The chunks of an open file (1 MiB each, from its start), read on the blocking pool (or inline
/// where blocking is allowed); a read error ends the stream with an error naming `path`.
pub fn file_stream(file: std::fs::File, path: PathBuf) -> ByteStream {
    let file = std::sync::Arc::new(file);
    stream::unfold(Some(0u64), move |state| {
        let (file, path) = (file.clone(), path.clone());
        async move {
            let offset = state?;
            // The buffer is made here, not on the blocking pool: memory freed by the consumer
            // then goes back where it came from instead of growing another thread's arena.
            let mut buf = vec![0u8; READ_CHUNK];
            let read = offload(move || {
                use std::os::unix::fs::FileExt as _;
                let mut filled = 0;
                while filled < buf.len() {
                    match file.read_at(&mut buf[filled..], offset + filled as u64) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
                    }
                }
                buf.truncate(filled);
                Ok(Bytes::from(buf))
            })
            .await;
            match read {
                Ok(bytes) if bytes.is_empty() => None,
                Ok(bytes) => {
                    let next = offset + bytes.len() as u64;
                    Some((Ok(bytes), Some(next)))
                }
                Err(e) => Some((Err(e), None)),
            }
        }
    })
    .boxed()
}
