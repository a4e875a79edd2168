//! `objstore.ObjectStore`: LEAN's Object Store API for Python, in both spellings.
//!
//! Invariants:
//! - Every call that may do I/O releases the GIL while it does (a fresh cache hit is answered
//!   with the GIL held: it costs less than releasing it).
//! - A handle knows the process generation its Rust store was opened in. Used in a child after
//!   `os.fork()`, it opens the same store again (same URL and options) and never touches the
//!   parent's (whose connections and locks belong to threads that did not survive the fork);
//!   the parent's is leaked in the child, never dropped there.
//! - A project view resolves through its parent, so a view of a closed store is closed too.
//! - A closed handle raises `ClosedError` on every call; nothing crashes.
//! - LEAN's PascalCase names call the same code as the snake_case ones.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use objstore::{Access, CacheOptions, CachePolicy, Limits, ObjectMeta, ObjectStore};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::bytes_buffer::PyBytesAllocator;
use crate::convert::{self, to_pybytes};
use crate::errors::{PyResultExt, raise};
use crate::options::{self, Config};
use crate::ranges::{self, PyRange};
use crate::runtime::{self, generation, run};

/// Where a handle's Rust store comes from.
enum Origin {
    /// Opened from a URL and options.
    Root(Config),
    /// A project view of another handle.
    View { parent: Py<PyObjectStore>, project: String },
}

/// The Rust store of one process generation.
struct Current {
    generation: u64,
    store: Option<Arc<ObjectStore>>,
}

impl Drop for Current {
    fn drop(&mut self) {
        if self.generation != generation()
            && let Some(store) = self.store.take()
        {
            // Opened before a fork: its connections and locks belong to the parent.
            std::mem::forget(store);
        }
    }
}

/// A key-value Object Store (QuantConnect LEAN's API): save and read text, bytes and JSON by
/// key, on local disk (``file://``), S3-compatible storage (``s3://``) or in memory
/// (``memory://``).
///
/// ``ObjectStore(url=None, *, max_bytes=None, max_objects=None, max_object_bytes=None,
/// read=True, write=True, delete=True, cache_bytes=None, cache_max_entry_bytes=None,
/// cache_policy="revalidate", options=None, staging_dir=None)``
///
/// - ``url``: ``"file://./storage"`` (the default, LEAN's folder), any folder path,
///   ``"s3://bucket/prefix?endpoint=...&region=..."`` (credentials from ``AWS_*`` variables or
///   the query), ``"memory://"``.
/// - ``max_bytes``, ``max_objects``, ``max_object_bytes``: limits, checked atomically on every
///   save (``LimitExceededError``); reaching a limit exactly is allowed.
/// - ``read``, ``write``, ``delete``: permissions (``PermissionDeniedError``).
/// - ``cache_bytes``: the read cache's size (default 128 MiB; ``0`` turns it off);
///   ``cache_max_entry_bytes``: larger values bypass it (default 8 MiB).
/// - ``cache_policy``: ``"revalidate"`` checks the stored version before serving a cached
///   value (changes by other processes are seen); ``"trust"`` is LEAN's behaviour (``clear()``
///   drops cached values); a number trusts a value that many seconds after it was checked.
/// - ``options``: backend options by name (``{"region": "us-east-1"}``).
///
/// LEAN's spellings are aliases: ``Save``, ``SaveString``, ``SaveBytes``, ``SaveJson``,
/// ``Read``, ``ReadString``, ``ReadBytes``, ``ReadJson``, ``ContainsKey``, ``Delete``,
/// ``GetFilePath``, ``Clear``, and the property ``Keys``. Iterating yields ``KeyValuePair``
/// objects (``kvp.key``/``kvp.Key``, ``kvp.value``/``kvp.Value``), values read lazily.
///
/// Every I/O call releases the GIL; ``*_async`` twins return awaitables for asyncio. A store
/// used in a child process after ``os.fork()`` reopens itself there. Use it as a context
/// manager, or call ``close()``, to upload staged files and release it.
#[pyclass(module = "objstore", name = "ObjectStore", frozen)]
pub struct PyObjectStore {
    origin: Origin,
    closed: AtomicBool,
    current: RwLock<Current>,
}

