//! The behaviour suite on local disk: every case, each in a fresh folder.

#![allow(clippy::expect_used)]

use store_core::testkit::Fixture;

/// Fresh folders under one temporary folder, removed when the case ends.
struct Folders {
    base: tempfile::TempDir,
}

impl Fixture for Folders {
    fn fresh_url(&self) -> String {
        let dir = self.base.path().join(store_core::testkit::unique().to_string());
        format!("file://{}", dir.display())
    }
}

fn folders() -> Folders {
    // The backend registers `file://` when it is linked in; this use makes sure it is.
    let _ = backend_local::Durability::Durable;
    Folders { base: tempfile::tempdir().expect("a temporary folder") }
}

store_core::behaviour_suite!(folders());
