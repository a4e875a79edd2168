//! The metrics layer: a Backend that counts and times every operation of the Backend beneath it.
//!
//! [`OperationMetrics`] registers four metric families with a Prometheus registry:
//!
//! - `objstore_operations_total` (counter): operations answered, by `operation` and `result`;
//! - `objstore_operation_duration_seconds` (histogram): how long they took, same labels, with
//!   buckets 1, 2.5 and 5 times each power of ten from 1 µs to 10 s;
//! - `objstore_read_bytes_total` (counter): value bytes reads returned, by `operation` (`get`,
//!   `get_ready`, `get_range`, `get_stream`);
//! - `objstore_written_bytes_total` (counter): value bytes saves took in, by `operation` (`put`,
//!   `put_stream`; a streamed save counts its chunks as they pass, a put once it succeeded).
//!
//! `operation` is one of `put`, `put_stream`, `get`, `get_range`, `get_stream`, `get_ready`,
//! `head`, `delete`, `list`, `list_keys`, `usage`, `local_path`, `lock_store`; `result` is `ok`,
//! `not_found` or `error` (a conditional get answered "not modified" is `ok`). No key ever
//! becomes a label: the number of series is fixed (37 operation counters, 36 histograms, 6 byte
//! counters) however many keys the store holds. A streamed get is timed until its stream is
//! ready (the first response), not until its last byte.
//!
//! [`MetricsLayer`] goes on top of a store's stack with
//! [`StoreBuilder::layer`](store_core::StoreBuilder::layer), above the cache, so it sees every
//! call the facade makes, cache hits included:
//!
//! ```
//! use store_core::{CacheOptions, CachePolicy, ObjectStore};
//! use store_metrics::OperationMetrics;
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let registry = prometheus::Registry::new();
//! let metrics = OperationMetrics::new(&registry).unwrap();
//! let trust = CacheOptions { policy: CachePolicy::Trust, ..CacheOptions::default() };
//! let store = ObjectStore::builder("memory://").cache(trust).layer(metrics.layer()).build().await?;
//! store.save("prices/spy", "[]").await?;
//! store.read("prices/spy").await?; // a cache hit: counted as get_ready
//! let text = prometheus::TextEncoder::new().encode_to_string(&registry.gather()).unwrap();
//! assert!(text.contains(r#"objstore_operations_total{operation="get_ready",result="ok"} 1"#));
//! assert!(!text.contains("spy"));
//! # Ok::<(), store_core::Error>(()) }).unwrap();
//! ```
//!
//! # Cost
//!
//! Every label child is resolved once, when [`OperationMetrics::new`] runs; a call then costs a
//! clock read before and after (`Instant::now()` once, `elapsed()` once), one counter add and one
//! histogram observation: tens of nanoseconds, next to a call that does I/O.
//!
//! `get_ready` is the cache's no-I/O fast path (a hit costs about 100 ns), so it is treated
//! differently: a `Some` (a hit) is counted with one relaxed atomic add and is **not timed** (no
//! clock read, no histogram; there is no `get_ready` histogram series). A `None` is not counted:
//! it means "ask `get`", never "absent", and the facade follows it with a `get`, which is counted
//! and timed. So a read is counted once, either as `get_ready` (served from memory) or as `get`.
//!
//! # Streams
//!
//! `list` and `list_keys` are counted once per stream, when it ends (`ok`) or yields its first
//! error (`error`, or `not_found` for a `NotFound`), and timed from the call to that moment. A
//! stream dropped before it ends counts as `ok`, timed until the drop.
//!
//! # Several stores
//!
//! Layers made from one [`OperationMetrics`] (or its clones) add up into the same series. To tell
//! stores apart, give each its own registry, for example one made with
//! [`prometheus::Registry::new_custom`] and a `store` constant label.

use std::fmt;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt};
use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry};
use store_core::raw::ledger::UsageLedger;
use store_core::raw::{Backend, ByteStream, StoreLock, ValueAllocator};
use store_core::{
    ByteRange, Capabilities, Error, GetOptions, GetResult, Key, KeyBuf, Object, ObjectMeta, ObjectStream, PutMode,
    RangeRead, Result, Usage, Version,
};

