//! Listings: `list`, `list_with_offset`, `list_with_delimiter`, and object_store's
//! `PaginatedListStore` (`list_paginated`, with page tokens).
//!
//! All of them read the store's sorted listing of a prefix through the facade (so the access
//! layer can refuse it). The store lists recursively; one level (`list_with_delimiter`, or a
//! delimiter in `list_paginated`) is folded from it, and an offset or a page token skips keys
//! up to it. Results come sorted by key, which object_store allows but does not require.

use async_trait::async_trait;
use futures::future::ready;
use futures::stream::{BoxStream, StreamExt};
use object_store::list::{PaginatedListOptions, PaginatedListResult, PaginatedListStore};
use object_store::path::Path;
use object_store::{Error as OsError, ListResult, ObjectMeta as OsMeta, Result};

use super::adapter::{ObjectStoreAdapter, at, nothing, os_meta};
use super::error::{generic, to_object_store};
use super::paths;

/// Keys on one page of `list_paginated` when the caller names no `max_keys` (S3's figure).
const DEFAULT_PAGE: usize = 1000;

impl ObjectStoreAdapter {
    /// `list` (no offset) and `list_with_offset`.
    pub(super) fn list_from(&self, prefix: Option<&Path>, offset: Option<&Path>) -> BoxStream<'static, Result<OsMeta>> {
        let Some(listing) = paths::prefix(prefix) else { return nothing() };
        let offset = offset.map(|o| o.as_ref().to_string());
        // One combinator: each item costs a poll of the store's listing and a conversion.
        self.store
            .list(&listing)
            .filter_map(move |meta| {
                ready(match meta {
                    Err(e) => Some(Err(to_object_store(e, &listing))),
                    Ok(m) if offset.as_deref().is_some_and(|o| m.key.as_str() <= o) => None,
                    Ok(m) => Some(paths::path(m.key.as_str()).map(|location| os_meta(&m, location))),
                })
            })
            .boxed()
    }

    /// `list_with_delimiter`: the objects directly under `prefix` and the folders below it.
    pub(super) async fn list_one_level(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let mut result =
            ListResult { common_prefixes: Vec::new(), objects: Vec::new(), extensions: Default::default() };
        let Some(listing) = paths::prefix(prefix) else { return Ok(result) };
        let mut last_folder = String::new();
        let mut stream = self.store.list(&listing);
        while let Some(meta) = stream.next().await {
            let meta = at(meta, &listing)?;
            let key = meta.key.as_str();
            let rest = key.strip_prefix(listing.as_str()).unwrap_or(key);
            match rest.find('/') {
                Some(end) => {
                    let folder = &key[..key.len() - rest.len() + end];
                    if folder != last_folder {
                        result.common_prefixes.push(paths::path(folder)?);
                        last_folder = folder.to_string();
                    }
                }
                None => result.objects.push(os_meta(&meta, paths::path(key)?)),
            }
        }
        Ok(result)
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl PaginatedListStore for ObjectStoreAdapter {
    /// A page of the keys starting with `prefix` (a plain string prefix here, as on S3), after
    /// `offset` or the page token, folded at `delimiter` when one is given.
    async fn list_paginated(&self, prefix: Option<&str>, opts: PaginatedListOptions) -> Result<PaginatedListResult> {
        let PaginatedListOptions { offset, delimiter, max_keys, page_token, extensions: _ } = opts;
        let mut result =
            ListResult { common_prefixes: Vec::new(), objects: Vec::new(), extensions: Default::default() };
        let prefix = prefix.unwrap_or("");
        if prefix.contains('\\') {
            return Ok(PaginatedListResult { result, page_token: None });
        }
        let prefix = store_core::key::normalise_prefix(prefix).map_err(|e| to_object_store(e, prefix))?;
        let resume = match page_token {
            Some(token) => Some(Resume::parse(&token)?),
            None => offset.map(Resume::After),
        };
        let delimiter = delimiter.filter(|d| !d.is_empty());
        let max = max_keys.unwrap_or(DEFAULT_PAGE).max(1);
        let mut taken = 0;
        let mut last: Option<Resume> = None;
        let mut stream = self.store.list(&prefix);
        while let Some(meta) = stream.next().await {
            let meta = at(meta, &prefix)?;
            let key = meta.key.as_str();
            if resume.as_ref().is_some_and(|r| r.skips(key)) || last.as_ref().is_some_and(|l| l.skips(key)) {
                continue;
            }
            if taken == max {
                let page_token = last.map(|l| l.token());
                return Ok(PaginatedListResult { result, page_token });
            }
            taken += 1;
            let rest = key.strip_prefix(prefix.as_str()).unwrap_or(key);
            match delimiter.as_deref().and_then(|d| rest.find(d).map(|end| (d, end))) {
                Some((d, end)) => {
                    let folder = &key[..key.len() - rest.len() + end];
                    result.common_prefixes.push(paths::path(folder)?);
                    last = Some(Resume::Under(format!("{folder}{d}")));
                }
                None => {
                    result.objects.push(os_meta(&meta, paths::path(key)?));
                    last = Some(Resume::After(key.to_string()));
                }
            }
        }
        Ok(PaginatedListResult { result, page_token: None })
    }
}

/// Where a page starts: after a key, or past every key under a folder the last page ended with.
#[derive(Debug, PartialEq)]
enum Resume {
    After(String),
    Under(String),
}

impl Resume {
    fn skips(&self, key: &str) -> bool {
        match self {
            Resume::After(after) => key <= after.as_str(),
            Resume::Under(folder) => key <= folder.as_str() || key.starts_with(folder.as_str()),
        }
    }

    fn token(&self) -> String {
        match self {
            Resume::After(key) => format!("after:{key}"),
            Resume::Under(folder) => format!("under:{folder}"),
        }
    }

    fn parse(token: &str) -> Result<Resume, OsError> {
        let bad =
            || generic(format!("'{token}' is not a page token of this store; pass the one the last page returned"));
        match token.split_once(':').ok_or_else(bad)? {
            ("after", key) => Ok(Resume::After(key.to_string())),
            ("under", folder) => Ok(Resume::Under(folder.to_string())),
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_skip() {
        for r in [Resume::After("a/b".into()), Resume::Under("a/".into())] {
            assert_eq!(Resume::parse(&r.token()).unwrap(), r);
        }
        assert!(Resume::parse("nonsense").is_err());
        let under = Resume::Under("foo/".into());
        assert!(under.skips("foo/baz/bar") && under.skips("foa") && !under.skips("fop"));
        let after = Resume::After("foo".into());
        assert!(after.skips("foo") && !after.skips("foo/x"));
    }
}
