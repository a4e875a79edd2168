//! The QuantConnect Object Store plans ([`Tier`]) and the limits each one presets
//! ([`TierPreset`]).
//!
//! Invariants:
//! - [`Tier::preset`] is the only place in code where a tier's `max_storage_gb`, `max_files` and
//!   `max_file_size_mb` are written, and `#[default]` on [`Tier`] the only place the default tier
//!   is; `Settings::for_tier`, `Settings::default` and the reader take them from here.
//! - [`Tier::parse`] accepts exactly [`Tier::ACCEPTED_NAMES`], in any case, and
//!   `Tier::parse(t.name()) == Some(t)` for every tier.

use std::fmt;

/// A QuantConnect Object Store plan. Its [`preset`](Tier::preset) gives the default limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Tier {
    /// The free 50 MB tier (`"free"` or `"50MB"`).
    Free,
    /// The 2 GB tier (`"2GB"`).
    Gb2,
    /// The 5 GB tier (`"5GB"`), the seed document's and the default.
    #[default]
    Gb5,
    /// The 10 GB tier (`"10GB"`).
    Gb10,
}

/// The limits a [`Tier`] sets when the file does not give them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TierPreset {
    /// Capacity of the store, in binary GB.
    pub max_storage_gb: f64,
    /// Most objects the store may hold.
    pub max_files: u64,
    /// Largest object, in binary MB.
    pub max_file_size_mb: f64,
}

/// The fields of the settings object a [`TierPreset`] fills in, as named in settings.json.
pub(super) const PRESET_FIELDS: [&str; 3] = ["max_storage_gb", "max_files", "max_file_size_mb"];

impl Tier {
    /// Every tier, smallest first.
    pub const ALL: [Tier; 4] = [Tier::Free, Tier::Gb2, Tier::Gb5, Tier::Gb10];

    /// Every name `tier` accepts in settings.json (compared case-insensitively).
    pub const ACCEPTED_NAMES: [&'static str; 5] = ["free", "50MB", "2GB", "5GB", "10GB"];

    /// The tier's name in settings.json: `"free"`, `"2GB"`, `"5GB"` or `"10GB"`.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Gb2 => "2GB",
            Tier::Gb5 => "5GB",
            Tier::Gb10 => "10GB",
        }
    }

    /// The tier named `name`, ignoring case: one of [`Tier::ACCEPTED_NAMES`]; `None` for any
    /// other name.
    pub fn parse(name: &str) -> Option<Tier> {
        match name.to_ascii_lowercase().as_str() {
            "free" | "50mb" => Some(Tier::Free),
            "2gb" => Some(Tier::Gb2),
            "5gb" => Some(Tier::Gb5),
            "10gb" => Some(Tier::Gb10),
            _ => None,
        }
    }

    /// The limits of the tier (see the table in the module documentation).
    pub fn preset(self) -> TierPreset {
        let (max_storage_gb, max_files) = match self {
            Tier::Free => (50.0 / 1024.0, 1_000),
            Tier::Gb2 => (2.0, 20_000),
            Tier::Gb5 => (5.0, 50_000),
            Tier::Gb10 => (10.0, 100_000),
        };
        TierPreset { max_storage_gb, max_files, max_file_size_mb: 45.0 }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
