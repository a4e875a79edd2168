//! The command line: global flags, commands, their help text and examples (clap).

use std::ffi::OsString;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use serde_json::Value;

use crate::invocation::Source;

/// The Object Store from a shell: save, read, list and delete objects on local disk or S3;
/// categories, quotas and expiry (the manager); usage, health and Prometheus metrics (the monitor).
#[derive(Debug, Parser)]
#[command(name = "objstore", version, about, long_about = LONG_ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    /// The store: file:///abs/dir, file://rel/dir (or a folder's path), s3://bucket/prefix?endpoint=...,
    /// memory:// [env: OBJSTORE_URL] [default: file://./storage]
    #[arg(long, global = true, value_name = "URL", help_heading = "Global options")]
    pub store: Option<String>,

    /// Managed mode with this settings file (categories, quotas, expiry, compression, thresholds)
    /// [env: OBJSTORE_SETTINGS]
    #[arg(long, global = true, value_name = "FILE", help_heading = "Global options")]
    pub settings: Option<PathBuf>,

    /// Managed mode with the default settings (5GB tier), when there is no settings file.
    #[arg(long, global = true, help_heading = "Global options")]
    pub managed: bool,

    /// Print data as JSON (one document; one object per line for `ls`).
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,

    /// No notes, progress or status lines (`health` then says it only with its exit status);
    /// data and errors still print.
    #[arg(short, long, global = true, help_heading = "Global options")]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The store as given: `--store`, else `$OBJSTORE_URL` (when not empty), else
    /// `file://./storage`; and where it came from.
    pub fn store_given(&self) -> (String, Source) {
        match (&self.store, non_empty_env("OBJSTORE_URL")) {
            (Some(flag), _) => (flag.clone(), Source::Flag),
            (None, Some(env)) => (env, Source::Env),
            (None, None) => (objstore::DEFAULT_URL.into(), Source::Default),
        }
    }

    /// Every credential this run was given: in the store URLs (`--store`, `$OBJSTORE_URL`, `copy`'s
    /// two) and in the `AWS_*` variables that hold secrets. For scrubbing the log.
    pub fn secrets(&self) -> Vec<String> {
        let mut urls = vec![self.store_given().0];
        if let Command::Copy(copy) = &self.command {
            urls.extend([copy.src.clone(), copy.dst.clone()]);
        }
        let mut secrets: Vec<String> = urls.iter().flat_map(|u| objstore::url::secrets_in(u)).collect();
        for name in ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"] {
            secrets.extend(std::env::var(name).ok().filter(|v| !v.is_empty()));
        }
        secrets
    }

    /// The settings file: `--settings`, else `$OBJSTORE_SETTINGS` (when not empty); and where it
    /// came from.
    pub fn settings_given(&self) -> Option<(PathBuf, Source)> {
        match &self.settings {
            Some(path) => Some((path.clone(), Source::Flag)),
            None => non_empty_env("OBJSTORE_SETTINGS").map(|p| (PathBuf::from(p), Source::Env)),
        }
    }
}

/// An environment variable's value; an empty one counts as unset (`OBJSTORE_SETTINGS= objstore ls`).
fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

const LONG_ABOUT: &str = "The Object Store from a shell: save, read, list and delete objects on local disk or S3; \
categories, quotas and expiry (the manager); usage, health and Prometheus metrics (the monitor).

Plain mode (the default) reads and writes store objects as they are: `put k` saves the bytes at key k.

Managed mode (--settings FILE, $OBJSTORE_SETTINGS, or --managed) goes through the manager: put/get/cat/\
exists/rm/ls/path then work on managed keys, which the manager stores as `CATEGORY/KEY` with a header \
(category, times, checksum, metadata) and, for large values, zstd compression. A key saved with \
`put --category ml_models k` is read back with `get k` in managed mode.

The manager's own flags (put --category/--expire-days/--meta/--compress, ls --category) and commands \
(meta, stats, report, health, cleanup, suggest, monitor) always use the manager: with the settings file \
when one is given, else the default settings.";

const AFTER_HELP: &str = "Examples:
  objstore put prices/spy.csv spy.csv          save a file
  echo hello | objstore put greeting           save standard input
  objstore get prices/spy.csv | head           raw bytes to standard output
  objstore ls prices/ --long                   sizes and times
  objstore --store 's3://bucket/prefix?endpoint=http://127.0.0.1:9000' ls
  objstore --settings settings.json put --category trading_state --expire-days 90 state/2025-01-15 state.json
  objstore --settings settings.json get state/2025-01-15
  objstore --settings settings.json health || echo \"storage needs attention\"

Environment: OBJSTORE_URL (--store), OBJSTORE_SETTINGS (--settings), AWS_* for S3 credentials, \
RUST_LOG=debug for tracing on standard error.

