//! The one error type of the store. Every variant says what went wrong and what to do next.

use std::fmt;
use std::io;

/// `Result` with the store's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong. Variants match the `object_store` crate's where they mean the
/// same thing (`NotFound`, `AlreadyExists`, `Precondition`, `PermissionDenied`, ...).
///
/// No variant's `Display` or `Debug` shows a credential: [`Error::Config`] shows its URL through
/// [`crate::url::redact`], whoever made it.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No object under this key.
    #[error("no object with key '{key}' in the store; check with contains_key() or keys() before reading")]
    NotFound {
        /// The key that was asked for.
        key: String,
    },

    /// The key cannot name an object (see [`crate::Key`] for the rules).
    #[error("invalid key '{key}': {reason}")]
    InvalidKey {
        /// The key as given (shortened when very long).
        key: String,
        /// Why it was refused, and what to do instead.
        reason: String,
    },

    /// Saving would take the store past one of its [`crate::Limits`].
    #[error("{}", limit_message(*kind, key, *used, *limit, *requested))]
    LimitExceeded {
        /// The key being saved.
        key: String,
        /// Which limit.
        kind: LimitKind,
        /// What is in use now (bytes or objects).
        used: u64,
        /// The limit.
        limit: u64,
        /// What the save asked for (bytes of the new value, or one object).
        requested: u64,
    },

    /// The store's [`crate::Access`] does not allow this operation, or (with a `reason`) the
    /// storage does not let this process do it (a store it may only read).
    #[error("{}", permission_message(*operation, reason.as_deref()))]
    PermissionDenied {
        /// The operation that was refused.
        operation: Operation,
        /// Why, when it is not the store's `Access` (for example: the store is read-only for
        /// this user or on this mount).
        reason: Option<String>,
    },

    /// A create-only save found an object already there.
    #[error("an object with key '{key}' already exists; read it, or save without create-only mode")]
    AlreadyExists {
        /// The key.
        key: String,
    },

    /// A conditional operation found a different version than the one it expected.
    #[error(
        "the object '{key}' changed since version {expected} was read (another writer got there first); \
         read it again and retry"
    )]
    Precondition {
        /// The key.
        key: String,
        /// The version the caller expected.
        expected: String,
    },

    /// A value could not be encoded or decoded (bad JSON, XML or UTF-8).
    #[error("cannot {} '{key}' as {format}: {message}", if *writing { "save" } else { "read" })]
    Serialization {
        /// The key.
        key: String,
        /// JSON, XML or UTF-8 text.
        format: Format,
        /// True when saving, false when reading.
        writing: bool,
        /// The decoder's or encoder's own words.
        message: String,
    },

    /// The key cannot be stored because of another object's place, for example a key `a/b` when
    /// `a` is an object on a file system.
    #[error("cannot store '{key}': {reason}")]
    Conflict {
        /// The key.
        key: String,
        /// What is in the way and what to do.
        reason: String,
    },

    /// The operating system refused an operation.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, and on which path or key.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A storage service failed or could not be reached.
    #[error("{backend}: {message}")]
    Backend {
        /// Which backend (its URL, without credentials).
        backend: String,
        /// What happened and what to try.
        message: String,
        /// True when trying again later can help (a timeout, throttling, a reset connection, a
        /// 5xx answer); see [`Error::is_transient`].
        transient: bool,
        /// The underlying error, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// A ranged read asked for bytes the value does not have (see [`crate::ByteRange`]).
    #[error("cannot read {range} of '{key}': {reason}; ask for a range inside the value (head() gives its size)")]
    InvalidRange {
        /// The key.
        key: String,
        /// The range as asked.
        range: String,
        /// Why no bytes match it.
        reason: String,
    },

    /// This backend cannot do the operation.
    #[error("{backend} does not support {operation}")]
    NotSupported {
        /// Which backend.
        backend: String,
        /// What was asked.
        operation: String,
    },

    /// The store's URL or options are wrong.
    #[error("cannot open '{}': {message}", crate::url::redact(url))]
    Config {
        /// The URL as given (shown redacted, see [`crate::url::redact`]).
        url: String,
        /// What is wrong and how to write it.
        message: String,
    },
}

/// Which limit a save ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitKind {
    /// `Limits::max_objects`.
    Objects,
    /// `Limits::max_bytes`.
    Bytes,
    /// `Limits::max_object_bytes`.
    ObjectSize,
}

