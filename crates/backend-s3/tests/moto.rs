//! The behaviour suite against moto (`moto_server`), every case.

mod common;

store_core::behaviour_suite!(common::prefixes("OBJSTORE_TEST_S3_MOTO", "moto"));
