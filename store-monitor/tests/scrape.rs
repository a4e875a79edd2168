//! `GET /metrics` under load and failure: a scrape serves the figures of the last check (or of a
//! scan at most the configured age old), concurrent scrapes share one scan, waiting scrapes are
//! bounded (the rest are told to retry), and a failure goes to the log, never to the client (no
//! path, no endpoint in the answer).
//!
//! A test layer slows the store's listings down (so that scrapes pile up deterministically) or
//! makes them fail with an error naming a path.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use backend_local as _;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use store_core::raw::ledger::UsageLedger;
use store_core::raw::{Backend, ByteStream, StoreLock};
use store_core::{
    ByteRange, Capabilities, GetOptions, GetResult, Key, KeyBuf, ObjectMeta, ObjectStore, ObjectStream, PutMode,
    RangeRead, Result, Usage, Version,
};
use store_manager::{Category, Manager, SaveOptions, Settings};
use store_monitor::Monitor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the test does to listings.
#[derive(Default)]
struct Control {
    delay_ms: AtomicU64,
    fail: AtomicBool,
    lists: AtomicU64,
}

#[derive(Clone)]
struct Gate {
    inner: Arc<dyn Backend>,
    control: Arc<Control>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Gate")
    }
}

#[async_trait]
impl Backend for Gate {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn put(&self, key: &Key, value: Bytes, mode: &PutMode) -> Result<ObjectMeta> {
        self.inner.put(key, value, mode).await
    }
    async fn put_stream(&self, key: &Key, body: ByteStream, size: Option<u64>, mode: &PutMode) -> Result<ObjectMeta> {
        self.inner.put_stream(key, body, size, mode).await
    }
    async fn get(&self, key: &Key, opts: &GetOptions) -> Result<GetResult> {
        self.inner.get(key, opts).await
    }
    async fn get_range(&self, key: &Key, range: &ByteRange, if_match: Option<&Version>) -> Result<RangeRead> {
        self.inner.get_range(key, range, if_match).await
    }
    async fn get_stream(
        &self,
        key: &Key,
        range: Option<&ByteRange>,
        if_match: Option<&Version>,
    ) -> Result<ObjectStream> {
        self.inner.get_stream(key, range, if_match).await
    }
    fn get_ready(&self, key: &Key) -> Option<Bytes> {
        self.inner.get_ready(key)
    }
    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        self.inner.head(key).await
    }
    async fn delete(&self, key: &Key, if_match: Option<&Version>) -> Result<()> {
        self.inner.delete(key, if_match).await
    }
    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>> {
        self.control.lists.fetch_add(1, Ordering::SeqCst);
        if self.control.fail.load(Ordering::SeqCst) {
            let e = store_core::Error::io(
                "cannot list '/srv/secret-root/objstore' at http://10.1.2.3:9000",
                std::io::ErrorKind::PermissionDenied.into(),
            );
            return futures::stream::iter([Err(e)]).boxed();
        }
        let delay = Duration::from_millis(self.control.delay_ms.load(Ordering::SeqCst));
        let inner = self.inner.list(prefix);
        futures::stream::once(tokio::time::sleep(delay))
            .flat_map(move |()| futures::stream::empty())
            .chain(inner)
            .boxed()
    }
    fn list_keys(&self, prefix: &str) -> BoxStream<'static, Result<KeyBuf>> {
        self.inner.list_keys(prefix)
    }
    async fn usage(&self) -> Result<Usage> {
        self.inner.usage().await
    }
    async fn local_path(&self, key: &Key, create_parents: bool) -> Result<Option<PathBuf>> {
        self.inner.local_path(key, create_parents).await
    }
    fn usage_ledger(&self) -> Option<Arc<dyn UsageLedger>> {
        self.inner.usage_ledger()
    }
    async fn lock_store(&self) -> Result<Option<StoreLock>> {
        self.inner.lock_store().await
    }
}

