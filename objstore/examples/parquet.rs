//! A parquet table in the Object Store, written and read by the arrow/parquet crates through the
//! `object_store` adapter, as DataFusion, Polars or any other arrow tool would.
//!
//! ```text
//! cargo run -p objstore --example parquet --features object-store-compat [-- URL]
//! ```
//!
//! URL is any store (`file:///data/store`, `s3://bucket/prefix?...`, `memory://`); without one,
//! a fresh temporary folder. The table (daily bars of three symbols) goes up as a multipart
//! upload through the adapter; reading it back fetches the footer, then only the column chunks
//! asked for, as ranged reads.

use std::error::Error;
use std::ops::Range;
use std::sync::Arc;

use arrow_array::{ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use bytes::Bytes;
use futures::TryStreamExt;
use futures::future::{BoxFuture, FutureExt};
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use objstore::compat::ObjectStoreAdapter;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::arrow::{AsyncArrowWriter, ParquetRecordBatchStreamBuilder, ProjectionMask};
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use parquet::file::properties::WriterProperties;

const SYMBOLS: [&str; 3] = ["SPY", "QQQ", "IWM"];
const DAYS: usize = 250;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let url = std::env::args().nth(1).unwrap_or_else(|| format!("file://{}", dir.path().display()));
    let store = objstore::open(&url).await?;
    // What data tools take: an Arc<dyn object_store::ObjectStore>.
    let tools: Arc<dyn ObjectStore> = Arc::new(ObjectStoreAdapter::new(store.clone()));

    // Write: arrow's async writer over object_store's BufWriter, one row group per symbol.
    let bars = bars()?;
    let path = Path::from("research/bars/2024.parquet");
    let props = WriterProperties::builder().set_max_row_group_row_count(Some(DAYS)).build();
    let mut writer =
        AsyncArrowWriter::try_new(BufWriter::new(tools.clone(), path.clone()), bars.schema(), Some(props))?;
    writer.write(&bars).await?;
    writer.close().await?;

    // It is an ordinary object of the store.
    let meta = tools.head(&path).await?;
    let key = path.as_ref();
    assert_eq!(store.head(key).await?.size, meta.size);
    println!("wrote {} rows of {} symbols to {tools} as '{key}' ({} bytes)", bars.num_rows(), SYMBOLS.len(), meta.size);
    if let Some(file) = store.local_file(key).await? {
        println!("  on disk: {}", file.display());
    }

    // Read it all back.
    let reader = StoreFile { store: tools.clone(), path: path.clone(), size: meta.size };
    let batches: Vec<RecordBatch> = ParquetRecordBatchStreamBuilder::new(reader).await?.build()?.try_collect().await?;
    let mut offset = 0;
    for batch in &batches {
        assert_eq!(batch, &bars.slice(offset, batch.num_rows()));
        offset += batch.num_rows();
    }
    assert_eq!(offset, bars.num_rows());
    println!("read back {offset} rows in {} batches: identical", batches.len());

    // Read one column of one row group (QQQ's closes): the footer and that column chunk only.
    let reader = StoreFile { store: tools.clone(), path: path.clone(), size: meta.size };
    let builder = ParquetRecordBatchStreamBuilder::new(reader).await?;
    let close = bars.schema().index_of("close")?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), [close]);
    let batches: Vec<RecordBatch> =
        builder.with_row_groups(vec![1]).with_projection(mask).build()?.try_collect().await?;
    let closes: Vec<f64> = batches
        .iter()
        .flat_map(|b| b.column(0).as_any().downcast_ref::<Float64Array>().map(|a| a.values().to_vec()))
        .flatten()
        .collect();
    let expected = bars.column(close).slice(DAYS, DAYS);
    let expected = expected.as_any().downcast_ref::<Float64Array>().ok_or("close is f64")?;
    assert_eq!(closes, expected.values().to_vec());
    println!(
        "read QQQ's {} closes alone (first {:.2}, last {:.2})",
        closes.len(),
        closes.first().copied().unwrap_or_default(),
        closes.last().copied().unwrap_or_default()
    );
    Ok(())
}

/// Daily bars of `SYMBOLS` over `DAYS` days of 2024 (made-up, deterministic prices).
fn bars() -> Result<RecordBatch, Box<dyn Error>> {
    let rows = SYMBOLS.len() * DAYS;
    let start = 19_724; // 2024-01-02, in days since 1970-01-01
    let symbol: Vec<&str> = SYMBOLS.iter().flat_map(|s| std::iter::repeat_n(*s, DAYS)).collect();
    let date: Vec<i32> = (0..rows).map(|i| start + (i % DAYS) as i32).collect();
    let close: Vec<f64> = (0..rows)
        .map(|i| {
            let (s, d) = ((i / DAYS) as f64, (i % DAYS) as f64);
            let price = 100.0 * (s + 2.0) + d * 0.37 + (d * 0.3).sin() * 4.0;
            (price * 100.0).round() / 100.0
        })
        .collect();
    let open: Vec<f64> = close.iter().map(|c| c - 0.5).collect();
    let high: Vec<f64> = close.iter().map(|c| c + 1.25).collect();
    let low: Vec<f64> = close.iter().map(|c| c - 1.75).collect();
    let volume: Vec<i64> = (0..rows).map(|i| 1_000_000 + (i as i64 * 7_919) % 500_000).collect();
    Ok(RecordBatch::try_from_iter([
        ("symbol", Arc::new(StringArray::from(symbol)) as ArrayRef),
        ("date", Arc::new(Date32Array::from(date)) as ArrayRef),
        ("open", Arc::new(Float64Array::from(open)) as ArrayRef),
        ("high", Arc::new(Float64Array::from(high)) as ArrayRef),
        ("low", Arc::new(Float64Array::from(low)) as ArrayRef),
        ("close", Arc::new(Float64Array::from(close)) as ArrayRef),
        ("volume", Arc::new(Int64Array::from(volume)) as ArrayRef),
    ])?)
}

/// A parquet file in any `object_store` store: parquet asks for byte ranges, the store answers
/// with ranged reads.
struct StoreFile {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
}

impl AsyncFileReader for StoreFile {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move { Ok(self.store.get_range(&self.path, range).await?) }.boxed()
    }

    fn get_byte_ranges(&mut self, ranges: Vec<Range<u64>>) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move { Ok(self.store.get_ranges(&self.path, &ranges).await?) }.boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        _options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            Ok(Arc::new(ParquetMetaDataReader::new().load_and_finish(self, size).await?))
        }
        .boxed()
    }
}
