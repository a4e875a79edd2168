//! The monitor's suite, run on local disk, SeaweedFS and moto: statistics with growth (injected
//! clock), every health level and its action, suggestions, the report, and metric values
//! (store, category, cache and operation families) after known operations.
//!
//! The S3 cases need the servers `cargo xtask test` starts (it sets `OBJSTORE_TEST_S3_SEAWEEDFS`
//! and `OBJSTORE_TEST_S3_MOTO`); without them they fail, saying so. They never pass by skipping.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use backend_local as _;
use backend_s3 as _;
use serde_json::json;
use store_core::{CacheOptions, CachePolicy, ObjectStore};
use store_manager::clock::ManualClock;
use store_manager::{Category, Manager, SaveOptions, Settings};
use store_metrics::OperationMetrics;
use store_monitor::{Health, Monitor};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MB: u64 = 1024 * 1024;

/// One case's storage (a fresh folder, or a fresh prefix of an S3 test bucket) and clock.
struct Env {
    _dir: Option<tempfile::TempDir>,
    url: String,
    clock: ManualClock,
}

impl Env {
    fn at(url: String, dir: Option<tempfile::TempDir>) -> Env {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_736_899_200);
        Env { _dir: dir, url, clock: ManualClock::new(start) }
    }

    fn local() -> Env {
        let dir = tempfile::tempdir().unwrap();
        Env::at(format!("file://{}", dir.path().display()), Some(dir))
    }

    /// A fresh prefix of the test bucket of the S3 server `var` names.
    fn s3(var: &str, server: &str) -> Env {
        let base = std::env::var(var).unwrap_or_else(|_| {
            panic!(
                "the S3 cases need {server}: run `cargo xtask test`, which installs and starts it on loopback, \
                 or set {var}=s3://BUCKET?endpoint=...&allow_http=true&access_key_id=...&secret_access_key=..."
            )
        });
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let unique = format!(
            "{}-{}-{}",
            std::process::id(),
            SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let rest = base.strip_prefix("s3://").expect("an s3:// URL");
        let (bucket, query) = rest.split_once('?').unwrap_or((rest, ""));
        Env::at(format!("s3://{}/monitor-{unique}?{query}", bucket.trim_end_matches('/')), None)
    }

    async fn manager(&self, settings: serde_json::Value) -> Manager {
        let store = store_core::open(&self.url).await.unwrap();
        Manager::with_clock(store, Settings::from_json(&settings.to_string()).unwrap(), self.clock.clone())
    }
}

use store_core::testkit::noise as blob;

async fn growth_and_days_until_full_from_the_history(env: Env) {
    // 0.01 GB store (about 10 MiB), growing 1 MiB a day.
    let manager = env.manager(json!({"max_storage_gb": 0.009765625, "max_file_size_mb": 2})).await;
    let monitor = Monitor::new(manager.clone());
    for day in 0..5u64 {
        if day > 0 {
            env.clock.advance_days(1);
        }
        manager
            .save_bytes(&format!("day_{day}"), blob(MB as usize, day), SaveOptions::new(Category::ResearchData))
            .await
            .unwrap();
        monitor.check().await.unwrap();
    }
    let s = monitor.get_statistics().await.unwrap();
    let per_day_mb = s.growth_rate_gb_per_day * 1024.0;
    assert!((per_day_mb - 1.0).abs() < 0.01, "growth {per_day_mb} MB/day");
    let used_mb = s.current_usage_bytes as f64 / MB as f64;
    let days = s.days_until_full.unwrap();
    assert!((days - (10.0 - used_mb) / per_day_mb).abs() < 0.1, "{days} days, used {used_mb} MB");
    assert_eq!(s.files, 5);
    assert_eq!(s.by_category[&Category::ResearchData].files, 5);
    // The history lives in the store, bounded; a new monitor reads it.
    let again = Monitor::new(env.manager(json!({"max_storage_gb": 0.009765625, "max_file_size_mb": 2})).await);
    assert_eq!(again.get_statistics().await.unwrap().days_until_full.map(|d| d.round()), Some(days.round()));
    // Flat usage: no growth, never full.
    for _ in 0..8 {
        env.clock.advance_days(1);
        monitor.check().await.unwrap();
    }
    let s = monitor.get_statistics().await.unwrap();
    assert!(s.growth_rate_gb_per_day.abs() < 1e-9, "{}", s.growth_rate_gb_per_day);
    assert_eq!(s.days_until_full, None);
}

