//! The manager's behaviour suite on S3: SeaweedFS and moto, started by `cargo xtask test`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod suite;

mod seaweedfs {
    use super::*;
    use common::Env;
    manager_suite!(Env::s3("OBJSTORE_TEST_S3_SEAWEEDFS", "SeaweedFS"));
}

mod moto {
    use super::*;
    use common::Env;
    manager_suite!(Env::s3("OBJSTORE_TEST_S3_MOTO", "moto"));
}
