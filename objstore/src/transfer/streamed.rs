//! Large values in a bulk copy: streamed, never held whole.
//!
//! A value larger than [`STREAM_ABOVE`] is copied as a stream of chunks: a file into a store's
//! streamed save (a temp file on disk, a multipart upload on S3), a store's streamed read into a
//! temp file renamed into place, or one store's stream into another's save. It holds about
//! [`STREAMED_MEMORY`] at most (the chunks in hand, the parts a multipart upload has in flight),
//! which is what it takes from the run's byte budget. `--checksum` compares such values by
//! hashing both sides as they stream.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::TryStreamExt;
use store_core::raw::ByteStream;
use store_core::raw::io::offload;

use super::EXPORT_TEMP_PREFIX;
use crate::{Error, ObjectStore, Result};

/// Values above this size are streamed.
pub(super) const STREAM_ABOVE: u64 = 8 * 1024 * 1024;

/// What a streamed copy holds in memory at most (the budget it takes).
pub(super) const STREAMED_MEMORY: u64 = 48 * 1024 * 1024;

/// What a copy of `size` bytes takes from the byte budget.
pub(super) fn memory_for(size: u64) -> u64 {
    if size > STREAM_ABOVE { size.min(STREAMED_MEMORY) } else { size }
}

/// The length and xxh3 hash of a stream.
pub(super) async fn hash_stream(mut body: ByteStream) -> Result<(u64, u64)> {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut len = 0u64;
    while let Some(chunk) = body.try_next().await? {
        hasher.update(&chunk);
        len += chunk.len() as u64;
    }
    Ok((len, hasher.digest()))
}

/// The length and hash of `key`'s value in `store`, streamed; `None` when it is absent.
pub(super) async fn stored_hash(store: &ObjectStore, key: &str) -> Result<Option<(u64, u64)>> {
    match store.read_stream(key, None).await {
        Ok(stream) => Ok(Some(hash_stream(stream.body).await?)),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The length and hash of the file at `path`, read in chunks; `None` when it is gone.
pub(super) async fn file_hash(path: &Path) -> Result<Option<(u64, u64)>> {
    let path = path.to_path_buf();
    let file = match offload({
        let path = path.clone();
        move || Ok(std::fs::File::open(&path))
    })
    .await?
    {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("cannot read '{}'", path.display()), e)),
    };
    Ok(Some(hash_stream(store_core::raw::io::file_stream(file, path)).await?))
}

/// Writes `key`'s value to `path` atomically: a temp file beside it, filled by
/// [`ObjectStore::read_to_file`] (the kernel's copy on local disk, chunks elsewhere), stamped with
/// the value's modification time, renamed over it. Nothing is left behind when the read or a
/// write fails; `NotFound` when the key is gone.
pub(super) async fn export_to_file(store: &ObjectStore, key: &str, path: &Path) -> Result<()> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let parent = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let temp =
        parent.join(format!("{EXPORT_TEMP_PREFIX}{}-s{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed)));
    let cannot = |e: io::Error| Error::io(format!("cannot write '{}'", path.display()), e);
    let file = {
        let (parent, temp) = (parent.clone(), temp.clone());
        offload(move || {
            std::fs::create_dir_all(&parent).and_then(|()| std::fs::File::create_new(&temp)).map_err(cannot_io)
        })
        .await?
    };
    let written: Result<()> = async {
        let meta = store.read_to_file(key, &file).await?;
        let (temp, path) = (temp.clone(), path.to_path_buf());
        offload(move || {
            if let Some(modified) = meta.modified {
                file.set_modified(modified).map_err(cannot_io)?;
            }
            drop(file);
            std::fs::rename(&temp, &path).map_err(cannot_io)
        })
        .await
    }
    .await;
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(match e {
            Error::Io { source, .. } => cannot(source),
            other => other,
        });
    }
    Ok(())
}

fn cannot_io(e: io::Error) -> Error {
    Error::io("cannot write an exported file", e)
}
