//! Quotas: room is reserved in the index before a put and given back if the put fails, so
//! concurrent saves through one manager can never take a category or the store past a limit.
//! `max_storage_gb` and `max_files` count every object of the store (categories, archive and
//! unmanaged objects; not the manager's and monitor's own small files).

use std::sync::{Arc, PoisonError};

use store_core::Version;

use crate::category::Category;
use crate::error::{Error, Quota, Result};
use crate::index::{Index, Place};
use crate::manager::Inner;

/// Room held for one save in flight; given back when dropped.
pub struct Reservation {
    inner: Arc<Inner>,
    category: Category,
    category_bytes: u64,
    bytes: u64,
    files: u64,
    /// Other live categories holding the same key, with the version the index saw there (after
    /// the put, each is removed only while it still holds that version).
    pub others: Vec<(Category, Version)>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut index = self.inner.index.lock().unwrap_or_else(PoisonError::into_inner);
        index.reserved.bytes -= self.bytes;
        index.reserved.files -= self.files;
        if let Some(r) = index.reserved_by_category.get_mut(&self.category) {
            *r -= self.category_bytes;
        }
    }
}

/// Reserves room for `stored_size` bytes under `key` in `category`, or says which quota refuses.
pub fn reserve(inner: &Arc<Inner>, key: &str, category: &Category, stored_size: u64) -> Result<Reservation> {
    let settings = &inner.settings;
    let mut index = inner.index.lock().unwrap_or_else(PoisonError::into_inner);
    let here = Place::Live(category.clone());
    let old_here = index.get(&here, key).filter(|e| e.counts()).map(|e| e.stored_size);
    let others: Vec<(Category, u64, Version)> = index
        .folders
        .iter()
        .filter_map(|(place, folder)| match place {
            Place::Live(c) if c != category => folder
                .entries
                .get(key)
                .filter(|e| e.counts())
                .and_then(|e| Some((c.clone(), e.stored_size, e.version.clone()?))),
            _ => None,
        })
        .collect();
    let old_total = old_here.unwrap_or(0) + others.iter().map(|(_, s, _)| s).sum::<u64>();
    let category_bytes = stored_size.saturating_sub(old_here.unwrap_or(0));
    let bytes = stored_size.saturating_sub(old_total);
    let files = u64::from(old_here.is_none() && others.is_empty());
    let refuse = |quota, used, requested, limit| {
        Err(Error::QuotaExceeded { key: key.to_string(), quota, used, requested, limit })
    };

    // The store-wide limits count every object of the store: unmanaged ones too (the tier's
    // room is the whole store's), as of the last full scan.
    let max_files = settings.max_files;
    let files_used = index.totals.files + index.unmanaged.files + index.reserved.files;
    if files > 0 && files_used + files > max_files {
        return refuse(Quota::Files, files_used, files, max_files);
    }
    if let Some(allocation) = settings.allocation_bytes(category) {
        let used = category_used(&index, category);
        if category_bytes > 0 && used + category_bytes > allocation {
            return refuse(Quota::Category(category.clone()), used, category_bytes, allocation);
        }
    }
    let max_bytes = settings.max_storage_bytes();
    let used = index.totals.bytes + index.unmanaged.bytes + index.reserved.bytes;
    if bytes > 0 && used + bytes > max_bytes {
        return refuse(Quota::Storage, used, bytes, max_bytes);
    }

    index.reserved.bytes += bytes;
    index.reserved.files += files;
    *index.reserved_by_category.entry(category.clone()).or_default() += category_bytes;
    drop(index);
    Ok(Reservation {
        inner: inner.clone(),
        category: category.clone(),
        category_bytes,
        bytes,
        files,
        others: others.into_iter().map(|(c, _, v)| (c, v)).collect(),
    })
}

/// Bytes a category holds plus what saves in flight reserved in it.
fn category_used(index: &Index, category: &Category) -> u64 {
    index.figures(&Place::Live(category.clone())).bytes + index.reserved_by_category.get(category).copied().unwrap_or(0)
}
