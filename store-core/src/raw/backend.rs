//! The contract every storage plugs in with.
//!
//! A backend stores bytes under [`Key`]s and gives every stored value a [`Version`] that changes
//! whenever the value does. Layers (cache, limits, access) wrap a backend and are backends
//! themselves; a layer must forward every call explicitly. The default methods are shortcuts
//! whose absence costs only speed: [`Backend::version_now`] (a cache then revalidates with a
//! conditional get), [`Backend::get_into`] (the caller then copies the value),
//! [`Backend::put_in_place`] and [`Backend::get_to_file`] (a file is then streamed); layers
//! forward them too.
//! The values that cross the contract live in [`crate::object`] and are re-exported here.

use std::any::Any;
use std::fmt::{self, Debug};
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

use crate::error::Result;
use crate::key::{Key, KeyBuf};
pub use crate::object::{
    ByteRange, Capabilities, GetOptions, GetResult, Object, ObjectMeta, ObjectStream, PutMode, RangeRead, Usage,
    Version,
};
use crate::raw::ledger::UsageLedger;
use crate::raw::value_buffer::ValueAllocator;

/// A stream of byte chunks: the body of a streamed put or of a streamed get.
pub type ByteStream = BoxStream<'static, Result<Bytes>>;

/// A lock over the whole store; released when dropped. See [`Backend::lock_store`].
pub struct StoreLock(#[allow(dead_code)] Box<dyn Any + Send + Sync>);

impl StoreLock {
    /// Wraps whatever holds the lock (dropping it must release the lock).
    pub fn new(guard: impl Any + Send + Sync) -> StoreLock {
        StoreLock(Box::new(guard))
    }
}

impl Debug for StoreLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreLock")
    }
}

