//! What a `GET /metrics` costs: the figures of the last check, or of a scan at most
//! [`DEFAULT_SCRAPE_MAX_AGE`] old (see [`Monitor::set_scrape_max_age`]); a scan only when they
//! are older, shared by every scrape that waits for it; at most [`MAX_WAITING_SCRAPES`] scrapes
//! wait at once, the others are told to retry.
//!
//! When a scan fails, a scrape serves the last figures (`objstore_statistics_timestamp_seconds`
//! says how old) with the operation counters and `objstore_statistics_errors_total`, and logs
//! the error; with no figures yet it fails (500).
//!
//! Invariants: one scan for scrapes at a time; a scrape that waited for a scan uses its figures
//! (they are newer than its arrival); the gauges are set from the figures served.

use std::time::{Duration, Instant};

use crate::error::Result;
use crate::monitor::Monitor;
use crate::stats::{Health, Statistics};

/// The age of figures a scrape serves without scanning, by default.
pub const DEFAULT_SCRAPE_MAX_AGE: Duration = Duration::from_secs(30);
/// Scrapes that may wait for a scan at once; more are answered "busy, retry".
pub const MAX_WAITING_SCRAPES: usize = 16;

/// When the scan behind the figures the gauges hold started and ended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Figures {
    pub started: Instant,
    pub ended: Instant,
}

/// Why a scrape got no figures.
#[derive(Debug)]
pub enum ScrapeError {
    /// Too many scrapes are waiting for a scan already.
    Busy,
    /// The scan failed (the error is logged by the endpoint, never shown to the client).
    Failed(crate::Error),
}

impl Monitor {
    /// How old the figures a scrape serves may be before it scans (default 30 s). A check
    /// (periodic, in `objstore monitor`) refreshes them too. `Duration::ZERO`: every scrape
    /// scans, and scrapes arriving during a scan share it.
    pub fn set_scrape_max_age(&self, age: Duration) {
        *self.inner.scrape_max_age.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = age;
    }

    /// See [`Monitor::set_scrape_max_age`].
    pub fn scrape_max_age(&self) -> Duration {
        *self.inner.scrape_max_age.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The exposition a `GET /metrics` answers: the figures of the last check or scan when they
    /// are recent enough, else a scan shared with the other scrapes waiting for it.
    pub async fn scrape(&self) -> Result<String, ScrapeError> {
        let arrived = Instant::now();
        if !self.figures_are_recent(arrived) {
            let Ok(_slot) = self.inner.scrape_slots.try_acquire() else { return Err(ScrapeError::Busy) };
            let _one_scan_at_a_time = self.inner.scan_gate.lock().await;
            if !self.figures_are_recent(arrived)
                && let Err(e) = self.refresh().await
            {
                if let Ok(metrics) = &self.inner.metrics {
                    metrics.statistics_errors.inc();
                }
                let had_figures = self.inner.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner).is_some();
                if !had_figures {
                    return Err(ScrapeError::Failed(e));
                }
                // Serve the last figures (their timestamp says how old) and the counters, which
                // show the failing operations: the alerts need them most now.
                tracing::error!("the store's figures could not be refreshed; serving the last ones: {e}");
            }
        }
        self.encode().map_err(ScrapeError::Failed)
    }

    /// The last figures, when they are recent enough for a scrape that arrived at `arrived`:
    /// at most the configured age, or produced by a scan that ended after it arrived.
    fn figures_are_recent(&self, arrived: Instant) -> bool {
        let max_age = self.scrape_max_age();
        let last = *self.inner.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        last.is_some_and(|last| last.started + max_age >= arrived || last.ended >= arrived)
    }

    /// Records figures (of a check or a scan) and sets the gauges from them.
    pub(crate) fn remember(&self, started: Instant, statistics: &Statistics, health: Health) {
        if let Ok(metrics) = &self.inner.metrics {
            let m = &self.inner.manager.settings().usage_monitoring;
            metrics.update(statistics, health, m.alert_threshold_pct, m.critical_threshold_pct);
        }
        let figures = Figures { started, ended: Instant::now() };
        *self.inner.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(figures);
    }

    /// Scans and remembers the figures (no action is taken: that is a check's job).
    pub(crate) async fn refresh(&self) -> Result<Statistics> {
        let started = Instant::now();
        let s = self.get_statistics().await?;
        let health = Health::judge(s.usage_ratio(), self.inner.manager.settings());
        self.remember(started, &s, health);
        Ok(s)
    }
}
