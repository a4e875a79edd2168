//! The `Monitor`: statistics, health, actions, suggestions, report, metrics.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus::{Encoder, Registry, TextEncoder};
use serde::Serialize;
use store_manager::{CleanupReport, Manager};
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::history::{self, History, Sample};
use crate::metrics::StoreMetrics;
use crate::report;
use crate::scrape::{DEFAULT_SCRAPE_MAX_AGE, Figures, MAX_WAITING_SCRAPES};
use crate::stats::{GB, Health, MB, Statistics};
use crate::suggest::{self, Suggestions};
use store_core::Version;
use store_metrics::{CacheMetrics, OperationMetrics};

/// Watches a [`Manager`]'s store: statistics, growth, health, actions and Prometheus metrics.
/// Cheap to clone.
#[derive(Clone)]
pub struct Monitor {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) manager: Manager,
    registry: Registry,
    pub(crate) metrics: Result<StoreMetrics, String>,
    /// Serialises checks (each appends to the history object).
    check_lock: tokio::sync::Mutex<()>,
    /// The usage history as last read or written, with its version (`None`: not read yet).
    history: tokio::sync::Mutex<Option<(History, Option<Version>)>>,
    /// The last figures (of a check or a scrape's scan); see `scrape.rs`.
    pub(crate) last: Mutex<Option<Figures>>,
    /// One scan for scrapes at a time.
    pub(crate) scan_gate: tokio::sync::Mutex<()>,
    /// Scrapes that may wait for a scan.
    pub(crate) scrape_slots: tokio::sync::Semaphore,
    /// How old the figures a scrape serves may be.
    pub(crate) scrape_max_age: Mutex<Duration>,
}

/// What a [`Monitor::check`] found and did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckOutcome {
    /// The statistics after any action.
    pub statistics: Statistics,
    /// The health before acting.
    pub health_before: Health,
    /// The health after acting.
    pub health: Health,
    /// The cleanup run at critical or full, if one ran.
    pub cleanup: Option<CleanupReport>,
    /// True when saves are refused after the check (the store is full).
    pub saves_refused: bool,
    /// What was done, in words (also logged).
    pub actions: Vec<String>,
}

impl Monitor {
    /// A monitor over `manager`, with thresholds from its settings (`usage_monitoring`).
    pub fn new(manager: Manager) -> Self {
        Monitor::with_registry(manager, Registry::new())
    }

    /// A monitor that registers its metrics with `registry`, beside what is already there: the
    /// way to serve the [operation metrics](crate::layer) of the store's stack on the same
    /// `/metrics`.
    ///
    /// ```
    /// use store_core::ObjectStore;
    /// use store_manager::{Manager, Settings};
    /// use store_monitor::Monitor;
    /// use store_metrics::OperationMetrics;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let registry = prometheus::Registry::new();
    /// let operations = OperationMetrics::new(&registry)?;
    /// let store = ObjectStore::builder("memory://").layer(operations.layer()).build().await?;
    /// let monitor = Monitor::with_registry(Manager::new(store, Settings::default()), registry);
    /// let text = monitor.metrics_text().await?;
    /// assert!(text.contains("objstore_storage_used_bytes") && text.contains("objstore_operations_total"));
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    ///
    /// The read cache's counters (`objstore_cache_*`) are registered too when the store has a
    /// cache. Registering fails when `registry` already holds a metric of the same name (for
    /// example, a second monitor on one registry); the monitor still works, and
    /// [`Monitor::metrics_text`] reports the failure.
    pub fn with_registry(manager: Manager, registry: Registry) -> Self {
        let metrics = StoreMetrics::new(&registry).and_then(|metrics| {
            // Asking also starts the cache's hit and miss counters (see `cache_stats`).
            if manager.store().cache_stats().is_some() {
                registry.register(Box::new(CacheMetrics::new(manager.store().clone())?))?;
            }
            Ok(metrics)
        });
        let metrics = metrics.map_err(|e| e.to_string());
        Monitor {
            inner: Arc::new(Inner {
                manager,
                registry,
                metrics,
                check_lock: tokio::sync::Mutex::new(()),
                history: tokio::sync::Mutex::new(None),
                last: Mutex::new(None),
                scan_gate: tokio::sync::Mutex::new(()),
                scrape_slots: tokio::sync::Semaphore::new(MAX_WAITING_SCRAPES),
                scrape_max_age: Mutex::new(DEFAULT_SCRAPE_MAX_AGE),
            }),
        }
    }