impl PyObjectStore {
    /// The Rust store for this process, reopened after a fork.
    pub fn handle(&self, py: Python<'_>) -> PyResult<Arc<ObjectStore>> {
        if self.is_closed() {
            return Err(raise(
                py,
                "ClosedError",
                "this ObjectStore is closed; open a new one with objstore.ObjectStore(url)",
            ));
        }
        let now = generation();
        {
            let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
            if current.generation == now
                && let Some(store) = &current.store
            {
                return Ok(store.clone());
            }
        }
        // A child after fork (or a first use): open anew. The GIL stays held, so no other
        // thread of this process waits on the lock while holding it.
        let fresh = Arc::new(self.open_here(py)?);
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if current.generation != now || current.store.is_none() {
            let old = std::mem::replace(&mut *current, Current { generation: now, store: Some(fresh.clone()) });
            drop(old); // forgets a parent's store (see `Current`)
            return Ok(fresh);
        }
        Ok(current.store.clone().unwrap_or(fresh))
    }

    fn open_here(&self, py: Python<'_>) -> PyResult<ObjectStore> {
        match &self.origin {
            Origin::Root(config) => runtime::run_attached(config.open())?.py(py),
            Origin::View { parent, project } => Ok(parent.get().handle(py)?.project(project)),
        }
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
            || match &self.origin {
                Origin::View { parent, .. } => parent.get().is_closed(),
                Origin::Root(_) => false,
            }
    }

    /// Opens a store from a config (releasing the GIL while it opens).
    pub fn open(py: Python<'_>, config: Config) -> PyResult<PyObjectStore> {
        let store = run(py, config.open())?.py(py)?;
        Ok(PyObjectStore {
            origin: Origin::Root(config),
            closed: AtomicBool::new(false),
            current: RwLock::new(Current { generation: generation(), store: Some(Arc::new(store)) }),
        })
    }

    fn save_value(&self, py: Python<'_>, key: &Bound<'_, PyAny>, value: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
        let store = self.handle(py)?;
        let key = convert::key(py, key)?;
        match value.filter(|v| !v.is_none()) {
            None => run(py, store.save_from_file(key))?.py(py)?,
            Some(v) => match v.cast::<PyString>() {
                Ok(text) => {
                    let text = text.to_str()?;
                    run(py, store.save(key, text))?.py(py)?
                }
                Err(_) => {
                    let bytes = convert::value_bytes(py, v, "save")?;
                    run(py, store.save_bytes(key, bytes))?.py(py)?
                }
            },
        }
        Ok(true)
    }

    fn save_bytes_impl(&self, py: Python<'_>, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        let store = self.handle(py)?;
        let key = convert::key(py, key)?;
        let bytes = convert::value_bytes(py, value, "save_bytes")?;
        run(py, store.save_bytes(key, bytes))?.py(py)?;
        Ok(true)
    }

    fn save_json_impl(&self, py: Python<'_>, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        let store = self.handle(py)?;
        let key = convert::key(py, key)?;
        let json = encode_json(py, key, value)?;
        run(py, store.save_bytes(key, json))?.py(py)?;
        Ok(true)
    }

    fn read_raw(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<(String, Bytes)> {
        let store = self.handle(py)?;
        let key = convert::key(py, key)?;
        if let Some(bytes) = ready_under_the_gil(&store, key).py(py)? {
            return Ok((key.to_string(), bytes));
        }
        let bytes = run(py, store.read_bytes(key))?.py(py)?;
        Ok((key.to_string(), bytes))
    }

    fn read_bytes_impl<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
        let store = self.handle(py)?;
        let key = convert::key(py, key)?;
        if let Some(bytes) = ready_under_the_gil(&store, key).py(py)? {
            return Ok(to_pybytes(py, &bytes));
        }
        // A large value is read into the `bytes` object returned, saving a copy.
        let alloc = PyBytesAllocator::default();
        let bytes = run(py, store.read_bytes_into(key, &alloc))?.py(py)?;
        Ok(alloc.take(py, &bytes).unwrap_or_else(|| to_pybytes(py, &bytes)))
    }

    fn read_text_impl<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyString>> {
        let (key, bytes) = self.read_raw(py, key)?;
        decode_text(py, &key, &bytes)
    }

