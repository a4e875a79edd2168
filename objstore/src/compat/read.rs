//! Reads: `get_opts` (ranges, `head`, and the conditions `if_match`, `if_none_match`,
//! `if_modified_since`, `if_unmodified_since`) and `get_ranges`.
//!
//! A read goes through the facade, so the cache serves it when it can and revalidates it as
//! configured. An `if_none_match` on its own becomes the store's own conditional read: a cache
//! hit, a `stat` on disk or a `304` on S3 answers `NotModified` without moving the value. The
//! other conditions are checked against the object's metadata, as object_store's own stores do.
//!
//! A ranged get is one ranged read of the store (a `pread` on disk, one `Range` GET on S3, a
//! slice of a cached value), conditional on `if_match` when given; a whole get streams the value
//! in chunks. `get_ranges` reads the version once (`head`), then each range (neighbouring ranges
//! merged as object_store merges them) conditional on that version, so the ranges of one call
//! never mix two values.

use std::ops::Range;

use bytes::Bytes;
use futures::stream::{self, StreamExt};
use object_store::path::Path;
use object_store::{Error as OsError, GetOptions, GetRange, GetResult, GetResultPayload, Result};

use super::adapter::{ObjectStoreAdapter, at, os_meta};
use super::error::generic;
use super::paths;
use crate::{ObjectMeta, Version};

impl ObjectStoreAdapter {
    /// `get_opts`.
    pub(super) async fn read(&self, location: &Path, options: &GetOptions) -> Result<GetResult> {
        let key = paths::key(location)?;
        if options.version.is_some() {
            return Err(OsError::NotSupported {
                source: format!(
                    "cannot read an older version of '{key}': objstore keeps one version per key (use the e_tag \
                     with if_match to read only the version you expect)"
                )
                .into(),
            });
        }
        if options.head {
            let meta = at(self.store.head(key).await, key)?;
            let os = checked(options, &meta, location)?;
            let range = range_of(options, &meta, key)?;
            return Ok(result(os, range, None));
        }
        if let Some(range) = &options.range {
            return self.read_one_range(location, key, options, range).await;
        }
        let object = match revalidation(options) {
            Some(tag) => {
                let opts = crate::GetOptions { if_none_match: Some(Version::new(tag)) };
                match at(self.store.read_object_with(key, &opts).await, key)? {
                    crate::GetResult::Found(object) => object,
                    crate::GetResult::NotModified => {
                        return Err(OsError::NotModified {
                            path: key.to_string(),
                            source: format!("version {tag} of '{key}' is still the current one").into(),
                        });
                    }
                }
            }
            None => {
                // The whole value, as a stream of chunks: a large one never sits in memory whole.
                let stream = at(self.store.read_stream(key, None).await, key)?;
                let meta = checked(options, &stream.meta, location)?;
                let range = stream.range.clone();
                let key = key.to_string();
                let body = stream.body.map(move |chunk| chunk.map_err(|e| super::error::to_object_store(e, &key)));
                return Ok(streamed(meta, range, body.boxed()));
            }
        };
        let meta = checked(options, &object.meta, location)?;
        let range = range_of(options, &object.meta, key)?;
        let bytes = if range.start == 0 && range.end == meta.size {
            object.bytes
        } else {
            object.bytes.slice(range.start as usize..range.end as usize)
        };
        Ok(result(meta, range, Some(bytes)))
    }

    /// A get of one range: one ranged read, conditional on `if_match` when that is given.
    async fn read_one_range(
        &self,
        location: &Path,
        key: &str,
        options: &GetOptions,
        range: &GetRange,
    ) -> Result<GetResult> {
        let wanted = match range {
            GetRange::Bounded(r) => crate::ByteRange::bounded(r.clone()),
            GetRange::Offset(start) => crate::ByteRange::From(*start),
            GetRange::Suffix(n) => crate::ByteRange::Last(*n),
        };
        let if_match = options.if_match.as_deref().filter(|t| *t != "*" && !t.contains(',')).map(Version::new);
        let read = match self.store.read_range_with(key, wanted, if_match.as_ref()).await {
            // A failed if_match is object_store's Precondition, whatever the range.
            Err(crate::Error::Precondition { .. }) if if_match.is_some() => {
                return Err(OsError::Precondition {
                    path: key.to_string(),
                    source: format!("'{key}' no longer holds version {}", options.if_match.as_deref().unwrap_or(""))
                        .into(),
                });
            }
            other => at(other, key)?,
        };
        let meta = checked(options, &read.meta, location)?;
        Ok(result(meta, read.range, Some(read.bytes)))
    }

