//! `cleanup [--dry-run]`: removes expired objects (archived first when the settings say so),
//! archived copies past their retention and superseded copies; `--dry-run` lists them and changes
//! nothing.
//!
//! The dry run works out the plan from what the manager exposes: `usage_by_category` says which
//! categories hold expired objects, whose headers are then read from the store (the manager's
//! listings hide expired objects); `list_archived` gives each archived copy's `purge_after`;
//! `superseded_copies` the older copies of keys moved to another category.

use std::collections::BTreeSet;
use std::time::SystemTime;

use futures::TryStreamExt;
use objstore::manager::{Category, format};
use serde::Serialize;

use crate::commands::Ctx;
use crate::exit::CliResult;
use crate::output::{self, Align, Table};

/// One object a cleanup would remove.
#[derive(Debug, Serialize)]
struct Planned {
    /// "expire" (an expired object), "purge" (an archived copy past its retention) or
    /// "supersede" (an older copy of a key whose newer copy is in another category).
    action: &'static str,
    /// The manager key.
    key: String,
    /// Its category.
    category: Category,
    /// Where it is in the store.
    store_key: String,
    /// Bytes it takes in the store.
    stored_size: u64,
    /// When it expired (expire), when its retention ended (purge), or when it was saved
    /// (supersede), RFC 3339.
    due: String,
}

/// `cleanup [--dry-run]`.
pub async fn cleanup(ctx: &Ctx, dry_run: bool) -> CliResult<()> {
    if dry_run {
        return dry(ctx).await;
    }
    let report = ctx.manager.cleanup().await?;
    if ctx.json {
        let mut value = serde_json::to_value(&report).unwrap_or_default();
        value["dry_run"] = false.into();
        return output::json(&value);
    }
    let mut text = if report.removed() == 0 && report.skipped.is_empty() {
        "nothing to clean up: no expired objects, no archived copies past their retention, no superseded copies\n"
            .to_string()
    } else {
        format!(
            "removed {} ({} archived first) and {} past their retention; freed {}\n",
            output::count(report.expired as u64, "expired object", None),
            report.archived,
            output::count(report.purged as u64, "archived copy", Some("archived copies")),
            output::size(report.freed_bytes)
        )
    };
    if report.superseded > 0 {
        text.push_str(&format!(
            "removed {} (older than the key's copy in another category: a move a crash interrupted)\n",
            output::count(report.superseded as u64, "superseded copy", Some("superseded copies"))
        ));
    }
    for why in &report.skipped {
        text.push_str(&format!("skipped: {why}\n"));
    }
    output::text(&text)
}

async fn dry(ctx: &Ctx) -> CliResult<()> {
    let manager = &ctx.manager;
    let now = manager.now();
    let archive = manager.settings().auto_cleanup.archive_before_delete;
    let mut plan = Vec::new();
    for (category, usage) in manager.usage_by_category().await? {
        if usage.expired_files > 0 {
            plan.extend(expired_in(ctx, &category, now).await?);
        }
    }
    for category in archived_categories(ctx).await? {
        for copy in manager.list_archived(&category).await? {
            if copy.purge_after <= now {
                plan.push(Planned {
                    action: "purge",
                    store_key: format!("_archive/{category}/{}", copy.object.key),
                    key: copy.object.key,
                    category: category.clone(),
                    stored_size: copy.object.stored_size,
                    due: output::time(copy.purge_after),
                });
            }
        }
    }
    for copy in manager.superseded_copies().await? {
        plan.push(Planned {
            action: "supersede",
            store_key: format!("{}/{}", copy.category, copy.key),
            key: copy.key,
            category: copy.category,
            stored_size: copy.stored_size,
            due: output::time(copy.created),
        });
    }
    plan.sort_by(|a, b| (a.action, &a.store_key).cmp(&(b.action, &b.store_key)));
    let expired = plan.iter().filter(|p| p.action == "expire").count();
    let superseded = plan.iter().filter(|p| p.action == "supersede").count();
    let purged = plan.len() - expired - superseded;
    let removed_bytes: u64 = plan.iter().map(|p| p.stored_size).sum();
    if ctx.json {
        return output::json(&serde_json::json!({
            "dry_run": true,
            "expired": expired,
            "archived": if archive { expired } else { 0 },
            "purged": purged,
            "superseded": superseded,
            "removed_bytes": removed_bytes,
            "objects": plan,
        }));
    }
    if plan.is_empty() {
        return output::text(
            "nothing to clean up: no expired objects, no archived copies past their retention, no superseded copies",
        );
    }
    let mut table = Table::new(&[
        ("ACTION", Align::Left),
        ("CATEGORY", Align::Left),
        ("SIZE", Align::Right),
        ("DUE", Align::Left),
        ("KEY", Align::Left),
    ]);
    for p in &plan {
        table.row(vec![
            p.action.into(),
            p.category.to_string(),
            output::size(p.stored_size),
            p.due.clone(),
            p.key.clone(),
        ]);
    }
    let mut text = table.render();
    text.push_str(&format!(
        "dry run: would remove {}{}, {} and {} ({}); nothing was changed\n",
        output::count(expired as u64, "expired object", None),
        if archive && expired > 0 { " (archiving them first)" } else { "" },
        output::count(purged as u64, "archived copy", Some("archived copies")),
        output::count(superseded as u64, "superseded copy", Some("superseded copies")),
        output::size(removed_bytes)
    ));
    output::text(&text)
}

/// The expired objects of `category`, read from their headers.
async fn expired_in(ctx: &Ctx, category: &Category, now: SystemTime) -> CliResult<Vec<Planned>> {
    let prefix = format!("{category}/");
    let metas: Vec<objstore::ObjectMeta> = ctx.store.list(&prefix).try_collect().await?;
    let mut out = Vec::new();
    for meta in metas {
        let object = match ctx.store.read_object(meta.key.as_str()).await {
            Ok(o) => o,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e.into()),
        };
        let Ok(frame) = format::decode(&object.bytes) else { continue };
        let Some(expires) = frame.header.expires_ms.map(format::from_ms) else { continue };
        if expires <= now {
            out.push(Planned {
                action: "expire",
                key: meta.key.as_str()[prefix.len()..].to_string(),
                category: category.clone(),
                store_key: meta.key.as_str().to_string(),
                stored_size: object.bytes.len() as u64,
                due: output::time(expires),
            });
        }
    }
    Ok(out)
}

/// The categories with a folder in the archive (`_archive/CATEGORY/...`).
async fn archived_categories(ctx: &Ctx) -> CliResult<BTreeSet<Category>> {
    let mut keys = ctx.store.list_keys("_archive/");
    let mut out = BTreeSet::new();
    while let Some(key) = keys.try_next().await? {
        if let Some(name) = key.as_str().strip_prefix("_archive/").and_then(|rest| rest.split_once('/')).map(|(c, _)| c)
            && let Ok(category) = Category::parse(name)
        {
            out.insert(category);
        }
    }
    Ok(out)
}
