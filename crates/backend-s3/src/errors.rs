//! object_store's errors as the store's, naming the endpoint and saying what to try.

use store_core::Error;

/// What a failed request was about, for messages.
pub(crate) struct Context<'a> {
    /// The store (`s3://bucket/prefix`).
    pub(crate) store: &'a str,
    /// Where requests go.
    pub(crate) endpoint: &'a str,
    /// The key, when the request was about one.
    pub(crate) key: Option<&'a str>,
    /// The version a conditional request expected.
    pub(crate) expected: Option<&'a str>,
}

impl Context<'_> {
    fn key(&self) -> String {
        self.key.unwrap_or_default().to_string()
    }

    fn backend(&self, message: String, source: object_store::Error) -> Error {
        Error::Backend { backend: self.store.to_string(), message, source: Some(Box::new(source)) }
    }

    /// The store's error for `e`.
    pub(crate) fn map(&self, e: object_store::Error) -> Error {
        use object_store::Error as E;
        match e {
            E::NotFound { .. } => Error::NotFound { key: self.key() },
            E::AlreadyExists { .. } => Error::AlreadyExists { key: self.key() },
            E::Precondition { .. } => {
                Error::Precondition { key: self.key(), expected: self.expected.unwrap_or_default().to_string() }
            }
            E::NotImplemented { operation, .. } => Error::NotSupported { backend: self.store.to_string(), operation },
            e @ (E::PermissionDenied { .. } | E::Unauthenticated { .. }) => self.backend(
                format!(
                    "{} refused the request ({e}); check the credentials (AWS_ACCESS_KEY_ID, \
                     AWS_SECRET_ACCESS_KEY or the access_key_id/secret_access_key options) and the bucket's policy",
                    self.endpoint
                ),
                e,
            ),
            e => self.backend(
                format!("request to {} failed: {e}; check that the endpoint is up and reachable", self.endpoint),
                e,
            ),
        }
    }

    /// The error for an operation that ran out of time.
    pub(crate) fn timed_out(&self, after: std::time::Duration, what: &str) -> Error {
        Error::Backend {
            backend: self.store.to_string(),
            message: format!(
                "{what} got no answer from {} within {} (retries included); check that the endpoint is up and \
                 reachable, or raise operation_timeout",
                self.endpoint,
                humantime::format_duration(after)
            ),
            source: None,
        }
    }
}