    /// A monitor that also exports the [operation metrics](crate::layer) of what it does to the
    /// store (its listings, header reads, the usage history and the index snapshot): what a
    /// process that only monitors (`objstore monitor`) has to show on the dashboard's operation
    /// panels and the operation-error alert. It watches `manager`'s store through a new manager
    /// (same settings and clock, its own index) over that store with the metrics layer on top;
    /// [`Monitor::manager`] is that one.
    ///
    /// ```
    /// use store_manager::{Manager, Settings};
    /// use store_monitor::Monitor;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let manager = Manager::new(store_core::open("memory://").await?, Settings::default());
    /// let monitor = Monitor::with_operation_metrics(&manager)?;
    /// monitor.check().await?;
    /// assert!(monitor.metrics_text().await?.contains(r#"objstore_operations_total{operation="list",result="ok"}"#));
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn with_operation_metrics(manager: &Manager) -> Result<Monitor> {
        let registry = Registry::new();
        let operations = OperationMetrics::new(&registry)?;
        let store = manager.store().with_layer(operations.layer());
        Ok(Monitor::with_registry(manager.with_store(store), registry))
    }

    /// The manager it watches.
    pub fn manager(&self) -> &Manager {
        &self.inner.manager
    }

    /// The Prometheus registry with the monitor's metrics (register more on it, e.g. the
    /// operation metrics of [`crate::layer`]).
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// How often [`Monitor::spawn_periodic`] should run: `check_interval_hours` of the settings.
    pub fn check_interval(&self) -> Duration {
        let hours = self.inner.manager.settings().usage_monitoring.check_interval_hours;
        Duration::from_secs_f64((hours * 3600.0).max(1.0))
    }

    /// The statistics now (the usage history gives the growth; nothing is recorded): one scan
    /// of the store (a listing plus the headers of what changed since the last one).
    pub async fn get_statistics(&self) -> Result<Statistics> {
        Ok(self.gather().await?.0)
    }

    /// The statistics, and the usage history they were computed with.
    async fn gather(&self) -> Result<(Statistics, History)> {
        let manager = &self.inner.manager;
        let census = manager.census().await?;
        let history = self.history().await?;
        let now = store_manager::format::to_ms(manager.now());
        Ok((Statistics::from_census(&census, &history, manager.settings(), now), history))
    }

    /// The usage history: the copy in memory while the last scan listed the version it has,
    /// else read again (another process's check changed it).
    async fn history(&self) -> Result<History> {
        let listed = self.inner.manager.internal_version(history::HISTORY_KEY);
        let mut cached = self.inner.history.lock().await;
        if let Some((history, version)) = &*cached
            && *version == listed
        {
            return Ok(history.clone());
        }
        let (history, version) = match listed {
            None => (History::default(), None),
            Some(_) => History::load_versioned(self.inner.manager.store()).await?,
        };
        *cached = Some((history.clone(), version));
        Ok(history)
    }

    /// Writes the usage history and keeps it (and its version) in memory.
    async fn store_history(&self, history: History) -> Result<()> {
        let manager = &self.inner.manager;
        let meta = history.store(manager.store()).await?;
        manager.note_internal_write(&meta);
        *self.inner.history.lock().await = Some((history, Some(meta.version)));
        Ok(())
    }

    /// Healthy, Warning, Critical or Full, by the thresholds on bytes and on files.
    pub async fn health(&self) -> Result<Health> {
        let s = self.get_statistics().await?;
        Ok(Health::judge(s.usage_ratio(), self.inner.manager.settings()))
    }

    /// True when the store is below the warning threshold.
    pub async fn is_healthy(&self) -> Result<bool> {
        Ok(self.health().await? == Health::Healthy)
    }

    /// Concrete actions with reasons: expired objects to remove, categories over their
    /// allocation, the oldest keys of the largest category, the next tier.
    pub async fn suggest_cleanup(&self) -> Result<Suggestions> {
        let s = self.get_statistics().await?;
        let fullest = s.by_category.iter().max_by_key(|(_, c)| c.size_bytes).map(|(c, _)| c.clone());
        let fullest = match fullest {
            Some(category) => {
                let objects = self.inner.manager.list_objects(&category).await?;
                let oldest = objects.iter().map(|o| (o.key.clone(), o.stored_size)).collect();
                Some((category, oldest))
            }
            None => None,
        };
        Ok(suggest::plan(&s, fullest, self.inner.manager.settings()))
    }