/// Upper bounds of the duration histogram, in seconds: 1, 2.5 and 5 times each power of ten
/// from 1 µs to 1 s, then 10 s (and +Inf).
const DURATION_BUCKETS: [f64; 22] = [
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

/// The `result` label values, indexed by [`outcome`].
const RESULTS: [&str; 3] = ["ok", "not_found", "error"];

/// The timed operations (every one but `get_ready`), as label values.
#[derive(Debug, Clone, Copy)]
enum Op {
    Put,
    PutStream,
    Get,
    GetRange,
    GetStream,
    Head,
    Delete,
    List,
    ListKeys,
    Usage,
    LocalPath,
    LockStore,
}

/// How many timed operations there are.
const OPS: usize = 12;

impl Op {
    const ALL: [Op; OPS] = [
        Op::Put,
        Op::PutStream,
        Op::Get,
        Op::GetRange,
        Op::GetStream,
        Op::Head,
        Op::Delete,
        Op::List,
        Op::ListKeys,
        Op::Usage,
        Op::LocalPath,
        Op::LockStore,
    ];

    fn label(self) -> &'static str {
        match self {
            Op::Put => "put",
            Op::PutStream => "put_stream",
            Op::Get => "get",
            Op::GetRange => "get_range",
            Op::GetStream => "get_stream",
            Op::Head => "head",
            Op::Delete => "delete",
            Op::List => "list",
            Op::ListKeys => "list_keys",
            Op::Usage => "usage",
            Op::LocalPath => "local_path",
            Op::LockStore => "lock_store",
        }
    }
}

/// The index in [`RESULTS`] of a call's result.
fn outcome<T>(result: &Result<T>) -> usize {
    match result {
        Ok(_) => 0,
        Err(Error::NotFound { .. }) => 1,
        Err(_) => 2,
    }
}

/// The label children of one timed operation, one per result.
struct Timed {
    counters: [IntCounter; 3],
    durations: [Histogram; 3],
}

impl Timed {
    #[inline]
    fn record(&self, start: Instant, result: usize) {
        let seconds = start.elapsed().as_secs_f64();
        self.counters[result].inc();
        self.durations[result].observe(seconds);
    }
}

/// Every label child, resolved once.
struct Children {
    /// Indexed by `Op as usize`.
    timed: [Timed; OPS],
    get_ready_hits: IntCounter,
    /// Value bytes moved, by operation: read by get, get_ready, get_range, get_stream; written by
    /// put, put_stream.
    read_get: IntCounter,
    read_get_ready: IntCounter,
    read_get_range: IntCounter,
    read_get_stream: IntCounter,
    written_put: IntCounter,
    written_put_stream: IntCounter,
}

impl Children {
    #[inline]
    fn timed(&self, op: Op) -> &Timed {
        &self.timed[op as usize]
    }
}

/// The operation counters and duration histograms of the metrics layer, registered with a
/// Prometheus registry. Cheap to clone; clones share the same series.
#[derive(Clone)]
pub struct OperationMetrics {
    operations: IntCounterVec,
    durations: HistogramVec,
    read_bytes: IntCounterVec,
    written_bytes: IntCounterVec,
    children: Arc<Children>,
}

impl fmt::Debug for OperationMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperationMetrics").finish_non_exhaustive()
    }
}

