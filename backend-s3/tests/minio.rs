//! The behaviour suite, every case, against MinIO through testcontainers-modules' `minio` module.
//!
//! The `minio/minio` image cannot be pulled on machines without a registry, so this test is
//! ignored by default; `cargo xtask test` runs it (with `--ignored`) when the image is present
//! locally, and says so when it is not.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use testcontainers_modules::minio::MinIO;
use testcontainers_modules::testcontainers::runners::AsyncRunner;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs a local minio/minio image; cargo xtask test runs it when one is present"]
async fn behaviour_suite_on_minio() {
    let tag = std::env::var("OBJSTORE_TEST_MINIO_TAG").unwrap_or_else(|_| "RELEASE.2025-02-28T09-55-16Z".into());
    common::require_image("minio/minio", &tag, "load one with `docker load` or pull it where a registry is reachable");
    let container = testcontainers_modules::testcontainers::ImageExt::with_tag(MinIO::default(), &tag)
        .start()
        .await
        .unwrap_or_else(|e| panic!("cannot start MinIO: {e}"));
    let port = container.get_host_port_ipv4(9000).await.unwrap_or_else(|e| panic!("no mapped port: {e}"));
    let endpoint = format!("http://127.0.0.1:{port}");
    common::create_bucket(&endpoint, "test", "minioadmin", "minioadmin");
    let base = format!(
        "s3://test?endpoint={endpoint}&allow_http=true&region=us-east-1&access_key_id=minioadmin&secret_access_key=minioadmin"
    );
    let report = store_core::testkit::run_all(common::Prefixes::new(&base)).await;
    report.assert_all_passed("MinIO (testcontainers-modules)");
}