    fn read_json_impl<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let (key, bytes) = self.read_raw(py, key)?;
        decode_json(py, &key, &bytes)
    }

    fn contains_key_impl(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let store = self.handle(py)?;
        let key = convert::key(py, key)?;
        run(py, store.contains_key(key))?.py(py)
    }

    fn delete_impl(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let store = self.handle(py)?;
        let key = convert::key(py, key)?;
        run(py, store.delete(key))?.py(py)?;
        Ok(true)
    }

    fn keys_impl(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let store = self.handle(py)?;
        run(py, store.keys())?.py(py)
    }

    fn get_file_path_impl(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<String> {
        let store = self.handle(py)?;
        let key = convert::key(py, key)?;
        let path = run(py, store.get_file_path(key))?.py(py)?;
        Ok(path.to_string_lossy().into_owned())
    }

    fn clear_impl(&self, py: Python<'_>) -> PyResult<()> {
        self.handle(py)?.clear();
        Ok(())
    }
}

/// JSON text of `value`, or `UnserializableError` naming the key.
pub fn encode_json(py: Python<'_>, key: &str, value: &Bound<'_, PyAny>) -> PyResult<Bytes> {
    convert::to_json(value)
        .map(Bytes::from)
        .map_err(|reason| raise(py, "UnserializableError", format!("cannot save '{key}' as JSON: {reason}")))
}

/// The bytes under `key` when the cache holds them fresh under `Trust`, found without any I/O, so
/// that asking costs nothing while the GIL is held. Under `Revalidate` (and a `Ttl` that may have
/// run out) a ready answer first `stat`s the file: that read releases the GIL like any other.
fn ready_under_the_gil(store: &ObjectStore, key: &str) -> objstore::Result<Option<Bytes>> {
    match store.cache_policy() {
        Some(CachePolicy::Trust) => store.read_bytes_ready(key),
        _ => Ok(None),
    }
}

fn decode_text<'py>(py: Python<'py>, key: &str, bytes: &[u8]) -> PyResult<Bound<'py, PyString>> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(PyString::new(py, text)),
        Err(e) => Err(raise(
            py,
            "SerializationError",
            format!("cannot read '{key}' as UTF-8 text: {e}; read it with read_bytes()"),
        )),
    }
}

fn decode_json<'py>(py: Python<'py>, key: &str, bytes: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    convert::from_json(py, bytes)
        .map_err(|reason| raise(py, "SerializationError", format!("cannot read '{key}' as JSON: {reason}")))
}

fn meta_dict<'py>(py: Python<'py>, meta: &ObjectMeta) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("key", meta.key.as_str())?;
    d.set_item("size", meta.size)?;
    d.set_item("version", meta.version.as_str())?;
    let modified = meta.modified.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_secs_f64());
    d.set_item("modified", modified)?;
    Ok(d)
}

fn ranges_arg(ranges: &Bound<'_, PyAny>) -> PyResult<Vec<PyRange>> {
    let mut out = Vec::new();
    for item in ranges.try_iter()? {
        let item = item?;
        let (start, end): (Option<i64>, Option<i64>) = item
            .extract()
            .map_err(|_| PyTypeError::new_err("each range must be a (start, end) pair of int or None"))?;
        out.push(PyRange { start: start.unwrap_or(0), end });
    }
    Ok(out)
}

macro_rules! owned_key {
    ($py:expr, $key:expr) => {
        convert::key($py, $key)?.to_string()
    };
}