impl OperationMetrics {
    /// Creates `objstore_operations_total` and `objstore_operation_duration_seconds` and
    /// registers them with `registry`. Fails when the registry already holds metrics of those
    /// names (create one `OperationMetrics` per registry and clone it).
    pub fn new(registry: &Registry) -> prometheus::Result<OperationMetrics> {
        let operations = IntCounterVec::new(
            Opts::new(
                "objstore_operations_total",
                "Operations the object store answered, by operation and result (ok, not_found, error).",
            ),
            &["operation", "result"],
        )?;
        let durations = HistogramVec::new(
            HistogramOpts::new(
                "objstore_operation_duration_seconds",
                "Time the object store took to answer an operation, in seconds, by operation and result \
                 (get_ready, a cache hit without I/O, is counted but not timed).",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &["operation", "result"],
        )?;
        let timed = |op: Op| -> prometheus::Result<Timed> {
            let counter = |r: &str| operations.get_metric_with_label_values(&[op.label(), r]);
            let duration = |r: &str| durations.get_metric_with_label_values(&[op.label(), r]);
            Ok(Timed {
                counters: [counter(RESULTS[0])?, counter(RESULTS[1])?, counter(RESULTS[2])?],
                durations: [duration(RESULTS[0])?, duration(RESULTS[1])?, duration(RESULTS[2])?],
            })
        };
        let read_bytes = IntCounterVec::new(
            Opts::new(
                "objstore_read_bytes_total",
                "Value bytes the object store's reads returned, by operation (cache hits included).",
            ),
            &["operation"],
        )?;
        let written_bytes = IntCounterVec::new(
            Opts::new("objstore_written_bytes_total", "Value bytes the object store's saves took in, by operation."),
            &["operation"],
        )?;
        let timed_children = Op::ALL.map(timed);
        let mut timed_all = Vec::with_capacity(OPS);
        for child in timed_children {
            timed_all.push(child?);
        }
        let timed: [Timed; OPS] = match timed_all.try_into() {
            Ok(all) => all,
            Err(_) => return Err(prometheus::Error::Msg("one metric child per operation".to_string())),
        };
        let read = |op: &str| read_bytes.get_metric_with_label_values(&[op]);
        let written = |op: &str| written_bytes.get_metric_with_label_values(&[op]);
        let children = Children {
            timed,
            get_ready_hits: operations.get_metric_with_label_values(&["get_ready", "ok"])?,
            read_get: read("get")?,
            read_get_ready: read("get_ready")?,
            read_get_range: read("get_range")?,
            read_get_stream: read("get_stream")?,
            written_put: written("put")?,
            written_put_stream: written("put_stream")?,
        };
        registry.register(Box::new(operations.clone()))?;
        registry.register(Box::new(durations.clone()))?;
        registry.register(Box::new(read_bytes.clone()))?;
        registry.register(Box::new(written_bytes.clone()))?;
        Ok(OperationMetrics { operations, durations, read_bytes, written_bytes, children: Arc::new(children) })
    }

    /// The `objstore_read_bytes_total` family (value bytes returned by reads, by operation).
    pub fn read_bytes(&self) -> &IntCounterVec {
        &self.read_bytes
    }

    /// The `objstore_written_bytes_total` family (value bytes taken in by saves, by operation).
    pub fn written_bytes(&self) -> &IntCounterVec {
        &self.written_bytes
    }

    /// The `objstore_operations_total` family.
    pub fn operations(&self) -> &IntCounterVec {
        &self.operations
    }

    /// The `objstore_operation_duration_seconds` family.
    pub fn durations(&self) -> &HistogramVec {
        &self.durations
    }

    /// Wraps a stack in a [`MetricsLayer`]: the argument of
    /// [`StoreBuilder::layer`](store_core::StoreBuilder::layer) (async or blocking builder).
    pub fn layer(&self) -> impl Fn(Arc<dyn Backend>) -> Arc<dyn Backend> + Send + Sync + 'static + use<> {
        let metrics = self.clone();
        move |inner| Arc::new(MetricsLayer::new(inner, &metrics))
    }
}

/// A [`Backend`] that counts and times every call to the one beneath it; see the
/// [module documentation](self).
pub struct MetricsLayer {
    inner: Arc<dyn Backend>,
    children: Arc<Children>,
}

