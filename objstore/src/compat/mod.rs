//! # Interop: the `object_store` crate's trait over any objstore stack
//!
//! Rust's data tools (DataFusion, Polars, arrow/parquet readers and writers, delta-rs, lance)
//! read and write storage through the [`object_store`] crate's `ObjectStore` trait.
//! [`ObjectStoreAdapter`] implements that trait over an objstore [`ObjectStore`](crate::ObjectStore),
//! whatever its backend (local disk, S3, memory) and with everything the store adds: the read
//! cache, limits, permissions, metrics layers, project views. Feature `object-store-compat`.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::sync::Arc;
//! use object_store::{ObjectStore as _, ObjectStoreExt as _, PutMode, path::Path};
//! use objstore::compat::ObjectStoreAdapter;
//!
//! let store = objstore::open("memory://").await?;
//! let tools: Arc<dyn object_store::ObjectStore> = Arc::new(ObjectStoreAdapter::new(store.clone()));
//!
//! // What a data tool writes is an ordinary object of the store...
//! let path = Path::from("prices/spy.csv");
//! let put = tools.put(&path, "date,close\n2024-01-02,472.65\n".into()).await.unwrap();
//! assert_eq!(store.read("prices/spy.csv").await?, "date,close\n2024-01-02,472.65\n");
//!
//! // ...and reads are ranged and conditional, writes create-only or compare-and-swap.
//! assert_eq!(tools.get_range(&path, 0..4).await.unwrap(), "date");
//! let again = tools.put_opts(&path, "x".into(), PutMode::Create.into()).await.unwrap_err();
//! assert!(matches!(again, object_store::Error::AlreadyExists { .. }));
//! let swap = PutMode::Update(put.into());
//! tools.put_opts(&path, "date,close\n".into(), swap.into()).await.unwrap();
//! # Ok::<(), objstore::Error>(()) }).unwrap();
//! ```
//!
//! ## What maps to what
//!
//! - **Paths are keys**, verbatim: the `Path` `a/b%2Fc/d.parquet` is the key `a/b%2Fc/d.parquet`.
//!   A `Path` the store cannot take as a key (a `.objstore` name, a key over 1024 bytes, a `\`)
//!   fails with a `Generic` error carrying the store's `InvalidKey` advice; nothing is stored
//!   under another name. Over a project view, paths are keys of the project.
//! - **Versions are e_tags**: the store's version of a value (a stat fingerprint on disk, the
//!   ETag on S3, a counter in memory) is the `e_tag` of every `ObjectMeta` and `PutResult`;
//!   `version` is always `None` (one version per key, no object versioning).
//! - **put** with every `PutMode`: `Overwrite`, `Create` (`AlreadyExists` when taken) and
//!   `Update` (compare-and-swap on the e_tag, `Precondition` when it moved), on every backend
//!   that can (memory, local disk, S3 with conditional writes); unlike object_store's own
//!   `LocalFileSystem`, compare-and-swap works on local disk. Tags are ignored, as the trait asks
//!   of stores without tagging; attributes are refused with `NotImplemented`.
//! - **get** with ranges (`Bounded`, `Offset`, `Suffix`), `head`, and the conditions `if_match`,
//!   `if_none_match`, `if_modified_since`, `if_unmodified_since`; a lone `if_none_match` is the
//!   store's own conditional read (a cache hit, a stat, an S3 `304`). Reading an older `version`
//!   is `NotSupported`. Values are read whole and cut (the backends have no ranged read yet;
//!   `get_ranges` reads once for all its ranges). See `read.rs`.
//! - **delete** / `delete_stream`: `NotFound` for a missing object, as the store and object_store's
//!   `LocalFileSystem` say it.
//! - **list**, `list_with_offset`, `list_with_delimiter`, and `PaginatedListStore::list_paginated`:
//!   prefixes match whole segments (`foo` lists `foo/x`, not `foo.bar/y` or `foo` itself);
//!   results come sorted by key. See `list.rs`.
//! - **copy** and **rename** (each with its create-only form): a read and a save through the
//!   facade, then (rename) a delete of the source. Not atomic: a rename that fails after the copy
//!   leaves both.
//! - **multipart**: `put_multipart` and `MultipartStore` collect parts in memory and save them
//!   as one value on `complete` (nothing visible before; the last upload to complete wins). See
//!   `multipart.rs`.
//! - **Errors** map to object_store's variant of the same meaning (`NotFound`, `AlreadyExists`,
//!   `Precondition`, `PermissionDenied`, `NotSupported`, `Unauthenticated`); the rest (a full
//!   store, an invalid key, a network failure) is `Generic`, with the store's error, and its
//!   advice, as the source. See `error.rs`.
//!
//! Every method of the trait is implemented explicitly (none of object_store's default methods
//! is left to run around the layers), and each goes through the facade's public operations, so
//! the cache, limits, access and metrics layers see every call.
//!
//! ## object_store's own test suite
//!
//! The crate's `tests/compat_*.rs` run `object_store::integration` against the adapter over
//! `memory://`, `file://`, SeaweedFS and moto; the README's "Interop: object_store" section lists
//! each function's result per backend, with the reason for those that cannot apply.

mod adapter;
mod error;
mod list;
mod multipart;
mod paths;
mod read;

pub use adapter::ObjectStoreAdapter;