#[pymethods]
impl PyObjectStore {
    #[new]
    #[pyo3(signature = (url=None, *, max_bytes=None, max_objects=None, max_object_bytes=None, read=true, write=true,
        delete=true, cache_bytes=None, cache_max_entry_bytes=None, cache_policy=None, options=None, staging_dir=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        url: Option<&Bound<'_, PyAny>>,
        max_bytes: Option<u64>,
        max_objects: Option<u64>,
        max_object_bytes: Option<u64>,
        read: bool,
        write: bool,
        delete: bool,
        cache_bytes: Option<u64>,
        cache_max_entry_bytes: Option<u64>,
        cache_policy: Option<&Bound<'_, PyAny>>,
        options: Option<&Bound<'_, PyDict>>,
        staging_dir: Option<String>,
    ) -> PyResult<Self> {
        let defaults = CacheOptions::default();
        let config = Config {
            url: options::url(url)?,
            limits: Limits { max_bytes, max_objects, max_object_bytes },
            access: Access { read, write, delete },
            cache: CacheOptions {
                capacity_bytes: cache_bytes.unwrap_or(defaults.capacity_bytes),
                max_entry_bytes: cache_max_entry_bytes.unwrap_or(defaults.max_entry_bytes),
                policy: options::cache_policy(cache_policy)?,
            },
            options: options::backend_options(options)?,
            staging_dir,
        };
        PyObjectStore::open(py, config)
    }

    fn __repr__(&self) -> String {
        let mut root = self;
        let mut projects = Vec::new();
        let url = loop {
            match &root.origin {
                Origin::Root(c) => break objstore::url::redact(&c.url),
                Origin::View { parent, project } => {
                    projects.push(project.clone());
                    root = parent.get();
                }
            }
        };
        projects.reverse();
        let closed = if self.is_closed() { ", closed" } else { "" };
        let quote = |s: &str| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"));
        if projects.is_empty() {
            format!("ObjectStore({}{closed})", quote(&url))
        } else {
            format!("ObjectStore({}, project={}{closed})", quote(&url), quote(&projects.join("/")))
        }
    }

    /// Pickles as the URL and options: unpickling opens the same store (in another process too).
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let this = slf.get();
        let module = py.import("objstore._objstore")?;
        match &this.origin {
            Origin::Root(config) => {
                let args = PyTuple::new(
                    py,
                    [config.url.clone().into_pyobject(py)?.into_any(), config.kwargs(py)?.into_any()],
                )?;
                Ok(PyTuple::new(py, [module.getattr("_reopen")?, args.into_any()])?.into_any())
            }
            Origin::View { parent, project } => {
                let args = PyTuple::new(
                    py,
                    [parent.clone_ref(py).into_bound(py).into_any(), PyString::new(py, project).into_any()],
                )?;
                Ok(PyTuple::new(py, [module.getattr("_view")?, args.into_any()])?.into_any())
            }
        }
    }

    // ----- saving ---------------------------------------------------------------------------

    /// Saves ``value`` under ``key`` and returns ``True`` (LEAN's ``Save``). Text is saved as
    /// UTF-8; bytes-like values as they are. Without a value, saves the file at
    /// ``get_file_path(key)`` (LEAN's ``Save(key)``, after ``df.to_parquet(path)``). Replaces
    /// any value; the save is durable on disk when it returns.
    #[pyo3(signature = (key, value=None))]
    fn save(&self, py: Python<'_>, key: &Bound<'_, PyAny>, value: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
        self.save_value(py, key, value)
    }

    /// LEAN's spelling of :meth:`save`.
    #[pyo3(name = "Save", signature = (key, value=None))]
    fn save_lean(&self, py: Python<'_>, key: &Bound<'_, PyAny>, value: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
        self.save_value(py, key, value)
    }

    /// LEAN's ``SaveString``: saves text as UTF-8 (the same as :meth:`save`).
    #[pyo3(name = "SaveString")]
    fn save_string_lean(&self, py: Python<'_>, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        if !value.is_instance_of::<PyString>() {
            return Err(PyTypeError::new_err(format!(
                "SaveString takes str, not {}; use SaveBytes for bytes",
                convert::type_name(value)
            )));
        }
        self.save_value(py, key, Some(value))
    }

    /// Saves bytes (``bytes``, ``bytearray``, ``memoryview``) under ``key``; returns ``True``.
    fn save_bytes(&self, py: Python<'_>, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.save_bytes_impl(py, key, value)
    }

    /// LEAN's spelling of :meth:`save_bytes`.
    #[pyo3(name = "SaveBytes")]
    fn save_bytes_lean(&self, py: Python<'_>, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.save_bytes_impl(py, key, value)
    }

    /// Saves ``value`` as JSON (dict, list, tuple, str, int, float, bool, None); returns
    /// ``True``. NaN, infinities, cycles and other types raise ``UnserializableError`` (a
    /// ``TypeError`` and ``ValueError``) and save nothing.
    fn save_json(&self, py: Python<'_>, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.save_json_impl(py, key, value)
    }

    /// LEAN's spelling of :meth:`save_json`.
    #[pyo3(name = "SaveJson")]
    fn save_json_lean(&self, py: Python<'_>, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.save_json_impl(py, key, value)
    }

    // ----- reading --------------------------------------------------------------------------

    /// The text under ``key`` (LEAN's ``Read``). ``NotFoundError`` (a ``KeyError``) when there
    /// is none; ``SerializationError`` when the value is not UTF-8.
    fn read<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyString>> {
        self.read_text_impl(py, key)
    }

    /// LEAN's spelling of :meth:`read`.
    #[pyo3(name = "Read")]
    fn read_lean<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyString>> {
        self.read_text_impl(py, key)
    }

    /// LEAN's ``ReadString`` (the same as :meth:`read`).
    #[pyo3(name = "ReadString")]
    fn read_string_lean<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyString>> {
        self.read_text_impl(py, key)
    }

    /// The bytes under ``key``. ``NotFoundError`` (a ``KeyError``) when there are none.
    fn read_bytes<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
        self.read_bytes_impl(py, key)
    }

    /// LEAN's spelling of :meth:`read_bytes`.
    #[pyo3(name = "ReadBytes")]
    fn read_bytes_lean<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
        self.read_bytes_impl(py, key)
    }

    /// The JSON value under ``key`` as Python objects (dict key order kept).
    fn read_json<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        self.read_json_impl(py, key)
    }

    /// LEAN's spelling of :meth:`read_json`.
    #[pyo3(name = "ReadJson")]
    fn read_json_lean<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        self.read_json_impl(py, key)
    }

    /// The value under ``key`` with its metadata, read together: ``(bytes, {"key", "size",
    /// "version", "modified"})`` (the version is the one of exactly these bytes).
    fn read_object<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyDict>)> {
        let store = self.handle(py)?;
        let key = convert::key(py, key)?;
        let object = run(py, store.read_object(key))?.py(py)?;
        Ok((to_pybytes(py, &object.bytes), meta_dict(py, &object.meta)?))
    }

    /// Bytes ``start`` to ``end`` (exclusive) of the value under ``key``, with Python's slice
    /// rules: negative positions count from the end, ``end=None`` reads to the end, a range past
    /// the end is empty.
    #[pyo3(signature = (key, start=0, end=None))]
    fn read_range<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        start: i64,
        end: Option<i64>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let store = self.handle(py)?;
        let key = convert::key(py, key)?;
        let range = [PyRange { start, end }];
        let mut parts = run(py, ranges::read_ranges(&store, key, &range))?.py(py)?;
        Ok(to_pybytes(py, &parts.pop().unwrap_or_default()))
    }

    /// Several ranges of one value (``[(start, end), ...]``, as :meth:`read_range`), in order.
    /// The value is fetched once.
    fn read_ranges<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        ranges: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let store = self.handle(py)?;
        let key = convert::key(py, key)?;
        let ranges = ranges_arg(ranges)?;
        let parts = run(py, ranges::read_ranges(&store, key, &ranges))?.py(py)?;
        PyList::new(py, parts.iter().map(|p| to_pybytes(py, p)))
    }

    /// True: :meth:`read_range` and :meth:`read_ranges` fetch only the ranges from storage (a
    /// ``pread`` on disk, a ``Range`` GET on S3), so fsspec files read ahead in blocks.
    #[getter]
    fn ranged_reads(&self) -> bool {
        ranges::RANGED_READS
    }

    // ----- keys -----------------------------------------------------------------------------

    /// True when an object exists under ``key`` (LEAN's ``ContainsKey``).
    fn contains_key(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.contains_key_impl(py, key)
    }

    /// LEAN's spelling of :meth:`contains_key`.
    #[pyo3(name = "ContainsKey")]
    fn contains_key_lean(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.contains_key_impl(py, key)
    }

    fn __contains__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.contains_key_impl(py, key)
    }

    /// Deletes the object under ``key`` and returns ``True``; ``NotFoundError`` (a
    /// ``KeyError``) when there is none, as LEAN raises.
    fn delete(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.delete_impl(py, key)
    }

    /// LEAN's spelling of :meth:`delete`.
    #[pyo3(name = "Delete")]
    fn delete_lean(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.delete_impl(py, key)
    }

    /// Every key, sorted, with ``/`` separators.
    fn keys(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.keys_impl(py)
    }

    /// LEAN's ``Keys`` property: every key, sorted.
    #[getter(Keys)]
    fn keys_lean(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.keys_impl(py)
    }

    /// The keys starting with ``prefix`` (a string prefix), sorted.
    #[pyo3(signature = (prefix=""))]
    fn list_keys(&self, py: Python<'_>, prefix: &str) -> PyResult<Vec<String>> {
        let store = self.handle(py)?;
        let keys = run(py, async {
            let mut out = Vec::new();
            let mut stream = store.list_keys(prefix);
            while let Some(key) = stream.next().await {
                out.push(String::from(key?));
            }
            Ok::<_, objstore::Error>(out)
        })?;
        keys.py(py)
    }

    /// The objects whose key starts with ``prefix``, sorted: dicts with ``key``, ``size``,
    /// ``version`` and ``modified`` (seconds since the epoch, or None).
    #[pyo3(signature = (prefix=""))]
    fn list<'py>(&self, py: Python<'py>, prefix: &str) -> PyResult<Bound<'py, PyList>> {
        let store = self.handle(py)?;
        let metas = run(py, async {
            let mut out = Vec::new();
            let mut stream = store.list(prefix);
            while let Some(meta) = stream.next().await {
                out.push(meta?);
            }
            Ok::<_, objstore::Error>(out)
        })?
        .py(py)?;
        let list = PyList::empty(py);
        for meta in &metas {
            list.append(meta_dict(py, meta)?)?;
        }
        Ok(list)
    }

    /// The metadata of the object under ``key`` (``key``, ``size``, ``version``,
    /// ``modified``) without reading it; ``NotFoundError`` when there is none.
    fn head<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
        let store = self.handle(py)?;
        let key = convert::key(py, key)?;
        let meta = run(py, store.head(key))?.py(py)?;
        meta_dict(py, &meta)
    }

    /// Iterates over (key, value) pairs as ``KeyValuePair`` objects, sorted by key; values are
    /// read as the iteration reaches them (a few ahead), so memory stays bounded.
    fn __iter__(&self, py: Python<'_>) -> PyResult<Entries> {
        let store = self.handle(py)?;
        Ok(Entries { stream: std::sync::Mutex::new(Some(store.entries().boxed())), generation: generation() })
    }

    // ----- files ----------------------------------------------------------------------------

    /// A local file path for ``key`` (LEAN's ``GetFilePath``), with its folders created. The
    /// file holds the current value when the key exists. On local disk it is the object itself;
    /// on S3 a staged copy. After writing it (``df.to_parquet(path)``), ``save(key)`` saves it;
    /// ``persist()`` (or ``close()``) uploads every staged file that changed.
    fn get_file_path(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<String> {
        self.get_file_path_impl(py, key)
    }

    /// LEAN's spelling of :meth:`get_file_path`.
    #[pyo3(name = "GetFilePath")]
    fn get_file_path_lean(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<String> {
        self.get_file_path_impl(py, key)
    }

    /// Uploads every staged file (see :meth:`get_file_path`) created or changed since it was
    /// handed out; a no-op on local disk.
    fn persist(&self, py: Python<'_>) -> PyResult<()> {
        let store = self.handle(py)?;
        run(py, store.persist())?.py(py)
    }

    /// Empties the read cache (LEAN's ``Clear``). Nothing stored is deleted.
    fn clear(&self, py: Python<'_>) -> PyResult<()> {
        self.clear_impl(py)
    }

    /// LEAN's spelling of :meth:`clear`.
    #[pyo3(name = "Clear")]
    fn clear_lean(&self, py: Python<'_>) -> PyResult<()> {
        self.clear_impl(py)
    }

    // ----- views, figures, lifetime ---------------------------------------------------------

    /// A view whose keys live under ``"{project_id}/"`` (LEAN's project folders). Views share
    /// the store's storage, cache and limits.
    fn project(slf: &Bound<'_, Self>, project_id: &Bound<'_, PyAny>) -> PyResult<PyObjectStore> {
        let py = slf.py();
        let project = convert::key(py, project_id)?.to_string();
        let store = slf.get().handle(py)?.project(&project);
        Ok(PyObjectStore {
            origin: Origin::View { parent: slf.clone().unbind(), project },
            closed: AtomicBool::new(false),
            current: RwLock::new(Current { generation: generation(), store: Some(Arc::new(store)) }),
        })
    }

    /// How much the store (or this view) holds now: ``{"bytes": ..., "objects": ...}``.
    fn usage<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let store = self.handle(py)?;
        let usage = run(py, store.usage())?.py(py)?;
        let d = PyDict::new(py);
        d.set_item("bytes", usage.bytes)?;
        d.set_item("objects", usage.objects)?;
        Ok(d)
    }

    /// The limits: ``{"max_bytes": ..., "max_objects": ..., "max_object_bytes": ...}`` (None
    /// for no limit).
    #[getter]
    fn limits<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let limits = self.handle(py)?.limits();
        let d = PyDict::new(py);
        d.set_item("max_bytes", limits.max_bytes)?;
        d.set_item("max_objects", limits.max_objects)?;
        d.set_item("max_object_bytes", limits.max_object_bytes)?;
        Ok(d)
    }

    /// The URL the store was opened with, credentials removed.
    #[getter]
    fn url(&self, py: Python<'_>) -> PyResult<String> {
        Ok(objstore::url::redact(self.handle(py)?.url()))
    }

    /// The read cache's counters (``hits``, ``misses``, ``evictions``, ``bytes``, ``entries``),
    /// or None without a cache.
    fn cache_stats<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(stats) = self.handle(py)?.cache_stats() else { return Ok(None) };
        let d = PyDict::new(py);
        d.set_item("hits", stats.hits)?;
        d.set_item("misses", stats.misses)?;
        d.set_item("evictions", stats.evictions)?;
        d.set_item("bytes", stats.bytes)?;
        d.set_item("entries", stats.entries)?;
        Ok(Some(d))
    }

    /// True once :meth:`close` was called (on this handle or the store it is a view of).
    #[getter]
    fn closed(&self) -> bool {
        self.is_closed()
    }

    /// Uploads staged files (see :meth:`persist`) and closes the handle: later calls raise
    /// ``ClosedError``. Closing a store closes its project views; closing twice is fine.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        if self.is_closed() {
            return Ok(());
        }
        let store = self.handle(py)?;
        let persisted = run(py, store.persist())?.py(py);
        self.closed.store(true, Ordering::Release);
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if current.generation == generation() {
            current.store = None;
        }
        persisted
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    // ----- asyncio twins --------------------------------------------------------------------

    /// Awaitable :meth:`save` (text or bytes; without a value, the file at the key's path).
    #[pyo3(signature = (key, value=None))]
    fn save_async<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        value: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let store = self.handle(py)?;
        let key = owned_key!(py, key);
        enum Value {
            File,
            Text(String),
            Bytes(Bytes),
        }
        let value = match value.filter(|v| !v.is_none()) {
            None => Value::File,
            Some(v) => match v.cast::<PyString>() {
                Ok(text) => Value::Text(text.to_str()?.to_string()),
                Err(_) => Value::Bytes(convert::value_bytes(py, v, "save_async")?),
            },
        };
        crate::aio::awaitable(
            py,
            async move {
                match value {
                    Value::File => store.save_from_file(&key).await,
                    Value::Text(text) => store.save(&key, &text).await,
                    Value::Bytes(bytes) => store.save_bytes(&key, bytes).await,
                }
            },
            done_true,
        )
    }

    /// Awaitable :meth:`save_bytes`.
    fn save_bytes_async<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let store = self.handle(py)?;
        let key = owned_key!(py, key);
        let bytes = convert::value_bytes(py, value, "save_bytes_async")?;
        crate::aio::awaitable(py, async move { store.save_bytes(&key, bytes).await }, done_true)
    }

    /// Awaitable :meth:`save_json`.
    fn save_json_async<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let store = self.handle(py)?;
        let key = owned_key!(py, key);
        let json = encode_json(py, &key, value)?;
        crate::aio::awaitable(py, async move { store.save_bytes(&key, json).await }, done_true)
    }

    /// Awaitable :meth:`read`.
    fn read_async<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let store = self.handle(py)?;
        let key = owned_key!(py, key);
        crate::aio::awaitable(py, async move { (store.read_bytes(&key).await, key) }, |py, (r, key)| {
            let bytes = r.py(py)?;
            Ok(decode_text(py, &key, &bytes)?.into_any().unbind())
        })
    }

    /// Awaitable :meth:`read_bytes`.
    fn read_bytes_async<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let store = self.handle(py)?;
        let key = owned_key!(py, key);
        crate::aio::awaitable(py, async move { store.read_bytes(&key).await }, |py, r| {
            Ok(to_pybytes(py, &r.py(py)?).into_any().unbind())
        })
    }

    /// Awaitable :meth:`read_json`.
    fn read_json_async<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let store = self.handle(py)?;
        let key = owned_key!(py, key);
        crate::aio::awaitable(py, async move { (store.read_bytes(&key).await, key) }, |py, (r, key)| {
            let bytes = r.py(py)?;
            Ok(decode_json(py, &key, &bytes)?.unbind())
        })
    }

    /// Awaitable :meth:`contains_key`.
    fn contains_key_async<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let store = self.handle(py)?;
        let key = owned_key!(py, key);
        crate::aio::awaitable(py, async move { store.contains_key(&key).await }, |py, r| {
            Ok(r.py(py)?.into_pyobject(py)?.to_owned().into_any().unbind())
        })
    }

    /// Awaitable :meth:`delete`.
    fn delete_async<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let store = self.handle(py)?;
        let key = owned_key!(py, key);
        crate::aio::awaitable(py, async move { store.delete(&key).await }, done_true)
    }

    /// Awaitable :meth:`keys`.
    fn keys_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let store = self.handle(py)?;
        crate::aio::awaitable(py, async move { store.keys().await }, |py, r| {
            Ok(r.py(py)?.into_pyobject(py)?.into_any().unbind())
        })
    }

    /// Awaitable :meth:`get_file_path`.
    fn get_file_path_async<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let store = self.handle(py)?;
        let key = owned_key!(py, key);
        crate::aio::awaitable(py, async move { store.get_file_path(&key).await }, |py, r| {
            Ok(r.py(py)?.to_string_lossy().into_pyobject(py)?.into_any().unbind())
        })
    }
}