Exit codes: 0 ok; 1 absent (exists); 2 bad usage; 3 not found; 4 invalid key, category or value; \
5 limit, quota or size exceeded; 6 permission denied; 7 conflict (already exists, changed meanwhile, \
file/folder clash); 8 I/O error or storage unavailable; 9 bad store URL, options or settings; \
10 damaged or unmanaged stored object; health: 20 warning, 21 critical, 22 full. See docs/CLI.md.";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Save a file, or standard input, under KEY.
    #[command(after_help = "Examples:
  objstore put prices/spy.csv spy.csv
  curl -s https://example.com/data.json | objstore put data.json
  objstore put --category backtest_results --expire-days 365 --meta sharpe=1.8 --meta strategy=spread bt_1 bt.json

--category, --expire-days, --meta and --compress save through the manager (with --settings FILE when \
given, else the default settings); read the key back in managed mode (--settings FILE or --managed). \
Without them, and without managed mode, the bytes are saved as they are.")]
    Put {
        /// The key, e.g. prices/spy.csv.
        key: OsString,
        /// The file to save; '-' or nothing reads standard input.
        file: Option<PathBuf>,
        #[command(flatten)]
        save: SaveFlags,
    },
    /// Write KEY's value to standard output (raw bytes), or to a file.
    #[command(after_help = "Examples:\n  objstore get models/m.bin -o m.bin\n  objstore get prices/spy.csv | head -5")]
    Get {
        /// The key.
        key: OsString,
        /// Write to this file instead ('-': standard output).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print KEY's value as text (fails when it is not UTF-8).
    Cat {
        /// The key.
        key: OsString,
    },
    /// Exit 0 when KEY exists, 1 when it does not (nothing printed unless --json).
    #[command(after_help = "Example:\n  objstore exists state/today || objstore put state/today state.json")]
    Exists {
        /// The key.
        key: OsString,
    },
    /// Delete keys.
    Rm {
        /// The keys.
        #[arg(required = true)]
        keys: Vec<OsString>,
        /// Keys that do not exist are not an error.
        #[arg(short, long)]
        force: bool,
    },
    /// List keys, sorted.
    #[command(after_help = "Examples:
  objstore ls prices/
  objstore ls --long
  objstore ls --category llm_cache --long      managed objects of one category, with expiry
  objstore --json ls | jq -r .key")]
    Ls {
        /// Only keys starting with this.
        prefix: Option<OsString>,
        /// Only managed objects of this category (uses the manager).
        #[arg(long, value_name = "CATEGORY", value_parser = CategoryName, hide_possible_values = true)]
        category: Option<String>,
        /// Show size and modification time (managed: also category and expiry).
        #[arg(short, long)]
        long: bool,
    },
    /// Print a local file path for KEY (get_file_path): its folder is created; the file holds the
    /// value if any. In managed mode, the path of the stored (framed) object.
    #[command(after_help = "Examples:
  python train.py --out \"$(objstore path models/m.bin)\"
  objstore put models/m.bin \"$(objstore path models/m.bin)\"     upload what was written there (S3)

On local disk the path is the object itself: writing the file changes the object. On S3 it is a \
downloaded copy in the staging folder, which stays after the command: upload changes with `put`.")]
    Path {
        /// The key.
        key: OsString,
        /// Where copies of objects that are not local files (S3) are put [default: the user's
        /// cache folder, ~/.cache/objstore/staging/STORE; without HOME, $TMPDIR/objstore-UID/staging/STORE].
        #[arg(long, env = "OBJSTORE_STAGING_DIR", hide_env_values = true, value_name = "DIR")]
        staging_dir: Option<PathBuf>,
    },
    /// Print how many bytes and objects the store holds (every object, managed or not).
    Usage,
    /// Show what the manager knows about KEY: category, sizes, times, checksum, metadata.
    #[command(
        after_help = "Example:\n  objstore meta backtest_2025_01_15\n\nUses the manager (the default settings without --settings)."
    )]
    Meta {
        /// The key (as saved through the manager, without its category).
        key: OsString,
    },
    /// Usage by category, growth and days until full.
    #[command(after_help = "Uses the manager and monitor (the default settings without --settings).")]
    Stats,
    /// The "OBJECT STORE STATISTICS" report.
    #[command(after_help = "Uses the manager and monitor (the default settings without --settings).")]
    Report,
    /// Judge usage against the thresholds; the exit status says the level.
    #[command(after_help = "Exit status: 0 healthy, 20 warning, 21 critical, 22 full (errors keep their own codes).
Thresholds come from usage_monitoring in the settings (warning 80 %, critical 90 % by default).

Example:\n  objstore --settings settings.json health --quiet || alert \"object store: $?\"")]
    Health,
    /// Remove expired objects (archiving them first when the settings say so) and archived
    /// copies past their retention.
    #[command(after_help = "Examples:
  objstore cleanup --dry-run        list what would be removed, remove nothing
  objstore --settings settings.json cleanup

