//! Python values in and out: keys, bytes-like values, JSON.
//!
//! Invariants:
//! - A key is a `str`; anything else is a `TypeError` naming the type (never a crash, never a
//!   silent `str()` of the object).
//! - A bytes value is `bytes` (kept without a copy: the Rust value holds the Python object),
//!   `bytearray`, `memoryview` or any object `memoryview()` accepts (copied, since those can
//!   change under us).
//! - JSON is written straight from Python objects (dict, list, tuple, str, int, float, bool,
//!   None; dict keys as `json.dumps` converts them) with `serde_json`, and read straight into
//!   Python objects (dict key order kept). NaN, infinities, cycles, nesting deeper than
//!   [`MAX_DEPTH`] and other types are refused with a message naming the problem, as
//!   `json.dumps(allow_nan=False)` would.

use std::fmt;

use bytes::Bytes;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, Serialize, SerializeMap, SerializeSeq, Serializer};

/// How deep JSON written from Python may nest (beyond it is most likely a cycle).
pub const MAX_DEPTH: usize = 500;

/// The name of `obj`'s type, for messages.
pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "object".to_string())
}

/// A key argument: a `str`, borrowed from the Python object.
pub fn key<'a>(py: Python<'_>, obj: &'a Bound<'_, PyAny>) -> PyResult<&'a str> {
    match obj.cast::<PyString>() {
        Ok(s) => s.to_str().map_err(|_| {
            crate::errors::raise(
                py,
                "InvalidKeyError",
                "invalid key: it holds characters that are not valid Unicode (lone surrogates); keys are text",
            )
        }),
        Err(_) => Err(PyTypeError::new_err(format!("a key must be a str, not {}", type_name(obj)))),
    }
}

/// A bytes-like value argument.
pub fn value_bytes(py: Python<'_>, obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Bytes> {
    if obj.is_instance_of::<PyBytes>() {
        let backed: PyBackedBytes = obj.extract()?;
        return Ok(Bytes::from_owner(backed));
    }
    if let Ok(array) = obj.cast::<PyByteArray>() {
        return Ok(Bytes::from(array.to_vec()));
    }
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{what} takes bytes, bytearray or memoryview, not str; use save() for text or encode it (text.encode())"
        )));
    }
    if obj.is_instance_of::<PyInt>() || obj.is_none() {
        return Err(PyTypeError::new_err(format!(
            "{what} takes bytes, bytearray or memoryview, not {}",
            type_name(obj)
        )));
    }
    let builtins = py.import("builtins")?;
    match builtins.getattr("memoryview")?.call1((obj,)) {
        Ok(view) => {
            let copied: PyBackedBytes = view.call_method0("tobytes")?.extract()?;
            Ok(Bytes::from_owner(copied))
        }
        Err(_) => {
            Err(PyTypeError::new_err(format!("{what} takes bytes, bytearray or memoryview, not {}", type_name(obj))))
        }
    }
}

/// `bytes` from Rust bytes (one copy: Python owns its bytes objects).
pub fn to_pybytes<'py>(py: Python<'py>, bytes: &[u8]) -> Bound<'py, PyBytes> {
    PyBytes::new(py, bytes)
}

// ----- JSON out ----------------------------------------------------------------------------------

/// Writes `obj` as JSON text. The error is the reason, as text.
pub fn to_json(obj: &Bound<'_, PyAny>) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::new(&mut out);
    PyJson { obj, depth: 0 }.serialize(&mut ser).map_err(|e| e.to_string())?;
    Ok(out)
}

struct PyJson<'a, 'py> {
    obj: &'a Bound<'py, PyAny>,
    depth: usize,
}

impl Serialize for PyJson<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let obj = self.obj;
        if self.depth > MAX_DEPTH {
            return Err(ser::Error::custom(format!(
                "the value nests deeper than {MAX_DEPTH} levels (a list or dict that contains itself?)"
            )));
        }
        if obj.is_none() {
            return s.serialize_unit();
        }
        if let Ok(b) = obj.cast::<PyBool>() {
            return s.serialize_bool(b.is_true());
        }
        if obj.is_instance_of::<PyInt>() {
            if let Ok(i) = obj.extract::<i64>() {
                return s.serialize_i64(i);
            }
            if let Ok(u) = obj.extract::<u64>() {
                return s.serialize_u64(u);
            }
            if let Ok(i) = obj.extract::<i128>() {
                return s.serialize_i128(i);
            }
            return Err(ser::Error::custom("an integer is too large for JSON (more than 128 bits)"));
        }
        if let Ok(f) = obj.cast::<PyFloat>() {
            let v = f.value();
            if !v.is_finite() {
                return Err(ser::Error::custom(format!(
                    "{v} is not valid JSON (NaN and infinities have no JSON spelling); replace it with None or a number"
                )));
            }
            return s.serialize_f64(v);
        }
        if let Ok(text) = obj.cast::<PyString>() {
            return s.serialize_str(text.to_str().map_err(|e| ser::Error::custom(e.to_string()))?);
        }
        if let Ok(dict) = obj.cast::<PyDict>() {
            let mut map = s.serialize_map(Some(dict.len()))?;
            for (k, v) in dict.iter() {
                map.serialize_entry(
                    &json_key(&k).map_err(ser::Error::custom)?,
                    &PyJson { obj: &v, depth: self.depth + 1 },
                )?;
            }
            return map.end();
        }
        if let Ok(list) = obj.cast::<PyList>() {
            let mut seq = s.serialize_seq(Some(list.len()))?;
            for item in list.iter() {
                seq.serialize_element(&PyJson { obj: &item, depth: self.depth + 1 })?;
            }
            return seq.end();
        }
        if let Ok(tuple) = obj.cast::<PyTuple>() {
            let mut seq = s.serialize_seq(Some(tuple.len()))?;
            for item in tuple.iter() {
                seq.serialize_element(&PyJson { obj: &item, depth: self.depth + 1 })?;
            }
            return seq.end();
        }
        Err(ser::Error::custom(format!(
            "Object of type {} is not JSON serializable; convert it to dict, list, str, int, float, bool or None \
             (or save bytes with save_bytes)",
            type_name(obj)
        )))
    }
}