fn done_true(py: Python<'_>, r: objstore::Result<()>) -> PyResult<Py<PyAny>> {
    r.py(py)?;
    Ok(true.into_pyobject(py)?.to_owned().into_any().unbind())
}

/// The store's (key, value) pairs as the Rust facade streams them.
type EntryStream = BoxStream<'static, objstore::Result<(String, Bytes)>>;

/// The iterator over a store's (key, value) pairs.
#[pyclass(module = "objstore")]
pub struct Entries {
    stream: std::sync::Mutex<Option<EntryStream>>,
    generation: u64,
}

impl Drop for Entries {
    fn drop(&mut self) {
        if self.generation != generation()
            && let Some(stream) = self.stream.get_mut().unwrap_or_else(PoisonError::into_inner).take()
        {
            std::mem::forget(stream);
        }
    }
}

#[pymethods]
impl Entries {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<KeyValuePair>> {
        if self.generation != generation() {
            return Err(raise(
                py,
                "ClosedError",
                "this iteration started before os.fork(); iterate over the store again in this process",
            ));
        }
        let mut guard = self.stream.try_lock().map_err(|_| {
            PyRuntimeError::new_err("another thread is advancing this iterator; give each thread its own")
        })?;
        let Some(stream) = guard.as_mut() else { return Ok(None) };
        match run(py, stream.next())? {
            None => {
                *guard = None;
                Ok(None)
            }
            Some(Err(e)) => {
                *guard = None;
                Err(e).py(py)
            }
            Some(Ok((key, bytes))) => Ok(Some(KeyValuePair { key, value: to_pybytes(py, &bytes).unbind() })),
        }
    }
}