/// The storage contract. Implemented by backends (memory, local disk, S3) and by layers.
///
/// Keys are valid and normal by construction ([`Key`]). Listings are sorted by key (byte
/// order) and never include the store's own files. Every method is forwarded explicitly by
/// layers, the ones with a default ([`Backend::version_now`], [`Backend::get_into`],
/// [`Backend::put_in_place`], [`Backend::get_to_file`]) included.
#[async_trait]
pub trait Backend: Debug + Send + Sync + 'static {
    /// A name for messages and metrics, usually the URL it was opened with.
    fn name(&self) -> &str;

    /// What this backend can do.
    fn capabilities(&self) -> Capabilities;

    /// Stores `value` under `key`. Returns the new object's metadata once the value is durable
    /// (as durable as the backend promises).
    async fn put(&self, key: &Key, value: Bytes, mode: &PutMode) -> Result<ObjectMeta>;

    /// Stores a value that arrives as a stream of chunks, without holding it in memory whole
    /// (local disk: into the temp file, then the same durable rename; S3: a multipart upload
    /// with a bounded number of parts in flight). `size` is the final size when the caller
    /// knows it (a file), which lets limits decide before the first byte; the stream must then
    /// yield exactly that many bytes, else the put fails. Nothing is visible under `key` until
    /// the whole stream was stored; a stream that fails (or a future dropped) midway leaves
    /// nothing behind: no object, no temp file, no multipart upload.
    async fn put_stream(&self, key: &Key, body: ByteStream, size: Option<u64>, mode: &PutMode) -> Result<ObjectMeta>;

    /// Makes the file at [`Backend::local_path`]`(key)`, written there in place (LEAN's
    /// `GetFilePath` then `Save`), the key's value, durably and as `mode` allows, the way
    /// [`Backend::put_stream`] saves a stream: `size` is the file's size when the caller looked
    /// (limits decide on it), and a file that turns out another size fails the put with
    /// `Conflict`, saving nothing. `NotFound` when there is no file. The default reads the file
    /// with [`Backend::get_stream`] into [`Backend::put_stream`]; local disk copies it in the
    /// kernel (`copy_file_range`), no byte passing through the process.
    async fn put_in_place(&self, key: &Key, size: u64, mode: &PutMode) -> Result<ObjectMeta> {
        let current = self.get_stream(key, None, None).await?;
        self.put_stream(key, current.body, Some(size), mode).await
    }

    /// Reads a value, or answers `NotModified` when `opts.if_none_match` is current.
    async fn get(&self, key: &Key, opts: &GetOptions) -> Result<GetResult>;

    /// Reads a whole value into a buffer from `alloc` when the backend can (see
    /// [`crate::raw::value_buffer`]), else into one of its own: the answer is the value either
    /// way. Local disk reads into the caller's buffer when the call may block its thread; the
    /// default asks [`Backend::get`].
    async fn get_into(&self, key: &Key, alloc: &dyn ValueAllocator) -> Result<Object> {
        let _ = alloc;
        match self.get(key, &GetOptions::default()).await? {
            GetResult::Found(object) => Ok(object),
            GetResult::NotModified => Err(not_modified_unasked(self.name(), key)),
        }
    }

    /// Reads part of a value (see [`ByteRange`] for what is refused and what is clamped). With
    /// `if_match`, fails with `Precondition` unless the current version is that one, so that two
    /// ranged reads of one logical read never mix two values.
    async fn get_range(&self, key: &Key, range: &ByteRange, if_match: Option<&Version>) -> Result<RangeRead>;

    /// Reads a value (or a range of it) as a stream of chunks, for values that should not sit in
    /// memory whole. The stream yields bytes of exactly the version in the answer's metadata (a
    /// change of the object meanwhile makes it fail, never mix); `if_match` as in
    /// [`Backend::get_range`].
    async fn get_stream(
        &self,
        key: &Key,
        range: Option<&ByteRange>,
        if_match: Option<&Version>,
    ) -> Result<ObjectStream>;

    /// Writes `key`'s whole value into `file` at its current position (a file the caller made
    /// for it, typically a temp file it renames into place), without holding the value in
    /// memory. The bytes are exactly the version in the answer; a value changed meanwhile is an
    /// error, never a mix (the file then holds part of a value: the caller discards it). The
    /// default writes [`Backend::get_stream`]'s chunks ([`stream_to_file`]); local disk copies
    /// in the kernel (`copy_file_range`).
    async fn get_to_file(&self, key: &Key, file: Arc<std::fs::File>) -> Result<ObjectMeta> {
        let stream = self.get_stream(key, None, None).await?;
        stream_to_file(key, stream, file).await
    }

    /// The value of `key` right now, without waiting, when that is possible: a fresh cache hit,
    /// an in-memory map, or a cached value the backend confirmed current at once on the calling
    /// thread ([`Backend::version_now`]: one `stat` on local disk). `None` means "ask
    /// [`Backend::get`]", never "absent".
    fn get_ready(&self, key: &Key) -> Option<Bytes>;

    /// The current version of `key`'s object, found at once on the calling thread when the
    /// backend can do that cheaply (one `stat` on local disk, a map lookup in memory): how a
    /// cache revalidates a hit. `Some(Err(NotFound))` when there is no object; `None` means
    /// "cannot tell without a request: ask [`Backend::get`] with `if_none_match`" (the default,
    /// right for remote backends). A backend that answers must resolve the key exactly as its
    /// reads do (the same confinement) and give the version its reads give.
    fn version_now(&self, key: &Key) -> Option<Result<Version>> {
        let _ = key;
        None
    }

    /// The metadata of an object, or `NotFound`.
    async fn head(&self, key: &Key) -> Result<ObjectMeta>;

    /// Removes an object; `NotFound` when there is none. With `if_match`, removes it only while
    /// its version is that one, else `Precondition`: how the store removes only what it
    /// examined (cleanup, moves). [`Capabilities::conditional_delete`] says whether that is exact
    /// or, on servers without conditional deletes, a check just before the delete.
    async fn delete(&self, key: &Key, if_match: Option<&Version>) -> Result<()>;

    /// Every object whose key starts with `prefix` (a normalised prefix, see
    /// [`crate::key::normalise_prefix`]; `""` for all), sorted by key.
    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>>;

    /// Like [`Backend::list`] but only the keys, which some backends produce much faster.
    fn list_keys(&self, prefix: &str) -> BoxStream<'static, Result<KeyBuf>>;

    /// Counts every object now (a full recount, exact at the time of the call).
    async fn usage(&self) -> Result<Usage>;

    /// The file that holds `key`'s value, when objects are files (`None` otherwise). With
    /// `create_parents`, the folders above it are created. The path never leaves the store's
    /// root.
    async fn local_path(&self, key: &Key, create_parents: bool) -> Result<Option<PathBuf>>;

    /// The usage ledger every handle on this storage shares, when the backend keeps one (it
    /// then updates the committed figures on each put and delete). See [`crate::raw::ledger`].
    fn usage_ledger(&self) -> Option<Arc<dyn UsageLedger>>;

    /// A lock over the whole store that other processes using the same storage respect, or
    /// `None` when the backend has no such lock. The limits layer takes it to make decisions
    /// near a limit exact across processes.
    async fn lock_store(&self) -> Result<Option<StoreLock>>;
}

/// Reads a whole value (a get without conditions).
pub async fn get_object(backend: &dyn Backend, key: &Key) -> Result<Object> {
    match backend.get(key, &GetOptions::default()).await? {
        GetResult::Found(object) => Ok(object),
        GetResult::NotModified => Err(not_modified_unasked(backend.name(), key)),
    }
}

