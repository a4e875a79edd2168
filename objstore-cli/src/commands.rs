//! Dispatch: reads the settings, opens the store, builds the manager, and hands each command to
//! its module (plain, managed, monitor_cmd, bulk).
//!
//! Invariants: only commands that save (`put`, `import`, `path`, and `copy`'s destination)
//! create a store folder; every other command opens a local store with `create=false`, so a
//! mistyped path is an error (exit 9), never a new empty store that reads as healthy. A command
//! that saves to `memory://` says (unless `--quiet`) that the store ends with the command; `path`
//! on `memory://` is refused, having nothing to point at once the command ends.

use std::ffi::OsString;
use std::path::PathBuf;

use objstore::ObjectStore;
use objstore::manager::{Manager, Settings};
use tokio::io::AsyncReadExt;

use crate::args::{Cli, Command};
use crate::exit::{CliResult, Failure};
use crate::invocation::{self, Invocation};
use crate::{managed, monitor_cmd, output, plain, store_url};

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
}

/// Runs the command; returns the exit code for outcomes that are not errors (`exists`, `health`).
pub async fn run(cli: Cli) -> CliResult<u8> {
    let (json, quiet) = (cli.json, cli.quiet);
    if let Command::Completions { shell } = cli.command {
        let mut command = <Cli as clap::CommandFactory>::command();
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut command, "objstore", &mut buf);
        return output::text(&String::from_utf8_lossy(&buf)).map(|()| 0);
    }
    let (given_url, store_source) = cli.store_given();
    let settings_given = cli.settings_given();
    invocation::set(Invocation {
        store: given_url.clone(),
        store_source,
        settings: settings_given.clone(),
        managed: cli.managed || settings_given.is_some(),
    });
    if let Command::Copy(args) = cli.command {
        return copy(args, json, quiet).await.map(|()| 0);
    }
    let store_url = store_url::normalise(&given_url);
    let settings = match &settings_given {
        Some((path, _)) => {
            tracing::debug!("reading settings from {}", path.display());
            Some(Settings::from_file(path).map_err(objstore::manager::Error::from)?)
        }
        None => None,
    };
    let managed = cli.managed || settings.is_some();
    let scheme = store_url::scheme(&store_url);
    let memory = scheme.as_deref() == Some("memory");
    let creates = matches!(cli.command, Command::Put { .. } | Command::Import(_) | Command::Path { .. });
    if memory && matches!(cli.command, Command::Path { .. }) {
        return Err(Failure::usage(
            "`path` on memory:// has nothing to point at: the store lives only as long as the command",
        )
        .hint("use a store that lasts: --store file:///path/to/folder or s3://bucket/prefix"));
    }
    tracing::debug!(
        "opening store {} ({} mode)",
        objstore::url::redact(&store_url),
        if managed { "managed" } else { "plain" }
    );
    let mut builder = ObjectStore::builder(store_url.as_str());
    if !creates && scheme.as_deref() == Some("file") {
        builder = builder.option("create", "false");
    }
    if let Command::Path { staging_dir, .. } = &cli.command
        && scheme.as_deref() != Some("file")
    {
        // The library's default staging folder goes away with the process; `path` must print a
        // path that stays.
        builder = builder.staging_dir(crate::staging::prepare(staging_dir.clone(), &store_url)?);
    }
    // `put KEY FILE` of a staged copy (`objstore put k "$(objstore path k)"`): the store records
    // the upload beside the copy.
    let mut staged_put = false;
    if let Command::Put { key, file: Some(file), save } = &cli.command
        && !managed
        && !save.any()
        && !matches!(scheme.as_deref(), Some("file" | "memory"))
        && let Some(dir) = key.to_str().and_then(|key| crate::staging::holding(&store_url, key, file))
    {
        builder = builder.staging_dir(dir);
        staged_put = true;
    }
    let store = builder.build().await?;
    if memory && creates {
        memory_note(quiet);
    }
    let manager = Manager::new(store.clone(), settings.unwrap_or_default());
    let ctx = Ctx { store, manager, json, quiet };
    match cli.command {
        Command::Put { key, .. } if staged_put => plain::put_staged(&ctx, &plain_key(key)?).await?,
        Command::Put { key, file, save } => {
            if managed || save.any() {
                // The manager frames, checksums and compresses whole values (at most
                // max_file_size_mb): read them whole.
                let bytes = read_input(file, quiet).await?;
                managed::put(&ctx, &utf8_key(key)?, bytes, save).await?;
            } else {
                let key = plain_key(key)?;
                plain::put_stream(&ctx, &key, file, quiet).await?;
            }
        }
        Command::Get { key, output } if managed => managed::get(&ctx, &utf8_key(key)?, output).await?,
        Command::Get { key, output } => plain::get(&ctx, &plain_key(key)?, output).await?,
        Command::Cat { key } if managed => managed::cat(&ctx, &utf8_key(key)?).await?,
        Command::Cat { key } => plain::cat(&ctx, &plain_key(key)?).await?,
        Command::Exists { key } if managed => return managed::exists(&ctx, &utf8_key(key)?).await,
        Command::Exists { key } => return plain::exists(&ctx, &plain_key(key)?).await,
        Command::Rm { keys, force } if managed => {
            let keys = keys.into_iter().map(utf8_key).collect::<CliResult<Vec<_>>>()?;
            managed::rm(&ctx, &keys, force).await?
        }
        Command::Rm { keys, force } => {
            let keys = keys.into_iter().map(plain_key).collect::<CliResult<Vec<_>>>()?;
            plain::rm(&ctx, &keys, force).await?
        }
        Command::Ls { prefix, category, long } if managed || category.is_some() => {
            let prefix = prefix.map(utf8_key).transpose()?.unwrap_or_default();
            managed::ls(&ctx, &prefix, category.as_deref(), long).await?
        }
        Command::Ls { prefix, long, .. } => {
            let prefix = prefix.map(utf8_key).transpose()?.unwrap_or_default();
            plain::ls(&ctx, &prefix, long).await?
        }
        Command::Path { key, .. } if managed => managed::path(&ctx, &utf8_key(key)?).await?,
        Command::Path { key, .. } => plain::path(&ctx, &plain_key(key)?).await?,
        Command::Usage => plain::usage(&ctx).await?,
        Command::Meta { key } => managed::meta(&ctx, &utf8_key(key)?).await?,
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

/// `copy SRC DST`: refuses overlapping stores, opens the source without creating it.
async fn copy(args: crate::bulk::CopyArgs, json: bool, quiet: bool) -> CliResult<()> {
    let (src_url, dst_url) = (store_url::normalise(&args.src), store_url::normalise(&args.dst));
    crate::bulk::refuse_overlap(&src_url, &dst_url)?;
    // Every value is read once and written once: a cache would only cost memory.
    let mut src = ObjectStore::builder(src_url.as_str()).cache(objstore::CacheOptions::DISABLED);
    if store_url::scheme(&src_url).as_deref() == Some("file") {
        src = src.option("create", "false");
    }
    let src = src.build().await?;
    let dst = ObjectStore::builder(dst_url.as_str()).cache(objstore::CacheOptions::DISABLED).build().await?;
    if store_url::scheme(&dst_url).as_deref() == Some("memory") {
        memory_note(quiet);
    }
    Ok(crate::bulk::copy(&src, &dst, args, json, quiet).await?)
}

/// The note for commands that save to `memory://`.
fn memory_note(quiet: bool) {
    output::note(
        quiet,
        "memory:// keeps the store only as long as the command runs: what it saves is gone when it ends \
         (use file:// or s3:// to keep it)",
    );
}

/// A key argument as text: a key that is not UTF-8 is an invalid key (exit 4), as the library
/// would say of any other bad key.
fn utf8_key(key: OsString) -> CliResult<String> {
    key.into_string().map_err(|raw| {
        Failure::from(objstore::Error::InvalidKey {
            key: raw.to_string_lossy().into_owned(),
            reason: "it is not valid UTF-8 (keys are UTF-8 text)".into(),
        })
    })
}

/// A plain key argument, as the store keeps it (`/abs2` is `abs2`, `a//b` is `a/b`).
fn plain_key(key: OsString) -> CliResult<String> {
    let text = utf8_key(key)?;
    Ok(objstore::Key::parse(&text)?.as_str().to_string())
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
