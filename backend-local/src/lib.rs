//! # backend-local: the Object Store on local disk (`file://`)
//!
//! Objects are plain files under a root folder: key `a/b/c.json` is the file `ROOT/a/b/c.json`,
//! so other programs can read them, and files other programs put there are objects too. What
//! this backend adds over plain files:
//!
//! - **Durable, atomic saves.** A save writes a temp file in the target folder, flushes it
//!   (`fsync`), renames it over the target and flushes the folder before it returns. A reader
//!   never sees a torn object; a crash leaves the old value or the new one. Temp files are
//!   invisible and removed when a store is opened. `?durability=buffered` skips the flushes for
//!   users who trade durability for speed (a crash may then lose recent saves, never tear one).
//! - **Confinement.** Every path is resolved beneath the root (`openat2` with `RESOLVE_BENEATH`):
//!   no key and no symlink inside the root leads a read, write or delete outside it.
//! - **Exact concurrency.** Compare-and-swap (`PutMode::Update`) and create-only puts hold across
//!   threads and processes (per-key locks), and a usage ledger shared by every process keeps
//!   limits exact (see `store_core::raw::ledger`): a save is counted in the same locked step as
//!   its rename, each handle's reservations sit in a slot leased by a lock the kernel releases if
//!   its process dies, and a watch on the folder (inotify) tells the ledger when other programs
//!   change files, so that the next decision near a limit recounts.
//! - **Writers only hold its locks.** The store's own folder and files are never open to a class
//!   of users that may not write the store, so no mere reader can block a save; objects and
//!   folders follow the umask, or are private to the owner with `?mode=private`. A process that
//!   may only read the store (another user's folder, a read-only mount) opens it read-only:
//!   reading, listing and usage work, nothing is created or locked, saves and deletes are refused
//!   with `PermissionDenied` saying why.
//! - **Cheap revalidation.** A version is the file's inode, size and a unique modification time,
//!   so a cache checks freshness with one `stat`.
//! - **Reads without hand-offs.** On an async runtime, stats and reads of up to 64 KiB run on the
//!   calling task (a page-cache read costs microseconds, a hand-off to the blocking pool about
//!   25 µs here, more on a busy machine). Larger whole-value reads also run on the calling task
//!   as long as the page cache holds the file: copies of 1 MiB at a time with a yield between
//!   them, never waiting for the disk (`RWF_NOWAIT`). What is not cached, ranges and streams
//!   over 64 KiB, saves (which `fsync`) and walks run on the blocking pool. Called through the
//!   blocking facade, everything runs on the caller's thread.
//!
//! URLs: `file:///absolute/folder`, `file://relative/folder` (relative to the working folder),
//! with the options `durability=durable|buffered`, `mode=umask|private` (see [`FileModes`]) and
//! `create=true|false`. Opening creates the folder when it is missing (`create=true`, the
//! default); with `create=false` it opens only a folder that exists, and a missing one is an
//! [`Error::Config`] ("the store folder … does not exist"), so that a program that only reads
//! never makes a folder out of a mistyped path (the `objstore` command opens stores this way for
//! every command that does not save). A path that is a file, not a folder, is an
//! [`Error::Config`] either way.
//!
//! ```
//! // Backends register their scheme at link time. The `objstore` crate links this one for
//! // you; a program depending on it directly names it once so that it is linked:
//! use backend_local as _;
//! # let dir = tempfile::tempdir().unwrap();
//! # let url = format!("file://{}", dir.path().display());
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = store_core::open(&url).await?;
//! store.save("prices/spy.csv", "date,close\n2024-01-02,472.65\n").await?;
//! let path = store.get_file_path("prices/spy.csv").await?;
//! assert_eq!(std::fs::read_to_string(path).unwrap(), "date,close\n2024-01-02,472.65\n");
//! # Ok::<(), store_core::Error>(()) }).unwrap();
//! ```
//!
//! On disk, the folder `ROOT/.objstore/` holds the usage ledger (`usage`, its lease slots
//! `leases`) and the lock files (`locks`, `store.lock`); names starting with `.objstore`, in any
//! case, are reserved and never objects.

