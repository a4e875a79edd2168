//! What the `objstore` command's tests share: a fresh store per test on local disk or on S3, the
//! command pointed at it, settings files, JSON parsing, and a `both!` macro that runs one
//! scenario on each backend.
//!
//! The S3 cases need the SeaweedFS server that `cargo xtask test` starts (it sets
//! `OBJSTORE_TEST_S3_SEAWEEDFS`); without it they fail, saying so. They never pass by skipping.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

/// Which storage a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh folder on local disk.
    Local,
    /// A fresh prefix of the SeaweedFS test bucket.
    S3,
}

/// One test's store: its URL, and a scratch folder for files and settings.
pub struct Env {
    pub backend: Backend,
    pub url: String,
    pub dir: TempDir,
}

static CASES: AtomicU64 = AtomicU64::new(0);

/// A name no other test (or run) uses.
pub fn unique() -> String {
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos();
    format!("{}-{now}-{}", std::process::id(), CASES.fetch_add(1, Ordering::Relaxed))
}

impl Env {
    pub fn new(backend: Backend) -> Env {
        match backend {
            Backend::Local => Env::local(),
            Backend::S3 => Env::s3(),
        }
    }

    /// A store in a fresh, empty folder (`DIR/storage`). (Only commands that save create a
    /// store folder: reading one that does not exist is an error, see cli_honest.rs.)
    pub fn local() -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("storage")).unwrap();
        let url = format!("file://{}", dir.path().join("storage").display());
        Env { backend: Backend::Local, url, dir }
    }

    /// A fresh prefix `cli-<unique>` of the SeaweedFS bucket.
    pub fn s3() -> Env {
        Env { backend: Backend::S3, url: s3_url(&format!("cli-{}", unique())), dir: tempfile::tempdir().unwrap() }
    }

    /// The command, with its store here and no settings, tracing or managed mode from outside.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::cargo_bin("objstore").unwrap();
        cmd.env("OBJSTORE_URL", &self.url).env_remove("OBJSTORE_SETTINGS").env_remove("RUST_LOG");
        // `path` keeps S3 copies in the user's cache folder: this test's, here.
        cmd.env("XDG_CACHE_HOME", self.dir.path().join("cache")).env_remove("OBJSTORE_STAGING_DIR");
        cmd.current_dir(self.dir.path());
        cmd
    }

    /// The command in managed mode with a settings file holding `json`.
    pub fn managed(&self, json: &str) -> Command {
        let path = self.settings(json);
        let mut cmd = self.cmd();
        cmd.arg("--settings").arg(path);
        cmd
    }

    /// Writes a settings file (a new one per call) and returns its path.
    pub fn settings(&self, json: &str) -> PathBuf {
        let path = self.dir.path().join(format!("settings-{}.json", unique()));
        std::fs::write(&path, json).unwrap();
        path
    }

    /// A file in the scratch folder with `bytes`.
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// The command's standard output for `args` (which must succeed).
    pub fn stdout(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).assert().success().get_output().stdout.clone();
        String::from_utf8(out).unwrap()
    }

    /// `--json` output of `args` (which must succeed), parsed.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.cmd().arg("--json").args(args).assert().success().get_output().stdout.clone();
        parse_json(&out)
    }
}

/// The S3 URL of `prefix` in the SeaweedFS test bucket.
pub fn s3_url(prefix: &str) -> String {
    let base = std::env::var("OBJSTORE_TEST_S3_SEAWEEDFS").unwrap_or_else(|_| {
        panic!(
            "the S3 cases of the objstore command need SeaweedFS: run `cargo xtask test`, which installs and starts \
             it on loopback (or `cargo xtask servers` and export what it prints), or set \
             OBJSTORE_TEST_S3_SEAWEEDFS=s3://BUCKET?endpoint=...&allow_http=true&access_key_id=...&secret_access_key=..."
        )
    });
    let rest = base.strip_prefix("s3://").expect("an s3:// URL");
    let (bucket, query) = rest.split_once('?').unwrap_or((rest, ""));
    format!("s3://{}/{prefix}?{query}", bucket.trim_end_matches('/'))
}

/// One JSON document.
pub fn parse_json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}): {}", String::from_utf8_lossy(bytes)))
}

/// One JSON document per line.
pub fn json_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes).lines().map(|l| parse_json(l.as_bytes())).collect()
}

/// Bytes that do not compress (a xorshift stream).
#[allow(unused_imports)] // not every test file that includes this module uses it
pub use store_core::testkit::noise;

/// Runs a scenario `fn NAME(backend: Backend)` as two tests, `NAME::local` and `NAME::s3`.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn local() {
                    super::$name(super::cli_support::Backend::Local)
                }
                #[test]
                fn s3() {
                    super::$name(super::cli_support::Backend::S3)
                }
            }
        )*
    };
}
