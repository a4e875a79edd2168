//! What each command does.

use std::io::Write;

use futures::TryStreamExt;
use objstore::{Error, ObjectStore, Result};
use tokio::io::AsyncReadExt;

use crate::args::{Cli, Command};
use crate::exit;

/// Runs the command; returns the exit code for outcomes that are not errors.
pub async fn run(cli: Cli) -> Result<u8> {
    if let Command::Copy(args) = cli.command {
        crate::bulk::copy(args, cli.json, false).await?;
        return Ok(0);
    }
    let store = objstore::open(&cli.store).await?;
    match cli.command {
        Command::Put { key, file } => {
            let bytes = match file.as_deref() {
                None => read_stdin().await?,
                Some(p) if p.as_os_str() == "-" => read_stdin().await?,
                Some(p) => {
                    tokio::fs::read(p).await.map_err(|e| Error::io(format!("cannot read {}", p.display()), e))?
                }
            };
            let size = bytes.len();
            store.save_bytes(&key, bytes).await?;
            if cli.json {
                println!("{}", serde_json::json!({"key": key, "size": size}));
            }
        }
        Command::Get { key, output } => {
            let bytes = store.read_bytes(&key).await?;
            match output {
                Some(path) => tokio::fs::write(&path, &bytes)
                    .await
                    .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?,
                None => write_stdout(&bytes)?,
            }
        }
        Command::Cat { key } => {
            let text = store.read(&key).await?;
            write_stdout(text.as_bytes())?;
            if !text.ends_with('\n') && !text.is_empty() && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                write_stdout(b"\n")?;
            }
        }
        Command::Exists { key } => {
            let present = store.contains_key(&key).await?;
            if cli.json {
                println!("{}", serde_json::json!({"key": key, "exists": present}));
            }
            return Ok(if present { 0 } else { exit::ABSENT });
        }
        Command::Rm { keys } => {
            for key in keys {
                store.delete(&key).await?;
            }
        }
        Command::Ls { prefix, long } => list(&store, prefix.as_deref().unwrap_or(""), long, cli.json).await?,
        Command::Path { key } => {
            let path = store.get_file_path(&key).await?;
            if cli.json {
                println!("{}", serde_json::json!({"key": key, "path": path}));
            } else {
                println!("{}", path.display());
            }
        }
        Command::Usage => {
            let usage = store.usage().await?;
            if cli.json {
                println!("{}", serde_json::json!({"bytes": usage.bytes, "objects": usage.objects}));
            } else {
                println!("{} in {} objects", objstore::error::human_bytes(usage.bytes), usage.objects);
            }
        }
        Command::Import(args) => crate::bulk::import(&store, args, cli.json, false).await?,
        Command::Export(args) => crate::bulk::export(&store, args, cli.json, false).await?,
        Command::Copy(_) => unreachable!("handled above"),
    }
    Ok(0)
}

async fn list(store: &ObjectStore, prefix: &str, long: bool, json: bool) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let write_err = |e: std::io::Error| Error::io("cannot write to standard output", e);
    if !long && !json {
        let mut keys = store.list_keys(prefix);
        while let Some(key) = keys.try_next().await? {
            writeln!(out, "{key}").map_err(write_err)?;
        }
        return out.flush().map_err(write_err);
    }
    let mut metas = store.list(prefix);
    while let Some(meta) = metas.try_next().await? {
        let modified = meta.modified.map(|t| humantime::format_rfc3339_seconds(t).to_string());
        if json {
            let line = serde_json::json!({
                "key": meta.key.as_str(), "size": meta.size, "modified": modified, "version": meta.version.as_str(),
            });
            writeln!(out, "{line}").map_err(write_err)?;
        } else {
            let size = objstore::error::human_bytes(meta.size);
            writeln!(out, "{size:>10}  {:<20}  {}", modified.unwrap_or_default(), meta.key).map_err(write_err)?;
        }
    }
    out.flush().map_err(write_err)
}

async fn read_stdin() -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    tokio::io::stdin().read_to_end(&mut buf).await.map_err(|e| Error::io("cannot read standard input", e))?;
    Ok(buf)
}

fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        // A closed pipe (`objstore get k | head`) is the reader's choice, not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(|e| Error::io("cannot write to standard output", e)),
    }
}
