//! Managed mode: keys through the manager (categories, quotas, expiry, metadata, compression):
//! put, get, cat, exists, rm, ls, path, and `meta`. A managed key `k` of category `c` is the
//! store object `c/k`; expired objects are invisible here until `cleanup` removes them.

use std::path::PathBuf;
use std::sync::Arc;

use objstore::manager::{Category, SaveOptions, StoredObject};

use crate::args::SaveFlags;
use crate::commands::Ctx;
use crate::exit::{CliResult, Failure};
use crate::invocation::{Mode, command};
use crate::output::{self, Align, Stdout, Table, shell_word};
use crate::plain;

/// `put KEY [FILE|-]` with the manager's options (default category research_data).
pub async fn put(ctx: &Ctx, key: &str, bytes: Vec<u8>, flags: SaveFlags) -> CliResult<()> {
    let category = match flags.category.as_deref() {
        Some(name) => parse_category(name)?,
        None => Category::ResearchData,
    };
    let mut opts = SaveOptions::new(category);
    opts.expire_days = flags.expire_days.as_deref().map(parse_expire_days).transpose()?;
    opts.force_compress = flags.compress;
    opts.metadata.extend(flags.meta);
    let object = ctx.manager.save_bytes(key, bytes, opts).await?;
    if ctx.json {
        output::json(&object)?;
    }
    Ok(())
}

/// `get KEY [-o FILE]`: the value, decompressed and checked.
pub async fn get(ctx: &Ctx, key: &str, to: Option<PathBuf>) -> CliResult<()> {
    let bytes = load(ctx, key).await?;
    plain::write_value(ctx, key, &bytes, to).await
}

/// `cat KEY`.
pub async fn cat(ctx: &Ctx, key: &str) -> CliResult<()> {
    let bytes = load(ctx, key).await?;
    match std::str::from_utf8(&bytes) {
        Ok(text) => plain::write_text(ctx, key, text),
        Err(e) => {
            Err(Failure::new(crate::exit::INVALID, format!("cannot read '{key}' as UTF-8 text: {e}")).hint(format!(
                "it holds binary data: `{}` writes its bytes",
                command(Mode::Managed, &format!("get {} -o FILE", shell_word(key)))
            )))
        }
    }
}

/// `exists KEY`: 0 when a live (unexpired) managed object has the key, else 1.
pub async fn exists(ctx: &Ctx, key: &str) -> CliResult<u8> {
    let present = ctx.manager.get_metadata(key).await?.is_some();
    if ctx.json {
        output::json(&serde_json::json!({"key": key, "exists": present}))?;
    }
    Ok(if present { 0 } else { crate::exit::ABSENT })
}

/// `rm KEY...`: from whichever category holds each key (expired or not).
pub async fn rm(ctx: &Ctx, keys: &[String], force: bool) -> CliResult<()> {
    let delete = async |key: &str| match ctx.manager.delete(key).await {
        Ok(()) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e.into()),
    };
    plain::remove_each(ctx, keys, force, delete, async |key: &str| not_found(ctx, key).await).await
}

/// `ls [PREFIX] [--category C] [--long]`: live managed objects, sorted by key.
pub async fn ls(ctx: &Ctx, prefix: &str, category: Option<&str>, long: bool) -> CliResult<()> {
    let mut objects: Vec<Arc<StoredObject>> = match category {
        Some(name) => ctx.manager.list_objects(&parse_category(name)?).await?,
        None => ctx.manager.find(|o| o.key.starts_with(prefix)).await?.into_iter().map(Arc::new).collect(),
    };
    objects.retain(|o| o.key.starts_with(prefix));
    objects.sort_by(|a, b| a.key.cmp(&b.key));
    let mut out = Stdout::new();
    if ctx.json {
        for object in &objects {
            out.json(&**object)?;
        }
        return out.flush();
    }
    if !long {
        for object in &objects {
            out.line(&object.key)?;
        }
        return out.flush();
    }
    let mut table = Table::new(&[
        ("SIZE", Align::Right),
        ("STORED", Align::Right),
        ("MODIFIED", Align::Left),
        ("CATEGORY", Align::Left),
        ("EXPIRES", Align::Left),
        ("KEY", Align::Left),
    ]);
    for o in &objects {
        table.row(vec![
            output::size(o.size),
            format!("{}{}", output::size(o.stored_size), if o.compressed { " z" } else { "" }),
            output::time(o.created),
            o.category.to_string(),
            o.expires.map_or_else(|| "never".to_string(), output::time),
            o.key.clone(),
        ]);
    }
    out.bytes(table.render().as_bytes())?;
    out.flush()
}