async fn every_health_level_and_its_action(env: Env) {
    let settings = json!({"max_files": 10, "auto_cleanup": {"archive_before_delete": false}});
    let manager = env.manager(settings).await;
    let monitor = Monitor::new(manager.clone());
    let opts = || SaveOptions::new(Category::LlmCache);
    for i in 0..7 {
        manager.save(&format!("k{i}"), &i, opts()).await.unwrap();
    }
    let outcome = monitor.check().await.unwrap();
    assert_eq!(outcome.health, Health::Healthy);
    assert!(outcome.actions.is_empty());
    assert!(monitor.is_healthy().await.unwrap());

    manager.save("k7", &7, opts()).await.unwrap();
    let outcome = monitor.check().await.unwrap();
    assert_eq!(outcome.health, Health::Warning, "8 of 10 files is 80 %");
    assert!(outcome.actions[0].starts_with("storage warning at 80.0%"), "{:?}", outcome.actions);
    assert!(outcome.cleanup.is_none());

    // Critical: two expired objects are removed by the check.
    manager.save("old_1", &1, opts().expire_days(1)).await.unwrap();
    env.clock.advance_days(2);
    assert_eq!(monitor.health().await.unwrap(), Health::Critical);
    let outcome = monitor.check().await.unwrap();
    assert_eq!(outcome.health_before, Health::Critical);
    assert_eq!(outcome.cleanup.as_ref().unwrap().expired, 1);
    assert_eq!(outcome.health, Health::Warning, "back to 8 files");
    assert!(outcome.actions[0].contains("cleanup_expired removed 1 expired objects"), "{:?}", outcome.actions);

    // Full: saves are refused; reads and deletes keep working.
    manager.save("k8", &8, opts()).await.unwrap();
    manager.save("k9", &9, opts()).await.unwrap();
    let outcome = monitor.check().await.unwrap();
    assert_eq!(outcome.health, Health::Full);
    assert!(outcome.saves_refused);
    let err = manager.save("k10", &10, SaveOptions::new(Category::ResearchData)).await.unwrap_err();
    assert!(matches!(err, store_manager::Error::SavesRefused { .. }), "{err}");
    assert!(err.to_string().contains("the Object Store is full"), "{err}");
    assert_eq!(manager.load::<i32>("k9").await.unwrap(), Some(9));
    manager.delete("k0").await.unwrap();
    let outcome = monitor.check().await.unwrap();
    assert!(!outcome.saves_refused);
    assert_eq!(outcome.health, Health::Critical);
    manager.save("k0", &0, opts()).await.unwrap();
}

async fn suggestions_name_concrete_actions(env: Env) {
    // 13 of 14 files: above the warning threshold.
    let writer = env.manager(json!({"tier": "free", "max_files": 14})).await;
    for i in 0..12 {
        writer
            .save_bytes(&format!("gr_{i:02}"), blob(100_000, i), SaveOptions::new(Category::OptionsGreeks))
            .await
            .unwrap();
        env.clock.advance_days(1);
    }
    writer.save("stale", &1, SaveOptions::new(Category::LlmCache).expire_days(1)).await.unwrap();
    env.clock.advance_days(2);
    // A later settings file gives options_greeks less room than it already uses.
    let manager =
        env.manager(json!({"tier": "free", "max_files": 14, "storage_allocation": {"options_greeks": 0.001}})).await;
    let monitor = Monitor::new(manager);
    let suggestions = monitor.suggest_cleanup().await.unwrap();
    let names: Vec<&str> = suggestions.actions.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(names, ["cleanup_expired", "reduce_category", "delete_oldest", "upgrade_tier"], "{suggestions:#?}");
    assert!(suggestions.actions[0].reason.starts_with("1 object has expired"));
    assert_eq!(suggestions.actions[1].category, Some(Category::OptionsGreeks));
    // After the cleanup, 12 of 14 files is still 85.7 %: one more, the oldest, takes it below 80 %.
    assert_eq!(suggestions.actions[2].keys, ["gr_00"], "{suggestions:#?}");
    assert!(suggestions.actions[2].reason.contains("below 80%"), "{}", suggestions.actions[2].reason);
    assert!(suggestions.actions[2].bytes.is_some_and(|b| b > 100_000), "{suggestions:#?}");
    // max_files is the settings' own: a larger tier would not raise it.
    let upgrade = &suggestions.actions[3].reason;
    assert!(upgrade.contains("raise max_files") && !upgrade.contains("tier"), "{upgrade}");
}

