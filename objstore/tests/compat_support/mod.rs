//! What the compat suites share: `integration_suite!`, one test per function of object_store's
//! own integration suite (`object_store::integration`), each on a fresh store.
//!
//! The functions object_store offers and what becomes of each here (the README's "Interop:
//! object_store" table says the same per backend):
//!
//! | function | here |
//! | --- | --- |
//! | put_get_delete_list, get_opts, list_uses_directories_correctly, list_with_delimiter, list_with_offset_exclusivity, rename_and_copy, copy_if_not_exists, copy_rename_nonexistent_object, stream_get, get_nonexistent_object | run |
//! | put_opts | run with `supports_update = true` (compare-and-swap) |
//! | put_get_attributes | run: the adapter answers `NotImplemented` for attributes, which the function accepts |
//! | multipart, multipart_put_part_out_of_order, multipart_out_of_order | run (`MultipartStore` is the adapter) |
//! | multipart_race_condition | run with `last_writer_wins = true` |
//! | list_paginated | run (`PaginatedListStore` is the adapter) |
//! | multipart_with_opts | not applicable: it stores attributes, which objstore keeps none of; `multipart_with_opts_is_refused` checks the refusal |
//! | response_extensions | not applicable: it needs a store built on object_store's HTTP client with its `MarkerHttpConnector`; the adapter makes no HTTP requests of its own |

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::any::Any;

use objstore::compat::ObjectStoreAdapter;

/// A fresh adapter and whatever must live as long as it (a temporary folder).
pub struct Fresh {
    pub adapter: ObjectStoreAdapter,
    pub guard: Box<dyn Any + Send>,
}

impl Fresh {
    pub fn new(store: objstore::ObjectStore, guard: impl Any + Send) -> Fresh {
        Fresh { adapter: ObjectStoreAdapter::new(store), guard: Box::new(guard) }
    }
}

/// One `#[tokio::test]` per function of `object_store::integration`, each on the store that
/// `$fresh().await` (a `Fresh`) gives.
#[macro_export]
macro_rules! integration_suite {
    ($fresh:path) => {
        mod integration {
            use object_store::integration as suite;

            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn put_get_delete_list() {
                let store = $fresh().await;
                suite::put_get_delete_list(&store.adapter).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn put_get_attributes() {
                let store = $fresh().await;
                suite::put_get_attributes(&store.adapter).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn get_opts() {
                let store = $fresh().await;
                suite::get_opts(&store.adapter).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn put_opts_with_compare_and_swap() {
                let store = $fresh().await;
                suite::put_opts(&store.adapter, true).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn stream_get() {
                let store = $fresh().await;
                suite::stream_get(&store.adapter).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn list_uses_directories_correctly() {
                let store = $fresh().await;
                suite::list_uses_directories_correctly(&store.adapter).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn list_with_delimiter() {
                let store = $fresh().await;
                suite::list_with_delimiter(&store.adapter).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn list_with_offset_exclusivity() {
                let store = $fresh().await;
                suite::list_with_offset_exclusivity(&store.adapter).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn list_paginated() {
                let store = $fresh().await;
                suite::list_paginated(&store.adapter, &store.adapter).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn get_nonexistent_object() {
                let store = $fresh().await;
                let err = suite::get_nonexistent_object(&store.adapter, None).await.unwrap_err();
                assert!(matches!(err, object_store::Error::NotFound { .. }), "{err}");
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn rename_and_copy() {
                let store = $fresh().await;
                suite::rename_and_copy(&store.adapter).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn copy_if_not_exists() {
                let store = $fresh().await;
                suite::copy_if_not_exists(&store.adapter).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn copy_rename_nonexistent_object() {
                let store = $fresh().await;
                suite::copy_rename_nonexistent_object(&store.adapter).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn multipart() {
                let store = $fresh().await;
                suite::multipart(&store.adapter, &store.adapter).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn multipart_put_part_out_of_order() {
                let store = $fresh().await;
                suite::multipart_put_part_out_of_order(&store.adapter, &store.adapter).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn multipart_race_condition_last_writer_wins() {
                let store = $fresh().await;
                suite::multipart_race_condition(&store.adapter, true).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn multipart_out_of_order() {
                let store = $fresh().await;
                suite::multipart_out_of_order(&store.adapter).await;
            }

            /// `multipart_with_opts` stores attributes; the adapter refuses them instead of
            /// dropping them.
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn multipart_with_opts_is_refused() {
                use object_store::multipart::MultipartStore as _;
                use object_store::{Attribute, Attributes, PutMultipartOptions};
                let store = $fresh().await;
                let attributes = Attributes::from_iter([(Attribute::Metadata("test_key".into()), "test_value")]);
                let opts = PutMultipartOptions { attributes, ..Default::default() };
                let path = object_store::path::Path::from("test_multipart_with_opts");
                let err = store.adapter.create_multipart_opts(&path, opts).await.unwrap_err();
                assert!(matches!(err, object_store::Error::NotImplemented { .. }), "{err}");
            }
        }
    };
}