    /// `get_ranges`: the version once, then each (merged) range conditional on it.
    pub(super) async fn read_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let key = paths::key(location)?;
        let meta = at(self.store.head(key).await, key)?;
        for r in ranges {
            resolve(&GetRange::Bounded(r.clone()), meta.size, key)?;
        }
        let version = meta.version;
        object_store::coalesce_ranges(
            ranges,
            |range| {
                let version = version.clone();
                async move {
                    at(self.store.read_range_with(key, crate::ByteRange::bounded(range), Some(&version)).await, key)
                        .map(|read| read.bytes)
                }
            },
            object_store::OBJECT_STORE_COALESCE_DEFAULT,
        )
        .await
    }
}

/// The version an `if_none_match` asks about, when it is the only condition that decides (then
/// the store's own conditional read answers it).
fn revalidation(options: &GetOptions) -> Option<&str> {
    let tag = options.if_none_match.as_deref()?;
    let alone = options.if_match.is_none() && options.if_unmodified_since.is_none();
    (alone && tag != "*" && !tag.contains(',')).then_some(tag.trim())
}

/// The metadata of `meta` at `location`, once the options' conditions hold for it.
fn checked(options: &GetOptions, meta: &ObjectMeta, location: &Path) -> Result<object_store::ObjectMeta> {
    let dated = options.if_modified_since.is_some() || options.if_unmodified_since.is_some();
    if dated && meta.modified.is_none() {
        return Err(OsError::NotSupported {
            source: format!(
                "the store does not know when '{location}' was last modified; use if_match or if_none_match"
            )
            .into(),
        });
    }
    let meta = os_meta(meta, location.clone());
    let conditional = dated || options.if_match.is_some() || options.if_none_match.is_some();
    if conditional {
        options.check_preconditions(&meta)?;
    }
    Ok(meta)
}

/// The byte range a read asks for (the whole value without `range`).
fn range_of(options: &GetOptions, meta: &ObjectMeta, key: &str) -> Result<Range<u64>> {
    match &options.range {
        Some(range) => resolve(range, meta.size, key),
        None => Ok(0..meta.size),
    }
}

fn resolve(range: &GetRange, size: u64, key: &str) -> Result<Range<u64>> {
    range.as_range(size).map_err(|e| generic(format!("cannot read {range:?} of '{key}' ({size} bytes): {e}")))
}

/// A get's answer whose value arrives as `body`.
fn streamed(
    meta: object_store::ObjectMeta,
    range: Range<u64>,
    body: futures::stream::BoxStream<'static, Result<Bytes>>,
) -> GetResult {
    GetResult {
        payload: GetResultPayload::Stream(body),
        meta,
        range,
        attributes: Default::default(),
        extensions: Default::default(),
    }
}

/// A get's answer: `bytes` as a one-chunk stream (nothing for a `head`).
fn result(meta: object_store::ObjectMeta, range: Range<u64>, bytes: Option<Bytes>) -> GetResult {
    let payload = match bytes {
        Some(bytes) => stream::once(async move { Ok(bytes) }).boxed(),
        None => stream::empty().boxed(),
    };
    GetResult {
        payload: GetResultPayload::Stream(payload),
        meta,
        range,
        attributes: Default::default(),
        extensions: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_lone_single_if_none_match_is_a_revalidation() {
        let o = GetOptions::new().with_if_none_match(Some("v1"));
        assert_eq!(revalidation(&o), Some("v1"));
        assert_eq!(revalidation(&GetOptions::new().with_if_none_match(Some("*"))), None);
        assert_eq!(revalidation(&GetOptions::new().with_if_none_match(Some("a, b"))), None);
        assert_eq!(revalidation(&o.clone().with_if_match(Some("v1"))), None);
        assert_eq!(revalidation(&GetOptions::new()), None);
    }

    #[test]
    fn ranges_follow_object_store() {
        assert_eq!(resolve(&GetRange::Bounded(2..100), 14, "k").unwrap(), 2..14);
        assert_eq!(resolve(&GetRange::Suffix(100), 14, "k").unwrap(), 0..14);
        assert_eq!(resolve(&GetRange::Offset(3), 14, "k").unwrap(), 3..14);
        let e = resolve(&GetRange::Offset(100), 14, "k").unwrap_err();
        assert!(e.to_string().contains("'k' (14 bytes)"), "{e}");
    }
}
