//! Exit codes and hints, one per kind of error (documented in `--help`).

use objstore::Error;

pub const ABSENT: u8 = 1;
pub const NOT_FOUND: u8 = 3;
pub const INVALID: u8 = 4;
pub const LIMIT: u8 = 5;
pub const PERMISSION: u8 = 6;
pub const CONFLICT: u8 = 7;
pub const IO: u8 = 8;
pub const CONFIG: u8 = 9;

/// The exit code for an error.
pub fn code(e: &Error) -> u8 {
    match e {
        Error::NotFound { .. } => NOT_FOUND,
        Error::InvalidKey { .. } | Error::Serialization { .. } => INVALID,
        Error::LimitExceeded { .. } => LIMIT,
        Error::PermissionDenied { .. } => PERMISSION,
        Error::AlreadyExists { .. } | Error::Precondition { .. } | Error::Conflict { .. } => CONFLICT,
        Error::Config { .. } => CONFIG,
        _ => IO,
    }
}

/// A next step for the user, where one helps.
pub fn hint(e: &Error) -> Option<&'static str> {
    match e {
        Error::NotFound { .. } => Some("list what exists with `objstore ls`"),
        Error::Config { .. } => Some("pass --store file:///path/to/folder or set OBJSTORE_URL"),
        _ => None,
    }
}
