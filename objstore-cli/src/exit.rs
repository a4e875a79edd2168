//! Exit codes and the one-line error (with a hint) for every kind of failure; docs/CLI.md and
//! `objstore --help` list the same codes.
//!
//! Every command a hint names is written by `invocation::command`, so that it acts on the same
//! store with the same settings when pasted; errors show store URLs redacted (the library's
//! errors already do).

use std::io::ErrorKind;

use objstore::Error;
use objstore::manager::{self, Quota};
use objstore::monitor;

use crate::invocation::{Mode, command};

/// `exists`: the key is absent (not an error).
pub const ABSENT: u8 = 1;
/// Bad usage: unknown command or flag, a malformed value (clap's own code).
pub const USAGE: u8 = 2;
/// No such object.
pub const NOT_FOUND: u8 = 3;
/// Invalid key, category, or value (not UTF-8, not JSON).
pub const INVALID: u8 = 4;
/// A limit, quota or size cap would be exceeded, or saves are refused.
pub const LIMIT: u8 = 5;
/// Permission denied (the store's access rules, the file system, or the S3 credentials).
pub const PERMISSION: u8 = 6;
/// Conflict: already exists, changed meanwhile, or an object/folder clash.
pub const CONFLICT: u8 = 7;
/// I/O error, storage unreachable, or an operation the backend cannot do.
pub const IO: u8 = 8;
/// Bad store URL or options, invalid settings file, or the store disabled in the settings.
pub const CONFIG: u8 = 9;
/// A stored object is damaged, or is not the manager's (no manager header) where one was needed.
pub const DATA: u8 = 10;

/// `health`: at or above the warning threshold.
pub const HEALTH_WARNING: u8 = 20;
/// `health`: at or above the critical threshold.
pub const HEALTH_CRITICAL: u8 = 21;
/// `health`: full.
pub const HEALTH_FULL: u8 = 22;

/// A failed command: one line for standard error, its exit code and what to do next.
#[derive(Debug)]
pub struct Failure {
    /// What went wrong (one line).
    pub message: String,
    /// The exit code.
    pub code: u8,
    /// The next step, where one helps.
    pub hint: Option<String>,
    /// Nothing to print: standard output was closed by its reader (`objstore get k | head`),
    /// which is the reader's choice, so the command ends with `code` (0) silently.
    pub silent: bool,
}

/// `Result` with a [`Failure`].
pub type CliResult<T> = Result<T, Failure>;

impl Failure {
    /// A failure with `code` and `message`.
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure { message: one_line(&message.into()), code, hint: None, silent: false }
    }

    /// Bad usage (exit 2).
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::new(USAGE, message)
    }

    /// "no object with key ..." (exit 3).
    pub fn not_found(key: &str) -> Failure {
        Failure::new(NOT_FOUND, format!("no object with key '{key}'"))
            .hint(format!("list what exists with `{}`", command(Mode::Same, "ls")))
    }

    /// Standard output was closed by its reader: end quietly with success.
    pub fn pipe_closed() -> Failure {
        Failure { message: String::new(), code: 0, hint: None, silent: true }
    }

    /// Replaces the hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }

    /// An error writing to standard output (a closed pipe is not one).
    pub fn stdout(e: std::io::Error) -> Failure {
        if e.kind() == ErrorKind::BrokenPipe {
            Failure::pipe_closed()
        } else {
            Failure::from(Error::io("cannot write to standard output", e))
        }
    }
}

/// Messages are one line: several problems (a settings file's) are joined with "; ".
fn one_line(message: &str) -> String {
    let lines: Vec<&str> =
        message.lines().map(|l| l.trim().trim_start_matches("- ")).filter(|l| !l.is_empty()).collect();
    lines.join("; ").replace(":;", ":")
}

/// The library's message up to its advice (which names API calls); the CLI's hint replaces it.
fn before_advice(message: &str) -> &str {
    message.split_once("; ").map_or(message, |(what, _)| what)
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        let text = e.to_string();
        match &e {
            Error::NotFound { key } => Failure::not_found(key),
            Error::InvalidKey { .. } => Failure::new(INVALID, text).hint(
                "keys are relative paths such as prices/spy.csv: no '.' or '..' segments, no trailing '/', \
                 no control characters",
            ),
            Error::Serialization { .. } => Failure::new(INVALID, text),
            Error::LimitExceeded { .. } => Failure::new(LIMIT, before_advice(&text))
                .hint(format!("delete objects (`{}`) or raise the store's limits", command(Mode::Same, "rm KEY"))),
            Error::PermissionDenied { .. } => Failure::new(PERMISSION, text),
            Error::AlreadyExists { .. } | Error::Precondition { .. } | Error::Conflict { .. } => {
                Failure::new(CONFLICT, text)
            }
            Error::Config { message, .. } if message.starts_with("the store folder ") => Failure::new(CONFIG, message)
                .hint(format!(
                    "check the path; commands that save create the store folder (`{}`)",
                    command(Mode::Same, "put KEY FILE")
                )),
            Error::Config { message, .. } if message.contains(" is not a folder") => Failure::new(CONFIG, message)
                .hint("a store on local disk is a folder: pass --store with a folder's path or file:///path/to/folder"),
            Error::Config { .. } => Failure::new(CONFIG, text)
                .hint("pass --store file:///path/to/folder or s3://bucket/prefix?endpoint=..., or set OBJSTORE_URL"),
            Error::Io { source, .. }
                if matches!(source.kind(), ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem) =>
            {
                Failure::new(PERMISSION, text).hint("check the folder's owner and permissions, or pick another --store")
            }
            Error::Backend { message, .. } if message.contains("no S3 credentials were given") => {
                Failure::new(PERMISSION, before_hint(&text)).hint(
                    "give S3 credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or access_key_id=...&\
                     secret_access_key=... in the URL (skip_signature=true for a public bucket)",
                )
            }
            Error::Backend { message, .. } if s3_refused(message) => Failure::new(PERMISSION, text),
            Error::Backend { .. } => Failure::new(IO, text),
            _ => Failure::new(IO, text),
        }
    }
}

