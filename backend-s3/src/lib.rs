//! # backend-s3: the Object Store on S3-compatible storage (`s3://`)
//!
//! The same store that runs a backtest on local disk runs a live deployment on AWS S3, MinIO or
//! SeaweedFS. This crate implements `store_core::raw::Backend` on the `object_store` crate's S3 client
//! and registers the `s3://bucket/optional/prefix` scheme.
//!
//! ```no_run
//! # async fn example() -> store_core::Result<()> {
//! // Linking the crate registers s3:// (the objstore crate does it with its `s3` feature).
//! use backend_s3 as _;
//! // Credentials and region come from AWS_* variables, or from the URL's query:
//! let store = store_core::open(
//!     "s3://research-bucket/team-a?endpoint=http://127.0.0.1:9000&allow_http=true&region=us-east-1",
//! )
//! .await?;
//! store.save("params/v3.json", r#"{"lookback": 20}"#).await?;
//! # Ok(()) }
//! ```
//!
//! ## Configuration
//!
//! The URL names the bucket and an optional prefix under which every key lives. The client is
//! configured the ecosystem's way: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
//! `AWS_ENDPOINT` / `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP` and the other variables object_store reads,
//! overridden by the same keys as URL query options (`endpoint`, `allow_http`, `region`,
//! `access_key_id`, `secret_access_key`, `skip_signature`, ...). Requests are path-style (what
//! MinIO and SeaweedFS want); `virtual_hosted_style_request=true` for the other style. This
//! crate's own options are in [`S3Options`]: multipart threshold, part size and concurrency,
//! timeouts (connect 5 s, request 30 s, retries up to 10 s, 60 s for a whole operation) and retries
//! (3). An operation against a dead endpoint fails within those bounds with an error naming the
//! endpoint; it never hangs.
//!
//! ## How the store's promises map to S3
//!
//! - A key is the object's name under the prefix, verbatim: objects this backend writes are plain
//!   objects other S3 clients read, and objects they write are keys here (names that cannot be
//!   keys, like `a//b`, are left out of listings).
//! - A version is the object's ETag. S3 derives ETags from content, so saving the same bytes again
//!   keeps the version: compare-and-swap compares contents.
//! - The cache revalidates with a conditional GET (`If-None-Match`): an unchanged value costs one
//!   request and no body. Create-only and compare-and-swap saves use `If-None-Match: *` and
//!   `If-Match` (turn off with `conditional_put=false` for servers without them).
//! - Saves of at least `multipart_threshold` bytes (8 MiB) go up as multipart uploads with parts
//!   in parallel, each part with a CRC64-NVME checksum instead of a SHA-256 payload signature
//!   (less than half the client CPU; `sign_large_payloads=true` signs them too). A streamed save
//!   cuts parts as the bytes arrive, `upload_concurrency` in flight, so its memory is bounded
//!   by `part_size × upload_concurrency`. A multipart upload that fails or is cancelled (a
//!   dropped future, an operation timeout) is aborted: no orphaned parts. Reads collect the body
//!   into one buffer sized from the response; ranged reads are one `Range` GET (conditional with
//!   `If-Match` when asked), and a streamed read is one GET whose body arrives in chunks (all of
//!   one version, never a mix; a body cut short ends the stream with an error).
//! - `delete` of an absent key is `NotFound` (a HEAD first: S3 deletes are idempotent). A
//!   delete of one version sends `If-Match` (see `delete.rs`): exact on AWS S3, SeaweedFS and
//!   moto, which honour it; a server that ignores it (probed once per store) gets a version check
//!   just before the delete instead.
//! - Listings page with continuation tokens and ask for objects, not folders, so server quirks
//!   around prefixes cannot change what `keys()` and `usage()` see.
//! - Usage is counted by listing; there is no shared usage ledger, so limits see other processes'
//!   saves at the next recount (near a limit, or when `usage()` is called).
//! - `get_file_path` stages files locally (see `ObjectStore::get_file_path`); `persist()` uploads
//!   what changed.

mod config;
mod delete;
mod error;
mod list;
mod read;
mod upload;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::ObjectStoreExt as _;
use object_store::aws::Checksum;
use object_store::path::Path;
use store_core::raw::ledger::UsageLedger;
use store_core::raw::registry::{BACKENDS, BackendFactory, BackendOptions, StoreUrl};
use store_core::raw::{Backend, ByteStream, StoreLock};
use store_core::{
    ByteRange, Capabilities, Error, GetOptions, GetResult, Key, KeyBuf, ObjectMeta, ObjectStream, PutMode, RangeRead,
    Result, Usage, Version,
};

pub use config::S3Options;

use crate::error::Context;

