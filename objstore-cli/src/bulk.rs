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
//! `--prefix P` means one thing in all three: the folder `P/` of the store (`P` and `P/` alike).
//! `import DIR --prefix P` puts `DIR/a.csv` at `P/a.csv`; `export DIR --prefix P` writes the keys
//! under `P/` into DIR relative to it (`P/a.csv` to `DIR/a.csv`), so the two are each other's
//! reverse; `copy SRC DST --prefix P` copies the keys under `P/`, keeping them whole.
//!
//! Store URLs are shown redacted (`objstore::url::redact`): no credential in the summary.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use clap::builder::TypedValueParser as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use objstore::error::human_bytes;
use objstore::transfer::{self, Compare, Direction, Progress, RejectionKind, TransferOptions, TransferSummary};
use objstore::{ObjectStore, Result};

use crate::exit::{CliResult, Failure};
use crate::output::thousands;
use crate::store_url::Location;

/// Options every bulk copy takes.
#[derive(Debug, Args)]
pub struct TransferFlags {
    /// Copies in flight at once.
    #[arg(short, long, value_name = "N", default_value_t = transfer::DEFAULT_PARALLELISM, allow_negative_numbers = true,
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
#[command(after_help = "Example:\n  objstore import ./prices --prefix data     ./prices/spy.csv becomes data/spy.csv")]
pub struct ImportArgs {
    /// The folder to import (every file under it, recursively).
    pub dir: PathBuf,
    /// The folder of the store to put the keys in (`--prefix data`: DIR/a.csv becomes data/a.csv).
    #[arg(long, default_value = "", value_name = "P")]
    pub prefix: String,
    #[command(flatten)]
    pub flags: TransferFlags,
}

/// `objstore export DIR [--prefix P]`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  objstore export ./backup                   every object, as files under ./backup
  objstore export ./prices --prefix data     data/spy.csv becomes ./prices/spy.csv (the reverse of import)")]
pub struct ExportArgs {
    /// The folder to export into (created when missing).
    pub dir: PathBuf,
    /// Only the keys under this folder of the store, written relative to it (`--prefix data`:
    /// data/a.csv becomes DIR/a.csv).
    #[arg(long, default_value = "", value_name = "P")]
    pub prefix: String,
    #[command(flatten)]
    pub flags: TransferFlags,
}

/// `objstore copy SRC_URL DST_URL [--prefix P]`.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The store to copy from.
    pub src: String,
    /// The store to copy to (not the source, nor a folder inside it or around it).
    pub dst: String,
    /// Only the keys under this folder of the store (kept whole: data/a.csv stays data/a.csv).
    #[arg(long, default_value = "", value_name = "P")]
    pub prefix: String,
    #[command(flatten)]
    pub flags: TransferFlags,
}

/// `--prefix` as a folder of the store: `""`, or ending with `/`.
fn folder(prefix: &str) -> String {
    if prefix.is_empty() || prefix.ends_with('/') { prefix.to_string() } else { format!("{prefix}/") }
}

/// Runs `import` into `store`.
pub async fn import(store: &ObjectStore, args: ImportArgs, json: bool, quiet: bool) -> Result<()> {
    let prefix = folder(&args.prefix);
    let report = Report::new(json, quiet);
    let options = report.options(&args.flags, &prefix);
    let outcome = transfer::import_dir(store, &args.dir, &options).await;
    report.finish(outcome, &args.dir.display().to_string(), store.url(), &prefix)
}

/// Runs `export` from `store`.
pub async fn export(store: &ObjectStore, args: ExportArgs, json: bool, quiet: bool) -> Result<()> {
    let prefix = folder(&args.prefix);
    let report = Report::new(json, quiet);
    let options = report.options(&args.flags, &prefix);
    let outcome = transfer::export_to_dir(store, &args.dir, &options).await;
    report.finish(outcome, store.url(), &args.dir.display().to_string(), &prefix)
}

/// Refuses a copy whose destination is its source, or a folder inside it or around it (given as
/// other text: `./`, a symbolic link, a relative path, a trailing `/`): exit 2.
pub fn refuse_overlap(src: &str, dst: &str) -> CliResult<()> {
    let (from, to) = (Location::of(src), Location::of(dst));
    let Some(how) = to.overlap(&from) else { return Ok(()) };
    let message = match how {
        "the same store" => "the source and the destination are the same store; copy to another one".to_string(),
        "inside the source" => {
            "the destination is inside the source: the copy would copy itself; copy to a folder outside it".to_string()
        }
        other => format!("{other}: a copy would mix the two; copy to a folder outside the source"),
    };
    Err(Failure::usage(message).hint(format!(
        "the source leads to {}, the destination to {}",
        shown(&from, src),
        shown(&to, dst)
    )))
}

/// Where a location is, for the hint.
fn shown(location: &Location, url: &str) -> String {
    match location {
        Location::Folder(path) => path.display().to_string(),
        _ => objstore::url::redact(url),
    }
}

/// Runs `copy` between two opened stores.
pub async fn copy(src: &ObjectStore, dst: &ObjectStore, args: CopyArgs, json: bool, quiet: bool) -> Result<()> {
    let prefix = folder(&args.prefix);
    let report = Report::new(json, quiet);
    let options = report.options(&args.flags, &prefix);
    let outcome = transfer::copy_store(src, dst, &options).await;
    report.finish(outcome, src.url(), dst.url(), &prefix)
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
        "source": objstore::url::redact(source),
        "destination": objstore::url::redact(destination),
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
