//! Plain mode: objects exactly as they are in the store (put, get, cat, exists, rm, ls, path,
//! usage). When a key is missing but the manager holds it (`CATEGORY/KEY`), the error says how to
//! read it; when `get` returns a managed object's stored frame, a note says so.

use std::path::PathBuf;

use futures::TryStreamExt;
use objstore::ObjectStore;
use objstore::manager::{Category, format};

use crate::commands::Ctx;
use crate::exit::{self, CliResult, Failure};
use crate::invocation::{Mode, command};
use crate::output::{self, Stdout, shell_word};

/// `put KEY [FILE|-]`: the file (or standard input) streams into the store in chunks, so a
/// model of any size costs a few MiB of memory.
pub async fn put_stream(ctx: &Ctx, key: &str, file: Option<PathBuf>, quiet: bool) -> CliResult<()> {
    let saved = match file {
        Some(path) if path.as_os_str() != "-" => {
            let cannot = |e| Failure::from(objstore::Error::io(format!("cannot read {}", path.display()), e));
            let file = tokio::fs::File::open(&path).await.map_err(cannot)?;
            let size = file.metadata().await.map_err(cannot)?.len();
            ctx.store.save_from_reader(key, file, Some(size)).await?
        }
        _ => {
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                output::note(quiet, "reading the value from standard input (end it with Ctrl-D)");
            }
            ctx.store.save_from_reader(key, tokio::io::stdin(), None).await?
        }
    };
    if ctx.json {
        output::json(&serde_json::json!({"key": key, "size": saved.size}))?;
    }
    Ok(())
}

/// `put KEY FILE` where FILE is the staged copy of KEY (`objstore path KEY`): saved through the
/// store's staging, which records what the copy now holds.
pub async fn put_staged(ctx: &Ctx, key: &str) -> CliResult<()> {
    ctx.store.save_from_file(key).await?;
    if ctx.json {
        let size = ctx.store.head(key).await?.size;
        output::json(&serde_json::json!({"key": key, "size": size}))?;
    }
    Ok(())
}

/// `get KEY [-o FILE]`: to FILE, the value is copied into a temp file beside it (by the kernel
/// on local disk, in chunks elsewhere) and renamed into place once complete, so a failed read
/// leaves FILE as it was; to standard output it streams in chunks.
pub async fn get(ctx: &Ctx, key: &str, to: Option<PathBuf>) -> CliResult<()> {
    if let Some(path) = to.filter(|p| p.as_os_str() != "-") {
        return get_to_file(ctx, key, path).await;
    }
    let stream = match ctx.store.read_stream(key, None).await {
        Ok(stream) => stream,
        Err(e) if e.is_not_found() => return Err(not_found(&ctx.store, key).await),
        Err(e) => return Err(e.into()),
    };
    let mut body = stream.body;
    let mut first = true;
    let mut out = Stdout::new();
    while let Some(chunk) = body.try_next().await? {
        if first && chunk.starts_with(&format::MAGIC) {
            frame_note(ctx, key);
        }
        first = false;
        out.bytes(&chunk)?;
    }
    out.flush()
}

/// `get KEY -o FILE`: see [`get`].
async fn get_to_file(ctx: &Ctx, key: &str, path: PathBuf) -> CliResult<()> {
    let part = PartFile::create(&path).await?;
    let meta = match ctx.store.read_to_file(key, &part.file).await {
        Ok(meta) => meta,
        Err(e) if e.is_not_found() => return Err(not_found(&ctx.store, key).await),
        Err(e) => return Err(e.into()),
    };
    if part.starts_with(&format::MAGIC) {
        frame_note(ctx, key);
    }
    part.finish().await?;
    if ctx.json {
        output::json(&serde_json::json!({"key": key, "size": meta.size, "path": path}))?;
    }
    Ok(())
}

/// A temp file beside the output file, renamed over it by [`PartFile::finish`]; removed when
/// dropped unfinished (a failed read).
struct PartFile {
    file: std::fs::File,
    temp: PathBuf,
    path: PathBuf,
}

