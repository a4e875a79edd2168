//! The usage ledger: figures every handle on one storage shares, so limits hold across them.
//!
//! A ledger holds the committed usage (what is stored) and the reservations of saves in flight.
//! A backend that can share a ledger between all its handles (the memory backend between handles
//! of one name, the local backend between processes through a locked file) offers it through
//! [`crate::raw::Backend::usage_ledger`] and keeps its committed figures up to date on every put and
//! delete, in the same atomic step that makes the change visible. The limits layer adds and
//! releases reservations in it, and decides near a limit with [`UsageLedger::exact_update`],
//! which recounts the storage when the figures may miss changes made around the store.
//!
//! Invariants a shared ledger keeps:
//! - a recount is a snapshot: no put or delete of any handle lands while it counts, so it never
//!   drops (or counts twice) another handle's change;
//! - reservations belong to the handle that made them: a recount never touches them, and those of
//!   a handle that is gone (a killed process) are given back by the next exact update;
//! - figures read from storage are checked; figures that cannot be trusted (a damaged file) are
//!   reported [`LedgerFigures::stale`], never used as they are;
//! - [`UsageLedger::try_update`] never waits, so async code can try first and hand the waiting
//!   version to a blocking thread only when the ledger is busy.
//!
//! A backend without a shared ledger gets a [`LocalLedger`] inside the limits layer, which then
//! keeps the committed figures itself and recounts through [`crate::raw::Backend::usage`].

use std::fmt::Debug;
use std::sync::Mutex;

use crate::error::Result;
use crate::raw::backend::Usage;

/// The shared figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LedgerFigures {
    /// Bytes stored.
    pub bytes: u64,
    /// Objects stored.
    pub objects: u64,
    /// Bytes reserved by saves in flight.
    pub reserved_bytes: u64,
    /// Objects reserved by saves in flight.
    pub reserved_objects: u64,
    /// The committed figures may miss changes made around the store (files another program
    /// added, changed or removed; a save a killed process left half-done; a damaged ledger file):
    /// a decision that must be exact recounts first. Setting it in an update marks the figures
    /// so; only a recount clears it.
    pub stale: bool,
}

impl LedgerFigures {
    /// The committed usage.
    pub fn usage(&self) -> Usage {
        Usage { bytes: self.bytes, objects: self.objects }
    }

    /// Committed and reserved bytes together (saturating: figures never wrap).
    pub fn bytes_in_use(&self) -> u64 {
        self.bytes.saturating_add(self.reserved_bytes)
    }

    /// Committed and reserved objects together (saturating).
    pub fn objects_in_use(&self) -> u64 {
        self.objects.saturating_add(self.reserved_objects)
    }

    /// Applies a change of one object from `old` bytes (absent: `None`) to `new` (deleted: `None`).
    pub fn apply(&mut self, old: Option<u64>, new: Option<u64>) {
        self.bytes = self.bytes.saturating_sub(old.unwrap_or(0)).saturating_add(new.unwrap_or(0));
        match (old, new) {
            (None, Some(_)) => self.objects = self.objects.saturating_add(1),
            (Some(_), None) => self.objects = self.objects.saturating_sub(1),
            _ => {}
        }
    }

    /// Adds a reservation of `bytes` and `objects` (saturating).
    pub fn reserve(&mut self, bytes: u64, objects: u64) {
        self.reserved_bytes = self.reserved_bytes.saturating_add(bytes);
        self.reserved_objects = self.reserved_objects.saturating_add(objects);
    }

    /// Gives back a reservation of `bytes` and `objects` (saturating).
    pub fn release(&mut self, bytes: u64, objects: u64) {
        self.reserved_bytes = self.reserved_bytes.saturating_sub(bytes);
        self.reserved_objects = self.reserved_objects.saturating_sub(objects);
    }
}

/// Figures shared by every handle on one storage, changed atomically.
pub trait UsageLedger: Debug + Send + Sync {
    /// Reads the figures, lets `change` modify them, and stores the result, atomically with
    /// respect to every other handle of the ledger. Returns the figures after the change. May
    /// wait for other handles (call it where blocking is allowed).
    fn update(&self, change: &mut dyn FnMut(&mut LedgerFigures)) -> Result<LedgerFigures>;

    /// Like [`UsageLedger::update`], but never waits: `None` (and `change` not called) when
    /// another handle holds the ledger right now.
    fn try_update(&self, change: &mut dyn FnMut(&mut LedgerFigures)) -> Result<Option<LedgerFigures>>;

    /// The figures now.
    fn read(&self) -> Result<LedgerFigures> {
        self.update(&mut |_| {})
    }