mod durable_dirs;
mod error;
mod file_copy;
mod folder_handles;
mod group_commit;
mod in_place;
mod internal;
mod ledger;
mod locks;
mod modes;
mod read;
mod revalidate;
mod root;
mod version;
mod walk;
mod watch;
mod write;
mod writeout;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, StreamExt};
use rustix::fs::{self, FileType, OFlags};
use store_core::raw::backend::resolve_range;
use store_core::raw::io::{may_block_here, offload};
use store_core::raw::ledger::UsageLedger;
use store_core::raw::registry::{BACKENDS, BackendFactory, BackendOptions, StoreUrl};
use store_core::raw::{Backend, ByteStream, StoreLock, ValueAllocator};
use store_core::{
    ByteRange, Capabilities, Error, GetOptions, GetResult, Key, KeyBuf, Object, ObjectMeta, ObjectStream, Operation,
    PutMode, RangeRead, Result, Usage, Version,
};

use crate::internal::{NotWritable, SharedLedger, Writer};
use crate::locks::Flock;
pub use crate::modes::FileModes;
use crate::modes::Modes;
use crate::read::INLINE_READ_LIMIT;
use crate::root::Root;
use crate::version::{modified_of, version_of};
use crate::walk::Walker;

/// How a save reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `fsync` the file and its folder before a save returns (the default).
    #[default]
    Durable,
    /// Leave flushing to the operating system: faster, but a power loss may lose recent saves
    /// (the old value is then there). It never tears one: the value is written out before its
    /// rename (see `writeout.rs` for how, per file system).
    Buffered,
}

/// The local-disk backend. Open it with `store_core::open("file:///...")` or
/// [`LocalBackend::open`].
#[derive(Debug, Clone)]
pub struct LocalBackend {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    name: String,
    pub(crate) root: Root,
    pub(crate) durable: bool,
    pub(crate) modes: Modes,
    /// The store's own files, when this process may write the store.
    pub(crate) writer: Option<Writer>,
    /// Why this process may only read the store, when it may.
    pub(crate) read_only: Option<String>,
    /// Folders kept open for revalidation (see `folder_handles.rs`).
    pub(crate) folders: folder_handles::FolderHandles,
}

#[allow(unsafe_code)]
#[linkme::distributed_slice(BACKENDS)]
static FILE: BackendFactory =
    BackendFactory { scheme: "file", summary: "local disk (file:///abs/dir, file://rel/dir)", open: open_from_url };