    /// Samples usage (recording it in the history), judges health and acts: warning logs a
    /// suggestion, critical runs `cleanup_expired`, full also refuses further saves until space
    /// is freed (then lets them through again).
    pub async fn check(&self) -> Result<CheckOutcome> {
        let _one_at_a_time = self.inner.check_lock.lock().await;
        let manager = &self.inner.manager;
        let settings = manager.settings();
        let mut started = Instant::now();
        let (mut s, mut history) = self.gather().await?;
        let before = Health::judge(s.usage_ratio(), settings);
        let mut actions = Vec::new();
        let mut cleanup = None;
        if before >= Health::Critical {
            let report = manager.cleanup().await?;
            self.count_cleanup(&report);
            let line = format!(
                "storage {before:?} at {:.1}%: cleanup_expired removed {} expired objects ({} archived), {} archived \
                 copies and {} superseded copies, freeing {:.1}MB",
                s.usage_ratio() * 100.0,
                report.expired,
                report.archived,
                report.purged,
                report.superseded,
                report.freed_bytes as f64 / MB
            );
            tracing::error!("{line}");
            actions.push(line);
            cleanup = Some(report);
            started = Instant::now();
            (s, history) = self.gather().await?;
        }
        let health = Health::judge(s.usage_ratio(), settings);
        match health {
            Health::Full => {
                let reason = format!(
                    "the Object Store is full ({:.2}/{:.2}GB, {}/{} files)",
                    s.current_usage_gb,
                    s.max_storage_bytes as f64 / GB,
                    s.files,
                    s.max_files
                );
                if manager.saves_refused().is_none() {
                    tracing::error!("{reason}: saves are refused until space is freed");
                    actions.push(format!("{reason}: saves refused"));
                }
                manager.refuse_saves(Some(reason));
            }
            _ => {
                if manager.saves_refused().is_some() {
                    manager.refuse_saves(None);
                    tracing::info!("space was freed ({:.1}%): saves are allowed again", s.usage_ratio() * 100.0);
                    actions.push("space freed: saves allowed again".into());
                }
                if health == Health::Warning {
                    let line = format!(
                        "storage warning at {:.1}%: {}",
                        s.usage_ratio() * 100.0,
                        "consider cleanup_expired, deleting old objects (suggest_cleanup names them), or a larger tier"
                    );
                    tracing::warn!("{line}");
                    actions.push(line);
                }
            }
        }
        history.record(Sample {
            t_ms: store_manager::format::to_ms(manager.now()),
            bytes: s.current_usage_bytes,
            files: s.files,
        });
        self.store_history(history).await?;
        self.remember(started, &s, health);
        tracing::info!("{}", report::log_lines(&s).replace('\n', ", "));
        Ok(CheckOutcome {
            statistics: s,
            health_before: before,
            health,
            cleanup,
            saves_refused: manager.saves_refused().is_some(),
            actions,
        })
    }

    fn count_cleanup(&self, r: &CleanupReport) {
        if let Ok(m) = &self.inner.metrics {
            m.cleanup_expired.inc_by(r.expired as u64);
            m.cleanup_archived.inc_by(r.archived as u64);
            m.cleanup_purged.inc_by(r.purged as u64);
            m.cleanup_freed_bytes.inc_by(r.freed_bytes);
        }
    }

    /// The seed's "OBJECT STORE STATISTICS" block.
    pub async fn report(&self) -> Result<String> {
        Ok(report::render(&self.get_statistics().await?))
    }

    /// Refreshes the gauges (one scan) and encodes every metric of the registry in the
    /// Prometheus text format. The endpoint answers with [`Monitor::scrape`] instead, which
    /// serves recent figures without scanning.
    pub async fn metrics_text(&self) -> Result<String> {
        self.inner.metrics.as_ref().map_err(|e| Error::Metrics(prometheus::Error::Msg(e.clone())))?;
        self.refresh().await?;
        self.encode()
    }

    /// Encodes every metric of the registry as it stands.
    pub(crate) fn encode(&self) -> Result<String> {
        self.inner.metrics.as_ref().map_err(|e| Error::Metrics(prometheus::Error::Msg(e.clone())))?;
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.inner.registry.gather(), &mut out)?;
        let text = String::from_utf8(out).map_err(|e| Error::Metrics(prometheus::Error::Msg(e.to_string())))?;
        Ok(crate::metrics::spell_infinities(text))
    }

    /// Serves `GET /metrics` on `addr` until the task is dropped or the server fails.
    pub async fn serve_metrics(&self, addr: SocketAddr) -> Result<()> {
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|e| Error::Serve { addr, message: e.to_string() })?;
        self.serve_on(listener).await
    }

    /// [`Monitor::serve_metrics`] on a listener already bound (port 0 picks a free one).
    pub async fn serve_on(&self, listener: tokio::net::TcpListener) -> Result<()> {
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Serve { addr: ([0, 0, 0, 0], 0).into(), message: e.to_string() })?;
        crate::serve::run(self.clone(), listener).await.map_err(|message| Error::Serve { addr, message })
    }

    /// Runs [`Monitor::check`] every `every` (use [`Monitor::check_interval`] for the settings'
    /// `check_interval_hours`), logging failures; stops when the handle is aborted.
    pub fn spawn_periodic(&self, every: Duration) -> JoinHandle<()> {
        let monitor = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every.max(Duration::from_millis(10)));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(e) = monitor.check().await {
                    tracing::error!("storage check failed: {e}");
                }
            }
        })
    }
}