impl PartFile {
    async fn create(path: &std::path::Path) -> CliResult<PartFile> {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temp = path.with_file_name(format!(".{name}.objstore-part-{}", std::process::id()));
        let opened = {
            let temp = temp.clone();
            tokio::task::spawn_blocking(move || {
                std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&temp)
            })
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r)
        };
        let file = opened.map_err(|e| write_failure(path, e))?;
        Ok(PartFile { file, temp, path: path.to_path_buf() })
    }

    /// True when the file begins with `prefix`.
    fn starts_with(&self, prefix: &[u8]) -> bool {
        let mut head = vec![0u8; prefix.len()];
        std::os::unix::fs::FileExt::read_exact_at(&self.file, &mut head, 0).is_ok() && head == prefix
    }

    async fn finish(mut self) -> CliResult<()> {
        tokio::fs::rename(&self.temp, &self.path).await.map_err(|e| write_failure(&self.path, e))?;
        // In place: nothing left for Drop to remove.
        self.temp = PathBuf::new();
        Ok(())
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.temp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

fn write_failure(path: &std::path::Path, e: std::io::Error) -> Failure {
    Failure::from(objstore::Error::io(format!("cannot write {}", path.display()), e))
}

/// Delivers a value `get` read: to standard output (no FILE, or `-`), or to FILE (with a JSON
/// summary under --json).
pub async fn write_value(ctx: &Ctx, key: &str, bytes: &[u8], to: Option<PathBuf>) -> CliResult<()> {
    match to {
        Some(path) if path.as_os_str() != "-" => {
            tokio::fs::write(&path, bytes)
                .await
                .map_err(|e| Failure::from(objstore::Error::io(format!("cannot write {}", path.display()), e)))?;
            if ctx.json {
                output::json(&serde_json::json!({"key": key, "size": bytes.len(), "path": path}))?;
            }
            Ok(())
        }
        _ => {
            let mut out = Stdout::new();
            out.bytes(bytes)?;
            out.flush()
        }
    }
}

/// `cat KEY`.
pub async fn cat(ctx: &Ctx, key: &str) -> CliResult<()> {
    let bytes = read(ctx, key).await?;
    let text = match std::str::from_utf8(&bytes) {
        Ok(text) => text,
        Err(e) => {
            let failure = Failure::new(exit::INVALID, format!("cannot read '{key}' as UTF-8 text: {e}"));
            return Err(match managed_name(key).filter(|_| bytes.starts_with(&format::MAGIC)) {
                Some((_, inner)) => failure.hint(format!(
                    "'{key}' is a managed object's stored frame: `{}` reads its value",
                    command(Mode::Managed, &format!("cat {}", shell_word(inner)))
                )),
                None => failure.hint(format!(
                    "it holds binary data: `{}` writes its bytes",
                    command(Mode::Plain, &format!("get {} -o FILE", shell_word(key)))
                )),
            });
        }
    };
    write_text(ctx, key, text)
}

/// Prints a value as text (on a terminal, ending it with a newline when it has none), or with
/// --json as `{"key": KEY, "value": TEXT}`.
pub fn write_text(ctx: &Ctx, key: &str, text: &str) -> CliResult<()> {
    if ctx.json {
        return output::json(&serde_json::json!({"key": key, "value": text}));
    }
    let mut out = Stdout::new();
    out.bytes(text.as_bytes())?;
    if !text.is_empty() && !text.ends_with('\n') && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        out.bytes(b"\n")?;
    }
    out.flush()
}

/// `exists KEY`: 0 when present, 1 when absent.
pub async fn exists(ctx: &Ctx, key: &str) -> CliResult<u8> {
    let present = ctx.store.contains_key(key).await?;
    if ctx.json {
        output::json(&serde_json::json!({"key": key, "exists": present}))?;
    }
    Ok(if present { 0 } else { exit::ABSENT })
}

/// `rm KEY...`: deletes every key it can; missing keys are reported (unless --force) and the
/// exit code is the first failure's.
pub async fn rm(ctx: &Ctx, keys: &[String], force: bool) -> CliResult<()> {
    let delete = async |key: &str| match ctx.store.delete(key).await {
        Ok(()) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e.into()),
    };
    remove_each(ctx, keys, force, delete, async |key: &str| not_found(&ctx.store, key).await).await
}

