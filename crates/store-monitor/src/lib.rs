//! # store-monitor: statistics, health actions and Prometheus metrics — manual to be
//!
//! This crate will watch a store through its manager: usage and growth history (kept in the
//! store, bounded), days until full, health by thresholds (warning 80 %, critical 90 %, full
//! 100 % by default) on bytes and files, actions (suggest, clean up expired objects, refuse saves
//! when full), the seed's "OBJECT STORE STATISTICS" report, and Prometheus metrics served on
//! `/metrics` (usage, quotas, health, operation counters and latency histograms; never a key as a
//! label).
//!
//! It is not implemented yet.