/// A dict key as `json.dumps` writes it.
fn json_key(k: &Bound<'_, PyAny>) -> Result<String, String> {
    if let Ok(s) = k.cast::<PyString>() {
        return s.to_str().map(str::to_string).map_err(|e| e.to_string());
    }
    if let Ok(b) = k.cast::<PyBool>() {
        return Ok(if b.is_true() { "true" } else { "false" }.to_string());
    }
    if k.is_none() {
        return Ok("null".to_string());
    }
    if k.is_instance_of::<PyInt>() {
        return k.str().map(|s| s.to_string()).map_err(|e| e.to_string());
    }
    if let Ok(f) = k.cast::<PyFloat>() {
        let v = f.value();
        if !v.is_finite() {
            return Err(format!("the dict key {v} is not valid JSON"));
        }
        return k.repr().map(|s| s.to_string()).map_err(|e| e.to_string());
    }
    Err(format!("keys must be str, int, float, bool or None, not {}", type_name(k)))
}

// ----- JSON in -----------------------------------------------------------------------------------

/// Parses JSON text into Python objects. The error is the reason, as text.
pub fn from_json<'py>(py: Python<'py>, text: &[u8]) -> Result<Bound<'py, PyAny>, String> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let value = PySeed(py).deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(value)
}

struct PySeed<'py>(Python<'py>);

impl<'de, 'py> DeserializeSeed<'de> for PySeed<'py> {
    type Value = Bound<'py, PyAny>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(PyVisitor(self.0))
    }
}

struct PyVisitor<'py>(Python<'py>);

fn infallible<T>(r: Result<T, std::convert::Infallible>) -> T {
    match r {
        Ok(v) => v,
        Err(never) => match never {},
    }
}

fn py_err<E: de::Error>(e: PyErr) -> E {
    E::custom(e.to_string())
}

impl<'de, 'py> Visitor<'de> for PyVisitor<'py> {
    type Value = Bound<'py, PyAny>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.0.None().into_bound(self.0))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visit_unit()
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(PyBool::new(self.0, v).to_owned().into_any())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(infallible(v.into_pyobject(self.0)).into_any())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(infallible(v.into_pyobject(self.0)).into_any())
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Self::Value, E> {
        Ok(infallible(v.into_pyobject(self.0)).into_any())
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Self::Value, E> {
        Ok(infallible(v.into_pyobject(self.0)).into_any())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(PyFloat::new(self.0, v).into_any())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(PyString::new(self.0, v).into_any())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let list = PyList::empty(self.0);
        while let Some(item) = seq.next_element_seed(PySeed(self.0))? {
            list.append(item).map_err(py_err)?;
        }
        Ok(list.into_any())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let dict = PyDict::new(self.0);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let value = map.next_value_seed(PySeed(self.0))?;
            dict.set_item(PyString::new(self.0, &key), value).map_err(py_err)?;
        }
        Ok(dict.into_any())
    }
}

/// A `serde_json::Value` (from the Rust side: statistics, reports) as Python objects.
pub fn value_to_py<'py>(py: Python<'py>, value: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    use serde_json::Value;
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.into_pyobject(py)?.into_any(),
            (_, Some(u), _) => u.into_pyobject(py)?.into_any(),
            (_, _, Some(f)) => PyFloat::new(py, f).into_any(),
            _ => py.None().into_bound(py),
        },
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(value_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, value_to_py(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// Python objects as a `serde_json::Value` (metadata of a managed object, settings as a dict).
pub fn py_to_value(obj: &Bound<'_, PyAny>) -> Result<serde_json::Value, String> {
    let text = to_json(obj)?;
    serde_json::from_slice(&text).map_err(|e| e.to_string())
}
