//! Configuration: the URL, the `AWS_*` environment, and options, with explicit timeouts.
//!
//! Precedence, lowest first: object_store's defaults, this crate's defaults (below), the
//! environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT` /
//! `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, ...), then options in the URL's query or given to the
//! store builder, with object_store's names (`endpoint`, `allow_http`, `region`,
//! `access_key_id`, `timeout`, `connect_timeout`, ...) plus this crate's own (see [`S3Options`]).
//!
//! Credentials never leave this module in a message: errors show the URL redacted
//! (`store_core::url::redact`), the endpoint is kept redacted for messages, and the credentials
//! themselves are collected into [`Resolved::secrets`] so that the backend can scrub them from
//! what the S3 client says. User information before the bucket (`s3://key:secret@bucket`) or in
//! the endpoint (`endpoint=http://user:pass@host`, which the HTTP client would log) is refused:
//! credentials go in the environment or in options.

use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, S3ConditionalPut};
use object_store::{BackoffConfig, ClientConfigKey, RetryConfig};
use store_core::raw::registry::{BackendOptions, StoreUrl};
use store_core::{Error, Result};

/// The options this crate adds to object_store's, with their defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct S3Options {
    /// Saves of at least this many bytes go up as multipart uploads (`multipart_threshold`,
    /// default 8 MiB). Create-only and compare-and-swap saves are always single requests.
    pub multipart_threshold: u64,
    /// The size of each part (`part_size`, default 5 MiB, the smallest S3 accepts).
    pub part_size: usize,
    /// Parts uploaded at once (`upload_concurrency`, default 8).
    pub upload_concurrency: usize,
    /// Give up an operation (one save, read, stat or delete, body transfer and retries included)
    /// after this long (`operation_timeout`, default 60 s). A backstop: a dead endpoint fails
    /// earlier, by the retry budget; raise it for very large objects over slow links. Listings
    /// have no overall deadline (each page request has its own).
    pub operation_timeout: Duration,
    /// Time to establish a connection (`connect_timeout`, default 5 s).
    pub connect_timeout: Duration,
    /// Time for one request, body included (`timeout`, default 30 s).
    pub request_timeout: Duration,
    /// Retries of a failed request (`max_retries`, default 3).
    pub max_retries: usize,
    /// No retry starts after this long since the first attempt (`retry_timeout`, default 10 s).
    pub retry_timeout: Duration,
    /// Use conditional requests for create-only and compare-and-swap saves (`conditional_put`,
    /// default true; `false` for servers that do not support `If-Match`).
    pub conditional_put: bool,
    /// Sign the body of multipart parts too (`sign_large_payloads`, default false). By default
    /// parts are sent as `UNSIGNED-PAYLOAD` with a CRC64-NVME checksum in a signed header, which
    /// the server verifies: the request stays authenticated and the body checked for corruption,
    /// at a fraction of the CPU of hashing it with SHA-256. Over plain HTTP on an untrusted
    /// network, a CRC does not stop deliberate tampering: use HTTPS there, or set this.
    pub sign_large_payloads: bool,
}

impl Default for S3Options {
    fn default() -> S3Options {
        S3Options {
            multipart_threshold: 8 * 1024 * 1024,
            part_size: 5 * 1024 * 1024,
            upload_concurrency: 8,
            operation_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_retries: 3,
            retry_timeout: Duration::from_secs(10),
            conditional_put: true,
            sign_large_payloads: false,
        }
    }
}

/// Everything needed to build the client and describe the store.
pub(crate) struct Resolved {
    pub(crate) builder: AmazonS3Builder,
    pub(crate) bucket: String,
    /// `""` or `"some/prefix/"`.
    pub(crate) prefix: String,
    /// Where requests go, for messages (redacted).
    pub(crate) endpoint: String,
    pub(crate) options: S3Options,
    /// Every credential given (options, environment, user information in the endpoint), to be
    /// scrubbed from messages.
    pub(crate) secrets: Vec<String>,
    /// True when no credentials were given at all, so that the client asks the instance metadata
    /// service for some (and a failure there is about credentials, not the endpoint).
    pub(crate) instance_credentials: bool,
}

const OWN_OPTIONS: &[&str] = &[
    "multipart_threshold",
    "part_size",
    "upload_concurrency",
    "operation_timeout",
    "connect_timeout",
    "timeout",
    "max_retries",
    "retry_timeout",
    "conditional_put",
    "sign_large_payloads",
];

