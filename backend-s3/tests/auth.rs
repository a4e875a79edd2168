//! The SeaweedFS the suites run against requires credentials: anonymous requests and wrong
//! secrets are refused, with an error that points at the credentials.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

async fn refused(url: &str) -> String {
    let store = store_core::open(url).await.unwrap();
    match store.save("k", "v").await {
        Err(e @ store_core::Error::Backend { .. }) => e.to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn seaweedfs_refuses_anonymous_and_wrong_credentials() {
    let base = common::server_url("OBJSTORE_TEST_S3_SEAWEEDFS", "SeaweedFS");
    let prefixes = common::Prefixes::new(&base);
    let anonymous = refused(&prefixes.url_with("auth", "skip_signature=true")).await;
    assert!(anonymous.contains("credentials"), "{anonymous}");
    let wrong = refused(&prefixes.url_with("auth", "secret_access_key=wrong")).await;
    assert!(wrong.contains("credentials"), "{wrong}");
    // The right ones work.
    let store = store_core::open(&prefixes.url_with("auth", "")).await.unwrap();
    store.save("k", "v").await.unwrap();
    println!("anonymous: {anonymous}\nwrong secret: {wrong}");
}