Uses the manager (the default settings without --settings).")]
    Cleanup {
        /// List what would be removed, without removing anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// Suggest cleanup actions, each with its reason and the command that does it.
    Suggest,
    /// Run periodic checks (sample usage, judge health, clean up at critical) and serve
    /// Prometheus metrics on GET /metrics until Ctrl-C or SIGTERM.
    #[command(after_help = "Example:
  objstore --settings settings.json monitor --listen 127.0.0.1:9464 --interval 1h

--listen takes HOST:PORT, or :PORT for every interface (port 0 picks a free one).
--interval takes a duration such as 30s, 15m, 1h, 6h (default: usage_monitoring.check_interval_hours).")]
    Monitor {
        /// Where to serve /metrics.
        #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
        listen: SocketAddr,
        /// Time between checks.
        #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
        interval: Option<Duration>,
    },
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    #[command(after_help = "Examples:
  objstore completions bash > ~/.local/share/bash-completion/completions/objstore
  objstore completions zsh > \"${fpath[1]}/_objstore\"")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Copy a folder's files into the store (resumable).
    Import(crate::bulk::ImportArgs),
    /// Copy objects into a folder (resumable).
    Export(crate::bulk::ExportArgs),
    /// Copy a whole store to another one, e.g. local disk to S3 (resumable).
    Copy(crate::bulk::CopyArgs),
}

/// The manager's save options on `put`.
#[derive(Debug, Args, Default)]
pub struct SaveFlags {
    /// The category (trading_state, options_greeks, llm_cache, backtest_results, ml_models,
    /// monitoring_data, research_data, or a custom lowercase name); default research_data.
    #[arg(long, value_name = "CATEGORY", value_parser = CategoryName, hide_possible_values = true)]
    pub category: Option<String>,
    /// Expire the object after N days (0: at once, at most 36500); cleanup removes it.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub expire_days: Option<String>,
    /// Metadata NAME=VALUE (repeatable); VALUE is JSON when it parses (1.8, true, "x"), else text.
    #[arg(long = "meta", value_name = "NAME=VALUE", value_parser = parse_meta)]
    pub meta: Vec<(String, Value)>,
    /// Compress with zstd whatever the size (when it makes the value smaller).
    #[arg(long)]
    pub compress: bool,
}

impl SaveFlags {
    /// True when any flag asks for the manager.
    pub fn any(&self) -> bool {
        self.category.is_some() || self.expire_days.is_some() || !self.meta.is_empty() || self.compress
    }
}

/// A category's name: any text (a custom category is checked when it is used, with the project's
/// message and exit code), completed from the built-in categories.
#[derive(Debug, Clone, Copy)]
struct CategoryName;

impl TypedValueParser for CategoryName {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(BUILTIN_CATEGORIES.into_iter().map(PossibleValue::new)))
    }
}

/// The built-in categories' names, for completion (a test checks them against the manager's).
const BUILTIN_CATEGORIES: [&str; 7] = [
    "trading_state",
    "options_greeks",
    "llm_cache",
    "backtest_results",
    "ml_models",
    "monitoring_data",
    "research_data",
];

fn parse_meta(s: &str) -> Result<(String, Value), String> {
    let (name, value) = s.split_once('=').ok_or_else(|| format!("expected NAME=VALUE, got '{s}'"))?;
    if name.is_empty() {
        return Err(format!("the metadata name is empty in '{s}'"));
    }
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_string()));
    Ok((name.to_string(), value))
}

fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    let full = if s.starts_with(':') { format!("0.0.0.0{s}") } else { s.to_string() };
    full.to_socket_addrs()
        .map_err(|e| format!("'{s}' is not HOST:PORT or :PORT ({e})"))?
        .next()
        .ok_or_else(|| format!("'{s}' resolves to no address"))
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("'{s}' is not a duration such as 30s, 15m, 1h: {e}"))?;
    if d.is_zero() {
        return Err("the interval must be longer than 0".into());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn completion_offers_the_built_in_categories() {
        let names: Vec<&str> = objstore::manager::Category::BUILTIN.iter().map(|c| c.name()).collect();
        assert_eq!(names, BUILTIN_CATEGORIES);
    }

    #[test]
    fn meta_values_are_json_when_they_parse() {
        assert_eq!(parse_meta("sharpe=1.8").unwrap(), ("sharpe".into(), serde_json::json!(1.8)));
        assert_eq!(parse_meta("s=two words").unwrap(), ("s".into(), serde_json::json!("two words")));
        assert_eq!(parse_meta("a=b=c").unwrap(), ("a".into(), serde_json::json!("b=c")));
        assert!(parse_meta("novalue").is_err() && parse_meta("=1").is_err());
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(parse_listen("127.0.0.1:9464").unwrap().port(), 9464);
        assert!(parse_listen(":9464").unwrap().ip().is_unspecified());
        assert!(parse_listen("nonsense").is_err());
        assert!(parse_interval("0s").is_err());
        assert_eq!(parse_interval("1h").unwrap(), Duration::from_secs(3600));
    }
}
