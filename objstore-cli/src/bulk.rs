//! `import`, `export` and `copy`: bulk copies with bounded parallelism, progress and resume.
//!
//! The work is `objstore::transfer`'s; this file draws the progress bar (on standard error when it
//! is a terminal, unless `--quiet`), prints the summary on standard output (a line for people,
//! unless `--quiet`; one JSON object with `--json`, always) and turns rejected files into the
//! command's error (after the summary).
//!
//! `--json` prints one object on standard output:
//!
//! ```text
//! {"operation": "import" | "export" | "copy", "source": STR, "destination": STR, "prefix": STR,
//!  "dry_run": BOOL, "objects_copied": INT, "bytes_copied": INT, "objects_skipped": INT,
//!  "bytes_skipped": INT, "objects_rejected": INT,
//!  "rejected": [{"source": STR, "kind": "invalid_name" | "unsupported" | "conflict" | "changing",
//!                "reason": STR}, ...],            (the first 10)
//!  "elapsed_seconds": FLOAT, "objects_per_second": FLOAT, "bytes_per_second": FLOAT}
//! ```
//!
//! Store URLs are shown without their query (which may hold credentials).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use clap::builder::TypedValueParser as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use objstore::error::human_bytes;
use objstore::transfer::{self, Compare, Direction, Progress, RejectionKind, TransferOptions, TransferSummary};
use objstore::{CacheOptions, Error, ObjectStore, Result};

use crate::output::thousands;

/// Options every bulk copy takes.
#[derive(Debug, Args)]
pub struct TransferFlags {
    /// Copies in flight at once.
    #[arg(short, long, value_name = "N", default_value_t = transfer::DEFAULT_PARALLELISM,
          value_parser = clap::value_parser!(u16).range(1..=1024).map(usize::from))]
    pub jobs: usize,
    /// Compare contents (not sizes and times) to find what is already up to date.
    #[arg(long)]
    pub checksum: bool,
    /// Only count what would be copied; copy nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `objstore import DIR [--prefix P]`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The folder to import (every file under it, recursively).
    pub dir: PathBuf,
    /// Put the keys under this prefix (e.g. `data/`).
    #[arg(long, default_value = "")]
    pub prefix: String,
    #[command(flatten)]
    pub flags: TransferFlags,
}

/// `objstore export [PREFIX] DIR`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Only keys starting with this (all when omitted).
    #[arg(num_args = 1..=2, value_names = ["PREFIX", "DIR"], required = true)]
    pub args: Vec<String>,
    #[command(flatten)]
    pub flags: TransferFlags,
}

/// `objstore copy SRC_URL DST_URL [--prefix P]`.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The store to copy from.
    pub src: String,
    /// The store to copy to.
    pub dst: String,
    /// Only keys starting with this.
    #[arg(long, default_value = "")]
    pub prefix: String,
    #[command(flatten)]
    pub flags: TransferFlags,
}

/// Runs `import` into `store`.
pub async fn import(store: &ObjectStore, args: ImportArgs, json: bool, quiet: bool) -> Result<()> {
    let report = Report::new(json, quiet);
    let options = report.options(&args.flags, &args.prefix);
    let outcome = transfer::import_dir(store, &args.dir, &options).await;
    report.finish(outcome, &args.dir.display().to_string(), store.url(), &args.prefix)
}

/// Runs `export` from `store`.
pub async fn export(store: &ObjectStore, args: ExportArgs, json: bool, quiet: bool) -> Result<()> {
    let (prefix, dir) = match &args.args[..] {
        [dir] => ("", dir.as_str()),
        [prefix, dir] => (prefix.as_str(), dir.as_str()),
        _ => unreachable!("clap takes one or two values"),
    };
    let report = Report::new(json, quiet);
    let options = report.options(&args.flags, prefix);
    let outcome = transfer::export_to_dir(store, Path::new(dir), &options).await;
    report.finish(outcome, store.url(), dir, prefix)
}

/// Runs `copy` (opens both stores itself).
pub async fn copy(args: CopyArgs, json: bool, quiet: bool) -> Result<()> {
    if args.src.trim_end_matches('/') == args.dst.trim_end_matches('/') {
        return Err(Error::Config {
            url: args.dst,
            message: "the source and the destination are the same store; copy to another one".into(),
        });
    }
    // Every value is read once and written once: a cache would only cost memory.
    let src = ObjectStore::builder(args.src.as_str()).cache(CacheOptions::DISABLED).build().await?;
    let dst = ObjectStore::builder(args.dst.as_str()).cache(CacheOptions::DISABLED).build().await?;
    let report = Report::new(json, quiet);
    let options = report.options(&args.flags, &args.prefix);
    let outcome = transfer::copy_store(&src, &dst, &options).await;
    report.finish(outcome, src.url(), dst.url(), &args.prefix)
}

/// The bar while it runs, and the summary after.
struct Report {
    json: bool,
    quiet: bool,
    bar: Option<ProgressBar>,
}