impl fmt::Debug for MetricsLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsLayer").field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl MetricsLayer {
    /// Wraps `inner`, recording into `metrics`.
    pub fn new(inner: Arc<dyn Backend>, metrics: &OperationMetrics) -> MetricsLayer {
        MetricsLayer { inner, children: metrics.children.clone() }
    }

    #[inline]
    fn record<T>(&self, op: Op, start: Instant, result: Result<T>) -> Result<T> {
        self.children.timed(op).record(start, outcome(&result));
        result
    }

    fn counted<T: Send + 'static>(
        &self,
        op: Op,
        inner: BoxStream<'static, Result<T>>,
    ) -> BoxStream<'static, Result<T>> {
        CountedStream { inner, op, start: Instant::now(), children: Some(self.children.clone()) }.boxed()
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl Backend for MetricsLayer {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn put(&self, key: &Key, value: Bytes, mode: &PutMode) -> Result<ObjectMeta> {
        let start = Instant::now();
        let len = value.len() as u64;
        let result = self.inner.put(key, value, mode).await;
        if result.is_ok() {
            self.children.written_put.inc_by(len);
        }
        self.record(Op::Put, start, result)
    }

    async fn put_stream(&self, key: &Key, body: ByteStream, size: Option<u64>, mode: &PutMode) -> Result<ObjectMeta> {
        let start = Instant::now();
        let written = self.children.written_put_stream.clone();
        // Counted as the chunks pass, so a long upload shows progress.
        let body = body.inspect(move |chunk| {
            if let Ok(chunk) = chunk {
                written.inc_by(chunk.len() as u64);
            }
        });
        let result = self.inner.put_stream(key, body.boxed(), size, mode).await;
        self.record(Op::PutStream, start, result)
    }

    async fn put_in_place(&self, key: &Key, size: u64, mode: &PutMode) -> Result<ObjectMeta> {
        // Counted as a streamed put of the file's bytes (which may never pass through memory).
        let start = Instant::now();
        let result = self.inner.put_in_place(key, size, mode).await;
        if let Ok(meta) = &result {
            self.children.written_put_stream.inc_by(meta.size);
        }
        self.record(Op::PutStream, start, result)
    }

    async fn get(&self, key: &Key, opts: &GetOptions) -> Result<GetResult> {
        let start = Instant::now();
        // NotModified is an Ok: counted as `ok`.
        let result = self.inner.get(key, opts).await;
        if let Ok(GetResult::Found(object)) = &result {
            self.children.read_get.inc_by(object.bytes.len() as u64);
        }
        self.record(Op::Get, start, result)
    }

    async fn get_into(&self, key: &Key, alloc: &dyn ValueAllocator) -> Result<Object> {
        let start = Instant::now();
        let result = self.inner.get_into(key, alloc).await;
        if let Ok(object) = &result {
            self.children.read_get.inc_by(object.bytes.len() as u64);
        }
        self.record(Op::Get, start, result)
    }

    async fn get_range(&self, key: &Key, range: &ByteRange, if_match: Option<&Version>) -> Result<RangeRead> {
        let start = Instant::now();
        let result = self.inner.get_range(key, range, if_match).await;
        if let Ok(read) = &result {
            self.children.read_get_range.inc_by(read.bytes.len() as u64);
        }
        self.record(Op::GetRange, start, result)
    }

    async fn get_stream(
        &self,
        key: &Key,
        range: Option<&ByteRange>,
        if_match: Option<&Version>,
    ) -> Result<ObjectStream> {
        // Timed until the stream is ready; its bytes are counted as they pass.
        let start = Instant::now();
        let result = self.inner.get_stream(key, range, if_match).await.map(|stream| {
            let read = self.children.read_get_stream.clone();
            let body = stream.body.inspect(move |chunk| {
                if let Ok(chunk) = chunk {
                    read.inc_by(chunk.len() as u64);
                }
            });
            ObjectStream { body: body.boxed(), ..stream }
        });
        self.record(Op::GetStream, start, result)
    }

    async fn get_to_file(&self, key: &Key, file: Arc<std::fs::File>) -> Result<ObjectMeta> {
        // Counted as a streamed read of the whole value (which may never pass through memory).
        let start = Instant::now();
        let result = self.inner.get_to_file(key, file).await;
        if let Ok(meta) = &result {
            self.children.read_get_stream.inc_by(meta.size);
        }
        self.record(Op::GetStream, start, result)
    }

    fn get_ready(&self, key: &Key) -> Option<Bytes> {
        // The no-I/O fast path: a hit costs two relaxed atomic adds and no clock read; a miss is
        // not counted (the get that follows is). See the module documentation.
        let ready = self.inner.get_ready(key);
        if let Some(bytes) = &ready {
            self.children.get_ready_hits.inc();
            self.children.read_get_ready.inc_by(bytes.len() as u64);
        }
        ready
    }

    fn version_now(&self, key: &Key) -> Option<Result<Version>> {
        // A cache's revalidation probe, not an operation of the store's user: not counted.
        self.inner.version_now(key)
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        let start = Instant::now();
        let result = self.inner.head(key).await;
        self.record(Op::Head, start, result)
    }

    async fn delete(&self, key: &Key, if_match: Option<&Version>) -> Result<()> {
        let start = Instant::now();
        let result = self.inner.delete(key, if_match).await;
        self.record(Op::Delete, start, result)
    }

    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>> {
        self.counted(Op::List, self.inner.list(prefix))
    }

    fn list_keys(&self, prefix: &str) -> BoxStream<'static, Result<KeyBuf>> {
        self.counted(Op::ListKeys, self.inner.list_keys(prefix))
    }

    async fn usage(&self) -> Result<Usage> {
        let start = Instant::now();
        let result = self.inner.usage().await;
        self.record(Op::Usage, start, result)
    }

    async fn local_path(&self, key: &Key, create_parents: bool) -> Result<Option<PathBuf>> {
        let start = Instant::now();
        let result = self.inner.local_path(key, create_parents).await;
        self.record(Op::LocalPath, start, result)
    }

    fn usage_ledger(&self) -> Option<Arc<dyn UsageLedger>> {
        self.inner.usage_ledger()
    }

    async fn lock_store(&self) -> Result<Option<StoreLock>> {
        let start = Instant::now();
        let result = self.inner.lock_store().await;
        self.record(Op::LockStore, start, result)
    }
}