fn open_from_url(url: StoreUrl, mut options: BackendOptions) -> BoxFuture<'static, Result<Arc<dyn Backend>>> {
    Box::pin(async move {
        let durability = match options.take("durability").as_deref() {
            None | Some("durable") => Durability::Durable,
            Some("buffered") => Durability::Buffered,
            Some(other) => {
                return Err(options.error(format!("durability must be 'durable' or 'buffered', not '{other}'")));
            }
        };
        let create = options.take_bool("create")?.unwrap_or(true);
        let modes = match options.take("mode").as_deref() {
            None | Some("umask") => FileModes::Umask,
            Some("private") => FileModes::Private,
            Some(other) => {
                return Err(options.error(format!(
                    "mode must be 'umask' (the default: objects and folders follow the umask) or 'private' (objects \
                     0600, folders 0700), not '{other}'"
                )));
            }
        };
        options.finish(&["durability", "mode", "create"])?;
        if url.location.is_empty() {
            return Err(Error::Config {
                url: url.original,
                message: "file:// needs a folder: file:///absolute/path or file://relative/path".to_string(),
            });
        }
        let folder = Path::new(&url.location);
        // One stat, cheaper inline than a hand-off (as `head` does).
        match std::fs::metadata(folder) {
            Ok(meta) if !meta.is_dir() => {
                return Err(Error::Config {
                    url: url.original,
                    message: format!("{} is not a folder (a store on local disk is a folder)", folder.display()),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !create => {
                return Err(Error::Config {
                    url: url.original,
                    message: format!("the store folder {} does not exist", folder.display()),
                });
            }
            _ => {}
        }
        let backend = LocalBackend::open_with_modes(folder, durability, modes).await?;
        Ok(Arc::new(backend) as Arc<dyn Backend>)
    })
}

impl LocalBackend {
    /// Opens (creating it if needed) a store in `root`, with objects and folders that follow the
    /// umask (see [`LocalBackend::open_with_modes`]).
    pub async fn open(root: &Path, durability: Durability) -> Result<LocalBackend> {
        LocalBackend::open_with_modes(root, durability, FileModes::Umask).await
    }

    /// Opens (creating it if needed) a store in `root`, making objects and folders with `modes`.
    ///
    /// Opening removes temp files left by interrupted saves, and joins the usage ledger every
    /// process shares (taking a lease slot for this handle's reservations). When no other handle
    /// has the folder open, or the ledger's figures cannot be trusted, it recounts them (under
    /// the ledger's lock, so a process opening at the same moment loses nothing). Room that
    /// handles which are gone held is given back. A store this process may only read opens
    /// read-only, creating and locking nothing.
    pub async fn open_with_modes(root: &Path, durability: Durability, modes: FileModes) -> Result<LocalBackend> {
        let root = root.to_path_buf();
        offload(move || LocalBackend::open_blocking(&root, durability, modes)).await
    }

    fn open_blocking(path: &Path, durability: Durability, file_modes: FileModes) -> Result<LocalBackend> {
        let modes = Modes::new(file_modes);
        let root = Root::open(path, modes.folder)?;
        let (writer, read_only) = match Writer::open(&root, &modes) {
            Ok(writer) => (Some(writer), None),
            Err(NotWritable::ReadOnly(why)) => {
                tracing::info!(root = %root.path.display(), "{why}");
                (None, Some(why))
            }
            Err(NotWritable::Failed(e)) => return Err(e),
        };
        let inner = Arc::new(Inner {
            name: format!("file://{}", root.path.display()),
            root,
            durable: durability == Durability::Durable,
            modes,
            writer,
            read_only,
            folders: folder_handles::FolderHandles::default(),
        });
        if let Some(writer) = &inner.writer {
            if writer.ledger.join()? {
                // Swept and counted under the ledger's lock: a snapshot.
                writer.ledger.exact_update(true, &|| walk::sweep(&inner), &mut |_| {})?;
            } else {
                walk::sweep(&inner)?;
            }
        }
        Ok(LocalBackend { inner })
    }

    /// True when this process may only read the store (see [`LocalBackend::open_with_modes`]).
    pub fn is_read_only(&self) -> bool {
        self.inner.writer.is_none()
    }

    /// The root folder (absolute).
    pub fn root(&self) -> &Path {
        &self.inner.root.path
    }

    fn stream<T: Send + 'static>(
        &self,
        prefix: &str,
        with_stat: bool,
        map: fn(walk::Found) -> T,
    ) -> BoxStream<'static, Result<T>> {
        let walker = Walker::new(self.inner.clone(), prefix, with_stat);
        if may_block_here() {
            // The blocking facade's thread may do the walk itself, as the items are asked for.
            return stream::iter(walker.map(move |r| r.map(map))).boxed();
        }
        // On a runtime, walk on the blocking pool and hand over batches: small at first (the
        // first keys arrive soon), then larger (each hand-off may wake the reader: 512 keys a
        // batch made keys() of 10,000 1.66-1.77x the walk alone, against 1.36x on the blocking
        // facade), never more than `LAST` (what a listing holds stays bounded).
        const FIRST: usize = 256;
        const LAST: usize = 2048;
        let (tx, rx) = tokio::sync::mpsc::channel::<Vec<Result<T>>>(2);
        tokio::task::spawn_blocking(move || {
            let mut size = FIRST;
            let mut batch = Vec::with_capacity(size);
            for item in walker {
                let stop = item.is_err();
                batch.push(item.map(map));
                if batch.len() == size || stop {
                    size = (size * 2).min(LAST);
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(size));
                    // Stop after an error, or when nobody listens any more.
                    if tx.blocking_send(full).is_err() || stop {
                        return;
                    }
                }
            }
            if !batch.is_empty() {
                let _ = tx.blocking_send(batch);
            }
        });
        stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|batch| (stream::iter(batch), rx)) })
            .flatten()
            .boxed()
    }
}

