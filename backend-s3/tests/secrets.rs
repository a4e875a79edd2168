//! No credential of an S3 store in any error, `Debug` output or URL the crate shows (issue 16,
//! item 1): credentials in the query, in the endpoint's user information, in the bucket's, with a
//! misconfigured store and with one that cannot be reached. No server is needed.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use backend_s3 as _;

const SECRETS: [&str; 3] = ["SUPERSECRET1", "SESSIONTOKEN2", "USERPASS4"];

fn assert_clean(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} shows {secret}: {text}");
    }
}

/// The error, its `Debug`, and every error of its source chain.
fn all_of(e: &store_core::Error) -> String {
    let mut text = format!("{e} {e:?}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(" / {s} {s:?}"));
        source = s.source();
    }
    text
}

const CREDENTIALS: &str = "access_key_id=AKIDPUBLIC&secret_access_key=SUPERSECRET1&token=SESSIONTOKEN2";

#[tokio::test]
async fn a_misconfigured_store_names_no_credential() {
    for url in [
        format!("s3://bucket/p?{CREDENTIALS}&bogus=1"),
        format!("s3://bucket/p?{CREDENTIALS}&timeout=soon"),
        format!("s3://bucket/../p?{CREDENTIALS}"),
        format!("s3://AKIDPUBLIC:USERPASS4@bucket/p?{CREDENTIALS}"),
        format!("s3://bucket/p?endpoint=http://u:USERPASS4@h&{CREDENTIALS}&bogus=1"),
        // User information in the endpoint: refused (the HTTP client would log it).
        format!("s3://bucket/p?endpoint=http://u:USERPASS4@127.0.0.1:1&allow_http=true&{CREDENTIALS}"),
    ] {
        let e = store_core::open(&url).await.unwrap_err();
        assert!(matches!(e, store_core::Error::Config { .. }), "{url}: {e:?}");
        assert_clean(&url, &all_of(&e));
    }
}

#[tokio::test]
async fn an_unreachable_store_names_no_credential() {
    for url in [
        format!("s3://bucket/p?endpoint=http://127.0.0.1:1&allow_http=true&max_retries=0&{CREDENTIALS}"),
        "s3://bucket/p?endpoint=http://127.0.0.1:1&allow_http=true&max_retries=0&access_key_id=a\
         &secret_access_key=SUPERSECRET1"
            .to_string(),
    ] {
        let store = store_core::open(&url).await.unwrap();
        assert_clean(&url, &format!("{store:?} {:?} {}", store.backend(), store.url()));
        for e in [
            store.save("k", "v").await.unwrap_err(),
            store.read("k").await.unwrap_err(),
            store.keys().await.unwrap_err(),
            store.usage().await.unwrap_err(),
        ] {
            assert_clean(&url, &all_of(&e));
        }
    }
}
