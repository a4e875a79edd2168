//! # store-manager: categories, quotas, expiry, compression and metadata
//!
//! What trading teams build on top of a bare Object Store (see the seed document on the
//! QuantConnect Object Store manager), as a library. A [`Manager`] wraps any
//! [`store_core::ObjectStore`] (local disk, S3, memory) and [`Settings`] read from the
//! `settings.json` format:
//!
//! ```
//! use store_manager::{Category, Manager, SaveOptions, Settings};
//! use serde_json::json;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = store_core::open("memory://").await?;
//! let settings = Settings::from_json(r#"{"tier": "5GB", "storage_allocation": {"llm_cache": 0.3}}"#)?;
//! let manager = Manager::new(store, settings);
//!
//! // Trading state, kept 90 days.
//! let state = json!({"equity": 101_250.5, "positions": {"SPY": 10}});
//! manager.save("trading_state_2025-01-15", &state, SaveOptions::new(Category::TradingState).expire_days(90)).await?;
//! assert_eq!(manager.load::<serde_json::Value>("trading_state_2025-01-15").await?, Some(state));
//!
//! // Metadata travels with the object and can be searched.
//! let opts = SaveOptions::new(Category::BacktestResults).with_metadata("sharpe", 1.8);
//! manager.save("backtest_2025_01_15", &json!({"trades": 42}), opts).await?;
//! let meta = manager.get_metadata("backtest_2025_01_15").await?.unwrap();
//! assert_eq!(meta.metadata["sharpe"], 1.8);
//! assert_eq!(manager.list_keys(&Category::BacktestResults).await?, ["backtest_2025_01_15"]);
//! # Ok::<(), store_manager::Error>(()) }).unwrap();
//! ```
//!
//! Synchronous code (a backtest loop) uses [`blocking::Manager`], with the same methods.
//!
//! ## Where objects live
//!
//! Each category is a folder: key `k` saved in `llm_cache` is the store object `llm_cache/k`;
//! archived copies live under `_archive/{category}/{key}`. A key is unique across categories:
//! saving it in another category moves it: the new copy is written, then the old one deleted.
//! When that delete does not last (a crash between the two, a failed flush and a power loss),
//! both copies are stored and the newer one wins: loads, listings and searches see only it,
//! usage counts both until [`Manager::cleanup`] removes the older ([`CleanupReport::superseded`]).
//! The save that moved the key reports success once its new copy is durable; a failure to remove
//! the old copy is logged as a warning.
//!
//! The manager never deletes what someone saved after it looked: every delete it decides on
//! itself (a move's old copy, expired, superseded and archived copies in a cleanup) removes
//! only the version it examined ([`store_core::ObjectStore::delete_if_match`]), so a save of the
//! same key by another process, a plain store handle or another manager in between survives
//! (exact on memory, local disk, SeaweedFS and moto; see
//! [`store_core::Capabilities::conditional_delete`] for other servers). Two processes moving one
//! key in opposite directions at once may both return `Ok`; the key survives, and the copy
//! saved last wins. Give the manager its own view
//! (`store.project("managed")`) to keep its folders apart from other data.
//!
//! Every object describes itself: a 16-byte prefix, a JSON header (key, category, encoding,
//! size, xxh3-64 checksum, created and expiry times, metadata) and the payload, raw or one zstd
//! frame. `docs/FORMAT.md` gives the format byte by byte so that Python or C# can read it.
//! A damaged object (truncated, checksum mismatch) is [`Error::Corrupt`] naming its key.
//!
//! ## Compression
//!
//! Values larger than `compression_threshold_kb` (100 KiB, the seed's rule) are compressed with
//! zstd when `compression_enabled`; [`SaveOptions::force_compress`] compresses any value. The
//! payload stays raw when compression does not make it smaller. Contexts are reused per thread,
//! so small values are cheap. The default level is **1**, chosen by measuring on trading JSON:
//! on 1 MiB of it (`cargo xtask bench`, row "zstd level 1 vs level 3") level 1 compresses at
//! ~610 MB/s to a ratio of 6.5 and level 3 (zstd's own default) at ~450 MB/s to 6.45; the
//! project's earlier measurement on other trading JSON found 630 MB/s and 4.3 against 340 MB/s
//! and 3.8. Level 1 is faster *and* smaller on such data, so higher levels buy nothing here.
//! `compression_level` in the settings changes it.
//!
//! ## Quotas
//!
//! A save is refused, changing nothing, when its stored size (after compression, header
//! included) is over `max_file_size_mb` ([`Error::ObjectTooLarge`], "Object too large: 52.3MB >
//! 45MB"), or when it would take its category past its `storage_allocation`, or the store
//! (every object of it, plain saves included; not the manager's own files) past
//! `max_storage_gb` or `max_files` ([`Error::QuotaExceeded`]). Room is reserved
//! before the put, so concurrent saves through one manager (and its clones) cannot overshoot.
//! Before refusing, the manager rescans (another process may have freed room) and, with
//! `auto_cleanup.enabled`, removes expired objects and tries again. Other processes' saves are
//! seen at the next scan; for a hard store-wide cap across processes, also give the store its
//! own limits ([`Settings::store_limits`]), which local disk enforces exactly across processes.
//!
//! ## Expiry and the archive
//!
//! An object saved with `expire_days` is invisible to `load`, `get_metadata`, `list_keys` and
//! `find` once it expires, and [`Manager::cleanup_expired`] removes it; with
//! `auto_cleanup.archive_before_delete` it is first copied, compressed, to
//! `_archive/{category}/{key}`, where it stays `auto_cleanup.keep_days` days
//! ([`Manager::list_archived`], [`Manager::load_archived_bytes`]) before a later cleanup removes
//! it. Time comes from a [`clock::Clock`]; tests use [`clock::ManualClock`].
//!
//! ## The index
//!
//! The manager keeps an in-memory index of every object's header. It is a cache, rebuilt from
//! the objects: each listing compares the backend's versions with the index and re-reads only
//! what changed, so `list_keys` on a warm index costs one listing of the category and no
//! per-object read. The first call that needs every figure (a save, `find`, usage) scans the
//! whole store once. A scan reads only an object's 16-byte prefix and its header, with one
//! ranged read through the store (a second one, conditional on the version, only for a header
//! longer than the first read), on every backend: never the payload, never a file by its path
//! (so a FIFO or a symlink swapped in under the root neither hangs nor misleads it), and never
//! more than [`format::MAX_HEADER_LEN`] (1 MiB) of header. An object that cannot be read (a link
//! out of the root) still takes room and is listed by [`Manager::problems`].
//!
//! The index persists between processes: a snapshot of it lives in the store
//! (`_manager/index`, see docs/FORMAT.md), written after a scan that changed the index and at
//! most once a minute after other changes ([`Manager::set_index_snapshots`],
//! [`Manager::persist_index`]). A new process lists the store once, reads the snapshot, and
//! reads the headers only of objects whose version the snapshot does not hold: a cold start
//! over 20,000 objects on SeaweedFS reads the snapshot and no header. A damaged or foreign
//! snapshot is ignored with a warning and rewritten; an entry is only ever used for the exact
//! version it records.
//!
//! A load, `get_metadata`, `exists` or delete of a key the index does not hold costs one
//! request once the index is current: every manager rewrites a small change marker
//! (`_manager/changes`) when it adds a copy of a key, and a full scan notes the marker's
//! version; while it holds, the index knows every copy (on local disk the manager probes the
//! category folders instead: a few `openat` calls). Objects written into category folders by
//! other means than a manager are seen at the next full scan.
//!
//! ## The whole store
//!
//! [`Manager::census`] counts every object of the store the manager works in (or of its project
//! view): each category, the archive, what lies outside them ("unmanaged": plain saves, other
//! programs' files) and the manager's and monitor's own files. The store-wide quotas count the
//! unmanaged objects too: the tier's room is the whole store's.

pub mod blocking;
pub mod category;
mod census;
pub mod cleanup;
pub mod clock;
mod codec;
pub mod error;
pub mod format;
mod head;
mod index;
mod manager;
mod marker;
pub mod object;
mod persist;
mod quota;
mod scan;
pub mod settings;
mod snapshot;
pub mod time;

pub use category::Category;
pub use census::StoreCensus;
pub use cleanup::CleanupReport;
pub use error::{Error, Quota, Result};
pub use manager::Manager;
pub use object::{ArchivedObject, CategoryUsage, Checksum, SaveOptions, StoredObject};
pub use settings::{AutoCleanup, Settings, SettingsError, Tier, UsageMonitoring};