/// The message up to "; give credentials" (the CLI's hint says it).
fn before_hint(message: &str) -> &str {
    message.split_once("; give credentials").map_or(message, |(what, _)| what)
}

/// True when an S3 error says the request was refused for its credentials or rights.
fn s3_refused(message: &str) -> bool {
    [
        "AccessDenied",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "InvalidToken",
        "ExpiredToken",
        "refused the request",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

impl From<manager::Error> for Failure {
    fn from(e: manager::Error) -> Failure {
        use manager::Error as M;
        let text = e.to_string();
        match e {
            M::Store(e) => Failure::from(e),
            M::Settings(_) => Failure::new(CONFIG, text)
                .hint("fix the settings file (docs/CLI.md lists its fields), or run without --settings"),
            M::InvalidExpiry { days, max_days, .. } => Failure::new(
                INVALID,
                format!("--expire-days {days} is longer than the longest expiry, {max_days} days (100 years)"),
            )
            .hint(format!(
                "pass --expire-days {max_days} or less, or leave it out to keep the object until it is deleted"
            )),
            M::InvalidCategory(_) => Failure::new(INVALID, before_advice(&text)).hint(
                "the built-in categories are trading_state, options_greeks, llm_cache, backtest_results, \
                 ml_models, monitoring_data, research_data; custom ones are lowercase names such as fx_rates",
            ),
            M::Disabled => Failure::new(CONFIG, "the Object Store is disabled in the settings (\"enabled\": false)")
                .hint("set \"enabled\": true in the settings file, or run without --settings"),
            M::ObjectTooLarge { .. } => Failure::new(LIMIT, before_advice(&text)).hint(format!(
                "compress it (`{}`), split it into chunks, or raise max_file_size_mb in the settings",
                command(Mode::Manager, "put --compress KEY FILE")
            )),
            M::QuotaExceeded { ref quota, .. } => {
                let cleanup = command(Mode::Manager, "cleanup");
                let hint = match quota {
                    Quota::Category(c) => format!(
                        "free room: `{cleanup}` removes expired objects, `{}` shows what is there, `{}` deletes; \
                         or raise storage_allocation.{c} in the settings",
                        command(Mode::Manager, &format!("ls --category {c} --long")),
                        command(Mode::Managed, "rm KEY"),
                    ),
                    _ => format!(
                        "free room: `{cleanup}` removes expired objects, `{}` names what to delete; or raise the \
                         limits (tier, max_storage_gb, max_files) in the settings",
                        command(Mode::Manager, "suggest")
                    ),
                };
                Failure::new(LIMIT, before_advice(&text)).hint(hint)
            }
            M::SavesRefused { .. } => Failure::new(LIMIT, before_advice(&text)).hint(format!(
                "free space first: `{}`, `{}`; reads and deletes keep working",
                command(Mode::Manager, "cleanup"),
                command(Mode::Manager, "suggest")
            )),
            M::Corrupt { ref key, .. } => Failure::new(DATA, before_advice(&text)).hint(format!(
                "delete it (in plain mode: `{}`) and save it again, or restore it from a backup",
                command(Mode::Plain, &format!("rm {}", crate::output::shell_word(key)))
            )),
            M::NotManaged { ref key } => Failure::new(DATA, before_advice(&text)).hint(format!(
                "read it in plain mode: `{}`",
                command(Mode::Plain, &format!("get {}", crate::output::shell_word(key)))
            )),
            M::Serialization { .. } => Failure::new(INVALID, text),
            _ => Failure::new(IO, text),
        }
    }
}

impl From<monitor::Error> for Failure {
    fn from(e: monitor::Error) -> Failure {
        let text = e.to_string();
        match e {
            monitor::Error::Manager(e) => Failure::from(e),
            monitor::Error::Serve { .. } => Failure::new(IO, before_advice(&text))
                .hint("pick a free port, or a local address (--listen 127.0.0.1:9464)"),
            _ => Failure::new(IO, text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line() {
        assert_eq!(one_line("f.json: 2 problems:\n  - a: bad\n  - b: worse"), "f.json: 2 problems: a: bad; b: worse");
        assert_eq!(one_line("plain"), "plain");
    }

    #[test]
    fn codes_follow_the_kind() {
        assert_eq!(Failure::from(Error::not_found("k")).code, NOT_FOUND);
        let denied = Error::io("cannot save", std::io::Error::from(ErrorKind::PermissionDenied));
        assert_eq!(Failure::from(denied).code, PERMISSION);
        assert_eq!(Failure::from(manager::Error::Disabled).code, CONFIG);
        let quota =
            manager::Error::QuotaExceeded { key: "k".into(), quota: Quota::Files, used: 1, requested: 1, limit: 1 };
        let f = Failure::from(quota);
        assert_eq!(f.code, LIMIT);
        assert!(!f.message.contains("cleanup_expired"), "{}", f.message);
        assert!(f.hint.unwrap().contains("objstore cleanup"));
        assert_eq!(Failure::from(manager::Error::Corrupt { key: "c/k".into(), reason: "x".into() }).code, DATA);
    }
}
