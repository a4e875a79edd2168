//! The behaviour suite against moto (`moto_server`), every case.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

store_core::behaviour_suite!(common::prefixes("OBJSTORE_TEST_S3_MOTO", "moto"));
