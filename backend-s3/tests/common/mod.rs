//! What the S3 test suites share: where the servers are, and fresh prefixes for each case.
//!
//! `cargo xtask test` installs SeaweedFS and moto, starts them on loopback ports it chooses, and
//! sets `OBJSTORE_TEST_S3_SEAWEEDFS` and `OBJSTORE_TEST_S3_MOTO` to a URL of a bucket on each:
//! `s3://BUCKET?endpoint=...&allow_http=true&access_key_id=...&secret_access_key=...`. Without
//! them the S3 tests fail, saying how to get a server: they never pass without having run.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};

use backend_s3 as _;
use store_core::testkit::Fixture;

pub mod counting;

/// The base URL of a server's test bucket, from `var`.
pub fn server_url(var: &str, server: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "the S3 tests need {server}: run `cargo xtask test`, which installs and starts it on loopback, or set \
             {var}=s3://BUCKET?endpoint=http://HOST:PORT&allow_http=true&access_key_id=...&secret_access_key=... \
             to a server you run yourself"
        )
    })
}

/// Fresh prefixes of one bucket: `s3://BUCKET/RUN/N?QUERY`.
pub struct Prefixes {
    bucket: String,
    query: String,
    run: String,
    next: AtomicU64,
}

impl Prefixes {
    /// Prefixes in the bucket of `base` (as `server_url` returns it).
    pub fn new(base: &str) -> Prefixes {
        let rest = base.strip_prefix("s3://").expect("an s3:// URL");
        let (bucket, query) = rest.split_once('?').unwrap_or((rest, ""));
        // Unique per fixture: tests that start at the same instant (the harness starts one per
        // thread at once) must never share a prefix. The time keeps runs apart on a server that
        // outlives them; the counter keeps fixtures of one process apart.
        static FIXTURES: AtomicU64 = AtomicU64::new(0);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let fixture = FIXTURES.fetch_add(1, Ordering::Relaxed);
        Prefixes {
            bucket: bucket.trim_end_matches('/').to_string(),
            query: query.to_string(),
            run: format!("run-{}-{now}-{fixture}", std::process::id()),
            next: AtomicU64::new(0),
        }
    }

    /// The same bucket, under `prefix`, with extra query options.
    pub fn url_with(&self, prefix: &str, extra: &str) -> String {
        let query =
            [self.query.as_str(), extra].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join("&");
        format!("s3://{}/{}/{prefix}?{query}", self.bucket, self.run)
    }
}

impl Fixture for Prefixes {
    fn fresh_url(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        self.url_with(&format!("case-{n}"), "")
    }
}

/// The fixture for the server named by `var`.
pub fn prefixes(var: &str, server: &str) -> Prefixes {
    Prefixes::new(&server_url(var, server))
}

/// Fails (never skips) unless Docker answers and `image:tag` is present locally, saying how to
/// get it.
pub fn require_image(image: &str, tag: &str, how: &str) {
    let docker = std::process::Command::new("docker").args(["image", "inspect", &format!("{image}:{tag}")]).output();
    match docker {
        Err(e) => panic!("this test needs Docker (the docker command failed to start: {e})"),
        Ok(out) if !out.status.success() => panic!(
            "this test needs the Docker image {image}:{tag}, which is not present locally ({}); {how}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Ok(_) => {}
    }
}

/// The credentials the test servers require.
pub const ACCESS_KEY: &str = "objstore-test";
/// See [`ACCESS_KEY`].
pub const SECRET_KEY: &str = "objstore-test-secret";

/// Creates a bucket with boto3 from the Python `cargo xtask test` installed
/// (`OBJSTORE_TEST_PYTHON`).
pub fn create_bucket(endpoint: &str, bucket: &str, key: &str, secret: &str) {
    let python = std::env::var("OBJSTORE_TEST_PYTHON")
        .unwrap_or_else(|_| panic!("creating a bucket needs boto3: run `cargo xtask test`, which installs it"));
    let script = format!(
        "import boto3\nboto3.client('s3', endpoint_url='{endpoint}', aws_access_key_id='{key}', \
         aws_secret_access_key='{secret}', region_name='us-east-1').create_bucket(Bucket='{bucket}')\n"
    );
    let status = std::process::Command::new(python).args(["-c", &script]).status().expect("python runs");
    assert!(status.success(), "cannot create bucket {bucket} at {endpoint}");
}

/// A raw object_store client on the bucket of `base` (as `server_url` returns it), configured
/// from the same query options: another S3 client, for interop tests.
pub fn raw_client(base: &str) -> object_store::aws::AmazonS3 {
    let rest = base.strip_prefix("s3://").expect("an s3:// URL");
    let (bucket, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut builder = object_store::aws::AmazonS3Builder::new().with_bucket_name(bucket.trim_end_matches('/'));
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, "true"));
        builder = builder.with_config(k.parse().expect("an object_store option"), v);
    }
    builder.build().expect("a raw S3 client")
}