/// The stat of the regular file `path` (relative to the root) leads to, following symlinks
/// only within the root; `None` when it is not such a file.
pub(crate) fn stat_object(root: &Root, path: &str) -> Option<fs::Stat> {
    let fd = root.open_beneath(path, OFlags::PATH).ok()?;
    let st = fs::fstat(&fd).ok()?;
    (FileType::from_raw_mode(st.st_mode) == FileType::RegularFile).then_some(st)
}

fn meta_of(found: walk::Found) -> ObjectMeta {
    match found.stat {
        Some(st) => {
            ObjectMeta { key: found.key, size: st.st_size as u64, version: version_of(&st), modified: modified_of(&st) }
        }
        None => ObjectMeta { key: found.key, size: 0, version: store_core::Version::new(""), modified: None },
    }
}

#[async_trait]
impl Backend for LocalBackend {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn capabilities(&self) -> Capabilities {
        let writable = self.inner.writer.is_some();
        Capabilities {
            local_paths: true,
            conditional_put: true,
            object_and_prefix: false,
            persistent: true,
            cross_process_lock: writable,
            shared_usage: writable,
            conditional_delete: true,
        }
    }

    async fn put(&self, key: &Key, value: Bytes, mode: &PutMode) -> Result<ObjectMeta> {
        self.inner.writer(Operation::Write)?;
        let (inner, key, mode) = (self.inner.clone(), KeyBuf::from(key), mode.clone());
        offload(move || inner.put(&key, &value, &mode)).await
    }

    async fn put_stream(&self, key: &Key, body: ByteStream, size: Option<u64>, mode: &PutMode) -> Result<ObjectMeta> {
        self.inner.writer(Operation::Write)?;
        write::put_stream(&self.inner, key, body, size, mode).await
    }

    async fn get(&self, key: &Key, opts: &GetOptions) -> Result<GetResult> {
        if may_block_here() {
            return self.inner.get(key, opts.if_none_match.as_ref());
        }
        self.inner.get_async(key, opts.if_none_match.as_ref()).await
    }

    async fn put_in_place(&self, key: &Key, size: u64, mode: &PutMode) -> Result<ObjectMeta> {
        self.inner.writer(Operation::Write)?;
        let (inner, key, mode) = (self.inner.clone(), KeyBuf::from(key), mode.clone());
        offload(move || inner.put_in_place(&key, size, &mode)).await
    }

    async fn get_to_file(&self, key: &Key, file: Arc<std::fs::File>) -> Result<ObjectMeta> {
        let open = self.inner.open_current(key, None)?;
        let key = KeyBuf::from(key);
        offload(move || open.copy_to(&key, &file)).await
    }

    async fn get_into(&self, key: &Key, alloc: &dyn ValueAllocator) -> Result<Object> {
        // On a runtime's thread, read as `get` does (page-cache slices on the task, the rest on
        // the blocking pool) into a buffer of our own: the caller copies.
        if may_block_here() {
            return self.inner.get_into(key, alloc);
        }
        store_core::raw::get_object(self, key).await
    }

    async fn get_range(&self, key: &Key, range: &ByteRange, if_match: Option<&Version>) -> Result<RangeRead> {
        let open = self.inner.open_current(key, if_match)?;
        let small = range.resolve(open.meta(key).size).is_ok_and(|r| r.end - r.start <= INLINE_READ_LIMIT as u64);
        if small || may_block_here() {
            return open.read_range(key, range);
        }
        let (key, range) = (KeyBuf::from(key), *range);
        offload(move || open.read_range(&key, &range)).await
    }

    async fn get_stream(
        &self,
        key: &Key,
        range: Option<&ByteRange>,
        if_match: Option<&Version>,
    ) -> Result<ObjectStream> {
        let open = self.inner.open_current(key, if_match)?;
        let meta = open.meta(key);
        let range = match range {
            Some(range) => resolve_range(key, range, meta.size)?,
            None => 0..meta.size,
        };
        if range.end - range.start <= INLINE_READ_LIMIT as u64 {
            // Small: read now, as a get does (no hand-off per chunk).
            let bytes = open.pread_exact(key, range.start, range.end - range.start)?;
            let body = stream::once(async move { Ok(bytes) }).boxed();
            return Ok(ObjectStream { meta, range, body });
        }
        let body = read::chunks(Arc::new(open), KeyBuf::from(key), range.clone());
        Ok(ObjectStream { meta, range, body })
    }