/// An operation that [`crate::Access`] governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Reading values, checking and listing keys.
    Read,
    /// Saving values.
    Write,
    /// Deleting objects.
    Delete,
}

impl Operation {
    fn verb(self) -> &'static str {
        match self {
            Operation::Read => "read from",
            Operation::Write => "write to",
            Operation::Delete => "delete objects from",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Read => "read",
            Operation::Write => "write",
            Operation::Delete => "delete",
        })
    }
}

/// The message of [`Error::PermissionDenied`].
fn permission_message(operation: Operation, reason: Option<&str>) -> String {
    match reason {
        Some(reason) => {
            format!("the current user does not have permission to {} the Object Store: {reason}", operation.verb())
        }
        None => format!(
            "the current user does not have permission to {} the Object Store; ask its owner for {operation} access \
             (Access {{ {operation}: true, .. }})",
            operation.verb()
        ),
    }
}

/// The encoding a [`Error::Serialization`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// UTF-8 text (`save`/`read`).
    Utf8,
    /// JSON (`save_json`/`read_json`).
    Json,
    /// XML (`save_xml`/`read_xml`).
    Xml,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Utf8 => "UTF-8 text",
            Format::Json => "JSON",
            Format::Xml => "XML",
        })
    }
}

fn limit_message(kind: LimitKind, key: &str, used: u64, limit: u64, requested: u64) -> String {
    match kind {
        LimitKind::Objects => format!(
            "you have reached the Object Store limit for files it can save: {used}/{limit}. \
             Unable to save '{key}'; delete objects or raise Limits::max_objects"
        ),
        LimitKind::Bytes => format!(
            "you have reached the Object Store storage capacity limit: {}/{} (saving '{key}' needs {}). \
             Delete objects or raise Limits::max_bytes",
            human_bytes(used),
            human_bytes(limit),
            human_bytes(requested)
        ),
        LimitKind::ObjectSize => format!(
            "'{key}' is {} but one object may hold at most {}; split the value or raise Limits::max_object_bytes",
            human_bytes(requested),
            human_bytes(limit)
        ),
    }
}

/// Formats a byte count for people: `512 B`, `1.5 KiB`, `3.2 GiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Keys in messages are cut to a readable length, with control characters escaped (`\n`,
/// `\u{1b}`): a refused key must not forge log lines or drive a terminal when printed.
pub(crate) fn shorten(s: &str) -> String {
    const MAX: usize = 200;
    let mut end = s.len().min(MAX);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = String::with_capacity(end + 16);
    for c in s[..end].chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    if end < s.len() {
        out.push_str(&format!("… ({} bytes)", s.len()));
    }
    out
}

/// Field by field like a derived `Debug`, except that [`Error::Config`]'s URL is redacted. (A new
/// variant needs an arm here: the match is exhaustive on purpose.)
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound { key } => f.debug_struct("NotFound").field("key", key).finish(),
            Error::InvalidKey { key, reason } => {
                f.debug_struct("InvalidKey").field("key", key).field("reason", reason).finish()
            }
            Error::LimitExceeded { key, kind, used, limit, requested } => f
                .debug_struct("LimitExceeded")
                .field("key", key)
                .field("kind", kind)
                .field("used", used)
                .field("limit", limit)
                .field("requested", requested)
                .finish(),
            Error::PermissionDenied { operation, reason } => {
                f.debug_struct("PermissionDenied").field("operation", operation).field("reason", reason).finish()
            }
            Error::AlreadyExists { key } => f.debug_struct("AlreadyExists").field("key", key).finish(),
            Error::Precondition { key, expected } => {
                f.debug_struct("Precondition").field("key", key).field("expected", expected).finish()
            }
            Error::Serialization { key, format, writing, message } => f
                .debug_struct("Serialization")
                .field("key", key)
                .field("format", format)
                .field("writing", writing)
                .field("message", message)
                .finish(),
            Error::Conflict { key, reason } => {
                f.debug_struct("Conflict").field("key", key).field("reason", reason).finish()
            }
            Error::Io { context, source } => {
                f.debug_struct("Io").field("context", context).field("source", source).finish()
            }
            Error::Backend { backend, message, transient, source } => f
                .debug_struct("Backend")
                .field("backend", backend)
                .field("message", message)
                .field("transient", transient)
                .field("source", source)
                .finish(),
            Error::InvalidRange { key, range, reason } => {
                f.debug_struct("InvalidRange").field("key", key).field("range", range).field("reason", reason).finish()
            }
            Error::NotSupported { backend, operation } => {
                f.debug_struct("NotSupported").field("backend", backend).field("operation", operation).finish()
            }
            Error::Config { url, message } => {
                f.debug_struct("Config").field("url", &crate::url::redact(url)).field("message", message).finish()
            }
        }
    }
}

