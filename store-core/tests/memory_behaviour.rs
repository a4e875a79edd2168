//! The behaviour suite on the in-memory backend (`memory://NAME`: handles of one name share data).

store_core::behaviour_suite!(|| format!("memory://kit-{}", store_core::testkit::unique()));
