//! `StorageMonitor`: statistics, health, actions, the report and Prometheus metrics (seed 002).
//!
//! Invariants: statistics come back as the dicts the seed reads (`current_usage_gb`,
//! `max_storage_gb`, `usage_pct`, `files`, `max_files`, `growth_rate_gb_per_day`,
//! `days_until_full`, `by_category` with `size_mb` and `files`, ...). Background work (the
//! metrics endpoint, periodic checks) runs as tasks on the module's runtime and stops when its
//! `BackgroundTask` is stopped; such tasks do not survive a fork (the child starts its own). A
//! monitor is rebuilt over its manager in a forked child, like the manager over its store.

use std::net::SocketAddr;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use objstore::monitor::{Health, Monitor};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tokio::task::AbortHandle;

use crate::convert;
use crate::errors::{PyResultExt, raise};
use crate::manager::PyManager;
use crate::runtime::{generation, run, runtime};

struct CurrentMonitor {
    generation: u64,
    monitor: Option<Monitor>,
}

impl Drop for CurrentMonitor {
    fn drop(&mut self) {
        if self.generation != generation()
            && let Some(m) = self.monitor.take()
        {
            std::mem::forget(m);
        }
    }
}

/// Watches a manager's store (seed 002's ``StorageMonitor``): statistics with a growth rate
/// fitted over the usage history, health by the settings' thresholds (80 % warning, 90 %
/// critical, full), actions (``check()``: cleanup at critical, saves refused when full),
/// cleanup suggestions, the "OBJECT STORE STATISTICS" report, and Prometheus metrics.
///
/// ``StorageMonitor(manager)``.
#[pyclass(module = "objstore", name = "StorageMonitor", frozen)]
pub struct PyMonitor {
    manager: Py<PyManager>,
    current: RwLock<CurrentMonitor>,
}

impl PyMonitor {
    fn handle(&self, py: Python<'_>) -> PyResult<Monitor> {
        let now = generation();
        {
            let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
            if current.generation == now
                && let Some(m) = &current.monitor
            {
                return Ok(m.clone());
            }
        }
        let fresh = Monitor::new(self.manager.get().handle(py)?);
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if current.generation != now || current.monitor.is_none() {
            drop(std::mem::replace(&mut *current, CurrentMonitor { generation: now, monitor: Some(fresh.clone()) }));
            return Ok(fresh);
        }
        Ok(current.monitor.clone().unwrap_or(fresh))
    }
}

fn health_name(h: Health) -> &'static str {
    match h {
        Health::Healthy => "healthy",
        Health::Warning => "warning",
        Health::Critical => "critical",
        Health::Full => "full",
    }
}

fn to_py<'py, T: serde::Serialize>(py: Python<'py>, value: &T) -> PyResult<Bound<'py, PyAny>> {
    let value = serde_json::to_value(value).map_err(|e| raise(py, "SerializationError", e.to_string()))?;
    convert::value_to_py(py, &value)
}

fn statistics_dict<'py>(
    py: Python<'py>,
    s: &objstore::monitor::Statistics,
    settings: &objstore::manager::Settings,
) -> PyResult<Bound<'py, PyAny>> {
    let dict = to_py(py, s)?;
    if let Ok(d) = dict.cast::<PyDict>() {
        d.set_item("max_storage_gb", s.max_storage_bytes as f64 / objstore::monitor::stats::GB)?;
        d.set_item("health", health_name(Health::judge(s.usage_ratio(), settings)))?;
    }
    Ok(dict)
}

#[pymethods]
impl PyMonitor {
    #[new]
    fn new(py: Python<'_>, manager: &Bound<'_, PyManager>) -> PyResult<Self> {
        let monitor = Monitor::new(manager.get().handle(py)?);
        Ok(PyMonitor {
            manager: manager.clone().unbind(),
            current: RwLock::new(CurrentMonitor { generation: generation(), monitor: Some(monitor) }),
        })
    }

    /// The manager it watches.
    #[getter]
    fn manager(&self, py: Python<'_>) -> Py<PyManager> {
        self.manager.clone_ref(py)
    }