struct Served {
    _dir: tempfile::TempDir,
    monitor: Monitor,
    control: Arc<Control>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<store_monitor::Result<()>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn served() -> Served {
    let dir = tempfile::tempdir().unwrap();
    let control = Arc::new(Control::default());
    let gate = control.clone();
    let store = ObjectStore::builder(format!("file://{}", dir.path().display()))
        .layer(move |inner: Arc<dyn Backend>| -> Arc<dyn Backend> { Arc::new(Gate { inner, control: gate.clone() }) })
        .build()
        .await
        .unwrap();
    let manager = Manager::new(store, Settings::default());
    for i in 0..5 {
        manager.save(&format!("k{i}"), &i, SaveOptions::new(Category::TradingState)).await.unwrap();
    }
    let monitor = Monitor::new(manager);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = monitor.clone();
    let task = tokio::spawn(async move { server.serve_on(listener).await });
    Served { _dir: dir, monitor, control, addr, task }
}

/// `GET /metrics`: the status and the body.
async fn scrape(addr: SocketAddr) -> (u16, String) {
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut raw = String::new();
    conn.read_to_string(&mut raw).await.unwrap();
    let status = raw.split(' ').nth(1).unwrap().parse().unwrap();
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_after_a_check_serve_its_figures_without_scanning() {
    let s = served().await;
    s.monitor.check().await.unwrap();
    let lists = s.control.lists.load(Ordering::SeqCst);
    for _ in 0..10 {
        let (status, body) = scrape(s.addr).await;
        assert_eq!(status, 200);
        assert!(body.contains("objstore_category_files{category=\"trading_state\"} 5"), "{body}");
    }
    assert_eq!(s.control.lists.load(Ordering::SeqCst) - lists, 0, "10 scrapes right after a check listed the store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_scrapes_share_one_scan() {
    let s = served().await;
    s.monitor.set_scrape_max_age(Duration::ZERO);
    s.control.delay_ms.store(1500, Ordering::SeqCst);
    let lists = s.control.lists.load(Ordering::SeqCst);
    let scrapes: Vec<_> = (0..8).map(|_| tokio::spawn(scrape(s.addr))).collect();
    for scrape in scrapes {
        let (status, body) = scrape.await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    let scans = s.control.lists.load(Ordering::SeqCst) - lists;
    assert_eq!(scans, 1, "8 scrapes at once ran {scans} scans");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_scrapes_are_bounded() {
    let s = served().await;
    s.monitor.set_scrape_max_age(Duration::ZERO);
    s.control.delay_ms.store(2000, Ordering::SeqCst);
    let scrapes: Vec<_> = (0..40).map(|_| tokio::spawn(scrape(s.addr))).collect();
    let mut refused = 0;
    for scrape in scrapes {
        let (status, body) = scrape.await.unwrap();
        match status {
            200 => {}
            503 => {
                refused += 1;
                assert!(body.contains("retry"), "{body}");
            }
            other => panic!("status {other}: {body}"),
        }
    }
    assert!(refused >= 40 - 17, "only {refused} of 40 scrapes were turned away while one scan ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_goes_to_the_log_not_to_the_client() {
    let s = served().await;
    s.monitor.set_scrape_max_age(Duration::ZERO);
    s.control.fail.store(true, Ordering::SeqCst);
    let (status, body) = scrape(s.addr).await;
    assert_eq!(status, 500);
    assert!(!body.contains("secret-root") && !body.contains("10.1.2.3"), "the answer shows a path or endpoint: {body}");
    assert!(body.contains("log"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failure_the_last_figures_and_the_errors_are_served() {
    let s = served().await;
    s.monitor.check().await.unwrap();
    s.monitor.set_scrape_max_age(Duration::ZERO);
    s.control.fail.store(true, Ordering::SeqCst);
    let (status, body) = scrape(s.addr).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("objstore_category_files{category=\"trading_state\"} 5"), "the last figures: {body}");
    assert!(body.contains("\nobjstore_statistics_errors_total 1\n"), "{body}");
    assert!(!body.contains("secret-root"), "{body}");
}
