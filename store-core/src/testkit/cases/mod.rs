//! The behaviour cases, by topic. Each takes a [`Kit`](super::Kit) and panics on a violation.

mod access;
mod cache;
mod conditional;
mod files;
mod keys;
mod limits;
mod ranges;
mod read_into;
mod stack;
mod streams;
mod to_files;
mod values;

pub use access::*;
pub use cache::*;
pub use conditional::*;
pub use files::*;
pub use keys::*;
pub use limits::*;
pub use ranges::*;
pub use read_into::*;
pub use stack::*;
pub use streams::*;
pub use to_files::*;
pub use values::*;

use bytes::Bytes;
use futures::TryStreamExt;

use crate::ObjectStore;

/// Every (key, value) of a store, for checking that a refused operation changed nothing.
pub async fn snapshot(store: &ObjectStore) -> Vec<(String, Bytes)> {
    match store.entries().try_collect().await {
        Ok(all) => all,
        Err(e) => panic!("cannot list the store: {e}"),
    }
}

/// Unwraps a store result, failing the case with the error's message and what was being done.
#[track_caller]
pub fn ok<T>(r: crate::Result<T>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e}"),
    }
}

/// Bytes that are easy to tell apart: `len` bytes derived from `seed`.
pub fn pattern(seed: u64, len: usize) -> Bytes {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect::<Vec<u8>>()
        .into()
}