#[allow(unsafe_code)]
#[linkme::distributed_slice(BACKENDS)]
static S3: BackendFactory =
    BackendFactory { scheme: "s3", summary: "S3-compatible storage (s3://bucket/prefix)", open: open_from_url };

fn open_from_url(url: StoreUrl, options: BackendOptions) -> BoxFuture<'static, Result<Arc<dyn Backend>>> {
    Box::pin(async move { Ok(Arc::new(S3Backend::open(&url, options)?) as Arc<dyn Backend>) })
}

/// The S3 backend. Open it with `store_core::open("s3://bucket/prefix?...")`, or wrap any
/// `object_store::ObjectStore` with [`S3Backend::from_object_store`].
#[derive(Debug, Clone)]
pub struct S3Backend {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// `s3://bucket/prefix`: never the credentials.
    name: String,
    /// Where requests go, redacted: for messages.
    endpoint: String,
    /// The credentials this store was given, scrubbed from any message of the S3 client.
    secrets: Vec<String>,
    /// No credentials were given: the client asks the instance metadata service.
    instance_credentials: bool,
    pub(crate) store: Arc<dyn object_store::ObjectStore>,
    /// The client for multipart parts (see [`S3Options::sign_large_payloads`]).
    bulk: Arc<dyn object_store::ObjectStore>,
    /// `""` or `"prefix/"`.
    pub(crate) prefix: String,
    pub(crate) options: S3Options,
    /// Signs the URLs of conditional deletes (see `delete.rs`); `None` for a wrapped store.
    signer: Option<Arc<object_store::aws::AmazonS3>>,
    /// Sends them, with the store's client options.
    http: Option<object_store::client::HttpClient>,
    /// Whether the server honours `If-Match` on `DELETE` (`delete::UNKNOWN` until probed).
    delete_support: std::sync::atomic::AtomicU8,
}

/// Names, endpoint, prefix and options; never the client (whose configuration holds the
/// endpoint as given) nor the credentials.
impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Backend")
            .field("name", &self.name)
            .field("endpoint", &self.endpoint)
            .field("prefix", &self.prefix)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl S3Backend {
    /// Opens the bucket a URL names, configured by the environment and `options`.
    pub fn open(url: &StoreUrl, options: BackendOptions) -> Result<S3Backend> {
        let resolved = config::resolve(url, options)?;
        let build = |builder: object_store::aws::AmazonS3Builder| {
            builder.build().map_err(|e| Error::Config {
                url: url.original.clone(),
                message: store_core::url::scrub(&format!("cannot configure the S3 client: {e}"), &resolved.secrets),
            })
        };
        let bulk_builder = if resolved.options.sign_large_payloads {
            resolved.builder.clone()
        } else {
            resolved.builder.clone().with_unsigned_payload(true).with_checksum_algorithm(Checksum::CRC64NVME)
        };
        let http = config::http_client(&resolved.builder).map_err(|e| Error::Config {
            url: url.original.clone(),
            message: format!("cannot make an HTTP client: {e}"),
        })?;
        let signing = Arc::new(build(resolved.builder)?);
        let store: Arc<dyn object_store::ObjectStore> = signing.clone();
        let bulk: Arc<dyn object_store::ObjectStore> = Arc::new(build(bulk_builder)?);
        let name = format!("s3://{}/{}", resolved.bucket, resolved.prefix.trim_end_matches('/'));
        let name = name.trim_end_matches('/').to_string();
        Ok(S3Backend {
            inner: Arc::new(Inner {
                name,
                endpoint: resolved.endpoint,
                secrets: resolved.secrets,
                instance_credentials: resolved.instance_credentials,
                store,
                bulk,
                prefix: resolved.prefix,
                options: resolved.options,
                signer: Some(signing),
                http: Some(http),
                delete_support: std::sync::atomic::AtomicU8::new(delete::UNKNOWN),
            }),
        })
    }

    /// Wraps an `object_store` store (an `AmazonS3`, or a decorator around one), used for every
    /// request. Keys live under `prefix` (`""` or ending with `/`); `name` and `endpoint` appear
    /// in messages (redacted: see `store_core::url::redact`).
    pub fn from_object_store(
        name: impl Into<String>,
        endpoint: impl Into<String>,
        store: Arc<dyn object_store::ObjectStore>,
        prefix: impl Into<String>,
        options: S3Options,
    ) -> S3Backend {
        let inner = Inner {
            name: store_core::url::redact(&name.into()),
            endpoint: store_core::url::redact(&endpoint.into()),
            secrets: Vec::new(),
            instance_credentials: false,
            bulk: store.clone(),
            store,
            prefix: prefix.into(),
            options,
            signer: None,
            http: None,
            delete_support: std::sync::atomic::AtomicU8::new(delete::IGNORED),
        };
        S3Backend { inner: Arc::new(inner) }
    }

    /// The options in force.
    pub fn options(&self) -> &S3Options {
        &self.inner.options
    }
}

