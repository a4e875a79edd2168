//! The monitor's Prometheus gauges and counters (operation metrics come from the
//! [`crate::layer`]). No key is ever a label: only categories, which are few.

use prometheus::{Gauge, GaugeVec, IntCounter, IntGauge, Opts, Registry};

use store_manager::Category;

use crate::stats::{CategoryStats, Health, Statistics};

/// Every gauge the monitor sets from its statistics.
#[derive(Clone)]
pub struct StoreMetrics {
    used_bytes: IntGauge,
    limit_bytes: IntGauge,
    files: IntGauge,
    files_limit: IntGauge,
    usage_ratio: Gauge,
    health_level: IntGauge,
    alert_threshold: Gauge,
    critical_threshold: Gauge,
    growth: Gauge,
    time_until_full: Gauge,
    category_used: GaugeVec,
    category_quota: GaugeVec,
    category_files: GaugeVec,
    category_expired: GaugeVec,
    unmanaged_bytes: IntGauge,
    unmanaged_files: IntGauge,
    archive_bytes: IntGauge,
    archive_files: IntGauge,
    info: GaugeVec,
    taken: Gauge,
    /// Expired objects removed by the monitor's cleanups.
    pub cleanup_expired: IntCounter,
    /// Of those, archived first.
    pub cleanup_archived: IntCounter,
    /// Archived copies removed after their retention.
    pub cleanup_purged: IntCounter,
    /// Bytes the cleanups freed.
    pub cleanup_freed_bytes: IntCounter,
    /// Scans for a scrape that failed (the last figures were served).
    pub statistics_errors: IntCounter,
}

fn reg<T: prometheus::core::Collector + Clone + 'static>(registry: &Registry, c: T) -> prometheus::Result<T> {
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

impl StoreMetrics {
    /// Creates and registers them.
    pub fn new(registry: &Registry) -> prometheus::Result<StoreMetrics> {
        let g = |name: &str, help: &str| reg(registry, IntGauge::new(name, help)?);
        let f = |name: &str, help: &str| reg(registry, Gauge::new(name, help)?);
        let v = |name: &str, help: &str| reg(registry, GaugeVec::new(Opts::new(name, help), &["category"])?);
        let c = |name: &str, help: &str| reg(registry, IntCounter::new(name, help)?);
        Ok(StoreMetrics {
            used_bytes: g(
                "objstore_storage_used_bytes",
                "Bytes every object of the store takes (categories, archive and unmanaged objects).",
            )?,
            limit_bytes: g("objstore_storage_limit_bytes", "The storage limit (max_storage_gb), in bytes.")?,
            files: g("objstore_files", "Objects in the store (categories, archive and unmanaged objects).")?,
            files_limit: g("objstore_files_limit", "The file limit (max_files).")?,
            usage_ratio: f("objstore_storage_usage_ratio", "The worse of bytes/limit and files/limit (1 = full).")?,
            health_level: g("objstore_health_level", "Health: 0 healthy, 1 warning, 2 critical, 3 full.")?,
            alert_threshold: f("objstore_alert_threshold_ratio", "The warning threshold, as a ratio of the limit.")?,
            critical_threshold: f(
                "objstore_critical_threshold_ratio",
                "The critical threshold, as a ratio of the limit.",
            )?,
            growth: f("objstore_growth_bytes_per_day", "Growth of the used bytes, fitted over the last 7 days.")?,
            time_until_full: f(
                "objstore_time_until_full_seconds",
                "Seconds until the store is full at the current growth (+Inf when not growing).",
            )?,
            category_used: v("objstore_category_used_bytes", "Bytes a category takes.")?,
            category_quota: v("objstore_category_quota_bytes", "A category's allocation, in bytes.")?,
            category_files: v("objstore_category_files", "Objects in a category.")?,
            category_expired: v(
                "objstore_category_expired_files",
                "Expired objects in a category, waiting for a cleanup.",
            )?,
            unmanaged_bytes: g(
                "objstore_unmanaged_used_bytes",
                "Bytes the objects outside the categories and the archive take (plain saves, other programs' files).",
            )?,
            unmanaged_files: g("objstore_unmanaged_files", "Objects outside the categories and the archive.")?,
            archive_bytes: g("objstore_archive_used_bytes", "Bytes the archived copies (_archive/) take.")?,
            archive_files: g("objstore_archive_files", "Archived copies (_archive/).")?,
            info: reg(
                registry,
                GaugeVec::new(
                    Opts::new(
                        "objstore_monitor_info",
                        "Always 1; label view: the project view the monitor watches (empty: the whole store).",
                    ),
                    &["view"],
                )?,
            )?,
            taken: f(
                "objstore_statistics_timestamp_seconds",
                "When the scan behind these figures started (Unix time): a scrape may serve a recent check's figures.",
            )?,
            cleanup_expired: c("objstore_cleanup_expired_total", "Expired objects removed by cleanups.")?,
            cleanup_archived: c("objstore_cleanup_archived_total", "Expired objects archived before removal.")?,
            cleanup_purged: c("objstore_cleanup_purged_total", "Archived copies removed after their retention.")?,
            cleanup_freed_bytes: c("objstore_cleanup_freed_bytes_total", "Bytes freed by cleanups.")?,
            statistics_errors: c(
                "objstore_statistics_errors_total",
                "Scans for a scrape that failed (the last figures were served; the monitor's log says why).",
            )?,
        })
    }

