//! `ObjectStoreManager`, `StorageCategory`, `Settings` and `StoredObject` (seed 002's shape).
//!
//! Invariants:
//! - `data` is saved as JSON (anything `save_json` takes) or, when it is bytes-like, as bytes;
//!   `load` hands back the same kind (the stored header says which).
//! - A manager remembers the process generation it was built in and is rebuilt over its store's
//!   reopened handle in a forked child (see `store.rs`); the parent's is leaked there.
//! - Every I/O call releases the GIL; `find`'s predicate runs with the GIL, after the objects
//!   were gathered without it.

use std::sync::{PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use objstore::manager::format::Encoding;
use objstore::manager::{Category, Manager, SaveOptions, Settings, StoredObject, Tier};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use serde_json::value::RawValue;

use crate::convert;
use crate::errors::{PyResultExt, raise};
use crate::runtime::{generation, run};
use crate::store::{PyObjectStore, encode_json};

// ----- categories ------------------------------------------------------------------------------

/// A storage category: what kind of data an object is, and so which quota it counts against.
///
/// The seven of seed 002 are class attributes (``StorageCategory.TRADING_STATE``,
/// ``OPTIONS_GREEKS``, ``LLM_CACHE``, ``BACKTEST_RESULTS``, ``ML_MODELS``, ``MONITORING_DATA``,
/// ``RESEARCH_DATA``); ``StorageCategory("fx_rates")`` names a custom one (lowercase letters,
/// digits, ``_`` and ``-``). Compares equal to its name; methods that take a category also take
/// the name as a str.
#[pyclass(module = "objstore", name = "StorageCategory", frozen, eq, hash)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyCategory {
    pub inner: Category,
}

