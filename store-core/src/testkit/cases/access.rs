//! Permissions: every operation under every `Access` combination.

use futures::StreamExt;

use super::{ok, snapshot};
use crate::testkit::Kit;
use crate::{Access, Error, Limits, ObjectStore, Operation};

/// Each operation is refused exactly when its permission is missing, and a refusal changes
/// nothing. Limits still apply without read permission (LEAN skipped them).
pub async fn permissions(kit: Kit) {
    for bits in 0..8u8 {
        let access = Access { read: bits & 1 != 0, write: bits & 2 != 0, delete: bits & 4 != 0 };
        let url = kit.url();
        let owner = kit.open(&url).await;
        ok(owner.save("existing", "value").await, "seed");
        let before = snapshot(&owner).await;
        let s = kit.build(ObjectStore::builder(&url).access(access)).await;

        let expect = |op: &str, allowed: bool, operation: Operation, r: crate::Result<()>| match (allowed, r) {
            (true, Ok(())) => {}
            (false, Err(Error::PermissionDenied { operation: got, .. })) if got == operation => {}
            (_, other) => panic!("{op} with {access:?}: unexpected {other:?}"),
        };
        expect("read", access.read, Operation::Read, s.read("existing").await.map(|_| ()));
        expect("read_bytes", access.read, Operation::Read, s.read_bytes("existing").await.map(|_| ()));
        expect("contains_key", access.read, Operation::Read, s.contains_key("existing").await.map(|_| ()));
        expect("head", access.read, Operation::Read, s.head("existing").await.map(|_| ()));
        expect("keys", access.read, Operation::Read, s.keys().await.map(|_| ()));
        let first = s.entries().next().await;
        expect("entries", access.read, Operation::Read, first.map(|r| r.map(|_| ())).unwrap_or(Ok(())));
        expect("get_file_path", access.read, Operation::Read, s.get_file_path("existing").await.map(|_| ()));
        if !access.write {
            expect("save", false, Operation::Write, s.save("existing", "changed").await);
            expect("save new", false, Operation::Write, s.save("new", "v").await);
            assert_eq!(snapshot(&owner).await, before, "a refused write changed the store ({access:?})");
        }
        if !access.delete {
            expect("delete", false, Operation::Delete, s.delete("existing").await);
            assert_eq!(snapshot(&owner).await, before, "a refused delete changed the store ({access:?})");
        }
        if access.write {
            expect("save", true, Operation::Write, s.save("new", "v").await);
        }
        if access.delete {
            expect("delete", true, Operation::Delete, s.delete("existing").await);
        }
    }

    // Limits hold whatever the permissions: a write-only store still cannot pass them.
    let url = kit.url();
    let s = kit
        .build(
            ObjectStore::builder(&url)
                .access(Access { read: false, write: true, delete: false })
                .limits(Limits { max_objects: Some(1), ..Limits::default() }),
        )
        .await;
    ok(s.save("one", "v").await, "save within the limit");
    match s.save("two", "v").await {
        Err(Error::LimitExceeded { .. }) => {}
        other => panic!("a write-only store passed its limit: {other:?}"),
    }
}