/// Reads the URL, the environment and the options.
pub(crate) fn resolve(url: &StoreUrl, mut given: BackendOptions) -> Result<Resolved> {
    let bad = |message: String| Error::Config { url: store_core::url::redact(&url.original), message };
    let (bucket, prefix) = url.location.split_once('/').unwrap_or((&url.location, ""));
    if bucket.is_empty() {
        return Err(bad("s3:// needs a bucket: s3://bucket or s3://bucket/prefix".into()));
    }
    if bucket.contains('@') {
        return Err(bad("credentials do not go before the bucket (s3://KEY:SECRET@bucket); set \
             AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the access_key_id and secret_access_key options"
            .into()));
    }
    let prefix = store_core::key::normalise_prefix(prefix).map_err(|e| bad(format!("bad prefix: {e}")))?;
    let prefix = if prefix.is_empty() || prefix.ends_with('/') { prefix } else { format!("{prefix}/") };

    let mut options = S3Options::default();
    let duration = |name: &str, v: String| {
        humantime::parse_duration(&v).map_err(|e| bad(format!("{name} must be a duration such as 5s or 500ms: {e}")))
    };
    let number = |name: &str, v: String| {
        parse_size(&v)
            .ok_or_else(|| bad(format!("{name} must be a number of bytes such as 8MiB or 1048576, not '{v}'")))
    };
    if let Some(v) = given.take("multipart_threshold") {
        options.multipart_threshold = number("multipart_threshold", v)?;
    }
    if let Some(v) = given.take("part_size") {
        options.part_size = number("part_size", v)? as usize;
        if options.part_size < 5 * 1024 * 1024 {
            return Err(bad("part_size must be at least 5MiB (S3's smallest part)".into()));
        }
    }
    if let Some(v) = given.take("upload_concurrency") {
        options.upload_concurrency = number("upload_concurrency", v)?.max(1) as usize;
    }
    if let Some(v) = given.take("max_retries") {
        options.max_retries = number("max_retries", v)? as usize;
    }
    let mut explicit = Vec::new();
    for (name, slot) in [
        ("operation_timeout", &mut options.operation_timeout),
        ("connect_timeout", &mut options.connect_timeout),
        ("timeout", &mut options.request_timeout),
        ("retry_timeout", &mut options.retry_timeout),
    ] {
        if let Some(v) = given.take(name) {
            *slot = duration(name, v)?;
            explicit.push(name);
        }
    }
    if let Some(v) = given.take("sign_large_payloads") {
        options.sign_large_payloads = match v.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            _ => return Err(bad(format!("sign_large_payloads must be true or false, not '{v}'"))),
        };
    }
    if let Some(v) = given.take("conditional_put") {
        options.conditional_put = match v.to_ascii_lowercase().as_str() {
            "true" | "etag" | "1" | "yes" => true,
            "false" | "disabled" | "0" | "no" => false,
            _ => return Err(bad(format!("conditional_put must be true or false, not '{v}'"))),
        };
    }

    // Environment first, then the remaining options with object_store's names.
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    let mut unknown = Vec::new();
    let mut secrets = Vec::new();
    for (key, value) in given.into_remaining() {
        secrets.extend(store_core::url::secret_of_option(&key, &value));
        match key.parse::<AmazonS3ConfigKey>() {
            Ok(AmazonS3ConfigKey::Bucket) => unknown.push(format!("{key} (the bucket comes from the URL)")),
            Ok(config_key) => builder = builder.with_config(config_key, value),
            Err(_) => unknown.push(key),
        }
    }
    if !unknown.is_empty() {
        return Err(bad(format!(
            "unknown option(s) {}; use object_store's S3 option names (endpoint, allow_http, region, \
             access_key_id, secret_access_key, skip_signature, ...) or this backend's ({})",
            unknown.join(", "),
            OWN_OPTIONS.join(", ")
        )));
    }
    // Options given here win over the environment (AWS_TIMEOUT, ...), which wins over defaults.
    for (name, key, value) in [
        ("timeout", ClientConfigKey::Timeout, options.request_timeout),
        ("connect_timeout", ClientConfigKey::ConnectTimeout, options.connect_timeout),
    ] {
        let key = AmazonS3ConfigKey::Client(key);
        if explicit.contains(&name) || builder.get_config_value(&key).is_none() {
            builder = builder.with_config(key, humantime::format_duration(value).to_string());
        }
    }
    builder = builder
        .with_retry(RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(2),
                base: 2.0,
            },
            max_retries: options.max_retries,
            retry_timeout: options.retry_timeout,
        })
        .with_conditional_put(if options.conditional_put {
            S3ConditionalPut::ETagMatch
        } else {
            S3ConditionalPut::Disabled
        });
    let endpoint = builder.get_config_value(&AmazonS3ConfigKey::Endpoint).unwrap_or_else(|| {
        let region = builder.get_config_value(&AmazonS3ConfigKey::Region).unwrap_or_else(|| "us-east-1".into());
        format!("https://s3.{region}.amazonaws.com")
    });
    // What the environment gave too.
    let value = |key: AmazonS3ConfigKey| builder.get_config_value(&key).filter(|v| !v.is_empty());
    secrets.extend(value(AmazonS3ConfigKey::SecretAccessKey));
    secrets.extend(value(AmazonS3ConfigKey::Token));
    if store_core::url::secret_of_option("endpoint", &endpoint).is_some() {
        // S3 signs each request with the access key; user information in the endpoint would only
        // be sent along (and logged by the HTTP client) as it is.
        return Err(bad(format!(
            "the endpoint {} holds user information (user:password@); give credentials as access_key_id and \
             secret_access_key (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) instead",
            store_core::url::redact(&endpoint)
        )));
    }
    let given = |key: AmazonS3ConfigKey| value(key).is_some();
    let credentials_given = given(AmazonS3ConfigKey::AccessKeyId)
        || given(AmazonS3ConfigKey::SecretAccessKey)
        || (given(AmazonS3ConfigKey::WebIdentityTokenFile) && given(AmazonS3ConfigKey::RoleArn))
        || given(AmazonS3ConfigKey::ContainerCredentialsRelativeUri)
        || given(AmazonS3ConfigKey::ContainerCredentialsFullUri)
        || value(AmazonS3ConfigKey::SkipSignature).is_some_and(|v| v == "true");
    let instance_credentials = !credentials_given;
    let endpoint = store_core::url::redact(&endpoint);
    Ok(Resolved { builder, bucket: bucket.to_string(), prefix, endpoint, options, secrets, instance_credentials })
}