/// Writes the chunks of `stream` (a read of `key`) into `file` at its position, in batches of
/// 1 MiB or more written with one vectored write each (no copy of the chunks), on a thread that
/// may block (see [`crate::raw::io::offload`]) while the next chunks arrive; the stream's
/// metadata once all are written.
pub async fn stream_to_file(key: &Key, stream: ObjectStream, file: Arc<std::fs::File>) -> Result<ObjectMeta> {
    use futures::TryStreamExt as _;
    const BATCH: usize = 1 << 20;
    let write = |batch: Vec<Bytes>| {
        let (file, key) = (file.clone(), KeyBuf::from(key));
        crate::raw::io::offload(move || {
            write_all_vectored(&file, &batch).map_err(|e| crate::Error::io(format!("cannot write '{key}' out"), e))
        })
    };
    let mut body = stream.body;
    let (mut batch, mut batched) = (Vec::new(), 0usize);
    let mut next = body.try_next().await?;
    loop {
        let end = next.is_none();
        if let Some(chunk) = next.take() {
            batched += chunk.len();
            batch.push(chunk);
        }
        let full = batched >= BATCH || (end && batched > 0);
        match (full, end) {
            (true, false) => {
                batched = 0;
                let (written, following) = futures::join!(write(std::mem::take(&mut batch)), body.try_next());
                written?;
                next = following?;
            }
            (true, true) => {
                write(batch).await?;
                break;
            }
            (false, true) => break,
            (false, false) => next = body.try_next().await?,
        }
    }
    Ok(stream.meta)
}

/// Writes every byte of `chunks`, in order, with vectored writes.
fn write_all_vectored(mut file: &std::fs::File, chunks: &[Bytes]) -> std::io::Result<()> {
    use std::io::{IoSlice, Write as _};
    let mut slices: Vec<IoSlice<'_>> = chunks.iter().filter(|c| !c.is_empty()).map(|c| IoSlice::new(c)).collect();
    let mut slices = &mut slices[..];
    while !slices.is_empty() {
        match file.write_vectored(slices) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The error for a backend that answered "not modified" to a read without a condition.
pub(crate) fn not_modified_unasked(backend: &str, key: &Key) -> crate::Error {
    crate::Error::Backend {
        backend: backend.to_string(),
        message: format!("answered 'not modified' to an unconditional read of '{key}'"),
        transient: false,
        source: None,
    }
}

/// Resolves `range` against a value of `size` bytes, or the [`crate::Error::InvalidRange`] that
/// names `key`.
pub fn resolve_range(key: &Key, range: &ByteRange, size: u64) -> Result<std::ops::Range<u64>> {
    range.resolve(size).map_err(|reason| crate::Error::InvalidRange {
        key: key.to_string(),
        range: range.to_string(),
        reason,
    })
}

/// Counts the bytes of a streamed put against the size its caller announced: the error for a
/// stream that yields more than `size` bytes (as soon as it does), or fewer (at its end).
#[derive(Debug, Clone, Copy)]
pub struct SizeCheck {
    announced: Option<u64>,
    seen: u64,
}

impl SizeCheck {
    /// Checks against `announced` (no check when `None`).
    pub fn new(announced: Option<u64>) -> SizeCheck {
        SizeCheck { announced, seen: 0 }
    }

    /// Counts a chunk; fails once the stream has yielded more than announced.
    pub fn add(&mut self, key: &Key, len: usize) -> Result<()> {
        self.seen = self.seen.saturating_add(len as u64);
        match self.announced {
            Some(size) if self.seen > size => Err(self.mismatch(key, size)),
            _ => Ok(()),
        }
    }

    /// At the end of the stream: the total, or the error when it is short of what was announced.
    pub fn finish(&self, key: &Key) -> Result<u64> {
        match self.announced {
            Some(size) if self.seen != size => Err(self.mismatch(key, size)),
            _ => Ok(self.seen),
        }
    }

    fn mismatch(&self, key: &Key, size: u64) -> crate::Error {
        crate::Error::io(
            format!(
                "cannot save '{key}': the stream was announced as {size} bytes but yielded {}{}; nothing was \
                 saved (was the file changed while it was being saved?)",
                if self.seen > size { "more than " } else { "" },
                if self.seen > size { size } else { self.seen },
            ),
            std::io::ErrorKind::InvalidData.into(),
        )
    }
}

/// Collects a streamed body into one buffer (for backends that hold values whole, like
/// memory), checking it against the announced size.
pub async fn collect_stream(key: &Key, mut body: ByteStream, size: Option<u64>) -> Result<Bytes> {
    use futures::StreamExt as _;
    let mut check = SizeCheck::new(size);
    let capacity = usize::try_from(size.unwrap_or(0).min(64 << 20)).unwrap_or(0);
    let mut buf = bytes::BytesMut::with_capacity(capacity);
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        check.add(key, chunk.len())?;
        buf.extend_from_slice(&chunk);
    }
    check.finish(key)?;
    Ok(buf.freeze())
}

/// A stream of `bytes` in chunks of at most `chunk` bytes (cheap: the chunks share `bytes`).
pub fn chunked(bytes: Bytes, chunk: usize) -> ByteStream {
    use futures::StreamExt as _;
    let chunk = chunk.max(1);
    let count = bytes.len().div_ceil(chunk);
    futures::stream::iter((0..count).map(move |i| Ok(bytes.slice(i * chunk..((i + 1) * chunk).min(bytes.len())))))
        .boxed()
}