impl Inner {
    pub(crate) fn context<'a>(&'a self, key: Option<&'a Key>, expected: Option<&'a str>) -> Context<'a> {
        Context {
            store: &self.name,
            endpoint: &self.endpoint,
            key: key.map(Key::as_str),
            expected,
            secrets: &self.secrets,
            instance_credentials: self.instance_credentials,
        }
    }

    /// The object's name in the bucket: the prefix, then the key, verbatim.
    fn path(&self, key: &Key) -> Result<Path> {
        Path::parse(format!("{}{}", self.prefix, key.as_str()))
            .map_err(|e| Error::InvalidKey { key: key.to_string(), reason: format!("not a valid S3 name: {e}") })
    }

    /// Runs `request` within the operation timeout.
    async fn within<T>(
        &self,
        what: &str,
        key: Option<&Key>,
        request: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let limit: Duration = self.options.operation_timeout;
        match tokio::time::timeout(limit, request).await {
            Ok(result) => result,
            Err(_) => Err(self.context(key, None).timed_out(
                limit,
                &match key {
                    Some(key) => format!("{what} of '{key}'"),
                    None => what.to_string(),
                },
            )),
        }
    }

    pub(crate) async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        let path = self.path(key)?;
        let meta = self.store.head(&path).await.map_err(|e| self.context(Some(key), None).map(e))?;
        Ok(ObjectMeta {
            key: KeyBuf::from(key),
            size: meta.size,
            version: Version::new(meta.e_tag.unwrap_or_default()),
            modified: Some(meta.last_modified.into()),
        })
    }
}

#[async_trait]
impl Backend for S3Backend {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            local_paths: false,
            conditional_put: self.inner.options.conditional_put,
            object_and_prefix: true,
            persistent: true,
            cross_process_lock: false,
            shared_usage: false,
            conditional_delete: self.inner.delete_support.load(std::sync::atomic::Ordering::Relaxed)
                == delete::HONOURED,
        }
    }

    async fn put(&self, key: &Key, value: Bytes, mode: &PutMode) -> Result<ObjectMeta> {
        self.inner.within("save", Some(key), self.inner.put(key, value, mode)).await
    }

    async fn put_stream(&self, key: &Key, body: ByteStream, size: Option<u64>, mode: &PutMode) -> Result<ObjectMeta> {
        // No overall deadline: a large value takes many parts, each with its own timeout and
        // retries; a dropped future aborts the upload.
        self.inner.put_stream(key, body, size, mode).await
    }

    async fn get(&self, key: &Key, opts: &GetOptions) -> Result<GetResult> {
        self.inner.within("read", Some(key), self.inner.get(key, opts)).await
    }

    async fn get_range(&self, key: &Key, range: &ByteRange, if_match: Option<&Version>) -> Result<RangeRead> {
        self.inner.within("read", Some(key), self.inner.get_range(key, range, if_match)).await
    }

    async fn get_stream(
        &self,
        key: &Key,
        range: Option<&ByteRange>,
        if_match: Option<&Version>,
    ) -> Result<ObjectStream> {
        // The deadline covers the request until its answer starts; the body then streams.
        self.inner.within("read", Some(key), self.inner.get_stream(key, range, if_match)).await
    }

    fn get_ready(&self, _key: &Key) -> Option<Bytes> {
        // Every read is a request.
        None
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        self.inner.within("stat", Some(key), self.inner.head(key)).await
    }

    async fn delete(&self, key: &Key, if_match: Option<&Version>) -> Result<()> {
        self.inner.within("delete", Some(key), self.inner.delete(key, if_match)).await
    }

    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_objects(prefix)
    }

    fn list_keys(&self, prefix: &str) -> BoxStream<'static, Result<KeyBuf>> {
        self.inner.list_objects(prefix).map_ok(|meta| meta.key).boxed()
    }

    async fn usage(&self) -> Result<Usage> {
        // No overall deadline: a large bucket takes many pages, and each page request has its
        // own timeout and retry budget, so a dead endpoint still fails in bounded time.
        self.inner
            .list_objects("")
            .try_fold(
                Usage::default(),
                |u, m| async move { Ok(Usage { bytes: u.bytes + m.size, objects: u.objects + 1 }) },
            )
            .await
    }

    async fn local_path(&self, _key: &Key, _create_parents: bool) -> Result<Option<PathBuf>> {
        Ok(None)
    }

    fn usage_ledger(&self) -> Option<Arc<dyn UsageLedger>> {
        None
    }

    async fn lock_store(&self) -> Result<Option<StoreLock>> {
        Ok(None)
    }
}
