//! Where the module's Rust futures run, and how a process that forked keeps working.
//!
//! Invariants:
//! - A synchronous call runs its future on the calling Python thread with the GIL released
//!   ([`run`]): the runtime is entered for network I/O and timers, and the thread is marked as one
//!   that may block, so local file I/O runs inline (no hand-off to a pool).
//! - There is one tokio runtime per process *generation*. The generation starts at 0 and goes up
//!   by one in every child after `os.fork()` (a hook registered with `os.register_at_fork` calls
//!   [`after_fork_in_child`]). A child never touches the parent's runtime (its worker threads do
//!   not exist there): it builds its own on first use and leaks the parent's, whose drop would
//!   wait for threads that are gone.
//! - Handles (stores, managers, monitors) remember the generation they were opened in and reopen
//!   themselves in a child (see `store.rs`), so nothing built on the parent's runtime (an HTTP
//!   connection pool, a lock held by a thread that did not survive the fork) is used there.
//! - [`in_flight`] counts the calls inside the GIL-released section, for tests and benchmarks
//!   that want to see calls overlap.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use pyo3::prelude::*;
use tokio::runtime::Runtime;

static GENERATION: AtomicU64 = AtomicU64::new(0);
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static IN_FLIGHT_PEAK: AtomicUsize = AtomicUsize::new(0);

/// The runtime of each generation that needed one; never dropped (see the module docs).
static RUNTIMES: Mutex<Vec<(u64, &'static Runtime)>> = Mutex::new(Vec::new());

thread_local! {
    static LOCAL: std::cell::Cell<Option<(u64, &'static Runtime)>> = const { std::cell::Cell::new(None) };
}

/// The current process generation (0 in the process that imported the module, +1 per fork).
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// Called in the child right after `os.fork()`, with the GIL held and no other thread running.
/// A thread of the parent may have held [`RUNTIMES`]' lock at the fork, so the child's copy may
/// stay locked forever: [`runtime`] then builds the child's runtime without it.
pub fn after_fork_in_child() {
    GENERATION.fetch_add(1, Ordering::AcqRel);
    IN_FLIGHT.store(0, Ordering::Release);
}

/// The runtime of this generation, built on first use.
pub fn runtime() -> PyResult<&'static Runtime> {
    let generation = generation();
    if let Some((g, rt)) = LOCAL.with(std::cell::Cell::get)
        && g == generation
    {
        return Ok(rt);
    }
    let rt = match RUNTIMES.try_lock() {
        Ok(mut runtimes) => match runtimes.iter().find(|(g, _)| *g == generation) {
            Some((_, rt)) => *rt,
            None => {
                let rt = build()?;
                runtimes.push((generation, rt));
                rt
            }
        },
        Err(std::sync::TryLockError::Poisoned(p)) => {
            let mut runtimes = p.into_inner();
            let rt = build()?;
            runtimes.push((generation, rt));
            rt
        }
        Err(std::sync::TryLockError::WouldBlock) => {
            // Another thread of this process is building or looking up the runtime right now
            // (or, in a forked child, the lock was copied while held: then nobody will release
            // it). Wait a little for the first case; in the second build a runtime of our own.
            match wait_for(generation) {
                Some(rt) => rt,
                None => build()?,
            }
        }
    };
    LOCAL.with(|c| c.set(Some((generation, rt))));
    Ok(rt)
}

fn wait_for(generation: u64) -> Option<&'static Runtime> {
    for _ in 0..200 {
        std::thread::sleep(std::time::Duration::from_millis(5));
        if let Ok(runtimes) = RUNTIMES.try_lock() {
            return runtimes.iter().find(|(g, _)| *g == generation).map(|(_, rt)| *rt);
        }
    }
    None
}

fn build() -> PyResult<&'static Runtime> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("objstore-py")
        .enable_all()
        .build()
        .map_err(|e| crate::errors::storage_error(format!("cannot start the objstore runtime: {e}")))?;
    Ok(Box::leak(Box::new(rt)))
}

/// Runs `fut` to completion on this thread with the GIL released (see the module docs).
pub fn run<F>(py: Python<'_>, fut: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let rt = runtime()?;
    Ok(py.detach(|| {
        let _flight = Flight::enter();
        block_here(rt, fut)
    }))
}

/// Runs `fut` to completion on this thread without releasing the GIL: for the rare call that
/// must not let other Python threads in (reopening a handle after a fork).
pub fn run_attached<F: Future>(fut: F) -> PyResult<F::Output> {
    let rt = runtime()?;
    Ok(block_here(rt, fut))
}

fn block_here<F: Future>(rt: &'static Runtime, fut: F) -> F::Output {
    let _context = rt.enter();
    let _scope = objstore::raw::io::BlockingScope::enter();
    futures::executor::block_on(fut)
}

/// Marks a call inside the GIL-released section (see [`in_flight`]).
struct Flight;

impl Flight {
    fn enter() -> Flight {
        let now = IN_FLIGHT.fetch_add(1, Ordering::AcqRel) + 1;
        IN_FLIGHT_PEAK.fetch_max(now, Ordering::AcqRel);
        Flight
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The most calls that were inside the GIL-released section at once since the last reset, and
/// resets it when `reset`.
pub fn in_flight_peak(reset: bool) -> usize {
    if reset {
        IN_FLIGHT_PEAK.swap(IN_FLIGHT.load(Ordering::Acquire), Ordering::AcqRel)
    } else {
        IN_FLIGHT_PEAK.load(Ordering::Acquire)
    }
}

/// The largest value read without fresh memory each time (see [`prime_allocator`]).
const PRIMED_READ_BYTES: usize = 16 << 20;

/// Raises glibc's adaptive mmap threshold once, at import, as a program that had read one
/// 16 MiB value would have.
///
/// A value comes back to Python as a `bytes` object, a copy of the Rust buffer it was read
/// into. Below glibc's threshold (128 KiB until the process frees a larger mapped block) each
/// of the two buffers is a fresh `mmap`, and above it the two freed together are trimmed off the
/// heap at once: either way every read of a few hundred KiB faults in all its pages again (a
/// 1 MiB read measured 14–17x `open().read()`). One 16 MiB allocation given back raises the
/// threshold to 16 MiB and the trim threshold to 32 MiB, as glibc does by itself after any such
/// block, so reads up to 16 MiB reuse heap memory. Other allocators ignore it.
pub fn prime_allocator() {
    let block: Vec<u8> = Vec::with_capacity(PRIMED_READ_BYTES);
    drop(std::hint::black_box(block));
}