/// `path KEY`: where the managed object is stored (its framed bytes, see docs/FORMAT.md).
pub async fn path(ctx: &Ctx, key: &str) -> CliResult<()> {
    let object = metadata(ctx, key).await?;
    let store_key = format!("{}/{}", object.category, object.key);
    let path = ctx.store.get_file_path(&store_key).await?;
    if ctx.json {
        return output::json(&serde_json::json!({
            "key": object.key, "category": object.category, "store_key": store_key, "path": path, "framed": true,
        }));
    }
    output::note(
        ctx.quiet,
        &format!(
            "the file holds the stored frame (header + value); `{}` writes the value",
            command(Mode::Managed, &format!("get {} -o FILE", shell_word(key)))
        ),
    );
    output::text(&path.display().to_string())
}

/// `meta KEY`: what the manager knows about the object.
pub async fn meta(ctx: &Ctx, key: &str) -> CliResult<()> {
    let o = metadata(ctx, key).await?;
    if ctx.json {
        return output::json(&o);
    }
    let mut rows = vec![
        ("key".to_string(), o.key.clone()),
        ("category".into(), o.category.to_string()),
        ("size".into(), format!("{} ({} bytes)", output::size(o.size), o.size)),
        (
            "stored".into(),
            format!(
                "{} ({} bytes{})",
                output::size(o.stored_size),
                o.stored_size,
                if o.compressed { ", zstd" } else { "" }
            ),
        ),
        ("created".into(), output::time(o.created)),
        ("expires".into(), o.expires.map_or_else(|| "never".to_string(), output::time)),
        ("checksum".into(), o.checksum.to_string()),
    ];
    for (name, value) in &o.metadata {
        let value = match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        rows.push((format!("meta.{name}"), value));
    }
    let width = rows.iter().map(|(n, _)| n.chars().count()).max().unwrap_or(0);
    let text: String = rows.iter().map(|(n, v)| format!("{n:<width$}  {v}\n")).collect();
    output::text(&text)
}

/// The object's description, or "no object" (with a hint when a plain object has the key).
async fn metadata(ctx: &Ctx, key: &str) -> CliResult<StoredObject> {
    match ctx.manager.get_metadata(key).await? {
        Some(object) => Ok(object),
        None => Err(not_found(ctx, key).await),
    }
}

/// The value, or "no object".
async fn load(ctx: &Ctx, key: &str) -> CliResult<bytes::Bytes> {
    match ctx.manager.load_bytes(key).await? {
        Some(bytes) => Ok(bytes),
        None => Err(not_found(ctx, key).await),
    }
}

/// "no object with key" for a managed key: says when a plain object has that key instead.
async fn not_found(ctx: &Ctx, key: &str) -> Failure {
    let failure = Failure::not_found(key).hint(format!(
        "managed keys are listed by `{}`; an expired key is gone until saved again",
        command(Mode::Managed, "ls")
    ));
    if ctx.store.head(key).await.is_ok() {
        return failure.hint(format!(
            "'{key}' is a plain object, not saved through the manager: read it in plain mode, `{}`",
            command(Mode::Plain, &format!("get {}", shell_word(key)))
        ));
    }
    failure
}

/// `--expire-days N`: a whole number of days (exit 4 otherwise; the manager refuses more than
/// `MAX_EXPIRE_DAYS`).
fn parse_expire_days(text: &str) -> CliResult<u32> {
    let max = objstore::manager::object::MAX_EXPIRE_DAYS;
    text.trim().parse::<u32>().map_err(|_| {
        Failure::new(
            crate::exit::INVALID,
            format!("--expire-days takes a whole number of days from 0 to {max}, not '{}'", output::escaped(text)),
        )
        .hint("leave --expire-days out to keep the object until it is deleted; 0 expires it at once")
    })
}

/// A category from its name (`InvalidCategory`, exit 4, when it cannot be one).
pub fn parse_category(name: &str) -> CliResult<Category> {
    Category::parse(name).map_err(|e| Failure::from(objstore::manager::Error::from(e)))
}