    fn get_ready(&self, _key: &Key) -> Option<Bytes> {
        // Every read of a file is I/O.
        None
    }

    fn version_now(&self, key: &Key) -> Option<Result<Version>> {
        Some(self.inner.version_now(key))
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        // One stat: cheaper inline than any hand-off.
        self.inner.head(key)
    }

    async fn delete(&self, key: &Key, if_match: Option<&Version>) -> Result<()> {
        self.inner.writer(Operation::Delete)?;
        let (inner, key, if_match) = (self.inner.clone(), KeyBuf::from(key), if_match.cloned());
        offload(move || inner.delete(&key, if_match.as_ref())).await
    }

    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>> {
        self.stream(prefix, true, meta_of)
    }

    fn list_keys(&self, prefix: &str) -> BoxStream<'static, Result<KeyBuf>> {
        self.stream(prefix, false, |found| found.key)
    }

    async fn usage(&self) -> Result<Usage> {
        let inner = self.inner.clone();
        offload(move || walk::count(inner)).await
    }

    async fn local_path(&self, key: &Key, create_parents: bool) -> Result<Option<PathBuf>> {
        if create_parents && self.inner.writer.is_none() {
            // A path to write in place in a store this process may only read: none (the facade
            // hands out a copy instead, whose save is then refused saying why).
            return Ok(None);
        }
        let (inner, key) = (self.inner.clone(), KeyBuf::from(key));
        offload(move || inner.local_path(&key, create_parents).map(Some)).await
    }

    fn usage_ledger(&self) -> Option<Arc<dyn UsageLedger>> {
        self.inner.writer.as_ref()?;
        Some(Arc::new(SharedLedger(self.inner.clone())))
    }

    async fn lock_store(&self) -> Result<Option<StoreLock>> {
        if self.inner.writer.is_none() {
            return Ok(None);
        }
        let inner = self.inner.clone();
        offload(move || {
            let writer = inner.writer(Operation::Write)?;
            Flock::exclusive(&writer.internal, "store.lock", inner.modes.internal_file)
                .map(|lock| Some(StoreLock::new(lock)))
        })
        .await
    }
}

impl Inner {
    /// `ROOT/key`, with its folders created when asked. Refuses a key whose file is a symlink
    /// leading outside the root, or a folder.
    fn local_path(&self, key: &Key, create_parents: bool) -> Result<PathBuf> {
        let parent = match self.root.parent(key, create_parents, self.durable) {
            Ok(parent) => Some(parent),
            Err(Error::NotFound { .. }) if !create_parents => None,
            Err(e) => return Err(e),
        };
        if let Some(parent) = parent {
            let kind = Root::kind_at(std::os::fd::AsFd::as_fd(&parent.fd), parent.name)
                .map_err(|e| self.root.path_error(key, key.as_str(), e))?;
            match kind.map(|st| FileType::from_raw_mode(st.st_mode)) {
                Some(FileType::Directory) => {
                    return Err(Error::Conflict {
                        key: key.to_string(),
                        reason: "it is a folder of other objects, not a file".to_string(),
                    });
                }
                Some(FileType::Symlink) if stat_object(&self.root, key.as_str()).is_none() => {
                    return Err(Error::InvalidKey {
                        key: key.to_string(),
                        reason: "its file is a symbolic link that does not lead to a file inside the store".into(),
                    });
                }
                _ => {}
            }
        }
        let mut path = self.root.path.clone();
        path.extend(key.segments());
        Ok(path)
    }
}

/// Helpers for this crate's unit tests.
#[cfg(test)]
mod test_support {
    /// Makes a FIFO at `path` (what a hostile or careless program may leave under the root).
    pub(crate) fn fifo(path: &std::path::Path) {
        let mode = rustix::fs::Mode::from_raw_mode(0o600);
        rustix::fs::mknodat(rustix::fs::CWD, path, rustix::fs::FileType::Fifo, mode, 0)
            .unwrap_or_else(|e| panic!("{e}"));
    }
}
