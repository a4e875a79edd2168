//! The same manager for synchronous code (a backtest loop): every method blocks until done.
//!
//! ```
//! use store_manager::blocking::Manager;
//! use store_manager::{Category, SaveOptions, Settings};
//!
//! let store = store_core::blocking::open("memory://")?;
//! let manager = Manager::new(store, Settings::default());
//! manager.save("greeks_SPY_2025-01-15", &[0.52, 0.02, -0.05], SaveOptions::new(Category::OptionsGreeks))?;
//! let greeks: Option<Vec<f64>> = manager.load("greeks_SPY_2025-01-15")?;
//! assert_eq!(greeks, Some(vec![0.52, 0.02, -0.05]));
//! # Ok::<(), store_manager::Error>(())
//! ```

use std::collections::BTreeMap;
use std::future::Future;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::category::Category;
use crate::census::StoreCensus;
use crate::cleanup::CleanupReport;
use crate::clock::Clock;
use crate::error::Result;
use crate::object::{ArchivedObject, CategoryUsage, SaveOptions, StoredObject};
use crate::settings::Settings;

/// A blocking handle on a [`crate::Manager`]. Cheap to clone; clones share the index.
#[derive(Clone, Debug)]
pub struct Manager {
    inner: crate::Manager,
}

fn run<T>(fut: impl Future<Output = Result<T>>) -> Result<T> {
    store_core::blocking::block_on(fut)?
}

impl Manager {
    /// A manager over a blocking store (see [`crate::Manager::new`]).
    pub fn new(store: store_core::blocking::ObjectStore, settings: Settings) -> Manager {
        Manager { inner: crate::Manager::new(store.as_async().clone(), settings) }
    }

    /// Like [`Manager::new`], with the time taken from `clock`.
    pub fn with_clock(store: store_core::blocking::ObjectStore, settings: Settings, clock: impl Clock) -> Manager {
        Manager { inner: crate::Manager::with_clock(store.as_async().clone(), settings, clock) }
    }

    /// Wraps an async manager (they share the index).
    pub fn from_async(inner: crate::Manager) -> Manager {
        Manager { inner }
    }

    /// The async manager underneath.
    pub fn as_async(&self) -> &crate::Manager {
        &self.inner
    }

    /// See [`crate::Manager::save`].
    pub fn save<T: Serialize + ?Sized>(&self, key: &str, data: &T, opts: SaveOptions) -> Result<StoredObject> {
        run(self.inner.save(key, data, opts))
    }

    /// See [`crate::Manager::save_bytes`].
    pub fn save_bytes(&self, key: &str, data: impl Into<Bytes>, opts: SaveOptions) -> Result<StoredObject> {
        run(self.inner.save_bytes(key, data, opts))
    }

    /// See [`crate::Manager::load`].
    pub fn load<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        run(self.inner.load(key))
    }

    /// See [`crate::Manager::load_bytes`].
    pub fn load_bytes(&self, key: &str) -> Result<Option<Bytes>> {
        run(self.inner.load_bytes(key))
    }

    /// See [`crate::Manager::get_metadata`].
    pub fn get_metadata(&self, key: &str) -> Result<Option<StoredObject>> {
        run(self.inner.get_metadata(key))
    }

    /// See [`crate::Manager::list_keys`].
    pub fn list_keys(&self, category: &Category) -> Result<Vec<String>> {
        run(self.inner.list_keys(category))
    }

    /// See [`crate::Manager::find`].
    pub fn find(&self, pred: impl Fn(&StoredObject) -> bool) -> Result<Vec<StoredObject>> {
        run(self.inner.find(pred))
    }

    /// See [`crate::Manager::delete`].
    pub fn delete(&self, key: &str) -> Result<()> {
        run(self.inner.delete(key))
    }

    /// See [`crate::Manager::cleanup_expired`].
    pub fn cleanup_expired(&self) -> Result<usize> {
        run(self.inner.cleanup_expired())
    }

    /// See [`crate::Manager::cleanup`].
    pub fn cleanup(&self) -> Result<CleanupReport> {
        run(self.inner.cleanup())
    }

    /// See [`crate::Manager::superseded_copies`].
    pub fn superseded_copies(&self) -> Result<Vec<StoredObject>> {
        run(self.inner.superseded_copies())
    }

    /// See [`crate::Manager::usage_by_category`].
    pub fn usage_by_category(&self) -> Result<BTreeMap<Category, CategoryUsage>> {
        run(self.inner.usage_by_category())
    }

    /// See [`crate::Manager::list_archived`].
    pub fn list_archived(&self, category: &Category) -> Result<Vec<ArchivedObject>> {
        run(self.inner.list_archived(category))
    }

    /// See [`crate::Manager::load_archived_bytes`].
    pub fn load_archived_bytes(&self, category: &Category, key: &str) -> Result<Option<Bytes>> {
        run(self.inner.load_archived_bytes(category, key))
    }

    /// See [`crate::Manager::problems`].
    pub fn problems(&self) -> Result<Vec<(String, String)>> {
        run(self.inner.problems())
    }

    /// See [`crate::Manager::census`].
    pub fn census(&self) -> Result<StoreCensus> {
        run(self.inner.census())
    }

    /// See [`crate::Manager::persist_index`].
    pub fn persist_index(&self) -> Result<bool> {
        run(self.inner.persist_index())
    }

    /// See [`crate::Manager::set_index_snapshots`].
    pub fn set_index_snapshots(&self, every: Option<std::time::Duration>) {
        self.inner.set_index_snapshots(every);
    }
}