async fn report_and_metrics_after_known_operations(env: Env) {
    let manager = env.manager(json!({"storage_allocation": {"trading_state": 0.5}})).await;
    for i in 0..3 {
        manager.save_bytes(&format!("s{i}"), blob(200_000, i), SaveOptions::new(Category::TradingState)).await.unwrap();
    }
    manager.save("m", &json!({"a": 1}), SaveOptions::new(Category::MlModels)).await.unwrap();
    let monitor = Monitor::new(manager);
    let s = monitor.get_statistics().await.unwrap();
    // Healthy, nothing expired, every category within its allocation: nothing to suggest.
    assert_eq!(monitor.suggest_cleanup().await.unwrap().actions, []);
    let report = monitor.report().await.unwrap();
    assert!(
        report.starts_with(&format!("{}\nOBJECT STORE STATISTICS\n{}\n", "=".repeat(50), "=".repeat(50))),
        "{report}"
    );
    assert!(report.contains("Storage Used: 0.00GB / 5.00GB (0.0%)"), "{report}");
    assert!(report.contains("Files: 4 / 50,000"), "{report}");
    assert!(report.contains("Growth Rate: 0.000GB/day"), "{report}");
    let ts = &s.by_category[&Category::TradingState];
    assert!(report.contains(&format!("  trading_state: {:.1}MB (3 files, quota 512.0MB)", ts.size_mb)), "{report}");
    assert!(report.contains("  ml_models: 0.0MB (1 files)"), "{report}");

    let text = monitor.metrics_text().await.unwrap();
    let value = |line_start: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(line_start))
            .unwrap_or_else(|| panic!("{line_start} in\n{text}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(value("objstore_storage_used_bytes "), s.current_usage_bytes as f64);
    assert_eq!(value("objstore_files "), 4.0);
    assert_eq!(value("objstore_files_limit "), 50_000.0);
    assert_eq!(value("objstore_category_files{category=\"trading_state\"}"), 3.0);
    assert_eq!(value("objstore_category_used_bytes{category=\"trading_state\"}"), ts.size_bytes as f64);
    assert_eq!(value("objstore_category_quota_bytes{category=\"trading_state\"}"), 512.0 * MB as f64);
    assert_eq!(value("objstore_health_level "), 0.0);
    assert_eq!(value("objstore_alert_threshold_ratio "), 0.8);
    assert!(text.contains("\nobjstore_time_until_full_seconds +Inf\n"), "not growing, spelled +Inf: {text}");
    assert!(
        text.contains("# HELP objstore_storage_used_bytes ")
            && text.contains("# TYPE objstore_storage_used_bytes gauge")
    );
    assert!(!text.contains("s0") && !text.contains("key="), "no key is ever a label");

    // The same over HTTP.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = monitor.clone();
    let task = tokio::spawn(async move { server.serve_on(listener).await });
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("text/plain; version=0.0.4"));
    assert!(response.contains("objstore_files 4"));
    task.abort();
}

