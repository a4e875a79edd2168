//! The adapter over `s3://`: object_store's integration suite against SeaweedFS and moto, each
//! test under a prefix of its own.
//!
//! `cargo xtask test` starts both servers on loopback and sets `OBJSTORE_TEST_S3_SEAWEEDFS` and
//! `OBJSTORE_TEST_S3_MOTO` (`s3://BUCKET?endpoint=...&allow_http=true&...`). Without them these
//! tests fail, saying so: they never pass without having run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod compat_support;

use std::sync::atomic::{AtomicU64, Ordering};

use compat_support::Fresh;

/// A store under a fresh prefix of the bucket that `var` names: `s3://BUCKET/compat-UNIQUE?QUERY`.
async fn fresh_s3(var: &str, server: &str) -> Fresh {
    let base = std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "the S3 compat tests need {server}: run `cargo xtask test`, which installs and starts it on loopback, \
             or set {var}=s3://BUCKET?endpoint=http://HOST:PORT&allow_http=true&access_key_id=...&\
             secret_access_key=... to a server you run yourself"
        )
    });
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let rest = base.strip_prefix("s3://").expect("an s3:// URL");
    let (bucket, query) = rest.split_once('?').unwrap_or((rest, ""));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let unique = format!("compat-{}-{now}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let url = format!("s3://{}/{unique}?{query}", bucket.trim_end_matches('/'));
    Fresh::new(objstore::open(&url).await.unwrap(), ())
}

mod seaweedfs {
    use super::*;

    async fn fresh() -> Fresh {
        fresh_s3("OBJSTORE_TEST_S3_SEAWEEDFS", "SeaweedFS").await
    }

    integration_suite!(fresh);

    /// Data tools print their stores: the name, never the credentials of the URL.
    #[tokio::test]
    async fn display_shows_no_credentials() {
        let store = fresh().await;
        let shown = format!("{} {:?}", store.adapter, store.adapter);
        assert!(shown.contains("s3://") && !shown.contains("secret"), "{shown}");
    }
}

mod moto {
    use super::*;

    async fn fresh() -> Fresh {
        fresh_s3("OBJSTORE_TEST_S3_MOTO", "moto").await
    }

    integration_suite!(fresh);
}
