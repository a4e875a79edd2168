//! The contract every storage plugs in with, and the values that cross it.
//!
//! A backend stores bytes under [`Key`]s and gives every stored value a [`Version`] that changes
//! whenever the value does. Layers (cache, limits, access) wrap a backend and are backends
//! themselves; the trait has no default methods, so a layer must forward every call explicitly.

use std::any::Any;
use std::fmt::{self, Debug};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

use crate::error::Result;
use crate::key::{Key, KeyBuf};
use crate::ledger::UsageLedger;

/// An opaque token that changes whenever an object's value changes (an ETag on S3, a stat
/// fingerprint on disk, a counter in memory). Compare versions only for equality.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Version(Arc<str>);

impl Version {
    /// Wraps a backend's version string.
    pub fn new(s: impl Into<Arc<str>>) -> Version {
        Version(s.into())
    }

    /// The version as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({})", self.0)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a backend knows about a stored object without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The object's key.
    pub key: KeyBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its current version.
    pub version: Version,
    /// When it was last written, when the backend knows.
    pub modified: Option<SystemTime>,
}

/// A value together with its metadata.
#[derive(Debug, Clone)]
pub struct Object {
    /// The value.
    pub bytes: Bytes,
    /// Its metadata (the version is the one of exactly these bytes).
    pub meta: ObjectMeta,
}

/// How a put treats an object that may already be there.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PutMode {
    /// Replace whatever is there.
    #[default]
    Overwrite,
    /// Only create: fail with `AlreadyExists` when the key holds an object.
    Create,
    /// Compare-and-swap: replace only if the current version is this one, else `Precondition`
    /// (also when the object is gone).
    Update(Version),
}

/// Options of a get.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetOptions {
    /// Answer [`GetResult::NotModified`] instead of the value when the current version is this
    /// one (a conditional GET: how a cache revalidates cheaply).
    pub if_none_match: Option<Version>,
}

/// The answer to a get.
#[derive(Debug, Clone)]
pub enum GetResult {
    /// The current value.
    Found(Object),
    /// The version given in [`GetOptions::if_none_match`] is still current.
    NotModified,
}

/// How much a store holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Usage {
    /// Total size of all objects, in bytes.
    pub bytes: u64,
    /// Number of objects.
    pub objects: u64,
}

/// What a backend can do. The behaviour test kit skips (and says so) what a backend cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Objects live as files the caller can open ([`Backend::local_path`] answers `Some`).
    pub local_paths: bool,
    /// `PutMode::Create` and `PutMode::Update` work.
    pub conditional_put: bool,
    /// A key can be an object and a prefix of other keys at once (`a` and `a/b`). False on a
    /// file system, where `a` cannot be both a file and a folder.
    pub object_and_prefix: bool,
    /// The data outlives the process (another process, or a reopen, sees it).
    pub persistent: bool,
    /// [`Backend::lock_store`] gives a lock that other processes respect.
    pub cross_process_lock: bool,
    /// Every handle on this storage shares its usage figures ([`Backend::usage_ledger`]), so
    /// limits see other handles' saves at once. Without it (S3), they are seen at the next
    /// recount: near a limit, or when `usage()` is called.
    pub shared_usage: bool,
}

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
/// layers; there are no default methods.
#[async_trait]
pub trait Backend: Debug + Send + Sync + 'static {
    /// A name for messages and metrics, usually the URL it was opened with.
    fn name(&self) -> &str;

    /// What this backend can do.
    fn capabilities(&self) -> Capabilities;

    /// Stores `value` under `key`. Returns the new object's metadata once the value is durable
    /// (as durable as the backend promises).
    async fn put(&self, key: &Key, value: Bytes, mode: &PutMode) -> Result<ObjectMeta>;

    /// Reads a value, or answers `NotModified` when `opts.if_none_match` is current.
    async fn get(&self, key: &Key, opts: &GetOptions) -> Result<GetResult>;

    /// The value of `key` right now, without I/O or waiting, when that is possible (a fresh cache
    /// hit, an in-memory map). `None` means "ask [`Backend::get`]", never "absent".
    fn get_ready(&self, key: &Key) -> Option<Bytes>;

    /// The metadata of an object, or `NotFound`.
    async fn head(&self, key: &Key) -> Result<ObjectMeta>;

    /// Removes an object; `NotFound` when there is none.
    async fn delete(&self, key: &Key) -> Result<()>;

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
    /// then updates the committed figures on each put and delete). See [`crate::ledger`].
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
        GetResult::NotModified => Err(crate::Error::Backend {
            backend: backend.name().to_string(),
            message: format!("answered 'not modified' to an unconditional read of '{key}'"),
            source: None,
        }),
    }
}
