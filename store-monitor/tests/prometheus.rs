//! The monitor against the real Prometheus tools.
//!
//! - `exposition_passes_promtool_check_metrics`: a store with a Trust cache and the operations
//!   layer, a manager over it, saves, loads and deletes in two categories and a check; the
//!   `/metrics` text must pass `promtool check metrics` with no lint problem at all, name every
//!   `objstore_` family with HELP and TYPE, and hold the operation, cache and category families.
//! - `prometheus_scrapes_the_monitor_end_to_end`: the monitor serves `/metrics` on a loopback
//!   port, a real `prometheus` (own config, own data folder in a tempdir, a free loopback port)
//!   scrapes it every second, and its query API must answer what `get_statistics` says, before
//!   and after further saves and deletes. The process is killed when the test ends, also when it
//!   panics.
//!
//! They need `promtool` and `prometheus` (Prometheus 2.x, Debian's `prometheus` package), named by
//! `OBJSTORE_TEST_PROMTOOL` and `OBJSTORE_TEST_PROMETHEUS`. `cargo xtask test` installs them and
//! sets both; without them these tests fail, they never pass by skipping.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use backend_local as _;
use serde_json::{Value, json};
use store_core::{CacheOptions, CachePolicy, ObjectStore};
use store_manager::{Category, Manager, SaveOptions, Settings};
use store_metrics::OperationMetrics;
use store_monitor::Monitor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long Prometheus gets to start, and to show a value the monitor serves.
const DEADLINE: Duration = Duration::from_secs(60);

/// The path of a tool named by `var`; panics, saying how to get it, when the variable is unset.
fn tool(var: &str, name: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => panic!(
            "{var} is not set: this test needs Prometheus's `{name}` binary. Run it with `cargo xtask test` \
             (which installs Debian's `prometheus` package when needed and sets {var}), or set {var}=/path/to/{name} \
             (e.g. /usr/bin/{name})"
        ),
    }
}

use store_core::testkit::noise as blob;

/// A store at `url` with a Trust cache and the operations layer registered on `registry`, a
/// manager over it (allocations for both test categories, so every category family has samples),
/// and a monitor exporting on the same registry.
async fn monitored(url: &str) -> (Manager, Monitor) {
    let registry = prometheus::Registry::new();
    let ops = OperationMetrics::new(&registry).unwrap();
    let trust = CacheOptions { policy: CachePolicy::Trust, ..CacheOptions::default() };
    let store = ObjectStore::builder(url).cache(trust).layer(ops.layer()).build().await.unwrap();
    let settings =
        Settings::from_json(&json!({"storage_allocation": {"trading_state": 0.5, "ml_models": 0.2}}).to_string())
            .unwrap();
    let manager = Manager::new(store, settings);
    let monitor = Monitor::with_registry(manager.clone(), registry);
    (manager, monitor)
}

/// The metric families of an exposition: name → (has HELP, has TYPE, sample lines).
fn families(text: &str) -> BTreeMap<String, (bool, bool, usize)> {
    let mut families: BTreeMap<String, (bool, bool, usize)> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or_default();
            families.entry(name.to_string()).or_default().0 = true;
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap_or_default();
            families.entry(name.to_string()).or_default().1 = true;
        }
    }
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let sample = line.split(['{', ' ']).next().unwrap_or_default();
        // A histogram's samples carry a suffix after the family's name.
        let family = if families.contains_key(sample) {
            sample.to_string()
        } else {
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| sample.strip_suffix(suffix).filter(|base| families.contains_key(*base)))
                .unwrap_or(sample)
                .to_string()
        };
        families.entry(family).or_default().2 += 1;
    }
    families
}