#[pymethods]
impl PyCategory {
    #[new]
    fn new(py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<Self> {
        category_arg(py, name)
    }

    /// The category's name (``"trading_state"``, ``"fx_rates"``...), as stored.
    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    /// The same as :attr:`name` (as for an ``enum.Enum`` member).
    #[getter]
    fn value(&self) -> &str {
        self.inner.name()
    }

    /// True for the seven built-in categories.
    #[getter]
    fn is_builtin(&self) -> bool {
        self.inner.is_builtin()
    }

    /// The seven built-in categories.
    #[staticmethod]
    fn builtin() -> Vec<PyCategory> {
        Category::BUILTIN.iter().cloned().map(|inner| PyCategory { inner }).collect()
    }

    fn __str__(&self) -> &str {
        self.inner.name()
    }

    fn __repr__(&self) -> String {
        if self.inner.is_builtin() {
            format!("StorageCategory.{}", self.inner.name().to_ascii_uppercase())
        } else {
            format!("StorageCategory({:?})", self.inner.name())
        }
    }

    /// Daily trading-state snapshots, circuit-breaker state.
    #[classattr]
    #[allow(non_snake_case)]
    fn TRADING_STATE() -> PyCategory {
        PyCategory { inner: Category::TradingState }
    }
    /// Options Greeks history, IV surfaces.
    #[classattr]
    #[allow(non_snake_case)]
    fn OPTIONS_GREEKS() -> PyCategory {
        PyCategory { inner: Category::OptionsGreeks }
    }
    /// Cached LLM analysis results.
    #[classattr]
    #[allow(non_snake_case)]
    fn LLM_CACHE() -> PyCategory {
        PyCategory { inner: Category::LlmCache }
    }
    /// Backtest and optimisation results.
    #[classattr]
    #[allow(non_snake_case)]
    fn BACKTEST_RESULTS() -> PyCategory {
        PyCategory { inner: Category::BacktestResults }
    }
    /// Trained models and feature sets.
    #[classattr]
    #[allow(non_snake_case)]
    fn ML_MODELS() -> PyCategory {
        PyCategory { inner: Category::MlModels }
    }
    /// Resource metrics and alerts.
    #[classattr]
    #[allow(non_snake_case)]
    fn MONITORING_DATA() -> PyCategory {
        PyCategory { inner: Category::MonitoringData }
    }
    /// Research results and datasets, parameters handed to live trading.
    #[classattr]
    #[allow(non_snake_case)]
    fn RESEARCH_DATA() -> PyCategory {
        PyCategory { inner: Category::ResearchData }
    }
}

/// A category argument: a `StorageCategory` or its name.
pub fn category_arg(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<PyCategory> {
    if let Ok(c) = obj.cast::<PyCategory>() {
        return Ok(c.get().clone());
    }
    match obj.cast::<PyString>() {
        Ok(name) => {
            let name = name.to_str()?;
            Category::parse(name).map(|inner| PyCategory { inner }).map_err(|e| {
                raise(
                    py,
                    "InvalidCategoryError",
                    format!("{e}; custom categories are lowercase names such as \"fx_rates\""),
                )
            })
        }
        Err(_) => Err(PyTypeError::new_err(format!(
            "a category must be a StorageCategory or its name (str), not {}",
            convert::type_name(obj)
        ))),
    }
}

// ----- settings --------------------------------------------------------------------------------

/// The manager's settings: the ``quantconnect.object_store`` section of settings.json (or the
/// inner object), with tier presets filling in what it leaves out.
///
/// ``Settings()`` is the 5 GB tier with every default; ``Settings.from_file(path)``,
/// ``Settings.from_dict(d)``, ``Settings.from_json(text)`` and ``Settings.tier("10GB")`` build
/// others. A bad file raises ``ConfigError`` listing every problem.
#[pyclass(module = "objstore", name = "Settings", frozen)]
#[derive(Clone)]
pub struct PySettings {
    pub inner: Settings,
}

#[pymethods]
impl PySettings {
    #[new]
    fn new() -> Self {
        PySettings { inner: Settings::default() }
    }

    /// Reads settings.json (the whole file or the ``object_store`` section).
    #[staticmethod]
    fn from_file(py: Python<'_>, path: &Bound<'_, PyAny>) -> PyResult<Self> {
        let path: std::path::PathBuf = path.extract()?;
        let settings = Settings::from_file(&path).map_err(objstore::manager::Error::from).py(py)?;
        Ok(PySettings { inner: settings })
    }

    /// Settings from a dict shaped like settings.json.
    #[staticmethod]
    fn from_dict(py: Python<'_>, settings: &Bound<'_, PyDict>) -> PyResult<Self> {
        let json = convert::to_json(settings.as_any())
            .map_err(|e| raise(py, "ConfigError", format!("the settings dict cannot be read as JSON: {e}")))?;
        Self::from_json(py, &String::from_utf8_lossy(&json))
    }

    /// Settings from settings.json's text.
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &str) -> PyResult<Self> {
        let settings = Settings::from_json(text).map_err(objstore::manager::Error::from).py(py)?;
        Ok(PySettings { inner: settings })
    }

    /// The defaults of a tier: ``"free"`` (50 MB), ``"2GB"``, ``"5GB"``, ``"10GB"``.
    #[staticmethod]
    fn tier(py: Python<'_>, name: &str) -> PyResult<Self> {
        match Tier::parse(name) {
            Some(tier) => Ok(PySettings { inner: Settings::for_tier(tier) }),
            None => Err(raise(
                py,
                "ConfigError",
                format!("unknown tier {name:?}; the tiers are {}", Tier::ACCEPTED_NAMES.join(", ")),
            )),
        }
    }

    /// The tier's name.
    #[getter]
    fn tier_name(&self) -> &'static str {
        self.inner.tier.name()
    }
    /// Capacity in binary GB.
    #[getter]
    fn max_storage_gb(&self) -> f64 {
        self.inner.max_storage_gb
    }
    /// Most objects.
    #[getter]
    fn max_files(&self) -> u64 {
        self.inner.max_files
    }
    /// Largest object in binary MB (after compression).
    #[getter]
    fn max_file_size_mb(&self) -> f64 {
        self.inner.max_file_size_mb
    }
    /// True when values over the threshold are compressed.
    #[getter]
    fn compression_enabled(&self) -> bool {
        self.inner.compression_enabled
    }
    /// Each category's allocation in binary GB.
    #[getter]
    fn storage_allocation(&self) -> Vec<(String, f64)> {
        self.inner.storage_allocation.iter().map(|(c, gb)| (c.name().to_string(), *gb)).collect()
    }

    /// Every setting as a dict shaped like settings.json's ``object_store`` section.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::value_to_py(py, &self.inner.to_json())
    }

    fn __repr__(&self) -> String {
        format!(
            "Settings(tier={:?}, max_storage_gb={}, max_files={}, max_file_size_mb={})",
            self.inner.tier.name(),
            self.inner.max_storage_gb,
            self.inner.max_files,
            self.inner.max_file_size_mb
        )
    }
}