    /// Sets every gauge from `s`.
    pub fn update(&self, s: &Statistics, health: Health, alert_pct: f64, critical_pct: f64) {
        let taken_unix_seconds =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.used_bytes.set(clamp(s.current_usage_bytes));
        self.limit_bytes.set(clamp(s.max_storage_bytes));
        self.files.set(clamp(s.files));
        self.files_limit.set(clamp(s.max_files));
        self.usage_ratio.set(s.usage_ratio());
        self.health_level.set(i64::from(health.level()));
        self.alert_threshold.set(alert_pct / 100.0);
        self.critical_threshold.set(critical_pct / 100.0);
        self.growth.set(s.growth_rate_gb_per_day * crate::stats::GB);
        self.time_until_full.set(s.days_until_full.map_or(f64::INFINITY, |days| days * 86_400.0));
        self.category_used.reset();
        self.category_quota.reset();
        self.category_files.reset();
        self.category_expired.reset();
        // Every built-in category has its series, 0 when empty, so that panels and alerts have
        // a line to draw from the first scrape.
        let empty = CategoryStats::default();
        let builtin = Category::BUILTIN.iter().filter(|c| !s.by_category.contains_key(c)).map(|c| (c, &empty));
        for (category, c) in s.by_category.iter().chain(builtin) {
            let name = [category.name()];
            self.category_used.with_label_values(&name).set(c.size_bytes as f64);
            self.category_files.with_label_values(&name).set(c.files as f64);
            self.category_expired.with_label_values(&name).set(c.expired_files as f64);
            if let Some(q) = c.quota_bytes {
                self.category_quota.with_label_values(&name).set(q as f64);
            }
        }
        self.unmanaged_bytes.set(clamp(s.unmanaged.size_bytes));
        self.unmanaged_files.set(clamp(s.unmanaged.files));
        self.archive_bytes.set(clamp(s.archive.size_bytes));
        self.archive_files.set(clamp(s.archive.files));
        self.info.reset();
        self.info.with_label_values(&[s.view.as_deref().unwrap_or("")]).set(1.0);
        self.taken.set(taken_unix_seconds);
    }
}

/// Writes infinite sample values as the text format spells them (`+Inf`, `-Inf`): the
/// `prometheus` crate prints Rust's `inf`, which Prometheus accepts but stricter parsers
/// (OpenMetrics) refuse. Only a line's last field is a value (no timestamps are written), and
/// label values are quoted, so only values change.
pub fn spell_infinities(text: String) -> String {
    if !text.contains("inf\n") {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.split_inclusive('\n') {
        let body = line.strip_suffix('\n').unwrap_or(line);
        let fixed = match body.rsplit_once(' ') {
            Some((head, "inf")) if !body.starts_with('#') => Some(format!("{head} +Inf")),
            Some((head, "-inf")) if !body.starts_with('#') => Some(format!("{head} -Inf")),
            _ => None,
        };
        match fixed {
            Some(fixed) => {
                out.push_str(&fixed);
                if line.ends_with('\n') {
                    out.push('\n');
                }
            }
            None => out.push_str(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::spell_infinities;

    #[test]
    fn infinite_values_are_spelled_as_the_text_format_wants() {
        let text = "# HELP a_seconds Time (inf when never).\na_seconds inf\nb{category=\"inf\"} -inf\nc 1\n";
        assert_eq!(
            spell_infinities(text.to_string()),
            "# HELP a_seconds Time (inf when never).\na_seconds +Inf\nb{category=\"inf\"} -Inf\nc 1\n"
        );
        assert_eq!(spell_infinities("c 1\n".into()), "c 1\n");
    }
}
