//! The behaviour suite against SeaweedFS (`weed mini`, credentials required), every case.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

store_core::behaviour_suite!(common::prefixes("OBJSTORE_TEST_S3_SEAWEEDFS", "SeaweedFS"));