/// `rm` in either mode: `delete` answers whether a key was there; each missing one is reported
/// with `missing`'s failure (unless `force`), after the JSON summary, and the exit code is the
/// first failure's. A hard error stops at once.
pub async fn remove_each(
    ctx: &Ctx,
    keys: &[String],
    force: bool,
    delete: impl AsyncFn(&str) -> CliResult<bool>,
    missing: impl AsyncFn(&str) -> Failure,
) -> CliResult<()> {
    let (mut deleted, mut absent) = (Vec::new(), Vec::new());
    for key in keys {
        if delete(key).await? { deleted.push(key.as_str()) } else { absent.push(key.as_str()) }
    }
    let mut failures = Vec::new();
    if !force {
        for key in &absent {
            failures.push(missing(key).await);
        }
    }
    if ctx.json {
        output::json(&serde_json::json!({"deleted": deleted, "not_found": absent}))?;
    }
    let Some(code) = failures.first().map(|f| f.code) else { return Ok(()) };
    for failure in &failures {
        crate::report(failure);
    }
    Err(Failure { message: String::new(), code, hint: None, silent: true })
}

/// `ls [PREFIX] [--long]`: streamed, so that a listing of millions of keys starts at once.
pub async fn ls(ctx: &Ctx, prefix: &str, long: bool) -> CliResult<()> {
    let mut out = Stdout::new();
    if !long && !ctx.json {
        let mut keys = ctx.store.list_keys(prefix);
        while let Some(key) = keys.try_next().await? {
            out.line(key.as_str())?;
        }
        return out.flush();
    }
    if !ctx.json {
        out.line(&format!("{:>10}  {:<20}  KEY", "SIZE", "MODIFIED"))?;
    }
    let mut metas = ctx.store.list(prefix);
    while let Some(meta) = metas.try_next().await? {
        let modified = meta.modified.map(output::time);
        if ctx.json {
            out.json(&serde_json::json!({
                "key": meta.key.as_str(), "size": meta.size, "modified": modified, "version": meta.version.as_str(),
            }))?;
        } else {
            let size = output::size(meta.size);
            let modified = modified.unwrap_or_else(|| "-".into());
            out.line(&format!("{size:>10}  {modified:<20}  {}", meta.key))?;
        }
    }
    out.flush()
}

/// `path KEY`.
pub async fn path(ctx: &Ctx, key: &str) -> CliResult<()> {
    let path = ctx.store.get_file_path(key).await?;
    if ctx.json {
        output::json(&serde_json::json!({"key": key, "path": path}))
    } else {
        output::text(&path.display().to_string())
    }
}

/// `usage`.
pub async fn usage(ctx: &Ctx) -> CliResult<()> {
    let usage = ctx.store.usage().await?;
    if ctx.json {
        output::json(&serde_json::json!({"bytes": usage.bytes, "objects": usage.objects}))
    } else {
        let objects = output::count(usage.objects, "object", None);
        output::text(&format!("{} in {objects}", output::size(usage.bytes)))
    }
}

/// The value of `key`; a missing key's error says whether the manager holds it.
async fn read(ctx: &Ctx, key: &str) -> CliResult<bytes::Bytes> {
    match ctx.store.read_bytes(key).await {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.is_not_found() => Err(not_found(&ctx.store, key).await),
        Err(e) => Err(e.into()),
    }
}

/// "no object with key": with a hint to managed mode when the manager holds the key.
pub async fn not_found(store: &ObjectStore, key: &str) -> Failure {
    let failure = Failure::not_found(key);
    match managed_copy(store, key).await {
        Some(category) => failure.hint(format!(
            "the manager holds '{key}' (stored as '{category}/{key}'): read it in managed mode, `{}` (or with \
             --settings FILE)",
            command(Mode::Managed, &format!("get {}", shell_word(key)))
        )),
        None => failure,
    }
}

/// The built-in category whose folder holds `key`, if one does (probed on the error path only).
async fn managed_copy(store: &ObjectStore, key: &str) -> Option<Category> {
    let probes = Category::BUILTIN.into_iter().map(|category| async move {
        let found = store.head(&format!("{category}/{key}")).await.is_ok();
        found.then_some(category)
    });
    futures::future::join_all(probes).await.into_iter().flatten().next()
}

/// `CATEGORY/KEY` split, when the first segment names a category.
fn managed_name(store_key: &str) -> Option<(Category, &str)> {
    let (first, rest) = store_key.split_once('/')?;
    Some((Category::parse(first).ok()?, rest))
}

fn frame_note(ctx: &Ctx, key: &str) {
    let how = match managed_name(key) {
        Some((_, inner)) => {
            format!("`{}` gives its value", command(Mode::Managed, &format!("get {}", shell_word(inner))))
        }
        None => "managed mode (--managed or --settings FILE) gives its value".to_string(),
    };
    output::note(ctx.quiet, &format!("'{key}' is a managed object's stored frame (docs/FORMAT.md); {how}"));
}