/// Settings from what a user passes: `Settings`, a dict, a tier name, a path, or None.
fn settings_arg(py: Python<'_>, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Settings> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(Settings::default()) };
    if let Ok(s) = obj.cast::<PySettings>() {
        return Ok(s.get().inner.clone());
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        return Ok(PySettings::from_dict(py, d)?.inner);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        let text = s.to_str()?;
        if let Some(tier) = Tier::parse(text) {
            return Ok(Settings::for_tier(tier));
        }
        return Ok(PySettings::from_file(py, obj)?.inner);
    }
    if obj.hasattr("__fspath__")? {
        return Ok(PySettings::from_file(py, obj)?.inner);
    }
    Err(PyTypeError::new_err(format!(
        "settings must be a Settings, a dict, a tier name ('5GB') or a settings.json path, not {}",
        convert::type_name(obj)
    )))
}

// ----- stored objects --------------------------------------------------------------------------

/// What the manager knows about one stored object: ``key``, ``category``, ``size`` (before
/// compression), ``stored_size`` (what quotas count), ``compressed``, ``created`` and
/// ``expires`` (timezone-aware datetimes; ``expires`` None when it does not expire),
/// ``metadata`` (a dict) and ``checksum``.
#[pyclass(module = "objstore", name = "StoredObject", frozen)]
pub struct PyStoredObject {
    inner: StoredObject,
}

fn datetime<'py>(py: Python<'py>, t: SystemTime) -> PyResult<Bound<'py, PyAny>> {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    };
    let dt = py.import("datetime")?;
    let utc = dt.getattr("timezone")?.getattr("utc")?;
    dt.getattr("datetime")?.call_method1("fromtimestamp", (secs, utc))
}

#[pymethods]
impl PyStoredObject {
    /// The key it was saved under.
    #[getter]
    fn key(&self) -> &str {
        &self.inner.key
    }
    /// Its category.
    #[getter]
    fn category(&self) -> PyCategory {
        PyCategory { inner: self.inner.category.clone() }
    }
    /// The value's size in bytes, before compression.
    #[getter]
    fn size(&self) -> u64 {
        self.inner.size
    }
    /// Bytes it takes in the store, header included.
    #[getter]
    fn stored_size(&self) -> u64 {
        self.inner.stored_size
    }
    /// True when the payload is zstd-compressed.
    #[getter]
    fn compressed(&self) -> bool {
        self.inner.compressed
    }
    /// When it was saved (UTC).
    #[getter]
    fn created<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        datetime(py, self.inner.created)
    }
    /// When it expires (UTC), or None.
    #[getter]
    fn expires<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner.expires.map(|t| datetime(py, t)).transpose()
    }
    /// The metadata given at save time (a new dict on each access).
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::value_to_py(py, &serde_json::Value::Object(self.inner.metadata.clone()))
    }
    /// The checksum of the original bytes (``xxh3-64:...``).
    #[getter]
    fn checksum(&self) -> String {
        self.inner.checksum.to_string()
    }
    /// Every field as a dict (times as RFC 3339 text).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let value = serde_json::to_value(&self.inner).map_err(|e| raise(py, "SerializationError", e.to_string()))?;
        convert::value_to_py(py, &value)
    }
    fn __repr__(&self) -> String {
        format!(
            "StoredObject(key={:?}, category={:?}, size={}, stored_size={}, compressed={})",
            self.inner.key,
            self.inner.category.name(),
            self.inner.size,
            self.inner.stored_size,
            if self.inner.compressed { "True" } else { "False" }
        )
    }
}

fn stored(obj: StoredObject) -> PyStoredObject {
    PyStoredObject { inner: obj }
}

// ----- the manager -----------------------------------------------------------------------------

struct CurrentManager {
    generation: u64,
    manager: Option<Manager>,
}

impl Drop for CurrentManager {
    fn drop(&mut self) {
        if self.generation != generation()
            && let Some(m) = self.manager.take()
        {
            std::mem::forget(m);
        }
    }
}

/// Categories, quotas, expiry, compression and searchable metadata over an ``ObjectStore``
/// (seed 002's ``ObjectStoreManager``).
///
/// ``ObjectStoreManager(store, settings=None)``: ``store`` is an ``ObjectStore`` or a URL;
/// ``settings`` a ``Settings``, a dict shaped like settings.json, a tier name (``"5GB"``) or a
/// settings.json path (default: the 5 GB tier).
///
/// Each category is a folder of the store (``llm_cache/<key>``); every object carries its own
/// header (category, times, codec, checksum, metadata). ``save`` takes anything ``json`` can
/// serialise, or bytes; ``load`` gives back the same kind, or None when absent or expired.
#[pyclass(module = "objstore", name = "ObjectStoreManager", frozen)]
pub struct PyManager {
    store: Py<PyObjectStore>,
    settings: Settings,
    current: RwLock<CurrentManager>,
}

