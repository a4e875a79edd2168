//! The floor of the Python bench's S3 rows: the same operations through the Rust facade alone,
//! with no Python in the loop (what the Rust objstore does on the same server in the same run).
//!
//! Invariant: measures only; it saves under the keys it is given and reads what is there.

use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use objstore::{CacheOptions, ObjectStore};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors::PyResultExt;
use crate::runtime::run;

/// Seconds that `keys.len()` gets (`op="get"`) or puts of `size` bytes (`op="put"`) of the keys
/// take through the Rust facade of a store at `url` with no cache, `concurrency` at a time.
#[pyfunction]
#[pyo3(signature = (url, op, keys, concurrency=1, size=1024))]
pub fn _bench_rust(
    py: Python<'_>,
    url: &str,
    op: &str,
    keys: Vec<String>,
    concurrency: usize,
    size: usize,
) -> PyResult<f64> {
    let put = match op {
        "get" => false,
        "put" => true,
        other => return Err(PyValueError::new_err(format!("op must be 'get' or 'put', not {other:?}"))),
    };
    let url = url.to_string();
    let value = Bytes::from(vec![7u8; size]);
    let result = run(py, async move {
        let store = std::sync::Arc::new(ObjectStore::builder(url).cache(CacheOptions::DISABLED).build().await?);
        let start = Instant::now();
        let mut ops =
            futures::stream::iter(keys.into_iter().map(|key| {
                let store = store.clone();
                let value = value.clone();
                async move {
                    if put { store.save_bytes(&key, value).await } else { store.read_bytes(&key).await.map(|_| ()) }
                }
            }))
            .buffer_unordered(concurrency.max(1));
        while let Some(r) = ops.next().await {
            r?;
        }
        Ok::<f64, objstore::Error>(start.elapsed().as_secs_f64())
    })?;
    result.py(py)
}
