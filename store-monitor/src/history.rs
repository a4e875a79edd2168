//! The usage history: samples of the store's size kept in the store itself
//! (`_monitor/usage_history.json`), bounded in count and age, and the growth rate fitted to them.

use serde::{Deserialize, Serialize};
use store_core::{ObjectMeta, ObjectStore, Version};

use crate::error::Result;

/// Where the history lives (a folder the manager never treats as a category).
pub const HISTORY_KEY: &str = "_monitor/usage_history.json";
/// The most samples kept (one every 6 hours is 90 days).
pub const MAX_SAMPLES: usize = 360;
/// Samples older than this are dropped, in milliseconds (90 days).
pub const MAX_AGE_MS: u64 = 90 * DAY_MS;
/// The window the growth rate is fitted over, in milliseconds (7 days).
pub const FIT_WINDOW_MS: u64 = 7 * DAY_MS;
const DAY_MS: u64 = 86_400_000;

/// One measurement.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// When, in milliseconds since the Unix epoch.
    pub t_ms: u64,
    /// Bytes in use.
    pub bytes: u64,
    /// Files in use.
    pub files: u64,
}

/// The samples, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Oldest first.
    pub samples: Vec<Sample>,
}

impl History {
    /// Reads the history from the store (empty when there is none or it is unreadable: it is
    /// only a statistic, rebuilt by the next checks).
    pub async fn load(store: &ObjectStore) -> Result<History> {
        Ok(History::load_versioned(store).await?.0)
    }

    /// [`History::load`], with the version read (`None` when there is no history yet).
    pub async fn load_versioned(store: &ObjectStore) -> Result<(History, Option<Version>)> {
        match store.read_object(HISTORY_KEY).await {
            Ok(object) => {
                let history = serde_json::from_slice(&object.bytes).unwrap_or_else(|e| {
                    tracing::warn!("the usage history {HISTORY_KEY} is unreadable ({e}); starting a new one");
                    History::default()
                });
                Ok((history, Some(object.meta.version)))
            }
            Err(e) if e.is_not_found() => Ok((History::default(), None)),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes it back; returns what was written (its version).
    pub async fn store(&self, store: &ObjectStore) -> Result<ObjectMeta> {
        let json = serde_json::to_vec(self).map_err(|e| store_core::Error::Serialization {
            key: HISTORY_KEY.into(),
            format: store_core::Format::Json,
            writing: true,
            message: e.to_string(),
        })?;
        Ok(store.save_bytes_with(HISTORY_KEY, json, store_core::PutMode::Overwrite).await?)
    }

    /// Adds a sample (keeping the order by time) and drops what is too old or too many.
    pub fn record(&mut self, sample: Sample) {
        let at = self.samples.partition_point(|s| s.t_ms <= sample.t_ms);
        self.samples.insert(at, sample);
        let newest = self.samples.last().map_or(0, |s| s.t_ms);
        self.samples.retain(|s| newest.saturating_sub(s.t_ms) <= MAX_AGE_MS);
        let excess = self.samples.len().saturating_sub(MAX_SAMPLES);
        self.samples.drain(..excess);
    }

    /// Bytes per day: the least-squares slope over the samples of the last 7 days before `now_ms`
    /// (plus `current`), or 0 when they span no time.
    pub fn growth_bytes_per_day(&self, now_ms: u64, current: Option<Sample>) -> f64 {
        let from = now_ms.saturating_sub(FIT_WINDOW_MS);
        let points: Vec<(f64, f64)> = self
            .samples
            .iter()
            .chain(current.as_ref())
            .filter(|s| s.t_ms >= from && s.t_ms <= now_ms)
            .map(|s| (s.t_ms as f64 / DAY_MS as f64, s.bytes as f64))
            .collect();
        if points.len() < 2 {
            return 0.0;
        }
        let n = points.len() as f64;
        let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
        let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
        let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
        if sxx <= f64::EPSILON {
            return 0.0;
        }
        let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
        sxy / sxx
    }
}

/// Days until `used` reaches `limit` at `growth` bytes a day: `None` when usage is flat or
/// shrinking, `Some(0.0)` when already full.
pub fn days_until_full(used: u64, limit: u64, growth_per_day: f64) -> Option<f64> {
    if used >= limit {
        return Some(0.0);
    }
    (growth_per_day > 0.0).then(|| (limit - used) as f64 / growth_per_day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(day: f64, bytes: u64) -> Sample {
        Sample { t_ms: (day * DAY_MS as f64) as u64, bytes, files: 0 }
    }

    #[test]
    fn growth_is_the_fitted_slope_over_the_last_week() {
        let mut h = History::default();
        for day in 0..20 {
            // Flat for 12 days, then 1 MB a day (the last 7 days are all growth).
            let bytes = if day < 12 { 1_000_000 } else { 1_000_000 + (day - 12) * 1_000_000 };
            h.record(s(day as f64, bytes));
        }
        let now = 19 * DAY_MS;
        let growth = h.growth_bytes_per_day(now, None);
        assert!((growth - 1_000_000.0).abs() < 1.0, "{growth}");
        assert_eq!(days_until_full(7_000_000, 10_000_000, growth).map(|d| d.round()), Some(3.0));
        assert_eq!(days_until_full(7_000_000, 10_000_000, 0.0), None);
        assert_eq!(days_until_full(7_000_000, 10_000_000, -5.0), None);
        assert_eq!(days_until_full(10_000_000, 10_000_000, 5.0), Some(0.0));
        assert_eq!(History::default().growth_bytes_per_day(now, None), 0.0);
    }

    #[test]
    fn history_is_bounded() {
        let mut h = History::default();
        for i in 0..1000u64 {
            h.record(Sample { t_ms: i * 3_600_000, bytes: i, files: i });
        }
        assert_eq!(h.samples.len(), MAX_SAMPLES);
        assert!(h.samples.windows(2).all(|w| w[0].t_ms <= w[1].t_ms));
        h.record(Sample { t_ms: 1000 * 3_600_000 + 200 * DAY_MS, bytes: 0, files: 0 });
        assert_eq!(h.samples.len(), 1, "samples older than 90 days are dropped");
    }
}
