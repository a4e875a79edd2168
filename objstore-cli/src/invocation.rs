//! How this run was invoked (which store and settings, given how), and the command lines the
//! command prints for the user to run next (`run:` lines of `suggest`, hints).
//!
//! Invariants:
//! - A printed command acts on the same store with the same settings when pasted into a shell
//!   elsewhere: it repeats `--store URL` whenever a store was given (by `--store` or
//!   `$OBJSTORE_URL`), and `--settings FILE` (or `--managed`) as the mode it is for needs; a plain
//!   command suggested from settings given by `$OBJSTORE_SETTINGS` starts `OBJSTORE_SETTINGS=`
//!   so that the variable does not turn it managed. Words are shell-quoted.
//! - No credential is printed: a store URL holding one is written as `"$OBJSTORE_URL"` when it
//!   came from that variable (pasted in the same shell, it still works), else redacted.
//! - Set once, at the start of a run ([`set`]); before that (unit tests) commands carry no flags.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::output::shell_word;

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag.
    Flag,
    /// The environment (`OBJSTORE_URL`, `OBJSTORE_SETTINGS`).
    Env,
    /// Neither: the default.
    Default,
}

/// The store and settings of this run, as given.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The store URL as the user wrote it (or the default).
    pub store: String,
    /// Where it came from.
    pub store_source: Source,
    /// The settings file and where it came from.
    pub settings: Option<(PathBuf, Source)>,
    /// Managed mode (`--managed`, or a settings file).
    pub managed: bool,
}

/// Which mode a suggested command needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A key command in plain mode (no settings, no `--managed`).
    Plain,
    /// A key command in managed mode (`--settings FILE`, else `--managed`).
    Managed,
    /// A manager command (`cleanup`, `stats`, ...): with the settings file when there is one.
    Manager,
    /// The mode this run is in.
    Same,
}

static INVOCATION: OnceLock<Invocation> = OnceLock::new();

/// Records how this run was invoked (the first call wins).
pub fn set(invocation: Invocation) {
    let _ = INVOCATION.set(invocation);
}

/// `objstore [--store URL] [--settings FILE | --managed] REST` for `mode`, as this run was given.
pub fn command(mode: Mode, rest: &str) -> String {
    let Some(run) = INVOCATION.get() else { return format!("objstore {rest}") };
    let mode = match mode {
        Mode::Same if run.managed => Mode::Managed,
        Mode::Same => Mode::Plain,
        other => other,
    };
    let mut words: Vec<String> = Vec::new();
    if mode == Mode::Plain && matches!(run.settings, Some((_, Source::Env))) {
        words.push("OBJSTORE_SETTINGS=".into());
    }
    words.push("objstore".into());
    if run.store_source != Source::Default {
        words.push("--store".into());
        words.push(store_word(&run.store, run.store_source));
    }
    match (&run.settings, mode) {
        (Some((path, _)), Mode::Managed | Mode::Manager) => {
            words.push("--settings".into());
            words.push(shell_word(&path.display().to_string()));
        }
        (None, Mode::Managed) => words.push("--managed".into()),
        _ => {}
    }
    words.push(rest.to_string());
    words.join(" ")
}

/// The store URL as one shell word that names the same store and shows no credential.
fn store_word(url: &str, source: Source) -> String {
    let redacted = objstore::url::redact(url);
    if redacted == url {
        shell_word(url)
    } else if source == Source::Env {
        "\"$OBJSTORE_URL\"".to_string()
    } else {
        shell_word(&redacted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_words_never_show_a_secret() {
        assert_eq!(store_word("file:///a b", Source::Flag), "'file:///a b'");
        assert_eq!(store_word("s3://b?secret_access_key=x", Source::Env), "\"$OBJSTORE_URL\"");
        assert_eq!(store_word("s3://b?secret_access_key=x", Source::Flag), "'s3://b?secret_access_key=***'");
    }
}
