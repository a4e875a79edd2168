//! The store's errors as `object_store` errors: each variant that means the same thing maps to
//! its namesake, everything else to `Generic` with the store's own error (and its advice) as the
//! source.
//!
//! | objstore [`Error`] | `object_store::Error` |
//! | --- | --- |
//! | `NotFound` | `NotFound` |
//! | `AlreadyExists` | `AlreadyExists` |
//! | `Precondition` | `Precondition` |
//! | `PermissionDenied` | `PermissionDenied` |
//! | `NotSupported` | `NotSupported` |
//! | `Io` of kind `NotFound` / `PermissionDenied` | `NotFound` / `PermissionDenied` |
//! | `Backend` caused by object_store's `Unauthenticated` / `PermissionDenied` | the same |
//! | `InvalidKey`, `LimitExceeded`, `Conflict`, `Backend`, `Io`, `Config`, ... | `Generic` |
//!
//! The source of every mapped error is the store's error itself, so a caller can still
//! `downcast_ref::<objstore::Error>()` it (to tell a full store from a network failure, say).

use std::error::Error as _;

use object_store::Error as OsError;

use crate::Error;

/// The `store` name `Generic` errors carry.
pub(crate) const STORE: &str = "objstore";

/// `e`, which happened at `path`, as an object_store error.
pub(crate) fn to_object_store(e: Error, path: &str) -> OsError {
    let path = path.to_string();
    match e {
        Error::NotFound { .. } => OsError::NotFound { path, source: Box::new(e) },
        Error::AlreadyExists { .. } => OsError::AlreadyExists { path, source: Box::new(e) },
        Error::Precondition { .. } => OsError::Precondition { path, source: Box::new(e) },
        Error::PermissionDenied { .. } => OsError::PermissionDenied { path, source: Box::new(e) },
        Error::NotSupported { .. } => OsError::NotSupported { source: Box::new(e) },
        Error::Io { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            OsError::NotFound { path, source: Box::new(e) }
        }
        Error::Io { ref source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
            OsError::PermissionDenied { path, source: Box::new(e) }
        }
        Error::Backend { .. } => match e.source().and_then(|s| s.downcast_ref::<OsError>()) {
            Some(OsError::Unauthenticated { .. }) => OsError::Unauthenticated { path, source: Box::new(e) },
            Some(OsError::PermissionDenied { .. }) => OsError::PermissionDenied { path, source: Box::new(e) },
            _ => generic(e),
        },
        e => generic(e),
    }
}

/// A `Generic` error carrying `source`.
pub(crate) fn generic(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> OsError {
    OsError::Generic { store: STORE, source: source.into() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LimitKind, Operation};

    fn mapped(e: Error) -> OsError {
        to_object_store(e, "a/b")
    }

    #[test]
    fn variants_map_to_their_namesakes() {
        assert!(matches!(mapped(Error::not_found("a/b")), OsError::NotFound { path, .. } if path == "a/b"));
        assert!(matches!(mapped(Error::AlreadyExists { key: "k".into() }), OsError::AlreadyExists { .. }));
        let e = mapped(Error::Precondition { key: "k".into(), expected: "1".into() });
        assert!(matches!(e, OsError::Precondition { .. }));
        let e = mapped(Error::PermissionDenied { operation: Operation::Write, reason: None });
        assert!(matches!(e, OsError::PermissionDenied { .. }));
        let e = mapped(Error::NotSupported { backend: "x".into(), operation: "y".into() });
        assert!(matches!(e, OsError::NotSupported { .. }));
        let e = mapped(Error::io("reading", std::io::ErrorKind::NotFound.into()));
        assert!(matches!(e, OsError::NotFound { .. }));
        let e = mapped(Error::io("reading", std::io::ErrorKind::PermissionDenied.into()));
        assert!(matches!(e, OsError::PermissionDenied { .. }));
    }

    #[test]
    fn the_rest_is_generic_and_keeps_the_stores_error() {
        let e =
            mapped(Error::LimitExceeded { key: "k".into(), kind: LimitKind::Objects, used: 1, limit: 1, requested: 1 });
        assert!(matches!(e, OsError::Generic { store: STORE, .. }), "{e}");
        assert!(e.to_string().contains("Limits::max_objects"), "{e}");
        let source = e.source().and_then(|s| s.downcast_ref::<Error>());
        assert!(matches!(source, Some(Error::LimitExceeded { .. })));
        let e = mapped(Error::InvalidKey { key: ".objstore".into(), reason: "reserved".into() });
        assert!(matches!(e, OsError::Generic { .. }) && e.to_string().contains("reserved"), "{e}");
    }

    #[test]
    fn s3_refusals_keep_their_kind() {
        let refused = OsError::Unauthenticated { path: "k".into(), source: "bad key".into() };
        let e = Error::Backend {
            backend: "s3://b".into(),
            message: "refused".into(),
            transient: false,
            source: Some(Box::new(refused)),
        };
        assert!(matches!(mapped(e), OsError::Unauthenticated { .. }));
        let e = Error::Backend { backend: "s3://b".into(), message: "down".into(), transient: true, source: None };
        assert!(matches!(mapped(e), OsError::Generic { .. }));
    }
}
