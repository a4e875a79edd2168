//! What the manager's test suites share: a fresh store per case on each backend, a manual
//! clock, and realistic trading JSON.
//!
//! The S3 cases need the servers `cargo xtask test` starts (it sets `OBJSTORE_TEST_S3_SEAWEEDFS`
//! and `OBJSTORE_TEST_S3_MOTO`); without them they fail, saying so. They never pass by skipping.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use backend_local as _;
use backend_s3 as _;
use serde_json::Value;
use store_core::ObjectStore;
use store_manager::clock::ManualClock;
use store_manager::{Manager, Settings};
use tempfile::TempDir;

pub mod counted;
pub mod hook;
#[allow(unused_imports)] // not every test file that includes this module uses it
pub use store_core::testkit::trading::trading_json;

/// One case's storage: a fresh store, its URL (to open more handles on it) and a clock.
pub struct Env {
    pub url: String,
    pub store: ObjectStore,
    pub clock: ManualClock,
    _dir: Option<TempDir>,
}

/// 2025-01-15T00:00:00Z, where every case's clock starts.
pub fn start_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_736_899_200)
}

static CASES: AtomicU64 = AtomicU64::new(0);

fn unique() -> String {
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos();
    format!("{}-{now}-{}", std::process::id(), CASES.fetch_add(1, Ordering::Relaxed))
}

impl Env {
    async fn at(url: String, dir: Option<TempDir>) -> Env {
        let store = store_core::open(&url).await.unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
        Env { url, store, clock: ManualClock::new(start_time()), _dir: dir }
    }

    /// Another handle on storage a case made (a child process of a test uses it).
    pub async fn at_url(url: &str) -> Env {
        Env::at(url.to_string(), None).await
    }

    /// A store in memory.
    pub async fn memory() -> Env {
        Env::at(format!("memory://manager-{}", unique()), None).await
    }

    /// A store in a fresh folder on local disk.
    pub async fn local() -> Env {
        let dir = tempfile::tempdir().unwrap();
        Env::at(format!("file://{}", dir.path().display()), Some(dir)).await
    }

    /// A fresh prefix of the test bucket of the S3 server `var` names.
    pub async fn s3(var: &str, server: &str) -> Env {
        let base = std::env::var(var).unwrap_or_else(|_| {
            panic!(
                "the S3 cases need {server}: run `cargo xtask test`, which installs and starts it on loopback, \
                 or set {var}=s3://BUCKET?endpoint=...&allow_http=true&access_key_id=...&secret_access_key=..."
            )
        });
        let rest = base.strip_prefix("s3://").expect("an s3:// URL");
        let (bucket, query) = rest.split_once('?').unwrap_or((rest, ""));
        Env::at(format!("s3://{}/manager-{}?{query}", bucket.trim_end_matches('/'), unique()), None).await
    }

    /// A manager over this case's store with the case's clock.
    pub fn manager(&self, settings: Settings) -> Manager {
        Manager::with_clock(self.store.clone(), settings, self.clock.clone())
    }

    /// Another handle on the same storage, as another process would open it.
    pub async fn other_store(&self) -> ObjectStore {
        store_core::open(&self.url).await.unwrap()
    }

    /// A manager over another handle (its own index and cache), sharing the clock.
    pub async fn other_manager(&self, settings: Settings) -> Manager {
        Manager::with_clock(self.other_store().await, settings, self.clock.clone())
    }
}

/// Settings from JSON, for brevity.
pub fn settings(json: Value) -> Settings {
    Settings::from_json(&json.to_string()).unwrap()
}

/// `len` bytes that do not compress, different for each seed.
#[allow(unused_imports)] // not every test file that includes this module uses it
pub use store_core::testkit::noise;

/// The store's keys without the manager's and the monitor's own files (`_manager/`,
/// `_monitor/`: the index snapshot, the change marker, the usage history).
pub async fn user_keys(store: &ObjectStore) -> Vec<String> {
    store
        .keys()
        .await
        .unwrap()
        .into_iter()
        .filter(|k| !k.starts_with("_manager/") && !k.starts_with("_monitor/"))
        .collect()
}
