//! An endpoint that is down, or that accepts connections and never answers, makes operations
//! fail within the configured time with an error naming the endpoint: they never hang.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use store_core::Error;

/// Tight limits, so that the test is quick: the bound checked below is `operation_timeout`.
const LIMITS: &str = "connect_timeout=1s&timeout=2s&retry_timeout=2s&max_retries=2&operation_timeout=6s";
/// Far above `operation_timeout`: only a hang can pass it.
const NEVER: Duration = Duration::from_secs(60);

fn url(port: u16) -> String {
    format!(
        "s3://bucket/p?endpoint=http://127.0.0.1:{port}&allow_http=true&region=us-east-1&access_key_id=k&secret_access_key=s&{LIMITS}"
    )
}

async fn every_operation_fails_naming(store: &store_core::ObjectStore, endpoint: &str) {
    fails_naming("save", endpoint, store.save("k", "v")).await;
    fails_naming("read", endpoint, async { store.read("k").await.map(|_| ()) }).await;
    fails_naming("contains_key", endpoint, async { store.contains_key("k").await.map(|_| ()) }).await;
    fails_naming("delete", endpoint, store.delete("k")).await;
    fails_naming("keys", endpoint, async { store.keys().await.map(|_| ()) }).await;
}

async fn fails_naming(
    operation: &str,
    endpoint: &str,
    attempt: impl std::future::Future<Output = store_core::Result<()>>,
) {
    let started = Instant::now();
    let error = match tokio::time::timeout(NEVER, attempt).await {
        Err(_) => panic!("{operation} hung for {NEVER:?}"),
        Ok(Ok(())) => panic!("{operation} succeeded against a dead endpoint"),
        Ok(Err(e)) => e,
    };
    assert!(matches!(error, Error::Backend { .. }), "{operation}: {error:?}");
    let message = error.to_string();
    assert!(message.contains(endpoint), "{operation}: the error does not name {endpoint}: {message}");
    println!("{operation} failed after {:.1} s: {message}", started.elapsed().as_secs_f64());
}

#[tokio::test]
async fn a_closed_port_fails_fast_and_names_the_endpoint() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let store = store_core::open(&url(port)).await.unwrap();
    every_operation_fails_naming(&store, &format!("127.0.0.1:{port}")).await;
}

#[tokio::test]
async fn a_silent_server_times_out_and_names_the_endpoint() {
    // Accepts connections, reads nothing, answers nothing.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let store = store_core::open(&url(port)).await.unwrap();
    every_operation_fails_naming(&store, &format!("127.0.0.1:{port}")).await;
}
