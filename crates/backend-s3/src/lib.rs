//! # backend-s3: the Object Store on S3-compatible storage (`s3://`) — manual to be
//!
//! This crate will implement `store_core::Backend` on the `object_store` crate's S3 client and
//! register the `s3://bucket/optional/prefix` scheme, so the same code that runs a backtest on
//! local disk runs a live deployment on MinIO, SeaweedFS or AWS S3:
//!
//! - configuration the ecosystem's way: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//!   `AWS_REGION`, `AWS_ENDPOINT`/`AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, or the same keys as URL
//!   query options; path-style addressing by default;
//! - revalidation by conditional GET (`If-None-Match` → 304), create-only and compare-and-swap
//!   puts by `If-None-Match` / `If-Match`;
//! - `get_file_path` staging (download, hand out a path, upload on `persist`), multipart uploads
//!   for large values, streamed reads, explicit timeouts and retries;
//! - listings that stay exact despite server quirks (phantom prefixes, `StartAfter` skips).
//!
//! It is not implemented yet: the scheme is not registered, so `open("s3://...")` answers with
//! a `Config` error that lists the schemes that are.
