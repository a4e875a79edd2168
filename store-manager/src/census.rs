//! What the store holds, by area: each category, the archive, what lies outside the manager's
//! folders (unmanaged), and the manager's and monitor's own files (internal), from one scan.
//!
//! Invariant: every object the manager's store (or view) lists is in exactly one area.
//! Categories and the archive come from the index (their headers say what expired); unmanaged
//! and internal objects only from the last full listing (nothing is read of them).

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;
use store_core::Version;

use crate::category::Category;
use crate::error::Result;
use crate::index::{Index, Place};
use crate::manager::Manager;
use crate::object::CategoryUsage;
use crate::settings::Settings;

/// Everything the manager's store holds, by area, as one scan found it (see
/// [`Manager::census`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StoreCensus {
    /// Each category with objects or an allocation (as [`Manager::usage_by_category`]).
    pub categories: BTreeMap<Category, CategoryUsage>,
    /// The archived copies (`_archive/`), all categories together.
    pub archive: CategoryUsage,
    /// Objects outside the categories and the archive: plain saves (`ObjectStore::save`,
    /// `objstore put`), files other programs put there, folders named like a category that hold
    /// no managed object and are neither built-in nor allocated. They take room like any other.
    pub unmanaged: CategoryUsage,
    /// The manager's and the monitor's own files (`_manager/`: the index snapshot and the change
    /// marker; `_monitor/`: the usage history). Small and bounded; not counted in [`Self::files`]
    /// and [`Self::bytes`].
    pub internal: CategoryUsage,
    /// The project view the manager works in (`store.project(..)`), or `None` for the whole
    /// store: what "the store" means in these figures.
    pub view: Option<String>,
}

impl StoreCensus {
    /// Objects in the categories, the archive and outside them (internal files excluded).
    pub fn files(&self) -> u64 {
        self.categories.values().map(|u| u.files).sum::<u64>() + self.archive.files + self.unmanaged.files
    }

    /// Their stored bytes.
    pub fn bytes(&self) -> u64 {
        self.categories.values().map(|u| u.stored_bytes).sum::<u64>()
            + self.archive.stored_bytes
            + self.unmanaged.stored_bytes
    }
}

impl Manager {
    /// What each category holds (every category with objects or an allocation).
    pub async fn usage_by_category(&self) -> Result<BTreeMap<Category, CategoryUsage>> {
        self.ready()?;
        self.sync(None).await?;
        Ok(category_usage(&self.index(), &self.inner.settings, self.now()))
    }

    /// What the archive holds (all categories together).
    pub async fn archive_usage(&self) -> Result<CategoryUsage> {
        self.ready()?;
        self.sync(None).await?;
        Ok(archive_usage(&self.index()))
    }

    /// Everything the store (or the manager's view of it) holds, by area, from one scan: one
    /// listing plus the headers of objects that changed since the last one. What the monitor's
    /// statistics, health and metrics count.
    pub async fn census(&self) -> Result<StoreCensus> {
        self.ready()?;
        self.sync(None).await?;
        let now = self.now();
        let index = self.index();
        let internal = index.internal.values().fold(CategoryUsage::default(), |mut u, (size, _)| {
            u.files += 1;
            u.stored_bytes += size;
            u
        });
        Ok(StoreCensus {
            categories: category_usage(&index, &self.inner.settings, now),
            archive: archive_usage(&index),
            unmanaged: {
                let mut u = folders_not_categories(&index, &self.inner.settings);
                u.files += index.unmanaged.files;
                u.stored_bytes += index.unmanaged.bytes;
                u
            },
            internal,
            view: self.inner.store.project_id().map(str::to_string),
        })
    }

    /// The version of one of the manager's or monitor's own files (`_manager/...`,
    /// `_monitor/...`) as the last full scan listed it or this process wrote it; `None` when it
    /// was not there. Lets the monitor skip reading its usage history when it did not change.
    pub fn internal_version(&self, store_key: &str) -> Option<Version> {
        self.index().internal.get(store_key).map(|(_, v)| v.clone())
    }

    /// Records that this process wrote one of the internal files (`_monitor/...`) with `meta`.
    pub fn note_internal_write(&self, meta: &store_core::ObjectMeta) {
        if crate::index::is_internal(meta.key.as_str()) {
            self.index().internal.insert(meta.key.as_str().to_string(), (meta.size, meta.version.clone()));
        }
    }
}

/// True when a live folder is a category: a built-in one, one the settings allocate, or one that
/// holds a managed object. Any other folder (`exports/`, `plain/`) is only named like one; what
/// it holds is unmanaged.
pub(crate) fn is_category(index: &Index, settings: &Settings, category: &Category) -> bool {
    category.is_builtin()
        || settings.storage_allocation.contains_key(category)
        || index
            .folders
            .get(&Place::Live(category.clone()))
            .is_some_and(|f| f.entries.values().any(|e| e.managed().is_some()))
}

/// Files and bytes of the live folders that are not categories (see [`is_category`]).
fn folders_not_categories(index: &Index, settings: &Settings) -> CategoryUsage {
    let mut usage = CategoryUsage::default();
    for (place, folder) in &index.folders {
        if let Place::Live(category) = place
            && !is_category(index, settings, category)
        {
            usage.files += folder.figures.files;
            usage.stored_bytes += folder.figures.bytes;
        }
    }
    usage
}

fn category_usage(index: &Index, settings: &Settings, now: SystemTime) -> BTreeMap<Category, CategoryUsage> {
    let mut out: BTreeMap<Category, CategoryUsage> = settings
        .storage_allocation
        .keys()
        .map(|c| (c.clone(), CategoryUsage { allocation_bytes: settings.allocation_bytes(c), ..Default::default() }))
        .collect();
    for (place, folder) in &index.folders {
        let Place::Live(category) = place else { continue };
        if !is_category(index, settings, category) {
            continue;
        }
        let usage = out.entry(category.clone()).or_insert_with(|| CategoryUsage {
            allocation_bytes: settings.allocation_bytes(category),
            ..Default::default()
        });
        usage.files += folder.figures.files;
        usage.stored_bytes += folder.figures.bytes;
        for entry in folder.entries.values() {
            if let Some(object) = entry.managed() {
                usage.original_bytes += object.size;
                if object.is_expired(now) {
                    usage.expired_files += 1;
                    usage.expired_bytes += entry.stored_size;
                }
            }
        }
    }
    out.retain(|_, u| u.files > 0 || u.allocation_bytes.is_some());
    out
}

fn archive_usage(index: &Index) -> CategoryUsage {
    let mut usage = CategoryUsage::default();
    for (place, folder) in &index.folders {
        if let Place::Archive(_) = place {
            usage.files += folder.figures.files;
            usage.stored_bytes += folder.figures.bytes;
        }
    }
    usage
}
