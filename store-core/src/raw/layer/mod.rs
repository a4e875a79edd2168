//! Layers wrap a [`crate::raw::Backend`] and are one: the facade holds a single stack of them.
//!
//! From the top: outside layers added with [`crate::StoreBuilder::layer`] (metrics, from
//! store-monitor), [`AccessLayer`] (refuse what is not permitted), [`CacheLayer`] (serve reads
//! from memory), [`LimitsLayer`] (refuse saves past a limit), then the backend. A layer that has
//! nothing to do (full access, no limits, a zero-sized cache) is left out of the stack.

mod access;
mod cache;
mod limits;

pub use access::AccessLayer;
pub use cache::{CacheLayer, CacheStats};
pub use limits::{LimitsLayer, RECOUNT_MARGIN};
