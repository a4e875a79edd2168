//! No credential in an error, its `Debug`, or the `Debug` of what parses a URL (issue 16, item 1),
//! tried from outside the crate: a URL with secrets in its query and its user information.

#![allow(clippy::unwrap_used, missing_docs)]

use store_core::raw::registry::{BackendOptions, StoreUrl, open_backend};

const SECRETS: [&str; 4] = ["SUPERSECRET1", "SESSIONTOKEN2", "PASSWORD3", "USERPASS4"];

fn assert_clean(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} shows {secret}: {text}");
    }
}

const URLS: [&str; 4] = [
    "memory://?secret_access_key=SUPERSECRET1&aws_session_token=SESSIONTOKEN2",
    "memory://USER:USERPASS4@name?Password=PASSWORD3",
    "nope://USER:USERPASS4@host/x?token=SESSIONTOKEN2&secret=SUPERSECRET1",
    "/a/bare/path?db_password=PASSWORD3",
];

#[tokio::test]
async fn errors_and_their_debug_never_show_a_credential() {
    for url in URLS {
        let e = open_backend(url, vec![("session_token".into(), "SESSIONTOKEN2".into())]).await.unwrap_err();
        assert_clean(url, &e.to_string());
        assert_clean(url, &format!("{e:?}"));
        let e = store_core::open(url).await.unwrap_err();
        assert_clean(url, &format!("{e} {e:?} {:?}", std::error::Error::source(&e)));
        // An error a backend makes with the URL as given is still shown redacted.
        let e = store_core::Error::Config { url: url.to_string(), message: "x".into() };
        assert_clean(url, &format!("{e} {e:?}"));
    }
}

#[test]
fn parsed_urls_and_options_never_show_a_credential_in_debug() {
    for url in &URLS[..3] {
        let (parsed, query) = StoreUrl::parse(url).unwrap();
        assert_clean(url, &format!("{parsed:?}"));
        let options = BackendOptions::new(url, query);
        assert_clean(url, &format!("{options:?}"));
        let e = options.finish(&[]).unwrap_err();
        assert_clean(url, &format!("{e} {e:?}"));
    }
}