impl PyManager {
    /// The Rust manager of this process (rebuilt after a fork).
    pub fn handle(&self, py: Python<'_>) -> PyResult<Manager> {
        let now = generation();
        let store = self.store.get().handle(py)?; // also raises ClosedError
        {
            let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
            if current.generation == now
                && let Some(m) = &current.manager
            {
                return Ok(m.clone());
            }
        }
        let fresh = Manager::new((*store).clone(), self.settings.clone());
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if current.generation != now || current.manager.is_none() {
            drop(std::mem::replace(&mut *current, CurrentManager { generation: now, manager: Some(fresh.clone()) }));
            return Ok(fresh);
        }
        Ok(current.manager.clone().unwrap_or(fresh))
    }
}

/// What a save stores: JSON text or bytes.
enum Data {
    Json(Box<RawValue>),
    Bytes(Bytes),
}

fn data_arg(py: Python<'_>, key: &str, data: &Bound<'_, PyAny>) -> PyResult<Data> {
    let bytes_like = data.is_instance_of::<pyo3::types::PyBytes>()
        || data.is_instance_of::<pyo3::types::PyByteArray>()
        || data.is_instance_of::<pyo3::types::PyMemoryView>();
    if bytes_like {
        return Ok(Data::Bytes(convert::value_bytes(py, data, "save")?));
    }
    let json = encode_json(py, key, data)?;
    let text = String::from_utf8(json.to_vec()).map_err(|e| raise(py, "UnserializableError", e.to_string()))?;
    let raw = RawValue::from_string(text).map_err(|e| raise(py, "UnserializableError", e.to_string()))?;
    Ok(Data::Json(raw))
}

fn options(
    py: Python<'_>,
    category: Option<&Bound<'_, PyAny>>,
    expire_days: Option<u32>,
    metadata: Option<&Bound<'_, PyDict>>,
    force_compress: bool,
) -> PyResult<SaveOptions> {
    let mut opts = match category.filter(|c| !c.is_none()) {
        Some(c) => SaveOptions::new(category_arg(py, c)?.inner),
        None => SaveOptions::default(),
    };
    if let Some(days) = expire_days {
        opts = opts.expire_days(days);
    }
    if let Some(metadata) = metadata {
        match convert::py_to_value(metadata.as_any()) {
            Ok(serde_json::Value::Object(map)) => opts.metadata = map,
            Ok(_) => {}
            Err(e) => return Err(raise(py, "UnserializableError", format!("metadata cannot be saved as JSON: {e}"))),
        }
    }
    if force_compress {
        opts = opts.force_compress();
    }
    Ok(opts)
}

fn loaded(py: Python<'_>, key: &str, found: Option<(StoredObject, Encoding, Bytes)>) -> PyResult<Py<PyAny>> {
    Ok(match found {
        None => py.None(),
        Some((_, Encoding::Bytes, bytes)) => convert::to_pybytes(py, &bytes).into_any().unbind(),
        Some((_, Encoding::Json, bytes)) => convert::from_json(py, &bytes)
            .map_err(|e| raise(py, "SerializationError", format!("cannot load '{key}' as JSON: {e}")))?
            .unbind(),
    })
}

#[pymethods]
impl PyManager {
    #[new]
    #[pyo3(signature = (store, settings=None))]
    fn new(py: Python<'_>, store: &Bound<'_, PyAny>, settings: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let store: Py<PyObjectStore> = match store.cast::<PyObjectStore>() {
            Ok(s) => s.clone().unbind(),
            Err(_) => py.get_type::<PyObjectStore>().call1((store,))?.cast_into::<PyObjectStore>()?.unbind(),
        };
        let settings = settings_arg(py, settings)?;
        let manager = Manager::new((*store.get().handle(py)?).clone(), settings.clone());
        Ok(PyManager {
            store,
            settings,
            current: RwLock::new(CurrentManager { generation: generation(), manager: Some(manager) }),
        })
    }

    /// The store underneath.
    #[getter]
    fn store(&self, py: Python<'_>) -> Py<PyObjectStore> {
        self.store.clone_ref(py)
    }

    /// The settings in force.
    #[getter]
    fn settings(&self) -> PySettings {
        PySettings { inner: self.settings.clone() }
    }

