//! Listings: every object under the store's prefix whose name can be a key, sorted.
//!
//! Listing never relies on "directories": it asks for every object under the store's prefix
//! (no delimiter) and pages with continuation tokens, not `StartAfter`, so SeaweedFS's phantom
//! prefixes after deletes and its `StartAfter` subtree skipping cannot hide or invent keys.
//!
//! Nor does it rely on the server's order: AWS sorts by bytes, SeaweedFS lists folder by folder
//! (`a/b` before `a-c`). A listing collects the metadata of the matching objects (never their
//! values), sorts it by key, then streams it.
//! Objects other clients stored under names that cannot be keys (`a//b`, control characters,
//! `.objstore...`) are left out, as on local disk.

use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path;
use store_core::{Key, KeyBuf, ObjectMeta, Result, Version};

use crate::Inner;

impl Inner {
    /// The objects whose keys start with `prefix` (normalised, `""` for all).
    pub(crate) fn list_objects(self: &std::sync::Arc<Self>, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>> {
        // object_store lists by folder: ask for the folder the prefix lies in, filter by string.
        let full = format!("{}{prefix}", self.prefix);
        let folder = full.rsplit_once('/').map_or("", |(folder, _)| folder);
        let this = self.clone();
        let folder = match folder {
            "" => None,
            // Verbatim, like keys: S3 names are ours, not percent-encoded.
            folder => match Path::parse(folder) {
                Ok(path) => Some(path),
                Err(e) => {
                    let error = store_core::Error::InvalidKey { key: prefix.to_string(), reason: e.to_string() };
                    return futures::stream::once(async move { Err(error) }).boxed();
                }
            },
        };
        let store_prefix_len = self.prefix.len();
        let unsorted = self
            .store
            .list(folder.as_ref())
            .filter_map(move |item| {
                let result = match item {
                    Ok(meta) => {
                        let location = meta.location.as_ref();
                        match location.get(store_prefix_len..) {
                            Some(key) if location.starts_with(&full) && is_key(key) => Some(Ok(ObjectMeta {
                                key: KeyBuf::from_valid(key),
                                size: meta.size,
                                version: Version::new(meta.e_tag.unwrap_or_default()),
                                modified: Some(meta.last_modified.into()),
                            })),
                            _ => None,
                        }
                    }
                    Err(e) => Some(Err(this.context(None, None).map(e))),
                };
                futures::future::ready(result)
            })
            .try_collect::<Vec<ObjectMeta>>();
        futures::stream::once(async move {
            let mut all = unsorted.await?;
            all.sort_unstable_by(|a, b| a.key.cmp(&b.key));
            Ok::<_, store_core::Error>(futures::stream::iter(all.into_iter().map(Ok)))
        })
        .try_flatten()
        .boxed()
    }
}

/// True when `name` is a key exactly as written (valid and normal).
fn is_key(name: &str) -> bool {
    matches!(Key::parse(name), Ok(std::borrow::Cow::Borrowed(_)))
}