impl Error {
    /// An [`Error::Io`] that names what was being done.
    pub fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io { context: context.into(), source }
    }

    /// An [`Error::NotFound`] for `key`.
    pub fn not_found(key: impl AsRef<str>) -> Error {
        Error::NotFound { key: key.as_ref().to_string() }
    }

    /// True for [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// True when trying the same operation again later can succeed: a timeout, throttling
    /// (S3's `SlowDown`, HTTP 429), a reset or refused connection, a 5xx answer, an interrupted
    /// system call. False for everything a retry cannot change: a missing key, a bad key or
    /// value, a limit, a permission, a lost compare-and-swap (read again first), a bad URL, a
    /// damaged object. Callers (and `objstore::transfer`) retry only what this says is worth it.
    ///
    /// ```
    /// use store_core::Error;
    /// let reset = Error::io("cannot read 'k'", std::io::ErrorKind::ConnectionReset.into());
    /// assert!(reset.is_transient());
    /// assert!(!Error::not_found("k").is_transient());
    /// ```
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Backend { transient, .. } => *transient,
            Error::Io { source, .. } => is_transient_io(source),
            _ => false,
        }
    }
}

/// True for I/O errors that a later attempt can get past.
fn is_transient_io(e: &io::Error) -> bool {
    use io::ErrorKind as K;
    matches!(
        e.kind(),
        K::TimedOut
            | K::Interrupted
            | K::WouldBlock
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::ConnectionRefused
            | K::BrokenPipe
            | K::ResourceBusy
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_errors_are_the_ones_worth_retrying() {
        let backend =
            |transient| Error::Backend { backend: "s3://b".into(), message: "m".into(), transient, source: None };
        assert!(backend(true).is_transient());
        assert!(!backend(false).is_transient());
        assert!(Error::io("x", io::ErrorKind::TimedOut.into()).is_transient());
        assert!(!Error::io("x", io::ErrorKind::PermissionDenied.into()).is_transient());
        assert!(!Error::io("x", io::ErrorKind::NotFound.into()).is_transient());
        for permanent in [
            Error::not_found("k"),
            Error::InvalidKey { key: "k".into(), reason: "r".into() },
            Error::LimitExceeded { key: "k".into(), kind: LimitKind::Bytes, used: 1, limit: 1, requested: 1 },
            Error::PermissionDenied { operation: Operation::Write, reason: None },
            Error::Precondition { key: "k".into(), expected: "v".into() },
            Error::Config { url: "u".into(), message: "m".into() },
        ] {
            assert!(!permanent.is_transient(), "{permanent:?}");
        }
    }

    #[test]
    fn messages_say_what_to_do() {
        let e = Error::LimitExceeded { key: "k".into(), kind: LimitKind::Objects, used: 3, limit: 3, requested: 1 };
        assert!(e.to_string().contains("3/3"), "{e}");
        let e =
            Error::LimitExceeded { key: "k".into(), kind: LimitKind::Bytes, used: 2048, limit: 4096, requested: 4096 };
        assert!(e.to_string().contains("2.0 KiB/4.0 KiB"), "{e}");
        let e = Error::PermissionDenied { operation: Operation::Delete, reason: None };
        assert!(e.to_string().contains("delete objects from") && e.to_string().contains("Access {"), "{e}");
        let e =
            Error::PermissionDenied { operation: Operation::Write, reason: Some("the store is read-only here".into()) };
        assert!(e.to_string().ends_with("write to the Object Store: the store is read-only here"), "{e}");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(10), "10 B");
    }

    #[test]
    fn long_keys_are_shortened_on_a_char_boundary() {
        let s = "é".repeat(300);
        let short = shorten(&s);
        assert!(short.len() < 260 && short.ends_with("(600 bytes)"));
    }
}