    /// The statistics now, as the seed reads them: ``current_usage_gb``, ``max_storage_gb``,
    /// ``usage_pct``, ``files``, ``max_files``, ``files_pct``, ``growth_rate_gb_per_day``,
    /// ``days_until_full`` (None when flat or shrinking), ``by_category`` (``{name: {"size_mb",
    /// "size_bytes", "files", "quota_bytes", "expired_files"}}``), ``archive``,
    /// ``expired_files``, ``expired_bytes``, ``current_usage_bytes``, ``max_storage_bytes``.
    fn get_statistics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let monitor = self.handle(py)?;
        let stats = run(py, monitor.get_statistics())?.py(py)?;
        statistics_dict(py, &stats, monitor.manager().settings())
    }

    /// ``"healthy"``, ``"warning"``, ``"critical"`` or ``"full"``, by the settings' thresholds
    /// on bytes and files (the worse counts).
    fn health(&self, py: Python<'_>) -> PyResult<&'static str> {
        let monitor = self.handle(py)?;
        Ok(health_name(run(py, monitor.health())?.py(py)?))
    }

    /// True below the warning threshold.
    fn is_healthy(&self, py: Python<'_>) -> PyResult<bool> {
        let monitor = self.handle(py)?;
        run(py, monitor.is_healthy())?.py(py)
    }

    /// Samples usage into the history, judges health and acts (critical: ``cleanup_expired``;
    /// full: saves refused until a check finds room). Returns what it found and did:
    /// ``{"statistics", "health_before", "health", "cleanup", "saves_refused", "actions"}``.
    fn check<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let monitor = self.handle(py)?;
        let outcome = run(py, monitor.check())?.py(py)?;
        let dict = to_py(py, &outcome)?;
        if let Ok(d) = dict.cast::<PyDict>() {
            d.set_item("statistics", statistics_dict(py, &outcome.statistics, monitor.manager().settings())?)?;
        }
        Ok(dict)
    }

    /// Cleanup suggestions, most useful first: ``{"actions": [{"action", "reason",
    /// "category", "keys", "bytes"}, ...]}``.
    fn suggest_cleanup<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let monitor = self.handle(py)?;
        let suggestions = run(py, monitor.suggest_cleanup())?.py(py)?;
        to_py(py, &suggestions)
    }

    /// The seed's "OBJECT STORE STATISTICS" block, as text.
    fn report(&self, py: Python<'_>) -> PyResult<String> {
        let monitor = self.handle(py)?;
        run(py, monitor.report())?.py(py)
    }

    /// The two log lines of the seed: ``Object Store: 2.35/5.00GB (47.0%)`` and
    /// ``Files: 12,543/50,000``.
    fn log_lines(&self, py: Python<'_>) -> PyResult<String> {
        let monitor = self.handle(py)?;
        let stats = run(py, monitor.get_statistics())?.py(py)?;
        Ok(objstore::monitor::report::log_lines(&stats))
    }

    /// Every metric in the Prometheus text format (what ``GET /metrics`` answers).
    fn metrics_text(&self, py: Python<'_>) -> PyResult<String> {
        let monitor = self.handle(py)?;
        run(py, monitor.metrics_text())?.py(py)
    }

    /// Serves ``GET /metrics`` on ``address`` (``"127.0.0.1:9184"``; port 0 picks a free one)
    /// in the background. Returns a ``BackgroundTask``: ``.address`` is where it listens,
    /// ``.stop()`` stops it.
    #[pyo3(signature = (address="127.0.0.1:9184"))]
    fn serve_metrics(&self, py: Python<'_>, address: &str) -> PyResult<BackgroundTask> {
        let addr: SocketAddr = address
            .parse()
            .map_err(|e| PyValueError::new_err(format!("'{address}' is not an address such as 127.0.0.1:9184: {e}")))?;
        let monitor = self.handle(py)?;
        let rt = runtime()?;
        let listener = run(py, async { tokio::net::TcpListener::bind(addr).await })?
            .map_err(|e| raise(py, "StorageError", format!("cannot listen on {addr}: {e}; pick a free port")))?;
        let local = listener.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| address.to_string());
        let task = rt.spawn(async move {
            if let Err(e) = monitor.serve_on(listener).await {
                eprintln!("objstore: the metrics endpoint stopped: {e}");
            }
        });
        Ok(BackgroundTask { handle: task.abort_handle(), address: Some(local), generation: generation() })
    }

    /// Runs ``check()`` every ``interval_seconds`` (default: the settings'
    /// ``check_interval_hours``) in the background; returns a ``BackgroundTask`` to stop it.
    #[pyo3(signature = (interval_seconds=None))]
    fn start_periodic(&self, py: Python<'_>, interval_seconds: Option<f64>) -> PyResult<BackgroundTask> {
        let monitor = self.handle(py)?;
        let every = match interval_seconds {
            None => monitor.check_interval(),
            Some(s) if s.is_finite() && s > 0.0 => Duration::from_secs_f64(s),
            Some(s) => return Err(PyValueError::new_err(format!("interval_seconds must be > 0, not {s}"))),
        };
        let rt = runtime()?;
        let _context = rt.enter();
        let task = monitor.spawn_periodic(every);
        Ok(BackgroundTask { handle: task.abort_handle(), address: None, generation: generation() })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("StorageMonitor({})", self.manager.bind(py).repr()?))
    }
}

/// Background work started by a monitor (the metrics endpoint, periodic checks). ``stop()``
/// ends it; it also works as a context manager.
#[pyclass(module = "objstore", frozen)]
pub struct BackgroundTask {
    handle: AbortHandle,
    address: Option<String>,
    generation: u64,
}

#[pymethods]
impl BackgroundTask {
    /// Where the metrics endpoint listens (``"127.0.0.1:PORT"``), or None for periodic checks.
    #[getter]
    fn address(&self) -> Option<String> {
        self.address.clone()
    }

    /// True while the task runs (never in a forked child: tasks do not survive a fork).
    #[getter]
    fn running(&self) -> bool {
        self.generation == generation() && !self.handle.is_finished()
    }

    /// Stops the task (a no-op when it already stopped).
    fn stop(&self) {
        if self.generation == generation() {
            self.handle.abort();
        }
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.stop();
        false
    }
}
