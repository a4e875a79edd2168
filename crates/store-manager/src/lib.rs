//! # store-manager: categories, settings, quotas, expiry, compression, metadata — manual to be
//!
//! This crate will turn a bare Object Store into what trading teams build on top of one (see the
//! seed document on the QuantConnect Object Store manager):
//!
//! - `Settings` read from the `settings.json` format (`max_storage_gb`, `max_files`,
//!   `max_file_size_mb`, `compression_enabled`, `auto_cleanup`, `storage_allocation` per
//!   category, `usage_monitoring` thresholds) with tier presets and one error listing every problem;
//! - a `Manager` that saves each object self-described (category, created and expiry times, codec,
//!   checksum, user metadata travel with it), compresses with zstd above a size, enforces
//!   per-category quotas, loads (`None` when absent or expired), finds by metadata, lists a
//!   category oldest first, cleans up expired objects (archiving first when asked) and reports
//!   usage by category;
//! - a documented on-storage format that a Python or C# reader can decode.
//!
//! It is not implemented yet.
