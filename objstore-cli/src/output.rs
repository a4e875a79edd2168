//! Output: aligned tables, human sizes and times, JSON, notes on standard error, and writing to
//! standard output where a reader closing the pipe (`objstore ls | head`) ends the command
//! quietly instead of failing.

use std::io::Write;
use std::time::SystemTime;

use serde::Serialize;

use crate::exit::{CliResult, Failure};

/// `512 B`, `1.5 KiB`, `3.2 GiB` (binary units).
pub fn size(bytes: u64) -> String {
    objstore::error::human_bytes(bytes)
}

/// RFC 3339 to the second, UTC: `2025-01-15T09:30:00Z` (never fails: a year past 9999 reads
/// `+10000-01-01T00:00:00Z`).
pub fn time(t: SystemTime) -> String {
    objstore::manager::time::rfc3339_seconds(t)
}

/// `12543` -> `12,543`.
pub fn thousands(n: u64) -> String {
    objstore::monitor::report::thousands(n)
}

/// `text` with control characters escaped (`\u{1b}`, `\n`): what a file name or key holds must
/// not drive the terminal that shows it.
pub fn escaped(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars().map(|c| if c.is_control() { c.escape_debug().to_string() } else { c.to_string() }).collect()
}

/// `1 object`, `1,234 objects` (`plural` when adding an "s" will not do).
pub fn count(n: u64, singular: &str, plural: Option<&str>) -> String {
    match (n, plural) {
        (1, _) => format!("1 {singular}"),
        (n, Some(plural)) => format!("{} {plural}", thousands(n)),
        (n, None) => format!("{} {singular}s", thousands(n)),
    }
}

/// A word as a shell would read it back: unchanged when it is plain, else single-quoted.
pub fn shell_word(word: &str) -> String {
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c));
    if plain { word.to_string() } else { format!("'{}'", word.replace('\'', "'\\''")) }
}

/// Standard output, buffered; a closed pipe becomes [`Failure::pipe_closed`].
pub struct Stdout {
    out: std::io::BufWriter<std::io::StdoutLock<'static>>,
}

impl Stdout {
    /// Locks standard output.
    pub fn new() -> Stdout {
        Stdout { out: std::io::BufWriter::new(std::io::stdout().lock()) }
    }

    /// Writes bytes as they are.
    pub fn bytes(&mut self, bytes: &[u8]) -> CliResult<()> {
        self.out.write_all(bytes).map_err(Failure::stdout)
    }

    /// Writes one line.
    pub fn line(&mut self, line: &str) -> CliResult<()> {
        self.bytes(line.as_bytes())?;
        self.bytes(b"\n")
    }

    /// Writes one JSON document on one line.
    pub fn json(&mut self, value: &impl Serialize) -> CliResult<()> {
        let text = serde_json::to_string(value)
            .map_err(|e| Failure::new(crate::exit::IO, format!("cannot encode the output as JSON: {e}")))?;
        self.line(&text)
    }

    /// Flushes (every command ends with this, so a late write error is still reported).
    pub fn flush(&mut self) -> CliResult<()> {
        self.out.flush().map_err(Failure::stdout)
    }
}

/// Prints `value` as one JSON line.
pub fn json(value: &impl Serialize) -> CliResult<()> {
    let mut out = Stdout::new();
    out.json(value)?;
    out.flush()
}

/// Prints text (adding a final newline when missing).
pub fn text(text: &str) -> CliResult<()> {
    let mut out = Stdout::new();
    out.bytes(text.as_bytes())?;
    if !text.is_empty() && !text.ends_with('\n') {
        out.bytes(b"\n")?;
    }
    out.flush()
}

/// A note for people on standard error, unless --quiet.
pub fn note(quiet: bool, message: &str) {
    if !quiet {
        let _ = writeln!(std::io::stderr(), "note: {message}");
    }
}

/// How a column is aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text.
    Left,
    /// Numbers and sizes.
    Right,
}

/// A table with a header row and aligned columns (the last column is not padded).
#[derive(Debug)]
pub struct Table {
    columns: Vec<(&'static str, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns.
    pub fn new(columns: &[(&'static str, Align)]) -> Table {
        Table { columns: columns.to_vec(), rows: Vec::new() }
    }

    /// Adds a row (as many cells as columns).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// True when no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text, one line per row, the header first.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.columns.iter().map(|(h, _)| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let header: Vec<String> = self.columns.iter().map(|(h, _)| h.to_string()).collect();
        let mut out = String::new();
        for row in std::iter::once(&header).chain(&self.rows) {
            let last = row.len().saturating_sub(1);
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                let width = widths.get(i).copied().unwrap_or(0);
                let align = self.columns.get(i).map_or(Align::Left, |c| c.1);
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = width.saturating_sub(cell.chars().count());
                match align {
                    Align::Right => {
                        line.push_str(&" ".repeat(pad));
                        line.push_str(cell);
                    }
                    Align::Left if i == last => line.push_str(cell),
                    Align::Left => {
                        line.push_str(cell);
                        line.push_str(&" ".repeat(pad));
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let mut t = Table::new(&[("SIZE", Align::Right), ("KEY", Align::Left), ("NOTE", Align::Left)]);
        t.row(vec!["29 B".into(), "prices/spy.csv".into(), "x".into()]);
        t.row(vec!["1.5 KiB".into(), "k".into(), String::new()]);
        assert_eq!(t.render(), "   SIZE  KEY             NOTE\n   29 B  prices/spy.csv  x\n1.5 KiB  k\n");
    }

    #[test]
    fn sizes_and_times_read_well() {
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(thousands(50_000), "50,000");
        assert_eq!(count(1, "object", None), "1 object");
        assert_eq!(count(3, "object", None), "3 objects");
        assert_eq!(count(0, "copy", Some("copies")), "0 copies");
        assert_eq!(count(1234, "object", None), "1,234 objects");
        assert_eq!(escaped("a\u{1b}[31mb\n"), "a\\u{1b}[31mb\\n");
        assert_eq!(shell_word("prices/spy.csv"), "prices/spy.csv");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(time(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }
}
