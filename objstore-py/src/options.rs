//! The keyword options of `ObjectStore(...)`, and how a store is opened from them.
//!
//! Invariant: [`Config`] holds everything needed to open the same store again (after a fork,
//! or in another process when a store is pickled), and nothing else.

use std::time::Duration;

use objstore::{Access, CacheOptions, CachePolicy, Limits, ObjectStore};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

/// How to open a store.
#[derive(Clone, Debug)]
pub struct Config {
    pub url: String,
    pub limits: Limits,
    pub access: Access,
    pub cache: CacheOptions,
    pub options: Vec<(String, String)>,
    pub staging_dir: Option<String>,
}

impl Config {
    /// Opens the store (async: the caller decides where it runs).
    pub async fn open(&self) -> objstore::Result<ObjectStore> {
        let mut builder = ObjectStore::builder(&self.url).limits(self.limits).access(self.access).cache(self.cache);
        for (name, value) in &self.options {
            builder = builder.option(name, value);
        }
        if let Some(dir) = &self.staging_dir {
            builder = builder.staging_dir(dir);
        }
        builder.build().await
    }

    /// The options as keyword arguments of `ObjectStore(url, **kwargs)` (for pickling).
    pub fn kwargs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("max_bytes", self.limits.max_bytes)?;
        d.set_item("max_objects", self.limits.max_objects)?;
        d.set_item("max_object_bytes", self.limits.max_object_bytes)?;
        d.set_item("read", self.access.read)?;
        d.set_item("write", self.access.write)?;
        d.set_item("delete", self.access.delete)?;
        d.set_item("cache_bytes", self.cache.capacity_bytes)?;
        d.set_item("cache_max_entry_bytes", self.cache.max_entry_bytes)?;
        match self.cache.policy {
            CachePolicy::Revalidate => d.set_item("cache_policy", "revalidate")?,
            CachePolicy::Trust => d.set_item("cache_policy", "trust")?,
            CachePolicy::Ttl(ttl) => d.set_item("cache_policy", ttl.as_secs_f64())?,
        }
        let options = PyDict::new(py);
        for (k, v) in &self.options {
            options.set_item(k, v)?;
        }
        d.set_item("options", options)?;
        d.set_item("staging_dir", self.staging_dir.as_deref())?;
        Ok(d)
    }
}

/// A URL from what the user gave: `None` is LEAN's `./storage`; a plain folder path (no
/// `scheme://`) is a local store there.
pub fn url(url: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
    let Some(url) = url.filter(|u| !u.is_none()) else { return Ok(objstore::DEFAULT_URL.to_string()) };
    let text: String = if let Ok(s) = url.cast::<PyString>() {
        s.to_str()?.to_string()
    } else if url.hasattr("__fspath__")? {
        url.call_method0("__fspath__")?.extract()?
    } else {
        return Err(PyTypeError::new_err(format!(
            "the store URL must be a str such as 'file://./storage', 's3://bucket/prefix' or 'memory://', not {}",
            crate::convert::type_name(url)
        )));
    };
    if text.contains("://") { Ok(text) } else { Ok(format!("file://{text}")) }
}

/// A cache policy: `"revalidate"` (the default), `"trust"` (LEAN's), or seconds to trust a
/// value after it was checked.
pub fn cache_policy(policy: Option<&Bound<'_, PyAny>>) -> PyResult<CachePolicy> {
    let Some(policy) = policy.filter(|p| !p.is_none()) else { return Ok(CachePolicy::Revalidate) };
    if let Ok(s) = policy.cast::<PyString>() {
        return match s.to_str()? {
            "revalidate" => Ok(CachePolicy::Revalidate),
            "trust" => Ok(CachePolicy::Trust),
            other => Err(PyValueError::new_err(format!(
                "cache_policy {other:?} is not one of 'revalidate', 'trust' or a number of seconds"
            ))),
        };
    }
    if policy.is_instance_of::<pyo3::types::PyBool>() {
        return Err(PyTypeError::new_err(
            "cache_policy must be 'revalidate', 'trust' or a number of seconds, not bool",
        ));
    }
    match policy.extract::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => Ok(CachePolicy::Ttl(Duration::from_secs_f64(secs))),
        Ok(secs) => Err(PyValueError::new_err(format!("cache_policy of {secs} seconds must be a finite number >= 0"))),
        Err(_) => Err(PyTypeError::new_err(format!(
            "cache_policy must be 'revalidate', 'trust' or a number of seconds, not {}",
            crate::convert::type_name(policy)
        ))),
    }
}

/// The backend options (`{"region": "us-east-1"}`): str keys, values as text.
pub fn backend_options(options: Option<&Bound<'_, PyDict>>) -> PyResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    if let Some(options) = options {
        for (k, v) in options.iter() {
            let k: String = k.extract().map_err(|_| PyTypeError::new_err("option names must be str"))?;
            let v = if let Ok(b) = v.cast::<pyo3::types::PyBool>() {
                if b.is_true() { "true".to_string() } else { "false".to_string() }
            } else {
                v.str()?.to_string()
            };
            out.push((k, v));
        }
    }
    Ok(out)
}