/// A listing that records itself once: at its end, its first error, or its drop.
struct CountedStream<T> {
    inner: BoxStream<'static, Result<T>>,
    op: Op,
    start: Instant,
    /// `None` once recorded.
    children: Option<Arc<Children>>,
}

impl<T> CountedStream<T> {
    fn finish(&mut self, result: usize) {
        if let Some(children) = self.children.take() {
            children.timed(self.op).record(self.start, result);
        }
    }
}

impl<T> Stream for CountedStream<T> {
    type Item = Result<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.inner.poll_next_unpin(cx);
        match &polled {
            Poll::Ready(None) => self.finish(0),
            Poll::Ready(Some(Err(e))) => self.finish(if matches!(e, Error::NotFound { .. }) { 1 } else { 2 }),
            Poll::Ready(Some(Ok(_))) | Poll::Pending => {}
        }
        polled
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<T> Drop for CountedStream<T> {
    fn drop(&mut self) {
        self.finish(0);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use futures::TryStreamExt;
    use prometheus::TextEncoder;
    use prometheus::core::Collector;
    use store_core::raw::memory::MemoryBackend;
    use store_core::{Access, CacheOptions, CachePolicy, ObjectStore, StoreBuilder};

    use super::*;

    fn count(metrics: &OperationMetrics, operation: &str, result: &str) -> u64 {
        metrics.operations().with_label_values(&[operation, result]).get()
    }

    fn timed(metrics: &OperationMetrics, operation: &str, result: &str) -> u64 {
        metrics.durations().with_label_values(&[operation, result]).get_sample_count()
    }

    fn trust() -> CacheOptions {
        CacheOptions { policy: CachePolicy::Trust, ..CacheOptions::default() }
    }

    async fn store(metrics: &OperationMetrics, builder: StoreBuilder) -> ObjectStore {
        builder.layer(metrics.layer()).build().await.unwrap()
    }

    #[tokio::test]
    async fn counts_each_operation_by_result() {
        let registry = Registry::new();
        let metrics = OperationMetrics::new(&registry).unwrap();
        let store = store(&metrics, ObjectStore::builder("memory://").cache(trust())).await;

        store.save("a", "1").await.unwrap();
        store.save("b/c", "2").await.unwrap();
        assert_eq!(store.read("a").await.unwrap(), "1"); // a cache hit
        assert!(store.read("missing").await.is_err()); // get_ready None, then get: not_found
        assert!(store.contains_key("a").await.unwrap());
        assert!(!store.contains_key("missing").await.unwrap());
        store.delete("b/c").await.unwrap();
        assert!(store.delete("b/c").await.is_err());
        assert_eq!(store.keys().await.unwrap(), ["a"]);
        assert_eq!(store.list("").try_collect::<Vec<_>>().await.unwrap().len(), 1);
        assert_eq!(store.usage().await.unwrap().objects, 1);
        assert_eq!(store.local_file("a").await.unwrap(), None);
        assert!(store.backend().lock_store().await.unwrap().is_none());
        let meta = store.head("a").await.unwrap();
        let not_modified = GetOptions { if_none_match: Some(meta.version) };
        let key = KeyBuf::parse("a").unwrap();
        let answer = store.backend().get(&key, &not_modified).await.unwrap();
        assert!(matches!(answer, GetResult::NotModified));

        let expected = [
            ("put", "ok", 2),
            ("get_ready", "ok", 1),
            ("get", "ok", 1),
            ("get", "not_found", 1),
            ("head", "ok", 2),
            ("head", "not_found", 1),
            ("delete", "ok", 1),
            ("delete", "not_found", 1),
            ("list_keys", "ok", 1),
            ("list", "ok", 1),
            ("usage", "ok", 1),
            ("local_path", "ok", 1),
            ("lock_store", "ok", 1),
        ];
        for (operation, result, n) in expected {
            assert_eq!(count(&metrics, operation, result), n, "{operation} {result}");
            if operation != "get_ready" {
                assert_eq!(timed(&metrics, operation, result), n, "{operation} {result} timed");
            }
        }
        let families = metrics.operations().collect();
        let total: u64 = families[0].get_metric().iter().map(|m| m.get_counter().get_value() as u64).sum();
        assert_eq!(total, expected.iter().map(|e| e.2).sum::<u64>(), "nothing else was counted");
    }

    #[tokio::test]
    async fn refused_operations_are_errors_and_streams_count_once() {
        let registry = Registry::new();
        let metrics = OperationMetrics::new(&registry).unwrap();
        let memory: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
        let writer = store(&metrics, StoreBuilder::for_backend(memory.clone())).await;
        for i in 0..5 {
            writer.save(&format!("k{i}"), "v").await.unwrap();
        }
        // Refused by the access layer beneath the metrics layer.
        let blind = StoreBuilder::for_backend(memory).access(Access { read: false, ..Access::default() });
        let blind = store(&metrics, blind).await;
        assert!(blind.read("k0").await.is_err());
        assert!(blind.keys().await.is_err());
        assert_eq!(count(&metrics, "get", "error"), 1);
        assert_eq!(count(&metrics, "list_keys", "error"), 1);

        // A stream of five keys is one list_keys, counted when it ends.
        let mut keys = writer.list_keys("");
        for _ in 0..5 {
            keys.try_next().await.unwrap().unwrap();
        }
        assert_eq!(count(&metrics, "list_keys", "ok"), 0, "not counted before the end");
        assert!(keys.try_next().await.unwrap().is_none());
        assert_eq!(count(&metrics, "list_keys", "ok"), 1);
        drop(keys);
        assert_eq!(count(&metrics, "list_keys", "ok"), 1, "counted once");

        // A stream dropped early counts as ok, once.
        let mut listing = writer.list("");
        listing.try_next().await.unwrap().unwrap();
        drop(listing);
        assert_eq!(count(&metrics, "list", "ok"), 1);
        assert_eq!(timed(&metrics, "list", "ok"), 1);
    }

    #[tokio::test]
    async fn exports_help_and_type_lines_and_never_a_key() {
        let registry = Registry::new();
        let metrics = OperationMetrics::new(&registry).unwrap();
        let store = store(&metrics, ObjectStore::builder("memory://")).await;
        store.save("secret/strategy-alpha", "v").await.unwrap();
        store.read("secret/strategy-alpha").await.unwrap();
        let text = TextEncoder::new().encode_to_string(&registry.gather()).unwrap();
        assert!(text.contains("# HELP objstore_operations_total "), "{text}");
        assert!(text.contains("# TYPE objstore_operations_total counter"), "{text}");
        assert!(text.contains("# HELP objstore_operation_duration_seconds "), "{text}");
        assert!(text.contains("# TYPE objstore_operation_duration_seconds histogram"), "{text}");
        assert!(text.contains(r#"objstore_operations_total{operation="put",result="ok"} 1"#), "{text}");
        assert!(
            text.contains(r#"objstore_operation_duration_seconds_bucket{operation="put",result="ok",le="0.000001"}"#),
            "{text}"
        );
        assert!(text.contains(r#"le="10"}"#), "{text}");
        assert!(!text.contains("secret") && !text.contains("strategy"), "a key leaked into the metrics");
        assert!(!text.contains(r#"objstore_operation_duration_seconds_count{operation="get_ready""#));
    }

    #[test]
    fn registering_twice_fails_and_clones_share_series() {
        let registry = Registry::new();
        let metrics = OperationMetrics::new(&registry).unwrap();
        assert!(OperationMetrics::new(&registry).is_err());
        let store =
            store_core::blocking::builder("memory://").cache(trust()).layer(metrics.clone().layer()).build().unwrap();
        store.save("k", "v").unwrap();
        for _ in 0..3 {
            store.read("k").unwrap();
        }
        assert_eq!(count(&metrics, "get_ready", "ok"), 3);
        assert_eq!(count(&metrics, "put", "ok"), 1);
    }
}