    /// The update a decision near a limit makes: first gives back the reservations of handles
    /// that are gone, then recounts the storage (when `recount` is true or the figures are
    /// [`LedgerFigures::stale`]) as a snapshot no save lands in, then applies `change`, all
    /// atomically. `None` (and `change` not called) when a recount is needed and this ledger
    /// cannot count the storage itself ([`LocalLedger`]: its owner counts). May block for as long
    /// as a recount takes.
    fn exact_update(&self, recount: bool, change: &mut dyn FnMut(&mut LedgerFigures)) -> Result<Option<LedgerFigures>>;

    /// Says that someone makes decisions on these figures: keep them fresh from now on (a local
    /// folder starts watching for files other programs add or change). Idempotent.
    fn keep_fresh(&self) -> Result<()>;
}

/// A ledger in this process's memory.
#[derive(Debug, Default)]
pub struct LocalLedger {
    figures: Mutex<LedgerFigures>,
}

impl LocalLedger {
    /// A ledger starting at `usage` with nothing reserved.
    pub fn new(usage: Usage) -> LocalLedger {
        LocalLedger {
            figures: Mutex::new(LedgerFigures { bytes: usage.bytes, objects: usage.objects, ..Default::default() }),
        }
    }

    /// Sets the committed figures to a recount made by the owner, clearing `stale`, and applies
    /// `change`, atomically.
    pub fn recounted(&self, usage: Usage, change: &mut dyn FnMut(&mut LedgerFigures)) -> LedgerFigures {
        let mut figures = self.figures.lock().unwrap_or_else(|p| p.into_inner());
        figures.bytes = usage.bytes;
        figures.objects = usage.objects;
        figures.stale = false;
        change(&mut figures);
        *figures
    }
}

impl UsageLedger for LocalLedger {
    fn update(&self, change: &mut dyn FnMut(&mut LedgerFigures)) -> Result<LedgerFigures> {
        // Plain numbers: a poisoned lock still holds usable figures.
        let mut figures = self.figures.lock().unwrap_or_else(|p| p.into_inner());
        let stale = figures.stale;
        change(&mut figures);
        figures.stale |= stale;
        Ok(*figures)
    }

    fn try_update(&self, change: &mut dyn FnMut(&mut LedgerFigures)) -> Result<Option<LedgerFigures>> {
        // Held only for the few instructions of an update: waiting for it is not blocking.
        self.update(change).map(Some)
    }

    fn exact_update(&self, recount: bool, change: &mut dyn FnMut(&mut LedgerFigures)) -> Result<Option<LedgerFigures>> {
        let mut figures = self.figures.lock().unwrap_or_else(|p| p.into_inner());
        if recount || figures.stale {
            return Ok(None);
        }
        change(&mut figures);
        Ok(Some(*figures))
    }

    fn keep_fresh(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_tracks_objects_and_bytes() {
        let mut f = LedgerFigures::default();
        f.apply(None, Some(10));
        f.apply(Some(10), Some(4));
        f.apply(None, Some(6));
        assert_eq!(f.usage(), Usage { bytes: 10, objects: 2 });
        f.apply(Some(4), None);
        assert_eq!(f.usage(), Usage { bytes: 6, objects: 1 });
        f.apply(Some(100), None);
        assert_eq!(f.usage(), Usage { bytes: 0, objects: 0 });
    }

    /// Figures never wrap, whatever they hold.
    #[test]
    fn figures_saturate() {
        let mut f =
            LedgerFigures { bytes: u64::MAX, objects: u64::MAX, reserved_bytes: u64::MAX - 1, ..Default::default() };
        f.apply(None, Some(5));
        f.reserve(10, 1);
        assert_eq!((f.bytes, f.objects, f.reserved_bytes), (u64::MAX, u64::MAX, u64::MAX));
        assert_eq!((f.bytes_in_use(), f.objects_in_use()), (u64::MAX, u64::MAX));
        f.release(u64::MAX, 5);
        assert_eq!((f.reserved_bytes, f.reserved_objects), (0, 0));
    }

    #[test]
    fn only_a_recount_clears_stale() {
        let ledger = LocalLedger::new(Usage { bytes: 1, objects: 1 });
        ledger.update(&mut |f| f.stale = true).unwrap();
        assert!(ledger.update(&mut |f| f.stale = false).unwrap().stale);
        assert!(ledger.exact_update(false, &mut |_| {}).unwrap().is_none(), "stale figures need a recount");
        let f = ledger.recounted(Usage { bytes: 7, objects: 2 }, &mut |f| f.reserve(1, 1));
        assert_eq!((f.bytes, f.objects, f.reserved_bytes, f.stale), (7, 2, 1, false));
    }
}