async fn cache_and_operation_metrics_after_known_operations(env: Env) {
    let registry = prometheus::Registry::new();
    let operations = OperationMetrics::new(&registry).unwrap();
    let trust = CacheOptions { policy: CachePolicy::Trust, ..CacheOptions::default() };
    let store = ObjectStore::builder(&env.url).cache(trust).layer(operations.layer()).build().await.unwrap();
    let settings = Settings::from_json(r#"{"max_files": 100}"#).unwrap();
    let manager = Manager::with_clock(store.clone(), settings, env.clock.clone());
    // Only the operations below: no index snapshot. On S3 each save of a new key also rewrites
    // the manager's change marker (one more put, one more cached object).
    manager.set_index_snapshots(None);
    let marker = u8::from(!store.capabilities().local_paths) as f64;
    let monitor = Monitor::with_registry(manager.clone(), registry);
    manager.save_bytes("spy", blob(1000, 1), SaveOptions::new(Category::TradingState)).await.unwrap();
    manager.save_bytes("qqq", blob(2000, 2), SaveOptions::new(Category::TradingState)).await.unwrap();
    // Three cached reads (the save filled the cache) and one read of an absent key.
    for _ in 0..3 {
        assert!(store.read_bytes("trading_state/spy").await.unwrap().len() > 1000);
    }
    assert!(store.read_bytes("trading_state/absent").await.unwrap_err().is_not_found());
    let text = monitor.metrics_text().await.unwrap();
    let value = |series: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '));
        line.unwrap_or_else(|| panic!("{series} in\n{text}")).rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(value("objstore_cache_hits_total"), 3.0);
    // The absent key (the monitor does not read its usage history: the listing shows none).
    assert_eq!(value("objstore_cache_misses_total"), 1.0);
    assert_eq!(value("objstore_cache_entries"), 2.0 + marker, "the two saved objects (and the marker)");
    assert!(value("objstore_cache_bytes") > 3000.0);
    assert_eq!(value("objstore_cache_evictions_total"), 0.0);
    assert_eq!(value(r#"objstore_operations_total{operation="get_ready",result="ok"}"#), 3.0);
    assert_eq!(value(r#"objstore_operations_total{operation="put",result="ok"}"#), 2.0 + 2.0 * marker);
    assert_eq!(value(r#"objstore_operations_total{operation="get",result="not_found"}"#), 1.0);
    assert_eq!(value(r#"objstore_operation_duration_seconds_count{operation="put",result="ok"}"#), 2.0 + 2.0 * marker);
    assert_eq!(value("objstore_files"), 2.0);
    assert_eq!(value(r#"objstore_category_files{category="trading_state"}"#), 2.0);
    // A store without a cache exports no cache family; a second monitor on one registry is refused.
    let uncached = ObjectStore::builder(&env.url).cache(CacheOptions::DISABLED).build().await.unwrap();
    let plain = Monitor::new(Manager::with_clock(uncached, Settings::default(), env.clock.clone()));
    assert!(!plain.metrics_text().await.unwrap().contains("objstore_cache_"));
    let twice = Monitor::with_registry(manager, monitor.registry().clone());
    assert!(twice.metrics_text().await.is_err(), "the same metric names registered twice");
}

/// The issue's case: three plain objects of 100 KB (`objstore put`) and one small managed object.
/// Statistics, health, the report and the metrics count them all; the plain ones are their own
/// row.
async fn plain_saves_count_in_statistics_health_report_and_metrics(env: Env) {
    let manager = env.manager(json!({"max_files": 4})).await;
    for i in 0..3u64 {
        manager.store().save_bytes(&format!("export_{i}.bin"), blob(100_000, i)).await.unwrap();
    }
    manager.save("state", &json!({"equity": 1}), SaveOptions::new(Category::TradingState)).await.unwrap();
    let monitor = Monitor::new(manager.clone());
    let s = monitor.get_statistics().await.unwrap();
    assert_eq!(s.files, 4, "every object of the store counts: {s:?}");
    assert!(s.current_usage_bytes > 300_000, "{s:?}");
    assert_eq!(monitor.health().await.unwrap(), Health::Full, "4 of 4 files");
    let report = monitor.report().await.unwrap();
    assert!(report.contains("Files: 4 / 4"), "{report}");
    assert!(report.contains("(unmanaged): 0.3MB (3 files)"), "{report}");
    let text = monitor.metrics_text().await.unwrap();
    assert!(text.contains("\nobjstore_files 4\n"), "{text}");
    assert!(text.contains("\nobjstore_unmanaged_files 3\n"), "{text}");
    // The check acts on it: saves are refused until room is made.
    let outcome = monitor.check().await.unwrap();
    assert!(outcome.saves_refused, "{outcome:?}");
    manager.store().delete("export_0.bin").await.unwrap();
    assert!(!monitor.check().await.unwrap().saves_refused);
}

/// A manager given a project view: the monitor says which view it watches, and counts only it.
async fn the_watched_view_is_named(env: Env) {
    let store = store_core::open(&env.url).await.unwrap();
    store.save_bytes("elsewhere/big.bin", blob(50_000, 1)).await.unwrap();
    let manager = Manager::with_clock(store.project("managed"), Settings::default(), env.clock.clone());
    manager.save("k", &1, SaveOptions::new(Category::LlmCache)).await.unwrap();
    let monitor = Monitor::new(manager);
    let s = monitor.get_statistics().await.unwrap();
    assert_eq!(s.files, 1, "objects outside the view are not counted: {s:?}");
    let report = monitor.report().await.unwrap();
    assert!(report.contains("View: project 'managed'"), "{report}");
    let text = monitor.metrics_text().await.unwrap();
    assert!(text.contains("objstore_monitor_info{view=\"managed\"} 1"), "{text}");
}

/// Dashboards need a series for every category, even an empty one.
async fn every_category_has_series_even_when_empty(env: Env) {
    let manager = env.manager(json!({})).await;
    manager.save("k", &1, SaveOptions::new(Category::TradingState)).await.unwrap();
    let text = Monitor::new(manager).metrics_text().await.unwrap();
    for category in Category::BUILTIN {
        for family in ["objstore_category_used_bytes", "objstore_category_files", "objstore_category_expired_files"] {
            let series = format!("{family}{{category=\"{category}\"}} ");
            assert!(text.contains(&series), "no {series} in\n{text}");
        }
    }
    assert!(text.contains("\nobjstore_archive_files 0\n"), "{text}");
}

/// After the first check, a check costs one listing plus reads of what changed (the usage
/// history it wrote itself is not read back).
async fn a_check_costs_one_listing_plus_changed_reads(env: Env) {
    let registry = prometheus::Registry::new();
    let ops = OperationMetrics::new(&registry).unwrap();
    let store = ObjectStore::builder(&env.url).cache(CacheOptions::DISABLED).layer(ops.layer()).build().await.unwrap();
    let manager = Manager::with_clock(store, Settings::default(), env.clock.clone());
    for i in 0..20u64 {
        manager.save_bytes(&format!("m{i}"), blob(50_000, i), SaveOptions::new(Category::MlModels)).await.unwrap();
    }
    let monitor = Monitor::with_registry(manager.clone(), registry);
    monitor.check().await.unwrap();
    let count = |op: &str| -> u64 {
        ["ok", "not_found", "error"].iter().map(|r| ops.operations().with_label_values(&[op, r]).get()).sum()
    };
    let reads = || count("get") + count("get_range") + count("get_stream");
    let (lists, read) = (count("list"), reads());
    monitor.check().await.unwrap();
    assert_eq!(count("list") - lists, 1, "a check lists the store once");
    assert_eq!(reads() - read, 0, "nothing changed, nothing is read");
    // Another process saves one object: the next check reads its header, and only that.
    let other = env.manager(json!({})).await;
    other.save_bytes("new", blob(50_000, 99), SaveOptions::new(Category::MlModels)).await.unwrap();
    let (lists, read) = (count("list"), reads());
    let outcome = monitor.check().await.unwrap();
    assert_eq!(outcome.statistics.by_category[&Category::MlModels].files, 21);
    assert_eq!(count("list") - lists, 1);
    assert_eq!(reads() - read, 1, "one header read: the new object's");
}

macro_rules! monitor_suite {
    ($backend:ident, $env:expr) => {
        mod $backend {
            use super::*;

            #[tokio::test]
            async fn growth_and_days_until_full_from_the_history() {
                super::growth_and_days_until_full_from_the_history($env).await;
            }

            #[tokio::test]
            async fn every_health_level_and_its_action() {
                super::every_health_level_and_its_action($env).await;
            }

            #[tokio::test]
            async fn suggestions_name_concrete_actions() {
                super::suggestions_name_concrete_actions($env).await;
            }

            #[tokio::test]
            async fn report_and_metrics_after_known_operations() {
                super::report_and_metrics_after_known_operations($env).await;
            }

            #[tokio::test]
            async fn plain_saves_count_in_statistics_health_report_and_metrics() {
                super::plain_saves_count_in_statistics_health_report_and_metrics($env).await;
            }

            #[tokio::test]
            async fn the_watched_view_is_named() {
                super::the_watched_view_is_named($env).await;
            }

            #[tokio::test]
            async fn every_category_has_series_even_when_empty() {
                super::every_category_has_series_even_when_empty($env).await;
            }

            #[tokio::test]
            async fn a_check_costs_one_listing_plus_changed_reads() {
                super::a_check_costs_one_listing_plus_changed_reads($env).await;
            }

            #[tokio::test]
            async fn cache_and_operation_metrics_after_known_operations() {
                super::cache_and_operation_metrics_after_known_operations($env).await;
            }
        }
    };
}

monitor_suite!(local, Env::local());
monitor_suite!(seaweedfs, Env::s3("OBJSTORE_TEST_S3_SEAWEEDFS", "SeaweedFS"));
monitor_suite!(moto, Env::s3("OBJSTORE_TEST_S3_MOTO", "moto"));