/// One (key, value) pair of an iteration over the store: ``kvp.key`` / ``kvp.Key`` (str) and
/// ``kvp.value`` / ``kvp.Value`` (bytes). Unpacks as ``key, value = kvp``.
#[pyclass(module = "objstore", frozen)]
pub struct KeyValuePair {
    key: String,
    value: Py<PyBytes>,
}

#[pymethods]
impl KeyValuePair {
    /// The key.
    #[getter]
    fn key(&self) -> &str {
        &self.key
    }
    /// LEAN's spelling of :attr:`key`.
    #[getter(Key)]
    fn key_lean(&self) -> &str {
        &self.key
    }
    /// The value, as bytes.
    #[getter]
    fn value(&self, py: Python<'_>) -> Py<PyBytes> {
        self.value.clone_ref(py)
    }
    /// LEAN's spelling of :attr:`value`.
    #[getter(Value)]
    fn value_lean(&self, py: Python<'_>) -> Py<PyBytes> {
        self.value.clone_ref(py)
    }
    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let pair = PyTuple::new(py, [PyString::new(py, &self.key).into_any(), self.value.bind(py).clone().into_any()])?;
        pair.try_iter().map(Bound::into_any)
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!("KeyValuePair(key={:?}, value=<{} bytes>)", self.key, self.value.bind(py).as_bytes().len())
    }
}
