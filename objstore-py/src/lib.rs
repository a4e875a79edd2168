//! # objstore-py: the Python module `objstore`
//!
//! The native part (`objstore._objstore`) of the Python package built from `python/objstore`
//! by maturin. Python code imports `objstore`, never this module directly.
//!
//! - `store`: `ObjectStore`, LEAN's API in both spellings, with project views.
//! - `manager` and `monitor`: `ObjectStoreManager`, `StorageCategory`, `Settings`,
//!   `StoredObject`, `StorageMonitor` (seed 002's shape).
//! - `runtime`: where futures run, the GIL released around I/O, and fork safety.
//! - `errors`: Rust errors as the exceptions of `objstore.errors`.
//! - `convert`: keys, bytes-like values and JSON between Python and Rust.
//! - `ranges`: the one place that decides how byte ranges are read (fsspec uses it).
//!
//! Invariant: nothing here panics on what Python passes in; every failure is a Python exception.

mod aio;
mod bench;
mod bytes_buffer;
mod convert;
mod errors;
mod manager;
mod monitor;
mod options;
mod ranges;
mod runtime;
mod store;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

/// Opens a store from its URL and keyword options (how pickled stores are unpickled).
#[pyfunction]
#[pyo3(signature = (url, kwargs))]
fn _reopen(py: Python<'_>, url: &str, kwargs: &Bound<'_, PyDict>) -> PyResult<Py<PyAny>> {
    let class = py.get_type::<store::PyObjectStore>();
    Ok(class.call((url,), Some(kwargs))?.unbind())
}

/// A project view of `parent` (how pickled views are unpickled).
#[pyfunction]
fn _view(parent: &Bound<'_, store::PyObjectStore>, project: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    Ok(parent.call_method1("project", (project,))?.unbind())
}

/// Called by `os.register_at_fork(after_in_child=...)`: starts a new process generation.
#[pyfunction]
fn _after_fork_in_child() {
    runtime::after_fork_in_child();
}

/// The most I/O calls that were running at once with the GIL released since the last reset
/// (``reset=True`` starts a new count). For tests and benchmarks that check calls overlap.
#[pyfunction]
#[pyo3(signature = (reset=false))]
fn _in_flight_peak(reset: bool) -> usize {
    runtime::in_flight_peak(reset)
}

/// The process generation: 0 where the module was imported, one more in each forked child.
#[pyfunction]
fn _generation() -> u64 {
    runtime::generation()
}

#[pymodule]
fn _objstore(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    runtime::prime_allocator();
    m.add_class::<store::PyObjectStore>()?;
    m.add_class::<store::KeyValuePair>()?;
    m.add_class::<store::Entries>()?;
    m.add_class::<manager::PyCategory>()?;
    m.add_class::<manager::PySettings>()?;
    m.add_class::<manager::PyStoredObject>()?;
    m.add_class::<manager::PyManager>()?;
    m.add_class::<monitor::PyMonitor>()?;
    m.add_class::<monitor::BackgroundTask>()?;
    m.add_class::<aio::AbortOnCancel>()?;
    m.add_function(wrap_pyfunction!(_reopen, m)?)?;
    m.add_function(wrap_pyfunction!(_view, m)?)?;
    m.add_function(wrap_pyfunction!(_after_fork_in_child, m)?)?;
    m.add_function(wrap_pyfunction!(_in_flight_peak, m)?)?;
    m.add_function(wrap_pyfunction!(_generation, m)?)?;
    m.add_function(wrap_pyfunction!(bench::_bench_rust, m)?)?;
    m.add("DEFAULT_URL", objstore::DEFAULT_URL)?;
    // Every child after os.fork() starts a new generation: handles reopen there.
    let hook = m.getattr("_after_fork_in_child")?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("after_in_child", hook)?;
    py.import("os")?.getattr("register_at_fork")?.call(PyTuple::empty(py), Some(&kwargs))?;
    Ok(())
}