impl Report {
    fn new(json: bool, quiet: bool) -> Report {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(style("{spinner} {msg}"));
            bar.set_message("listing what is there…");
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Report { json, quiet, bar }
    }

    fn options(&self, flags: &TransferFlags, prefix: &str) -> TransferOptions {
        let on_progress = self.bar.clone().map(|bar| {
            let callback: transfer::ProgressFn = Arc::new(move |p: &Progress| {
                if bar.length().is_none() {
                    bar.set_style(style("{wide_bar:.cyan/blue} {human_pos}/{human_len} objects, {msg}, {eta} left"));
                    bar.set_length(p.objects_total);
                }
                bar.set_position(p.objects_done);
                bar.set_message(format!("{}/{}", human_bytes(p.bytes_done), human_bytes(p.bytes_total)));
            });
            callback
        });
        TransferOptions {
            prefix: prefix.to_string(),
            parallelism: flags.jobs,
            compare: if flags.checksum { Compare::Content } else { Compare::SizeAndTime },
            dry_run: flags.dry_run,
            on_progress,
            ..TransferOptions::default()
        }
    }

    fn finish(self, outcome: Result<TransferSummary>, source: &str, destination: &str, prefix: &str) -> Result<()> {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let summary = outcome?;
        // A reader that closed standard output does not want the summary: not an error.
        if self.json {
            let _ = writeln!(std::io::stdout(), "{}", json_summary(&summary, source, destination, prefix));
        } else if !self.quiet {
            let _ = writeln!(std::io::stdout(), "{}", human_summary(&summary));
        }
        match summary.error() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// `imported 10,000 objects (39.1 MiB) in 2.3 s, 4,348 objects/s (17.0 MiB/s); 0 skipped (up to date)`.
fn human_summary(s: &TransferSummary) -> String {
    let verb = s.direction.past_tense();
    let mut line = if s.dry_run {
        let verb = match s.direction {
            Direction::Import => "import",
            Direction::Export => "export",
            Direction::Copy => "copy",
        };
        format!(
            "dry run: would {verb} {} ({}); {} skipped (up to date)",
            objects(s.objects_copied),
            human_bytes(s.bytes_copied),
            thousands(s.objects_skipped)
        )
    } else {
        format!(
            "{verb} {} ({}) in {}, {} objects/s ({}/s); {} skipped (up to date)",
            objects(s.objects_copied),
            human_bytes(s.bytes_copied),
            seconds(s.elapsed),
            thousands(s.objects_per_second().round() as u64),
            human_bytes(s.bytes_per_second().round() as u64),
            thousands(s.objects_skipped)
        )
    };
    if s.objects_rejected > 0 {
        line.push_str(&format!("; {} rejected", thousands(s.objects_rejected)));
    }
    line
}

/// `1 object`, `10,000 objects`.
fn objects(n: u64) -> String {
    format!("{} object{}", thousands(n), if n == 1 { "" } else { "s" })
}

/// `2.3 s`, `0.41 s`, `35 ms`.
fn seconds(d: Duration) -> String {
    match d.as_secs_f64() {
        s if s >= 10.0 => format!("{s:.0} s"),
        s if s >= 1.0 => format!("{s:.1} s"),
        s if s >= 0.1 => format!("{s:.2} s"),
        s => format!("{:.0} ms", s * 1000.0),
    }
}

fn json_summary(s: &TransferSummary, source: &str, destination: &str, prefix: &str) -> serde_json::Value {
    let operation = match s.direction {
        Direction::Import => "import",
        Direction::Export => "export",
        Direction::Copy => "copy",
    };
    let rejected: Vec<serde_json::Value> = s
        .rejections
        .iter()
        .map(|r| {
            let kind = match r.kind {
                RejectionKind::InvalidName => "invalid_name",
                RejectionKind::Unsupported => "unsupported",
                RejectionKind::Conflict => "conflict",
                RejectionKind::Changing => "changing",
            };
            serde_json::json!({"source": r.source, "kind": kind, "reason": r.reason})
        })
        .collect();
    serde_json::json!({
        "operation": operation,
        "source": without_query(source),
        "destination": without_query(destination),
        "prefix": prefix,
        "dry_run": s.dry_run,
        "objects_copied": s.objects_copied,
        "bytes_copied": s.bytes_copied,
        "objects_skipped": s.objects_skipped,
        "bytes_skipped": s.bytes_skipped,
        "objects_rejected": s.objects_rejected,
        "rejected": rejected,
        "elapsed_seconds": s.elapsed.as_secs_f64(),
        "objects_per_second": s.objects_per_second(),
        "bytes_per_second": s.bytes_per_second(),
    })
}

/// A store URL without its query, which may hold credentials.
fn without_query(url: &str) -> &str {
    if url.contains("://") { url.split_once('?').map_or(url, |(base, _)| base) } else { url }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_not_shown() {
        assert_eq!(without_query("s3://b/p?secret_access_key=x"), "s3://b/p");
        assert_eq!(without_query("/tmp/dir?weird"), "/tmp/dir?weird");
    }
}