    /// Saves ``data`` under ``key`` in ``category`` and returns its ``StoredObject``.
    ///
    /// ``data``: anything ``json`` can serialise, or bytes. ``expire_days``: after that many
    /// days ``load`` answers None and ``cleanup_expired`` removes it. ``metadata``: a dict kept
    /// with the object (``find``, ``get_metadata``). ``force_compress``: zstd whatever the size
    /// (values over 100 KB are compressed anyway when the settings enable it). Raises
    /// ``QuotaExceededError`` / ``ObjectTooLargeError`` and changes nothing when a quota would
    /// be exceeded. Saving a key in another category moves it.
    #[pyo3(signature = (key, data, category=None, expire_days=None, metadata=None, force_compress=false))]
    #[allow(clippy::too_many_arguments)]
    fn save(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        data: &Bound<'_, PyAny>,
        category: Option<&Bound<'_, PyAny>>,
        expire_days: Option<u32>,
        metadata: Option<&Bound<'_, PyDict>>,
        force_compress: bool,
    ) -> PyResult<PyStoredObject> {
        let manager = self.handle(py)?;
        let key = convert::key(py, key)?;
        let opts = options(py, category, expire_days, metadata, force_compress)?;
        let data = data_arg(py, key, data)?;
        let object = run(py, async {
            match data {
                Data::Json(raw) => manager.save(key, &*raw, opts).await,
                Data::Bytes(bytes) => manager.save_bytes(key, bytes, opts).await,
            }
        })?
        .py(py)?;
        Ok(stored(object))
    }

    /// The data saved under ``key`` (the JSON value, or bytes when bytes were saved); None when
    /// there is none or it expired.
    fn load(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let manager = self.handle(py)?;
        let key = convert::key(py, key)?;
        let found = run(py, manager.load_encoded(key))?.py(py)?;
        loaded(py, key, found)
    }

    /// The bytes saved under ``key`` (JSON values as their text); None when absent or expired.
    fn load_bytes(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Option<Py<PyAny>>> {
        let manager = self.handle(py)?;
        let key = convert::key(py, key)?;
        let found = run(py, manager.load_bytes(key))?.py(py)?;
        Ok(found.map(|b| convert::to_pybytes(py, &b).into_any().unbind()))
    }

    /// What is known about ``key`` (category, sizes, times, metadata), or None when absent or
    /// expired.
    fn get_metadata(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Option<PyStoredObject>> {
        let manager = self.handle(py)?;
        let key = convert::key(py, key)?;
        Ok(run(py, manager.get_metadata(key))?.py(py)?.map(stored))
    }

    /// The live keys of ``category``, oldest first.
    fn list_keys(&self, py: Python<'_>, category: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
        let manager = self.handle(py)?;
        let category = category_arg(py, category)?.inner;
        run(py, manager.list_keys(&category))?.py(py)
    }

    /// The live objects of ``category``, oldest first.
    fn list_objects(&self, py: Python<'_>, category: &Bound<'_, PyAny>) -> PyResult<Vec<PyStoredObject>> {
        let manager = self.handle(py)?;
        let category = category_arg(py, category)?.inner;
        let objects = run(py, manager.list_objects(&category))?.py(py)?;
        Ok(objects.into_iter().map(|o| stored((*o).clone())).collect())
    }

    /// The live objects, in every category, for which ``predicate(obj)`` is true, e.g.
    /// ``manager.find(lambda o: o.metadata.get("sharpe", 0) > 1.5)``.
    fn find<'py>(&self, py: Python<'py>, predicate: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
        if !predicate.is_callable() {
            return Err(PyTypeError::new_err(
                "find() takes a function of a StoredObject, e.g. lambda o: o.size > 1000",
            ));
        }
        let manager = self.handle(py)?;
        let all = run(py, manager.find(|_| true))?.py(py)?;
        let out = PyList::empty(py);
        for object in all {
            let object = Bound::new(py, stored(object))?;
            if predicate.call1((&object,))?.is_truthy()? {
                out.append(object)?;
            }
        }
        Ok(out)
    }

    /// Deletes the object under ``key`` (in whatever category) and returns True;
    /// ``NotFoundError`` when there is none.
    fn delete(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let manager = self.handle(py)?;
        let key = convert::key(py, key)?;
        run(py, manager.delete(key))?.py(py)?;
        Ok(true)
    }

    /// Removes expired objects (archiving them first when the settings say so); returns how
    /// many were removed.
    fn cleanup_expired(&self, py: Python<'_>) -> PyResult<usize> {
        let manager = self.handle(py)?;
        run(py, manager.cleanup_expired())?.py(py)
    }

    /// A full cleanup: expired objects, archived copies past retention, superseded copies.
    /// Returns the report as a dict (``expired``, ``archived``, ``purged``, ``freed_bytes``,
    /// ``skipped``, ``superseded``).
    fn cleanup<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let manager = self.handle(py)?;
        let report = run(py, manager.cleanup())?.py(py)?;
        let d = PyDict::new(py);
        d.set_item("expired", report.expired)?;
        d.set_item("archived", report.archived)?;
        d.set_item("purged", report.purged)?;
        d.set_item("freed_bytes", report.freed_bytes)?;
        d.set_item("skipped", report.skipped.clone())?;
        d.set_item("superseded", report.superseded)?;
        d.set_item("removed", report.removed())?;
        Ok(d)
    }

