//! The order of writes and fills of one key: what may enter the cache after a write or a read.
//!
//! Keys are spread over stripes; each stripe keeps a generation (bumped when a write to one of
//! its keys starts and when it ends) and the number of its writes in flight. The rules:
//!
//! - A write empties the key's entry when it starts, and when it ends it puts its own value in
//!   only if it ran alone: no write of the stripe was in flight when it started, and none started
//!   or ended while it ran (the generation is the one it set). Otherwise nobody knows which of
//!   the overlapping writes the backend applied last, so the entry is emptied (the next read
//!   fills it from the backend).
//! - A read fills the cache only if no write of the stripe was in flight when it started and the
//!   generation is unchanged when it fills: no write started or ended meanwhile, so the value
//!   it read is still the backend's.
//!
//! Both decisions happen under the stripe's lock, together with the change to the cache they
//! allow, so a write that starts later always empties the entry after the earlier one filled
//! it. A write whose future is dropped before it ends counts as ended with an unknown outcome
//! (see `Writing` in the parent module). Stripes are shared by keys, which only makes the rules
//! more cautious (a fill skipped, never a wrong one).

use std::sync::{Mutex, MutexGuard};

use crate::key::Key;

/// Stripes of keys; enough that unrelated keys rarely share one.
const STRIPES: usize = 64;

#[derive(Debug, Default)]
struct Stripe {
    generation: u64,
    in_flight: u32,
}

/// Every stripe's generation and writes in flight; see the module documentation.
#[derive(Debug)]
pub(super) struct Stripes {
    stripes: Box<[Mutex<Stripe>]>,
}

/// A write that has started: what its end needs to know.
#[derive(Debug)]
pub(super) struct WriteStart {
    index: usize,
    generation: u64,
    alone: bool,
}

/// A read that has started: whether it may fill the cache.
#[derive(Debug, Clone, Copy)]
pub(super) struct ReadStart {
    index: usize,
    generation: u64,
    quiet: bool,
}

impl Stripes {
    pub(super) fn new() -> Stripes {
        Stripes { stripes: (0..STRIPES).map(|_| Mutex::default()).collect() }
    }

    fn index(key: &Key) -> usize {
        (xxhash_rust::xxh3::xxh3_64(key.as_str().as_bytes()) % STRIPES as u64) as usize
    }

    fn lock(&self, index: usize) -> MutexGuard<'_, Stripe> {
        // The guarded values are counters; a poisoned lock still holds usable ones.
        self.stripes[index].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a write of `key`; `empty` (run under the stripe's lock) drops the cached entry.
    pub(super) fn start_write(&self, key: &Key, empty: impl FnOnce()) -> WriteStart {
        let index = Self::index(key);
        let mut stripe = self.lock(index);
        let alone = stripe.in_flight == 0;
        stripe.generation += 1;
        stripe.in_flight += 1;
        empty();
        WriteStart { index, generation: stripe.generation, alone }
    }

    /// Ends a write; `settle(ran_alone)` (run under the stripe's lock) puts the written value in
    /// the cache when `ran_alone`, else empties the entry.
    pub(super) fn end_write(&self, start: WriteStart, settle: impl FnOnce(bool)) {
        let mut stripe = self.lock(start.index);
        stripe.in_flight = stripe.in_flight.saturating_sub(1);
        let ran_alone = start.alone && stripe.generation == start.generation;
        settle(ran_alone);
        stripe.generation += 1;
    }

    /// A write that starts and ends at once (the cache is told a value may have changed); `empty`
    /// drops the cached entry under the stripe's lock.
    pub(super) fn touch(&self, key: &Key, empty: impl FnOnce()) {
        let start = self.start_write(key, empty);
        self.end_write(start, |_| {});
    }

    /// Starts a read of `key` from the backend.
    pub(super) fn start_read(&self, key: &Key) -> ReadStart {
        let index = Self::index(key);
        let stripe = self.lock(index);
        ReadStart { index, generation: stripe.generation, quiet: stripe.in_flight == 0 }
    }

    /// Runs `fill` (under the stripe's lock) if the value a read started at `start` got from the
    /// backend may enter the cache.
    pub(super) fn fill(&self, start: ReadStart, fill: impl FnOnce()) {
        let stripe = self.lock(start.index);
        if start.quiet && stripe.generation == start.generation {
            fill();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::KeyBuf;

    fn key() -> KeyBuf {
        KeyBuf::parse("k").unwrap()
    }

    fn ends_alone(stripes: &Stripes, start: WriteStart) -> bool {
        let mut alone = None;
        stripes.end_write(start, |a| alone = Some(a));
        alone.unwrap()
    }

    #[test]
    fn a_lone_write_may_fill_overlapping_ones_may_not() {
        let s = Stripes::new();
        assert!(ends_alone(&s, s.start_write(&key(), || {})));
        // b starts while a is in flight: neither knows which landed last, in either end order.
        let a = s.start_write(&key(), || {});
        let b = s.start_write(&key(), || {});
        assert!(!ends_alone(&s, a));
        assert!(!ends_alone(&s, b));
        let a = s.start_write(&key(), || {});
        let b = s.start_write(&key(), || {});
        assert!(!ends_alone(&s, b));
        assert!(!ends_alone(&s, a));
    }

    #[test]
    fn a_read_fills_only_when_no_write_ran_beside_it() {
        let s = Stripes::new();
        let filled = |read: ReadStart| {
            let mut did = false;
            s.fill(read, || did = true);
            did
        };
        assert!(filled(s.start_read(&key())));
        // A write started and ended during the read.
        let read = s.start_read(&key());
        s.touch(&key(), || {});
        assert!(!filled(read));
        // A write in flight when the read started, ended before the fill.
        let write = s.start_write(&key(), || {});
        let read = s.start_read(&key());
        s.end_write(write, |_| {});
        assert!(!filled(read));
    }
}
