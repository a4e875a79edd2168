//! Group commit of folder flushes: durable saves that renamed into one folder share its `fsync`.
//!
//! A save that has renamed its file into a folder needs a flush of the folder that *began after
//! its rename*. Saves of one folder (within this process) meet at the folder's [`Batch`]: when no
//! flush runs, the save starts one (it leads); when one runs, it began before this save's rename
//! and does not cover it, so the save waits for the next one, which one of the waiting saves
//! leads as soon as the running one ends, for all of them at once. Every save of a batch gets
//! that flush's result: an error is delivered to each of them, never taken for a success by a
//! later flush (Linux reports a failed write-back once).
//!
//! Invariants: a save returns Ok only after a flush of its folder that began after its rename
//! returned Ok; at most one flush of a folder runs at a time in this process; a batch ends for a
//! waiter only when that flush has ended. Folders are told apart by device, inode and birth time
//! ([`FolderId`]); a folder's batch lives while saves use it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

use rustix::io::Errno;

use crate::durable_dirs::FolderId;

/// Failed flushes remembered per folder, for waiters that wake late (newest last).
const FAILURES_KEPT: usize = 4096;

/// The flushes of one folder.
#[derive(Default)]
pub(crate) struct Batch {
    state: Mutex<State>,
    ended: Condvar,
}

#[derive(Default)]
struct State {
    /// Flushes begun and ended (numbered from 1); `running` while `started > finished`.
    started: u64,
    finished: u64,
    /// The flushes that failed, with their error.
    failures: VecDeque<(u64, Errno)>,
}

impl Batch {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Returns once a flush (`sync`, run by this save or another of the batch) that began after
    /// this call has ended, with its result.
    pub(crate) fn flush(&self, sync: impl FnOnce() -> Result<(), Errno>) -> Result<(), Errno> {
        let mut state = self.lock();
        let needed = state.started + 1;
        loop {
            if state.finished >= needed {
                return match state.failures.iter().find(|(n, _)| *n == needed) {
                    Some((_, e)) => Err(*e),
                    None => Ok(()),
                };
            }
            if state.started == state.finished {
                // None runs: lead flush `needed` (every earlier one has ended).
                state.started = needed;
                drop(state);
                let result = sync();
                let mut state = self.lock();
                state.finished = needed;
                if let Err(e) = result {
                    if state.failures.len() == FAILURES_KEPT {
                        state.failures.pop_front();
                    }
                    state.failures.push_back((needed, e));
                }
                drop(state);
                self.ended.notify_all();
                return result;
            }
            state = self.ended.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

/// The batches of folders that saves are flushing now.
fn batches() -> &'static Mutex<HashMap<FolderId, Arc<Batch>>> {
    static BATCHES: OnceLock<Mutex<HashMap<FolderId, Arc<Batch>>>> = OnceLock::new();
    BATCHES.get_or_init(Default::default)
}

/// Flushes the folder `id` with `sync` (an `fsync` of it), shared with the other saves of this
/// process that flush it at the same time. See the module documentation.
pub(crate) fn flush_folder(id: FolderId, sync: impl FnOnce() -> Result<(), Errno>) -> Result<(), Errno> {
    let batch = {
        let mut all = batches().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        all.entry(id).or_default().clone()
    };
    let result = batch.flush(sync);
    let mut all = batches().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    drop(batch);
    // The last user removes the folder's batch (the map holds the other reference).
    if all.get(&id).is_some_and(|b| Arc::strong_count(b) == 1) {
        all.remove(&id);
    }
    result
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// Saves that arrive while a flush runs share the next one; all of them get its error.
    #[test]
    fn waiters_share_the_next_flush_and_its_error() {
        let batch = Arc::new(Batch::default());
        let syncs = Arc::new(AtomicUsize::new(0));
        let first_running = Arc::new(Barrier::new(2));
        let release = Arc::new(Barrier::new(2));
        // The first save leads a flush that blocks until released.
        let leader = {
            let (batch, syncs, first_running, release) =
                (batch.clone(), syncs.clone(), first_running.clone(), release.clone());
            std::thread::spawn(move || {
                batch.flush(|| {
                    syncs.fetch_add(1, Ordering::SeqCst);
                    first_running.wait();
                    release.wait();
                    Ok(())
                })
            })
        };
        first_running.wait();
        // Eight saves arrive while it runs: they need the next flush, which fails.
        let waiters: Vec<_> = (0..8)
            .map(|_| {
                let (batch, syncs) = (batch.clone(), syncs.clone());
                std::thread::spawn(move || {
                    batch.flush(|| {
                        syncs.fetch_add(1, Ordering::SeqCst);
                        Err(Errno::IO)
                    })
                })
            })
            .collect();
        // Let them all queue behind the running flush (no timing is asserted: a waiter that
        // arrives later still needs a flush begun after it, which this test allows for below).
        std::thread::sleep(Duration::from_millis(50));
        release.wait();
        assert_eq!(leader.join().unwrap(), Ok(()));
        for waiter in waiters {
            assert_eq!(waiter.join().unwrap(), Err(Errno::IO), "a save of a failed batch was told it succeeded");
        }
        let syncs = syncs.load(Ordering::SeqCst);
        assert!((2..=9).contains(&syncs), "{syncs} flushes for 9 saves");
        // The failure is not inherited by the next save: it gets a flush of its own.
        assert_eq!(batch.flush(|| Ok(())), Ok(()));
    }

    /// A save never returns before a flush that began after it ended.
    #[test]
    fn no_save_returns_on_a_flush_begun_before_it() {
        let batch = Arc::new(Batch::default());
        let began = Arc::new(Mutex::new(Vec::<usize>::new()));
        let threads: Vec<_> = (0..16)
            .map(|i| {
                let (batch, began) = (batch.clone(), began.clone());
                std::thread::spawn(move || {
                    let arrived = began.lock().unwrap().len();
                    batch
                        .flush(|| {
                            began.lock().unwrap().push(i);
                            std::thread::yield_now();
                            Ok(())
                        })
                        .unwrap();
                    // Some flush began after this save arrived.
                    assert!(began.lock().unwrap().len() > arrived);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }

    #[test]
    fn batches_of_folders_are_removed_when_unused() {
        let id = FolderId::for_tests(u64::MAX - 7);
        flush_folder(id, || Ok(())).unwrap();
        assert!(!batches().lock().unwrap().contains_key(&id));
    }
}
