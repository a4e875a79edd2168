//! [`SettingsError`]: settings that cannot be used, with every problem found.
//!
//! Invariants: the error holds at least one problem, each starting with the dotted path of its
//! field or saying what is wrong with the document as a whole; its origin is the file's path when
//! the settings came from a file. The text's shape (one line, or a count and one line per problem)
//! is part of the public behaviour: the tests and the command's output rely on it.

/// Settings that cannot be used: every problem found, each naming its field.
///
/// Displays as `"{origin}: {problem}"` for one problem, and as
/// `"{origin}: N problems:\n  - first\n  - second..."` for several; `origin` is the file's path,
/// or `settings` when there is none.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.origin.as_deref(), .problems))]
pub struct SettingsError {
    /// The file the settings came from, when read by
    /// [`Settings::from_file`](super::Settings::from_file).
    pub origin: Option<String>,
    /// Every problem, each starting with the dotted path of its field.
    pub problems: Vec<String>,
}

/// The error's text: see [`SettingsError`].
fn render(origin: Option<&str>, problems: &[String]) -> String {
    let origin = origin.unwrap_or("settings");
    match problems {
        [] => format!("{origin}: invalid settings"),
        [one] => format!("{origin}: {one}"),
        many => {
            let mut out = format!("{origin}: {} problems:", many.len());
            for problem in many {
                out.push_str("\n  - ");
                out.push_str(problem);
            }
            out
        }
    }
}
