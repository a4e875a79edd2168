//! The behaviour suite against SeaweedFS (`weed mini`, credentials required), every case.

mod common;

store_core::behaviour_suite!(common::prefixes("OBJSTORE_TEST_S3_SEAWEEDFS", "SeaweedFS"));
