//! The implementer's API: what backend and layer authors need, apart from the user's API at the
//! crate root (as OpenDAL keeps its `raw` module).
//!
//! - [`Backend`]: the storage contract every backend and layer implements, with [`StoreLock`],
//!   [`ByteStream`] and [`get_object`].
//! - [`registry`]: URL schemes and the factories that open them ([`register_backend`]).
//! - [`layer`]: the built-in layers (access, cache, limits), to reuse or to model a new one on.
//! - [`ledger`]: usage figures shared between handles, which limits count against.
//! - [`io`]: where blocking system calls run ([`io::offload`]).
//! - [`detach`]: saves and deletes that end once started, also when their caller gives up.
//! - [`gather`]: a chunk stream in pieces sized for writing.
//! - [`memory`]: the in-memory backend, a small complete example of the contract.
//! - [`value_buffer`]: memory a caller provides for a whole value ([`Backend::get_into`]).
//!
//! A new backend implements [`Backend`], registers its scheme in [`registry::BACKENDS`] and
//! runs the behaviour suite against itself (`store_core::behaviour_suite!`, feature `testkit`).
//! A layer wraps an `Arc<dyn Backend>`, forwards every method explicitly, and goes on a store
//! with [`crate::StoreBuilder::layer`].

pub mod backend;
pub mod detach;
pub mod gather;
pub mod io;
pub mod layer;
pub mod ledger;
pub mod memory;
pub mod registry;
pub mod value_buffer;

pub use backend::{Backend, ByteStream, StoreLock, get_object};
pub use registry::register_backend;
pub use value_buffer::{ValueAllocator, ValueBuffer};
