//! Where a backend runs its blocking system calls.
//!
//! On an async runtime's worker thread, blocking I/O (an `fsync`, a large read, a directory walk)
//! must move to the runtime's blocking pool. A caller of the blocking facade is already on a
//! thread that may block, and handing work to another thread only costs time there. Backends
//! call [`offload`]: it runs the closure inline when the current thread allows blocking (the
//! blocking facade marks its calls with [`BlockingScope`]) or when no runtime is running, and
//! on the blocking pool otherwise. [`file_stream`] and [`reader_stream`] turn a file or a reader
//! into the chunk stream a streamed save takes.

use std::cell::Cell;

pub use crate::large_values::{file_stream, reader_stream};

use crate::error::{Error, Result};

thread_local! {
    static MAY_BLOCK: Cell<bool> = const { Cell::new(false) };
}

/// While alive, marks the current thread as one that may block, so [`offload`] runs inline.
pub struct BlockingScope {
    previous: bool,
}

impl BlockingScope {
    /// Marks the current thread until the scope is dropped.
    pub fn enter() -> BlockingScope {
        BlockingScope { previous: MAY_BLOCK.with(|c| c.replace(true)) }
    }
}

impl Drop for BlockingScope {
    fn drop(&mut self) {
        MAY_BLOCK.with(|c| c.set(self.previous));
    }
}

/// True when blocking calls may run on this thread without hurting an async runtime.
pub fn may_block_here() -> bool {
    MAY_BLOCK.with(Cell::get) || tokio::runtime::Handle::try_current().is_err()
}

/// Runs `f` inline when this thread may block, else on the runtime's blocking pool.
pub async fn offload<T, F>(f: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    if may_block_here() {
        return f();
    }
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(join) => Err(Error::io("a blocking storage task did not finish", std::io::Error::other(join.to_string()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_marks_and_restores() {
        // No runtime here, so blocking is allowed anyway; the flag itself must nest.
        assert!(!MAY_BLOCK.with(Cell::get));
        {
            let _outer = BlockingScope::enter();
            {
                let _inner = BlockingScope::enter();
                assert!(MAY_BLOCK.with(Cell::get));
            }
            assert!(MAY_BLOCK.with(Cell::get));
        }
        assert!(!MAY_BLOCK.with(Cell::get));
    }

    #[tokio::test]
    async fn offload_runs_on_pool_in_async_and_inline_in_scope() {
        let here = std::thread::current().id();
        let there = offload(|| Ok(std::thread::current().id())).await.unwrap();
        assert_ne!(here, there);
        let _scope = BlockingScope::enter();
        let inline = offload(|| Ok(std::thread::current().id())).await.unwrap();
        assert_eq!(here, inline);
    }
}
