//! # store-core: the Object Store's contract and facade
//!
//! Most users depend on the `objstore` crate, which re-exports everything here and adds the
//! backends. This crate is what backends and layers are written against.
//!
//! ## The facade
//!
//! [`ObjectStore`] is QuantConnect LEAN's Object Store API in Rust: save and read strings,
//! bytes, JSON and XML by key; check, delete and list keys; iterate over (key, value) pairs
//! lazily; get a local file path for a key; scope a view to a project.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, PartialEq, Debug)]
//! struct Params { lookback: u32, threshold: f64 }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = store_core::open("memory://").await?;
//! let params = Params { lookback: 20, threshold: 1.5 };
//! store.save_json("research/params", &params).await?;
//! store.save_xml("research/params.xml", &params).await?;
//! assert_eq!(store.read_json::<Params>("research/params").await?, params);
//! assert_eq!(store.read_xml::<Params>("research/params.xml").await?, params);
//!
//! // A project view keeps its keys under "{project_id}/".
//! let project = store.project("12345");
//! project.save("insights", "[]").await?;
//! assert!(store.contains_key("12345/insights").await?);
//! assert_eq!(project.keys().await?, vec!["insights"]);
//!
//! // Errors are typed and say what to do next.
//! let missing = store.read("nope").await.unwrap_err();
//! assert!(matches!(missing, store_core::Error::NotFound { .. }));
//! # Ok::<(), store_core::Error>(()) }).unwrap();
//! ```
//!
//! [`blocking::ObjectStore`] offers the same methods synchronously.
//!
//! ## Keys
//!
//! See [`Key`]: `\` becomes `/`, leading `/` and `./` are dropped, runs of `/` collapse; empty
//! keys, keys over 1024 bytes, `.`/`..` segments, a trailing `/`, control characters and names
//! starting with `.objstore` are refused with [`Error::InvalidKey`], on every operation. No key
//! can reach outside the store.
//!
//! ## The stack
//!
//! `open(url)` finds the backend registered for the URL's scheme ([`raw::registry`]), then stacks
//! the layers the options call for ([`raw::layer`]): access, cache, limits, backend. Every layer
//! is a [`raw::Backend`] and forwards every method explicitly. Layers from other crates (store-monitor's
//! metrics) go on top with [`StoreBuilder::layer`], so they see every call the facade makes,
//! cache hits included.
//!
//! - **Cache** ([`CacheOptions`]): a concurrent cache bounded in bytes; [`CachePolicy::Revalidate`]
//!   (the default) checks the backend's version before serving, so changes made by other
//!   processes are seen; [`CachePolicy::Trust`] is LEAN's behaviour; [`ObjectStore::clear`] empties it.
//! - **Limits** ([`Limits`]): bytes, objects and object size, enforced atomically under
//!   concurrency, counted incrementally in a ledger every handle (on local disk every process)
//!   shares, and recounted before a decision when the figures may miss changes made around the
//!   store (see [`raw::layer::LimitsLayer`]).
//! - **Access** ([`Access`]): read, write and delete permissions.
//!
//! ## Writing a backend
//!
//! Everything a backend or layer author needs is in [`raw`], apart from this user-facing root:
//! implement [`raw::Backend`], register a scheme with a [`raw::registry::BackendFactory`] in
//! [`raw::registry::BACKENDS`], and run the behaviour suite against it: enable the `testkit`
//! feature and call `behaviour_suite!` in an integration test.

pub mod blocking;
mod builder;
pub mod error;
pub mod key;
mod large_values;
pub mod object;
mod options;
pub mod raw;
mod staging;
mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod url;

pub use builder::{StoreBuilder, open};
pub use error::{Error, Format, LimitKind, Operation, Result};
pub use key::{Key, KeyBuf};
pub use object::{
    ByteRange, Capabilities, GetOptions, GetResult, Object, ObjectMeta, ObjectStream, PutMode, RangeRead, Usage,
    Version,
};
pub use options::{Access, CacheOptions, CachePolicy, Limits};
pub use raw::layer::CacheStats;
pub use store::ObjectStore;
