//! object_store's errors as the store's, naming the endpoint and saying what to try.
//!
//! No credential reaches a message: the endpoint is redacted, and the client's own text (and the
//! source chain kept with the error) is scrubbed of every credential the store was given. When
//! no credentials were given and fetching some from the instance metadata service failed, the
//! message says so and how to give them, rather than blaming the endpoint.

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
    /// The credentials the store was given, scrubbed from messages.
    pub(crate) secrets: &'a [String],
    /// No credentials were given: the client asks the instance metadata service.
    pub(crate) instance_credentials: bool,
}

/// An error's text, scrubbed of credentials, kept as the source when the original's text held one.
#[derive(Debug)]
struct Scrubbed(String);

impl std::fmt::Display for Scrubbed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Scrubbed {}

/// `e`'s text and that of its sources, one after the other.
fn chain_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl Context<'_> {
    fn key(&self) -> String {
        self.key.unwrap_or_default().to_string()
    }

    fn backend(&self, message: String, source: object_store::Error) -> Error {
        let transient = is_transient(&source);
        let full = chain_text(&source);
        let scrubbed = store_core::url::scrub(&full, self.secrets);
        let source: Box<dyn std::error::Error + Send + Sync> =
            if scrubbed == full { Box::new(source) } else { Box::new(Scrubbed(scrubbed)) };
        let message = store_core::url::scrub(&message, self.secrets);
        Error::Backend { backend: self.store.to_string(), message, transient, source: Some(source) }
    }

    /// True when `text` is a failure to get credentials from the instance metadata service.
    fn metadata_failed(&self, text: &str) -> bool {
        self.instance_credentials
            && ["169.254.169.254", "/latest/api/token", "/latest/meta-data/", "169.254.170.2"]
                .iter()
                .any(|needle| text.contains(needle))
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
            e => {
                let refused = matches!(e, E::PermissionDenied { .. } | E::Unauthenticated { .. });
                let text = e.to_string();
                let message = match s3_error(&text) {
                    Some((code, said)) => format!("{} answered {code}: {said}; {}", self.endpoint, hint_for(code)),
                    None if self.metadata_failed(&text) => format!(
                        "no S3 credentials were given, and none could be fetched from the instance metadata \
                         service ({}); {}",
                        one_line(&text),
                        NO_CREDENTIALS
                    ),
                    None if refused => {
                        format!(
                            "{} refused the request: {}; {}",
                            self.endpoint,
                            one_line(&text),
                            hint_for("AccessDenied")
                        )
                    }
                    None => format!(
                        "request to {} failed: {}; check that the endpoint is up and reachable",
                        self.endpoint,
                        one_line(&text)
                    ),
                };
                self.backend(message, e)
            }
        }
    }

    /// The error for an operation that ran out of time.
    pub(crate) fn timed_out(&self, after: std::time::Duration, what: &str) -> Error {
        let mut message = format!(
            "{what} got no answer from {} within {} (retries included); check that the endpoint is up and \
             reachable, or raise operation_timeout",
            self.endpoint,
            humantime::format_duration(after)
        );
        if self.instance_credentials {
            message.push_str(&format!(
                "; no S3 credentials were given, so the client also waited for the instance metadata service: \
                 {NO_CREDENTIALS}"
            ));
        }
        Error::Backend { backend: self.store.to_string(), message, transient: true, source: None }
    }
}

/// The `<Code>` and `<Message>` of an S3 error body quoted in `text`.
fn s3_error(text: &str) -> Option<(&str, &str)> {
    let between = |open: &str, close: &str| {
        let start = text.find(open)? + open.len();
        let end = start + text[start..].find(close)?;
        Some(&text[start..end])
    };
    let code = between("<Code>", "</Code>")?;
    Some((code, between("<Message>", "</Message>").unwrap_or("")))
}

/// What to do when no credentials were given.
const NO_CREDENTIALS: &str = "give credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the access_key_id and \
     secret_access_key options (skip_signature=true for a public bucket)";

/// What to do about an S3 error code.
fn hint_for(code: &str) -> &'static str {
    match code {
        "SignatureDoesNotMatch" | "InvalidAccessKeyId" | "AccessDenied" | "InvalidToken" | "ExpiredToken" => {
            "check the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, or the access_key_id and \
             secret_access_key options) and the bucket's policy"
        }
        "NoSuchBucket" => "create the bucket, or fix the bucket name in the URL",
        "AuthorizationHeaderMalformed" | "IllegalLocationConstraintException" | "PermanentRedirect" => {
            "check the region (AWS_REGION or the region option)"
        }
        "SlowDown" | "ServiceUnavailable" | "InternalError" => "the server is overloaded or failing; try again later",
        _ => "see the server's message",
    }
}

/// True when a retry later can help: the connection failed, was reset or timed out, or the
/// server answered 5xx, 429, or one of S3's throttling and transient codes.
pub(crate) fn is_transient(e: &object_store::Error) -> bool {
    use object_store::client::{HttpError, HttpErrorKind as K};
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = current {
        if let Some(http) = error.downcast_ref::<HttpError>() {
            if matches!(http.kind(), K::Connect | K::Request | K::Timeout | K::Interrupted) {
                return true;
            }
        }
        current = error.source();
    }
    let text = e.to_string();
    if let Some(status) = status_in(&text) {
        if status >= 500 || status == 429 {
            return true;
        }
    }
    matches!(
        s3_error(&text).map(|(code, _)| code),
        Some(
            "SlowDown"
                | "ServiceUnavailable"
                | "InternalError"
                | "RequestTimeout"
                | "Throttling"
                | "RequestTimeTooSkewed"
        )
    )
}

/// The HTTP status object_store quotes in an error's text ("status code: 503 ...").
fn status_in(text: &str) -> Option<u16> {
    let at = text.find("status code: ")? + "status code: ".len();
    text.get(at..at + 3)?.parse().ok()
}

/// `text` on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_errors_are_summarised() {
        let text = "Server returned non-2xx status code: 403 Forbidden: <?xml version=\"1.0\"?>\n<Error><Code>\
                    SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message></Error>";
        let (code, said) = s3_error(text).unwrap();
        assert_eq!(code, "SignatureDoesNotMatch");
        assert!(said.starts_with("The request signature"));
        assert!(hint_for(code).contains("credentials"));
        assert_eq!(one_line("a\n  b\tc"), "a b c");
    }

    #[test]
    fn retries_help_with_5xx_throttling_and_broken_connections() {
        let status = |code: &str| object_store::Error::Generic {
            store: "S3",
            source: format!("Server returned non-2xx status code: {code}: <Error><Code>X</Code></Error>").into(),
        };
        assert!(is_transient(&status("503 Service Unavailable")));
        assert!(is_transient(&status("429 Too Many Requests")));
        assert!(!is_transient(&status("403 Forbidden")));
        let slow = object_store::Error::Generic {
            store: "S3",
            source: "Server returned non-2xx status code: 200 OK: <Error><Code>SlowDown</Code></Error>".into(),
        };
        assert!(is_transient(&slow));
        let reset = object_store::Error::Generic {
            store: "S3",
            source: Box::new(object_store::client::HttpError::new(
                object_store::client::HttpErrorKind::Connect,
                std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
            )),
        };
        assert!(is_transient(&reset));
        let context = Context {
            store: "s3://b",
            endpoint: "http://x",
            key: Some("k"),
            expected: None,
            secrets: &[],
            instance_credentials: false,
        };
        assert!(context.map(status("503 Service Unavailable")).is_transient());
        assert!(!context.map(object_store::Error::NotFound { path: "k".into(), source: "x".into() }).is_transient());
    }
}
