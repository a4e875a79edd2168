//! # objstore: a key-value Object Store for trading systems
//!
//! One API saves and reads strings, bytes, JSON and XML by key, in the spirit of QuantConnect
//! LEAN's Object Store, with stronger promises: a save that returned `Ok` is durable on disk, no
//! reader ever sees a torn object, no key reaches outside the store, limits hold under
//! concurrency, and cached reads are not stale by default.
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! # let url = format!("file://{}", dir.path().display());
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct TradingState { equity: f64, positions: Vec<String> }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // "file://./storage" is LEAN's default folder; any folder works.
//! let store = objstore::open(&url).await?;
//! let state = TradingState { equity: 100_000.0, positions: vec!["SPY".into()] };
//! store.save_json("state/2024-01-02", &state).await?;
//! assert_eq!(store.read_json::<TradingState>("state/2024-01-02").await?, state);
//! assert!(store.contains_key("state/2024-01-02").await?);
//! assert_eq!(store.keys().await?, vec!["state/2024-01-02"]);
//! # Ok::<(), objstore::Error>(()) }).unwrap();
//! ```
//!
//! Synchronous code (a backtest loop) uses [`blocking::ObjectStore`], with the same methods:
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! # let url = format!("file://{}", dir.path().display());
//! let store = objstore::blocking::open(&url)?;
//! store.save("sma_values", "2024-01-02,470.1\n")?;
//! let path = store.get_file_path("models/model.bin")?;   // a real file: hand it to any library
//! std::fs::write(&path, b"weights").unwrap();
//! store.save_from_file("models/model.bin")?;
//! assert_eq!(&store.read_bytes("models/model.bin")?[..], b"weights");
//! # Ok::<(), objstore::Error>(())
//! ```
//!
//! ## Opening a store
//!
//! [`open`] takes a URL; [`ObjectStore::builder`] adds [`Limits`], [`Access`] and
//! [`CacheOptions`]:
//!
//! | URL | backend | feature |
//! | --- | --- | --- |
//! | `file:///abs/dir`, `file://rel/dir` | durable local disk (`?durability=buffered` to skip fsync) | `local` (default) |
//! | `memory://`, `memory://NAME` | in-process memory | always |
//! | `s3://bucket/prefix?endpoint=...` | S3-compatible storage (AWS S3, MinIO, SeaweedFS) | `s3` (default) |
//!
//! ## Errors
//!
//! Every operation returns [`Error`], whose variants say what went wrong and what to do:
//! `NotFound`, `InvalidKey`, `LimitExceeded`, `PermissionDenied`, `AlreadyExists`,
//! `Precondition`, `Serialization`, `Conflict`, `Io`, `Backend`, `Config`. The library never
//! panics on bad input.
//!
//! ## Bulk copies
//!
//! [`transfer`] imports a folder into a store, exports a store into a folder and copies one store
//! into another (local disk to S3 and back), with bounded parallelism, progress reports and
//! resume: a re-run copies only what is missing or changed (`objstore import`, `export`, `copy`).
//!
//! ## Crates
//!
//! This crate re-exports `store-core` (the facade, keys, layers, the backend contract) and links
//! the backends its features enable; `backend-local`, `backend-s3`, `store-manager` and
//! `store-monitor` are the layers below and beside it.

pub use store_core::{
    Access, Backend, CacheOptions, CachePolicy, Capabilities, Error, Format, GetOptions, GetResult, Key, KeyBuf,
    LimitKind, Limits, Object, ObjectMeta, ObjectStore, Operation, PutMode, Result, StoreBuilder, StoreLock, Usage,
    Version, blocking, error, io, ledger, register_backend, registry,
};

#[cfg(feature = "local")]
pub use backend_local;
#[cfg(feature = "s3")]
pub use backend_s3;
#[cfg(feature = "manager")]
pub use store_manager as manager;
#[cfg(feature = "metrics")]
pub use store_metrics as metrics;
#[cfg(feature = "monitor")]
pub use store_monitor as monitor;

pub mod transfer;

#[cfg(feature = "object-store-compat")]
pub mod compat;

/// The README's examples, run as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The store LEAN users know: `./storage` on local disk.
pub const DEFAULT_URL: &str = "file://./storage";

/// Opens the store at `url` with default limits, access and cache (see the crate docs for URLs).
pub async fn open(url: &str) -> Result<ObjectStore> {
    store_core::open(url).await
}
