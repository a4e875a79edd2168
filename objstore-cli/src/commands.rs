//! Dispatch: reads the settings, opens the store, builds the manager, and hands each command to
//! its module (plain, managed, monitor_cmd, bulk).

use std::path::PathBuf;

use objstore::ObjectStore;
use objstore::manager::{Manager, Settings};
use tokio::io::AsyncReadExt;

use crate::args::{Cli, Command};
use crate::exit::{CliResult, Failure};
use crate::{managed, monitor_cmd, output, plain};

/// What every command works with.
pub struct Ctx {
    /// The store (`--store`).
    pub store: ObjectStore,
    /// The manager over it, with the settings file or the default settings.
    pub manager: Manager,
    /// `--json`.
    pub json: bool,
    /// `--quiet`.
    pub quiet: bool,
    /// `--settings`, to repeat it in the commands suggested to the user.
    pub settings_path: Option<PathBuf>,
}

impl Ctx {
    /// The command line that runs `rest` the way this command ran: with the same settings file,
    /// or in managed mode (`--managed`) for key commands when there is none.
    pub fn command(&self, key_command: bool, rest: &str) -> String {
        match &self.settings_path {
            Some(path) => {
                format!("objstore --settings {} {rest}", crate::output::shell_word(&path.display().to_string()))
            }
            None if key_command => format!("objstore --managed {rest}"),
            None => format!("objstore {rest}"),
        }
    }
}

/// Runs the command; returns the exit code for outcomes that are not errors (`exists`, `health`).
pub async fn run(cli: Cli) -> CliResult<u8> {
    let (json, quiet) = (cli.json, cli.quiet);
    match cli.command {
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut command, "objstore", &mut buf);
            return output::text(&String::from_utf8_lossy(&buf)).map(|()| 0);
        }
        Command::Copy(args) => {
            crate::bulk::copy(args, json, quiet).await?;
            return Ok(0);
        }
        _ => {}
    }
    let store_url = cli.store_url();
    let settings_path = cli.settings_file();
    let settings = match &settings_path {
        Some(path) => {
            tracing::debug!("reading settings from {}", path.display());
            Some(Settings::from_file(path).map_err(objstore::manager::Error::from)?)
        }
        None => None,
    };
    let managed = cli.managed || settings.is_some();
    // Without the query, which may hold credentials.
    let shown = store_url.split('?').next().unwrap_or_default();
    tracing::debug!("opening store {shown} ({} mode)", if managed { "managed" } else { "plain" });
    let mut builder = ObjectStore::builder(store_url.as_str());
    if let Command::Path { staging_dir, .. } = &cli.command {
        // The library's default staging folder goes away with the process; `path` must print a
        // path that stays.
        builder = builder.staging_dir(staging_dir.clone().unwrap_or_else(|| default_staging(&store_url)));
    }
    let store = builder.build().await?;
    let manager = Manager::new(store.clone(), settings.unwrap_or_default());
    let ctx = Ctx { store, manager, json, quiet, settings_path };
    match cli.command {
        Command::Put { key, file, save } => {
            let bytes = read_input(file, quiet).await?;
            if managed || save.any() {
                managed::put(&ctx, &key, bytes, save).await?;
            } else {
                plain::put(&ctx, &key, bytes).await?;
            }
        }
        Command::Get { key, output } if managed => managed::get(&ctx, &key, output).await?,
        Command::Get { key, output } => plain::get(&ctx, &key, output).await?,
        Command::Cat { key } if managed => managed::cat(&ctx, &key).await?,
        Command::Cat { key } => plain::cat(&ctx, &key).await?,
        Command::Exists { key } if managed => return managed::exists(&ctx, &key).await,
        Command::Exists { key } => return plain::exists(&ctx, &key).await,
        Command::Rm { keys, force } if managed => managed::rm(&ctx, &keys, force).await?,
        Command::Rm { keys, force } => plain::rm(&ctx, &keys, force).await?,
        Command::Ls { prefix, category, long } if managed || category.is_some() => {
            managed::ls(&ctx, prefix.as_deref().unwrap_or(""), category.as_deref(), long).await?
        }
        Command::Ls { prefix, long, .. } => plain::ls(&ctx, prefix.as_deref().unwrap_or(""), long).await?,
        Command::Path { key, .. } if managed => managed::path(&ctx, &key).await?,
        Command::Path { key, .. } => plain::path(&ctx, &key).await?,
        Command::Usage => plain::usage(&ctx).await?,
        Command::Meta { key } => managed::meta(&ctx, &key).await?,
        Command::Cleanup { dry_run } => crate::cleanup::cleanup(&ctx, dry_run).await?,
        Command::Stats => monitor_cmd::stats(&ctx).await?,
        Command::Report => monitor_cmd::report(&ctx).await?,
        Command::Health => return monitor_cmd::health(&ctx).await,
        Command::Suggest => monitor_cmd::suggest(&ctx).await?,
        Command::Monitor { listen, interval } => monitor_cmd::monitor(&ctx, listen, interval).await?,
        Command::Import(args) => crate::bulk::import(&ctx.store, args, json, quiet).await?,
        Command::Export(args) => crate::bulk::export(&ctx.store, args, json, quiet).await?,
        Command::Completions { .. } | Command::Copy(_) => unreachable!("handled above"),
    }
    Ok(0)
}

/// `~/.cache/objstore/staging/STORE` (`$XDG_CACHE_HOME` first), STORE being the URL without its
/// query (no credentials in paths) made into one folder name.
fn default_staging(url: &str) -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    let base = url.split(['?', '#']).next().unwrap_or(url);
    let name: String =
        base.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    cache.join("objstore").join("staging").join(name.trim_matches('_'))
}

/// The value to save: the file's bytes, or standard input (`-` or no file).
async fn read_input(file: Option<PathBuf>, quiet: bool) -> CliResult<Vec<u8>> {
    match file {
        Some(path) if path.as_os_str() != "-" => tokio::fs::read(&path)
            .await
            .map_err(|e| objstore::Error::io(format!("cannot read {}", path.display()), e).into()),
        _ => {
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                output::note(quiet, "reading the value from standard input (end it with Ctrl-D)");
            }
            let mut buf = Vec::new();
            tokio::io::stdin()
                .read_to_end(&mut buf)
                .await
                .map_err(|e| Failure::from(objstore::Error::io("cannot read standard input", e)))?;
            Ok(buf)
        }
    }
}