    /// Usage per category: ``{name: {"files", "stored_bytes", "original_bytes",
    /// "expired_files", "expired_bytes", "allocation_bytes", "used_pct"}}``.
    fn usage_by_category<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let manager = self.handle(py)?;
        let usage = run(py, manager.usage_by_category())?.py(py)?;
        let out = PyDict::new(py);
        for (category, u) in usage {
            let d = PyDict::new(py);
            d.set_item("files", u.files)?;
            d.set_item("stored_bytes", u.stored_bytes)?;
            d.set_item("original_bytes", u.original_bytes)?;
            d.set_item("expired_files", u.expired_files)?;
            d.set_item("expired_bytes", u.expired_bytes)?;
            d.set_item("allocation_bytes", u.allocation_bytes)?;
            d.set_item("used_pct", u.used_pct())?;
            out.set_item(category.name(), d)?;
        }
        Ok(out)
    }

    /// The archived (expired) objects of ``category``: dicts with ``object`` (a StoredObject),
    /// ``archived`` and ``purge_after`` (datetimes).
    fn list_archived<'py>(&self, py: Python<'py>, category: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
        let manager = self.handle(py)?;
        let category = category_arg(py, category)?.inner;
        let archived = run(py, manager.list_archived(&category))?.py(py)?;
        let out = PyList::empty(py);
        for a in archived {
            let d = PyDict::new(py);
            d.set_item("archived", datetime(py, a.archived)?)?;
            d.set_item("purge_after", datetime(py, a.purge_after)?)?;
            d.set_item("object", Bound::new(py, stored(a.object))?)?;
            out.append(d)?;
        }
        Ok(out)
    }

    /// The bytes of an archived object, or None.
    fn load_archived_bytes(
        &self,
        py: Python<'_>,
        category: &Bound<'_, PyAny>,
        key: &Bound<'_, PyAny>,
    ) -> PyResult<Option<Py<PyAny>>> {
        let manager = self.handle(py)?;
        let category = category_arg(py, category)?.inner;
        let key = convert::key(py, key)?;
        let found = run(py, manager.load_archived_bytes(&category, key))?.py(py)?;
        Ok(found.map(|b| convert::to_pybytes(py, &b).into_any().unbind()))
    }

    /// Awaitable :meth:`save`.
    #[pyo3(signature = (key, data, category=None, expire_days=None, metadata=None, force_compress=false))]
    #[allow(clippy::too_many_arguments)]
    fn save_async<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        data: &Bound<'py, PyAny>,
        category: Option<&Bound<'py, PyAny>>,
        expire_days: Option<u32>,
        metadata: Option<&Bound<'py, PyDict>>,
        force_compress: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let manager = self.handle(py)?;
        let key = convert::key(py, key)?.to_string();
        let opts = options(py, category, expire_days, metadata, force_compress)?;
        let data = data_arg(py, &key, data)?;
        crate::aio::awaitable(
            py,
            async move {
                match data {
                    Data::Json(raw) => manager.save(&key, &*raw, opts).await,
                    Data::Bytes(bytes) => manager.save_bytes(&key, bytes, opts).await,
                }
            },
            |py, r| Ok(Bound::new(py, stored(r.py(py)?))?.into_any().unbind()),
        )
    }

    /// Awaitable :meth:`load`.
    fn load_async<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let manager = self.handle(py)?;
        let key = convert::key(py, key)?.to_string();
        crate::aio::awaitable(py, async move { (manager.load_encoded(&key).await, key) }, |py, (r, key)| {
            loaded(py, &key, r.py(py)?)
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let store = self.store.bind(py).repr()?;
        Ok(format!("ObjectStoreManager({store}, tier={:?})", self.settings.tier.name()))
    }
}