/// An HTTP client with the options the S3 client was configured with (allow_http, timeouts,
/// proxies...), for the requests object_store does not make itself (conditional deletes).
pub(crate) fn http_client(builder: &AmazonS3Builder) -> object_store::Result<object_store::client::HttpClient> {
    use object_store::client::{HttpConnector as _, ReqwestConnector};
    let mut options = object_store::ClientOptions::new();
    for key in [
        ClientConfigKey::AllowHttp,
        ClientConfigKey::Timeout,
        ClientConfigKey::ConnectTimeout,
        ClientConfigKey::ProxyUrl,
        ClientConfigKey::ProxyCaCertificate,
        ClientConfigKey::ProxyExcludes,
        ClientConfigKey::AllowInvalidCertificates,
    ] {
        if let Some(value) = builder.get_config_value(&AmazonS3ConfigKey::Client(key)) {
            options = options.with_config(key, value);
        }
    }
    ReqwestConnector::default().connect(&options)
}

/// `8MiB`, `5MB`, `1048576`, `64KiB` as a number of bytes.
pub(crate) fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        "g" | "gb" | "gib" => 1024 * 1024 * 1024,
        _ => return None,
    };
    number.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_url(url: &str) -> Result<Resolved> {
        let (parsed, query) = StoreUrl::parse(url).unwrap();
        resolve(&parsed, BackendOptions::new(url, query))
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("8MiB"), Some(8 << 20));
        assert_eq!(parse_size("1048576"), Some(1 << 20));
        assert_eq!(parse_size("64 KiB"), Some(64 << 10));
        assert_eq!(parse_size("lots"), None);
    }

    #[test]
    fn bucket_prefix_endpoint_and_options() {
        let r = resolve_url("s3://bucket/a/b?endpoint=http://127.0.0.1:9000&allow_http=true&part_size=8MiB&timeout=2s")
            .unwrap();
        assert_eq!(
            (r.bucket.as_str(), r.prefix.as_str(), r.endpoint.as_str()),
            ("bucket", "a/b/", "http://127.0.0.1:9000")
        );
        assert_eq!(r.options.part_size, 8 << 20);
        assert_eq!(r.options.request_timeout, Duration::from_secs(2));
        let r = resolve_url("s3://bucket").unwrap();
        assert_eq!(r.prefix, "");
    }

    #[test]
    fn mistakes_are_named() {
        for (url, expect) in [
            ("s3://", "needs a bucket"),
            ("s3://b?bogus=1", "bogus"),
            ("s3://b?timeout=soon", "duration"),
            ("s3://b?part_size=1MiB", "at least 5MiB"),
            ("s3://b/../x", "prefix"),
            ("s3://b?bucket=other", "bucket comes from the URL"),
        ] {
            let e = resolve_url(url).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains(expect), "{url}: {e}");
        }
    }
}