#[tokio::test]
async fn exposition_passes_promtool_check_metrics() {
    let promtool = tool("OBJSTORE_TEST_PROMTOOL", "promtool");
    let (manager, monitor) = monitored("memory://").await;
    let ts = || SaveOptions::new(Category::TradingState);
    for i in 0..3 {
        manager.save_bytes(&format!("state_{i}"), blob(10_000 + 1_000 * i as usize, i), ts()).await.unwrap();
    }
    manager.save("model", &json!({"weights": [1, 2, 3]}), SaveOptions::new(Category::MlModels)).await.unwrap();
    for _ in 0..2 {
        assert_eq!(manager.load_bytes("state_0").await.unwrap().map(|b| b.len()), Some(10_000));
    }
    assert_eq!(manager.load_bytes("absent").await.unwrap(), None);
    manager.delete("state_2").await.unwrap();
    monitor.check().await.unwrap();
    let text = monitor.metrics_text().await.unwrap();

    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {} (OBJSTORE_TEST_PROMTOOL): {e}", promtool.display()));
    // promtool reads all of its input before it writes anything: no deadlock.
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success() && said.trim().is_empty(),
        "promtool check metrics ({}) found problems:\n{said}\nin the exposition:\n{text}",
        output.status
    );

    let families = families(&text);
    for (name, (help, typed, samples)) in families.iter().filter(|(name, _)| name.starts_with("objstore_")) {
        assert!(*help && *typed, "{name}: HELP {help}, TYPE {typed} in\n{text}");
        assert!(*samples > 0, "{name} has no sample in\n{text}");
    }
    let expected = [
        "objstore_operations_total",
        "objstore_operation_duration_seconds",
        "objstore_cache_hits_total",
        "objstore_cache_misses_total",
        "objstore_cache_evictions_total",
        "objstore_cache_bytes",
        "objstore_cache_entries",
        "objstore_category_used_bytes",
        "objstore_category_quota_bytes",
        "objstore_category_files",
        "objstore_category_expired_files",
        "objstore_storage_used_bytes",
        "objstore_storage_limit_bytes",
        "objstore_files",
        "objstore_files_limit",
        "objstore_storage_usage_ratio",
        "objstore_health_level",
        "objstore_alert_threshold_ratio",
        "objstore_critical_threshold_ratio",
        "objstore_growth_bytes_per_day",
        "objstore_time_until_full_seconds",
        "objstore_cleanup_expired_total",
        "objstore_cleanup_archived_total",
        "objstore_cleanup_purged_total",
        "objstore_cleanup_freed_bytes_total",
    ];
    let missing: Vec<&str> = expected.iter().copied().filter(|name| !families.contains_key(*name)).collect();
    assert!(missing.is_empty(), "families missing: {missing:?} in\n{text}");
    for category in ["trading_state", "ml_models"] {
        assert!(text.contains(&format!("objstore_category_files{{category=\"{category}\"}}")), "{category} in\n{text}");
    }
    assert!(text.contains(r#"objstore_operations_total{operation="get_ready",result="ok"}"#), "{text}");
    assert!(!text.contains("state_0") && !text.contains("key="), "no key is ever a label:\n{text}");
}

// ----- the end-to-end test: a real Prometheus --------------------------------------------------

/// A `prometheus` process, killed and reaped on drop (also when the test panics).
struct PrometheusProcess {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Drop for PrometheusProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PrometheusProcess {
    /// The last lines of its log.
    fn log_tail(&self) -> String {
        log_tail(&self.log)
    }
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()));
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// A loopback port free right now (it may be taken again before it is used: callers retry).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `prometheus` with `config` and its data under `dir`, on a free port, and waits until it
/// is ready. Tries other ports when the one chosen was taken in the meantime.
async fn start_prometheus(binary: &Path, dir: &Path, config: &Path) -> PrometheusProcess {
    for attempt in 0..5 {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let log = dir.join(format!("prometheus-{attempt}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} (OBJSTORE_TEST_PROMETHEUS): {e}", binary.display()));
        let mut process = PrometheusProcess { child, addr, log };
        let start = Instant::now();
        loop {
            if let Some(status) = process.child.try_wait().unwrap() {
                let tail = process.log_tail();
                if tail.contains("address already in use") {
                    break; // another port
                }
                panic!("prometheus exited ({status}) before it was ready; its log ends with:\n{tail}");
            }
            if let Ok((200, _)) = http_get(addr, "/-/ready").await {
                return process;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "prometheus on {addr} was not ready after {DEADLINE:?}; its log ends with:\n{}",
                process.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    panic!("prometheus found its port taken 5 times in a row; see the logs in {}", dir.display());
}

/// `GET path` over HTTP/1.1 (`Connection: close`): the status and the body, de-chunked.
async fn http_get(addr: SocketAddr, path: &str) -> Result<(u16, String), String> {
    let exchange = async {
        let mut conn = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("connect {addr}: {e}"))?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: */*\r\nConnection: close\r\n\r\n");
        conn.write_all(request.as_bytes()).await.map_err(|e| format!("send to {addr}: {e}"))?;
        let mut raw = Vec::new();
        conn.read_to_end(&mut raw).await.map_err(|e| format!("read from {addr}: {e}"))?;
        Ok::<_, String>(raw)
    };
    let raw = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .map_err(|_| format!("GET {path} from {addr}: no answer within 10 s"))??;
    parse_response(&raw).map_err(|e| format!("GET {path} from {addr}: {e}"))
}

/// Splits a whole HTTP/1.1 response into its status and body (Content-Length, chunked, or up to
/// the end of the connection).
fn parse_response(raw: &[u8]) -> Result<(u16, String), String> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no end of headers")?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|e| format!("headers not UTF-8: {e}"))?;
    let rest = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let body = if header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        dechunk(rest)?
    } else if let Some(length) = header("content-length") {
        let length: usize = length.parse().map_err(|_| format!("bad Content-Length {length:?}"))?;
        rest.get(..length).ok_or_else(|| format!("body shorter than its Content-Length {length}"))?.to_vec()
    } else {
        rest.to_vec()
    };
    Ok((status, String::from_utf8(body).map_err(|e| format!("body not UTF-8: {e}"))?))
}

/// Decodes a chunked body.
fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let end = rest.windows(2).position(|w| w == b"\r\n").ok_or("unterminated chunk size")?;
        let size_text = std::str::from_utf8(&rest[..end]).map_err(|_| "chunk size not text")?;
        let size_hex = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| format!("bad chunk size {size_text:?}"))?;
        rest = &rest[end + 2..];
        if size == 0 {
            return Ok(body);
        }
        body.extend_from_slice(rest.get(..size).ok_or("chunk shorter than its size")?);
        rest = rest.get(size + 2..).ok_or("chunk not followed by CRLF")?;
    }
}

/// Percent-encodes a query-string value (everything but the unreserved characters).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl PrometheusProcess {
    /// Runs an instant query: the values of the vector it returns (empty when no series matches).
    async fn query(&self, promql: &str) -> Result<Vec<f64>, String> {
        let (status, body) = http_get(self.addr, &format!("/api/v1/query?query={}", encode(promql))).await?;
        let answer = || format!("HTTP {status}: {body}");
        let json: Value = serde_json::from_str(&body).map_err(|e| format!("{e} in {}", answer()))?;
        if status != 200 || json["status"] != "success" {
            return Err(answer());
        }
        let result = json["data"]["result"].as_array().ok_or_else(answer)?;
        result
            .iter()
            .map(|series| series["value"][1].as_str().and_then(|v| v.parse::<f64>().ok()).ok_or_else(&answer))
            .collect()
    }

    /// Polls `promql` until its values satisfy `ok`; fails after [`DEADLINE`] with the last answer
    /// and the end of Prometheus's log.
    async fn until(&self, promql: &str, what: &str, ok: impl Fn(&[f64]) -> bool) -> Vec<f64> {
        let start = Instant::now();
        loop {
            let answer = self.query(promql).await;
            if let Ok(values) = &answer
                && ok(values)
            {
                return values.clone();
            }
            if start.elapsed() > DEADLINE {
                panic!(
                    "after {DEADLINE:?}, Prometheus still does not answer `{promql}` with {what}; last answer: \
                     {answer:?}\nits log ends with:\n{}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Polls `promql` until it is the single value `expected`.
    async fn until_value(&self, promql: &str, expected: f64) {
        self.until(promql, &format!("[{expected}]"), |values| values == [expected]).await;
    }
}

/// Checks that Prometheus follows `monitor`'s statistics: files first (the value that changes
/// last), then every other figure.
async fn expect_statistics(prom: &PrometheusProcess, monitor: &Monitor, files: u64, categories: &[(Category, u64)]) {
    prom.until_value("objstore_files", files as f64).await;
    let s = monitor.get_statistics().await.unwrap();
    assert_eq!(s.files, files, "{s:#?}");
    prom.until_value("objstore_storage_used_bytes", s.current_usage_bytes as f64).await;
    prom.until_value("objstore_storage_limit_bytes", s.max_storage_bytes as f64).await;
    prom.until_value("objstore_files_limit", s.max_files as f64).await;
    if s.days_until_full.is_none() {
        // Not growing: the exposition writes +Inf (as `inf`), which Prometheus must read.
        prom.until_value("objstore_time_until_full_seconds", f64::INFINITY).await;
    }
    let known: BTreeSet<&str> = s.by_category.keys().map(Category::name).collect();
    for (category, files) in categories {
        let name = category.name();
        let selector = |family: &str| format!("{family}{{category=\"{name}\"}}");
        match s.by_category.get(category) {
            Some(c) => {
                assert_eq!(c.files, *files, "{name}: {s:#?}");
                prom.until_value(&selector("objstore_category_files"), *files as f64).await;
                prom.until_value(&selector("objstore_category_used_bytes"), c.size_bytes as f64).await;
            }
            None => {
                assert_eq!(*files, 0, "{name} missing from the statistics (categories {known:?})");
                // The series left the exposition: Prometheus marks it stale.
                prom.until(&selector("objstore_category_files"), "no series", <[f64]>::is_empty).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_monitor_end_to_end() {
    let binary = tool("OBJSTORE_TEST_PROMETHEUS", "prometheus");
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    std::fs::create_dir_all(&store_dir).unwrap();
    let (manager, monitor) = monitored(&format!("file://{}", store_dir.display())).await;
    // Scraped every second: serve figures at most a second old (the default is 30 s).
    monitor.set_scrape_max_age(Duration::from_secs(1));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = listener.local_addr().unwrap();
    let server = monitor.clone();
    let serving = tokio::spawn(async move { server.serve_on(listener).await });

    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: objstore\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let prom = start_prometheus(&binary, dir.path(), &config).await;

    let ts = || SaveOptions::new(Category::TradingState);
    for (i, len) in [1_000usize, 20_000, 300_000].into_iter().enumerate() {
        manager.save_bytes(&format!("state_{i}"), blob(len, i as u64), ts()).await.unwrap();
    }
    manager.save("model", &json!({"weights": [0.5, 0.25]}), SaveOptions::new(Category::MlModels)).await.unwrap();

    expect_statistics(&prom, &monitor, 4, &[(Category::TradingState, 3), (Category::MlModels, 1)]).await;
    prom.until(r#"objstore_operations_total{operation="put",result="ok"}"#, "a value ≥ 4", |v| {
        v.len() == 1 && v[0] >= 4.0
    })
    .await;
    prom.until_value(r#"up{job="objstore"}"#, 1.0).await;

    // Prometheus follows the changes.
    for (i, len) in [(3usize, 50_000usize), (4, 7_000), (5, 123_456)] {
        manager.save_bytes(&format!("state_{i}"), blob(len, i as u64), ts()).await.unwrap();
    }
    manager.delete("state_0").await.unwrap();
    manager.delete("model").await.unwrap();
    expect_statistics(&prom, &monitor, 5, &[(Category::TradingState, 5), (Category::MlModels, 0)]).await;
    prom.until(r#"objstore_operations_total{operation="delete",result="ok"}"#, "a value ≥ 2", |v| {
        v.len() == 1 && v[0] >= 2.0
    })
    .await;
    prom.until_value(r#"up{job="objstore"}"#, 1.0).await;

    drop(prom);
    serving.abort();
}
