//! Parquet in the store, as the research notebooks use it: a file written at `get_file_path` on
//! local disk is read by pandas and pyarrow, and what pandas writes there the arrow/parquet crates
//! read through the object_store adapter.
//!
//! Needs the Python that `cargo xtask test` installs (with pandas and pyarrow), named by
//! `OBJSTORE_TEST_PYTHON`; without it the test fails, saying how to get it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _};
use objstore::compat::ObjectStoreAdapter;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Value, json};

fn python() -> String {
    std::env::var("OBJSTORE_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "this test reads parquet with pandas and pyarrow: run `cargo xtask test` (it installs Python with \
             both), or set OBJSTORE_TEST_PYTHON to a python that has pandas and pyarrow"
        )
    })
}

/// Runs `script` with `args`, returning what it printed as JSON.
fn run_python(script: &str, args: &[&str]) -> Value {
    let out = Command::new(python()).arg("-c").arg(script).args(args).output().expect("python starts");
    assert!(out.status.success(), "python failed ({}):\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// A few daily bars, with a null and a non-ASCII symbol.
fn bars() -> RecordBatch {
    let symbol = StringArray::from(vec![Some("SPY"), Some("QQQ"), Some("ÆØÅ.CO"), None]);
    let date = Date32Array::from(vec![19_724, 19_725, 19_726, 19_727]); // 2024-01-02 ..
    let close = Float64Array::from(vec![Some(472.65), Some(0.1 + 0.2), None, Some(-1.5e-300)]);
    let volume = Int64Array::from(vec![81_964_874, 0, i64::MAX, -1]);
    RecordBatch::try_from_iter([
        ("symbol", Arc::new(symbol) as ArrayRef),
        ("date", Arc::new(date) as ArrayRef),
        ("close", Arc::new(close) as ArrayRef),
        ("volume", Arc::new(volume) as ArrayRef),
    ])
    .unwrap()
}

const READ_WITH_PANDAS_AND_PYARROW: &str = r#"
import json, sys
import pandas as pd
import pyarrow.parquet as pq

path = sys.argv[1]
df = pd.read_parquet(path)
table = pq.read_table(path)
def cell(v):
    if v is None or (isinstance(v, float) and v != v):
        return None
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if hasattr(v, "item"):
        return v.item()
    return v
print(json.dumps({
    "columns": list(df.columns),
    "rows": len(df),
    "pandas": {c: [cell(v) for v in df[c].tolist()] for c in df.columns},
    "pyarrow_schema": [[f.name, str(f.type)] for f in table.schema],
    "pyarrow": table.to_pydict() | {"date": [cell(v) for v in table.column("date").to_pylist()]},
}))
"#;

#[tokio::test]
async fn pandas_and_pyarrow_read_a_parquet_file_written_at_get_file_path() {
    let dir = tempfile::tempdir().unwrap();
    let store = objstore::open(&format!("file://{}", dir.path().display())).await.unwrap();

    // As a notebook does: ask for the key's file, write it, save it.
    let path = store.get_file_path("research/bars.parquet").await.unwrap();
    let mut writer = ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), bars().schema(), None).unwrap();
    writer.write(&bars()).unwrap();
    writer.close().unwrap();
    store.save_from_file("research/bars.parquet").await.unwrap();
    assert!(store.contains_key("research/bars.parquet").await.unwrap());

    let read = run_python(READ_WITH_PANDAS_AND_PYARROW, &[path.to_str().unwrap()]);
    assert_eq!(read["columns"], json!(["symbol", "date", "close", "volume"]));
    assert_eq!(read["rows"], json!(4));
    let expected = json!({
        "symbol": ["SPY", "QQQ", "ÆØÅ.CO", null],
        "date": ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"],
        "close": [472.65, 0.1 + 0.2, null, -1.5e-300],
        "volume": [81_964_874, 0, i64::MAX, -1],
    });
    assert_eq!(read["pandas"], expected, "pandas read {}", read["pandas"]);
    assert_eq!(read["pyarrow"], expected, "pyarrow read {}", read["pyarrow"]);
    assert_eq!(
        read["pyarrow_schema"],
        json!([["symbol", "string"], ["date", "date32[day]"], ["close", "double"], ["volume", "int64"]])
    );
}

const WRITE_WITH_PANDAS: &str = r#"
import json, sys
import pandas as pd

df = pd.DataFrame({
    "symbol": ["SPY", "QQQ", "IWM"],
    "close": [472.65, 409.52, 199.25],
    "volume": [81964874, 40212000, 30000000],
})
df.to_parquet(sys.argv[1], index=False)  # pandas' default: pyarrow, snappy
print(json.dumps({"rows": len(df)}))
"#;

#[tokio::test]
async fn what_pandas_writes_at_get_file_path_the_parquet_crate_reads_through_the_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let store = objstore::open(&format!("file://{}", dir.path().display())).await.unwrap();
    let path = store.get_file_path("research/from_pandas.parquet").await.unwrap();
    run_python(WRITE_WITH_PANDAS, &[path.to_str().unwrap()]);
    store.save_from_file("research/from_pandas.parquet").await.unwrap();

    let tools: Arc<dyn ObjectStore> = Arc::new(ObjectStoreAdapter::new(store.clone()));
    let bytes = tools.get(&Path::from("research/from_pandas.parquet")).await.unwrap().bytes().await.unwrap();
    let batches: Vec<RecordBatch> =
        ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap().build().unwrap().collect::<Result<_, _>>().unwrap();
    let batch = &batches[0];
    let symbols = batch.column_by_name("symbol").unwrap();
    let symbols = arrow_array::cast::AsArray::as_string_opt::<i32>(symbols.as_ref())
        .map(|a| a.iter().map(|s| s.unwrap().to_string()).collect::<Vec<_>>())
        .or_else(|| {
            arrow_array::cast::AsArray::as_string_view_opt(symbols.as_ref())
                .map(|a| a.iter().map(|s| s.unwrap().to_string()).collect::<Vec<_>>())
        })
        .unwrap_or_else(|| panic!("symbol is {:?}", symbols.data_type()));
    assert_eq!(symbols, ["SPY", "QQQ", "IWM"]);
    let close = batch.column_by_name("close").unwrap().as_any().downcast_ref::<Float64Array>().unwrap();
    assert_eq!(close.values().to_vec(), [472.65, 409.52, 199.25]);
    let volume = batch.column_by_name("volume").unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
    assert_eq!(volume.values().to_vec(), [81_964_874, 40_212_000, 30_000_000]);
    assert_eq!(batch.num_rows(), 3);
    assert!(!close.is_null(0));
}
