//! The manager's behaviour suite on local disk, and on the in-memory backend.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod suite;

mod on_disk {
    use super::*;
    use common::Env;
    manager_suite!(Env::local());
}

mod in_memory {
    use super::*;
    use common::Env;
    manager_suite!(Env::memory());
}
