//! The usage ledger: figures every handle on one storage shares, so limits hold across them.
//!
//! A ledger holds the committed usage (what is stored) and the reservations of saves in flight.
//! A backend that can share a ledger between all its handles (the memory backend between handles
//! of one name, the local backend between processes through a locked file) offers it through
//! [`crate::raw::Backend::usage_ledger`] and keeps its committed figures up to date on every put and
//! delete. The limits layer adds and releases reservations in it, and resets the committed
//! figures from a full recount when a decision near a limit must be exact.
//!
//! A backend without a shared ledger gets a [`LocalLedger`] inside the limits layer, which then
//! keeps the committed figures itself.

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
}

impl LedgerFigures {
    /// The committed usage.
    pub fn usage(&self) -> Usage {
        Usage { bytes: self.bytes, objects: self.objects }
    }

    /// Applies a change of one object from `old` bytes (absent: `None`) to `new` (deleted: `None`).
    pub fn apply(&mut self, old: Option<u64>, new: Option<u64>) {
        self.bytes = self.bytes.saturating_sub(old.unwrap_or(0)).saturating_add(new.unwrap_or(0));
        match (old, new) {
            (None, Some(_)) => self.objects += 1,
            (Some(_), None) => self.objects = self.objects.saturating_sub(1),
            _ => {}
        }
    }
}

/// Figures shared by every handle on one storage, changed atomically.
pub trait UsageLedger: Debug + Send + Sync {
    /// Reads the figures, lets `change` modify them, and stores the result, atomically with
    /// respect to every other handle of the ledger. Returns the figures after the change.
    fn update(&self, change: &mut dyn FnMut(&mut LedgerFigures)) -> Result<LedgerFigures>;

    /// The figures now.
    fn read(&self) -> Result<LedgerFigures> {
        self.update(&mut |_| {})
    }
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
}

impl UsageLedger for LocalLedger {
    fn update(&self, change: &mut dyn FnMut(&mut LedgerFigures)) -> Result<LedgerFigures> {
        // Plain numbers: a poisoned lock still holds usable figures.
        let mut figures = self.figures.lock().unwrap_or_else(|p| p.into_inner());
        change(&mut figures);
        Ok(*figures)
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
}
