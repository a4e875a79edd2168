//! The `Manager`: categories, quotas, expiry, compression and metadata over an `ObjectStore`.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures::future::join_all;
use serde::Serialize;
use serde::de::DeserializeOwned;
use store_core::{Key, Object, ObjectStore, PutMode};

use crate::category::Category;
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::format::{self, Encoding, FrameError, Header};
use crate::index::{Entry, Index, Kind, Place, preferred};
use crate::object::{ArchivedObject, Checksum, MAX_EXPIRE_DAYS, SaveOptions, StoredObject};
use crate::quota;
use crate::settings::{Settings, SettingsError};

/// Values larger than this are compressed and decompressed on the blocking pool when called
/// from an async runtime, so a 45 MB model does not stall the runtime's workers.
const OFFLOAD_BYTES: usize = 2 << 20;
/// Per-key locks (striped): saves, deletes and cleanups of one key never interleave.
const KEY_LOCK_STRIPES: usize = 64;

/// Categories, quotas, expiry, compression and searchable metadata over an [`ObjectStore`].
/// Cheap to clone; clones share the index and the quotas.
#[derive(Clone)]
pub struct Manager {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: ObjectStore,
    pub(crate) settings: Settings,
    settings_problem: Option<SettingsError>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) index: Mutex<Index>,
    key_locks: Box<[tokio::sync::Mutex<()>]>,
    /// One scan at a time (scans mark what they saw; two at once would confuse each other).
    pub(crate) scan_lock: tokio::sync::Mutex<()>,
    /// Why saves are refused, when they are (see [`Manager::refuse_saves`]).
    saves_refused: Mutex<Option<String>>,
    /// The size of the first ranged read of a header (see `head.rs`).
    pub(crate) head_read_len: AtomicU64,
    /// How often the index snapshot is written after changes (`None`: no snapshots).
    pub(crate) snapshot_every: Mutex<Option<Duration>>,
    /// One snapshot write at a time.
    pub(crate) snapshot_lock: tokio::sync::Mutex<()>,
    /// A deferred snapshot write is scheduled.
    pub(crate) snapshot_pending: AtomicBool,
    /// When the last snapshot was written.
    pub(crate) last_snapshot: Mutex<Option<Instant>>,
    /// One change-marker write at a time (see `marker.rs`).
    pub(crate) marker_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager").field("store", &self.inner.store).finish_non_exhaustive()
    }
}

impl Manager {
    /// A manager over `store` with `settings`. Nothing is read until the first call. Settings
    /// built in code are checked here; if they are invalid, every call returns the problems.
    pub fn new(store: ObjectStore, settings: Settings) -> Self {
        Manager::with_clock(store, settings, SystemClock)
    }

    /// Like [`Manager::new`], with the time taken from `clock` (tests use a
    /// [`crate::clock::ManualClock`] to expire objects without sleeping).
    pub fn with_clock(store: ObjectStore, settings: Settings, clock: impl Clock) -> Self {
        Manager::with_shared_clock(store, settings, Arc::new(clock))
    }

    /// A manager with this one's settings, clock and snapshot policy over `store` (another handle
    /// on the same storage, or the same store with more layers on top, see
    /// [`ObjectStore::with_layer`]). It has its own index.
    pub fn with_store(&self, store: ObjectStore) -> Manager {
        let manager = Manager::with_shared_clock(store, self.inner.settings.clone(), self.inner.clock.clone());
        manager.set_index_snapshots(self.index_snapshots());
        manager
    }

    fn with_shared_clock(store: ObjectStore, settings: Settings, clock: Arc<dyn Clock>) -> Self {
        let settings_problem = settings.validate().err();
        let key_locks = (0..KEY_LOCK_STRIPES).map(|_| tokio::sync::Mutex::new(())).collect();
        // A snapshot only helps a store that outlives the process.
        let snapshot_every = store.capabilities().persistent.then_some(crate::snapshot::DEFAULT_SNAPSHOT_INTERVAL);
        Manager {
            inner: Arc::new(Inner {
                store,
                settings,
                settings_problem,
                clock,
                index: Mutex::new(Index::default()),
                key_locks,
                scan_lock: tokio::sync::Mutex::new(()),
                saves_refused: Mutex::new(None),
                head_read_len: AtomicU64::new(crate::head::FIRST_READ),
                snapshot_every: Mutex::new(snapshot_every),
                snapshot_lock: tokio::sync::Mutex::new(()),
                snapshot_pending: AtomicBool::new(false),
                last_snapshot: Mutex::new(None),
                marker_lock: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The store underneath.
    pub fn store(&self) -> &ObjectStore {
        &self.inner.store
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    // ----- saving ----------------------------------------------------------------------------

    /// Saves `data` as JSON under `key` in `opts.category`. Replaces the key's value in any
    /// category. Fails, changing nothing, when a quota would be exceeded.
    pub async fn save<T: Serialize + ?Sized>(&self, key: &str, data: &T, opts: SaveOptions) -> Result<StoredObject> {
        let json = serde_json::to_vec(data).map_err(|e| Error::Serialization {
            key: key.to_string(),
            writing: true,
            message: e.to_string(),
        })?;
        self.save_encoded(key, Bytes::from(json), Encoding::Json, opts).await
    }

    /// Saves opaque bytes (a model, a parquet file) under `key`. See [`Manager::save`].
    pub async fn save_bytes(&self, key: &str, data: impl Into<Bytes>, opts: SaveOptions) -> Result<StoredObject> {
        self.save_encoded(key, data.into(), Encoding::Bytes, opts).await
    }

    async fn save_encoded(
        &self,
        key: &str,
        data: Bytes,
        encoding: Encoding,
        opts: SaveOptions,
    ) -> Result<StoredObject> {
        self.ready()?;
        if let Some(reason) = self.saves_refused() {
            return Err(Error::SavesRefused { reason });
        }
        opts.category.validate()?;
        let key = manager_key(key)?;
        if let Some(days) = opts.expire_days.filter(|d| *d > MAX_EXPIRE_DAYS) {
            return Err(Error::InvalidExpiry { key, days, max_days: MAX_EXPIRE_DAYS });
        }
        let place = Place::Live(opts.category.clone());
        let store_key = place.store_key(&key);
        Key::parse(&store_key)?;

        let settings = &self.inner.settings;
        let created_ms = format::to_ms(self.now());
        let expires_ms = opts.expire_days.map(|d| created_ms.saturating_add(u64::from(d) * 86_400_000));
        let checksum = Checksum::of(&data);
        let header = Header {
            key: key.clone(),
            category: opts.category.name().to_string(),
            encoding,
            size: data.len() as u64,
            checksum: checksum.to_string(),
            created_ms,
            expires_ms,
            metadata: opts.metadata,
            archived_ms: None,
            purge_after_ms: None,
        };
        let compress = opts.force_compress
            || (settings.compression_enabled && data.len() as u64 > settings.compression_threshold_bytes());
        let level = compress.then_some(settings.compression_level);
        let header_for_encode = header.clone();
        let frame = run_cpu(data.len(), move || format::encode(&header_for_encode, &data, level)).await;
        let frame = frame.map_err(|message| Error::Serialization { key: key.clone(), writing: true, message })?;
        let stored_size = frame.len() as u64;
        let limit = settings.max_file_size_bytes();
        if stored_size > limit {
            return Err(Error::ObjectTooLarge { key, size: header.size, stored_size, limit });
        }
        let object = StoredObject {
            key: key.clone(),
            category: opts.category.clone(),
            size: header.size,
            stored_size,
            compressed: frame[9] == format::Codec::Zstd as u8,
            created: format::from_ms(created_ms),
            expires: expires_ms.map(format::from_ms),
            metadata: header.metadata,
            checksum,
        };

        self.ensure_loaded().await?;
        let mut cleaned = false;
        let mut refreshed = false;
        let (guard, reservation) = loop {
            let guard = self.lock_key(&key).await;
            match quota::reserve(&self.inner, &key, &opts.category, stored_size) {
                Ok(r) => break (guard, r),
                Err(e @ Error::QuotaExceeded { .. }) => {
                    drop(guard);
                    if !refreshed {
                        // Never refuse on stale figures: another process may have freed room.
                        refreshed = true;
                        self.sync(None).await?;
                    } else if !cleaned && settings.auto_cleanup.enabled && self.has_expired() {
                        cleaned = true;
                        self.cleanup_expired().await?;
                    } else {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        };

        let adds_copy = self.index().get(&place, &key).is_none_or(|e| !e.counts());
        let meta = self.inner.store.save_bytes_with(&store_key, Bytes::from(frame), PutMode::Overwrite).await?;
        // A move: remove the old copies, each only while it holds the version the index saw (a
        // save of that copy by another process since then is newer, and must survive).
        let mut removed = Vec::new();
        for (other, version) in &reservation.others {
            match self.inner.store.delete_if_match(&Place::Live(other.clone()).store_key(&key), version).await {
                Ok(()) => removed.push(other),
                Err(e) if e.is_not_found() => removed.push(other),
                Err(store_core::Error::Precondition { .. }) => tracing::info!(
                    "'{key}' moved to {}; its copy in {other} was saved again meanwhile and stays (the newer copy wins)",
                    opts.category
                ),
                Err(e) => tracing::warn!("'{key}' moved to {}, its old copy in {other} remains: {e}", opts.category),
            }
        }
        let object = Arc::new(object);
        {
            let mut index = self.index();
            let epoch = index.next_epoch();
            let entry =
                Entry { version: Some(meta.version), stored_size, epoch, seen: 0, kind: Kind::Managed(object.clone()) };
            index.put(&place, &key, entry);
            for other in removed {
                index.put(&Place::Live(other.clone()), &key, tombstone(epoch));
            }
        }
        drop(reservation);
        if adds_copy && self.uses_marker() {
            self.bump_marker(&key).await;
        }
        drop(guard);
        self.schedule_snapshot();
        Ok(Arc::unwrap_or_clone(object))
    }

    // ----- loading ---------------------------------------------------------------------------

    /// The value saved under `key`, decoded from JSON; `None` when there is none or it expired.
    pub async fn load<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let Some((object, bytes)) = self.load_object(key).await? else { return Ok(None) };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| Error::Serialization {
            key: object.key,
            writing: false,
            message: e.to_string(),
        })
    }

    /// The bytes saved under `key` (decompressed, checksum verified); `None` when there are
    /// none or they expired.
    pub async fn load_bytes(&self, key: &str) -> Result<Option<Bytes>> {
        Ok(self.load_object(key).await?.map(|(_, bytes)| bytes))
    }

    /// The object's description and its bytes; `None` when absent or expired.
    pub async fn load_object(&self, key: &str) -> Result<Option<(StoredObject, Bytes)>> {
        Ok(self.load_encoded(key).await?.map(|(object, _, bytes)| (object, bytes)))
    }

    /// Like [`Manager::load_object`], with how the value was saved: [`Encoding::Json`] by
    /// [`Manager::save`], [`Encoding::Bytes`] by [`Manager::save_bytes`] (so a caller that takes
    /// both, such as the Python module, hands back the same kind of value it was given).
    pub async fn load_encoded(&self, key: &str) -> Result<Option<(StoredObject, Encoding, Bytes)>> {
        self.ready()?;
        let key = manager_key(key)?;
        let Some((place, object)) = self.find_copy(&key, Read::Whole).await? else { return Ok(None) };
        let store_key = place.store_key(&key);
        let frame = format::decode(&object.bytes).map_err(|e| frame_error(&store_key, e))?;
        let stored = stored_object(place.category(), &key, &frame, object.bytes.len() as u64);
        if stored.is_expired(self.now()) {
            return Ok(None);
        }
        let encoding = frame.header.encoding;
        let bytes =
            run_cpu(frame.header.size as usize, move || frame.open()).await.map_err(|e| frame_error(&store_key, e))?;
        Ok(Some((stored, encoding, bytes)))
    }

    /// What is known about `key` (category, sizes, times, metadata) without decoding its value;
    /// `None` when absent or expired.
    pub async fn get_metadata(&self, key: &str) -> Result<Option<StoredObject>> {
        self.ready()?;
        let key = manager_key(key)?;
        // A warm index answers after one metadata request, when the version still matches.
        let known = self.index().owned(&key).map(|(c, e)| (c.clone(), e.clone()));
        if let Some((category, entry)) = known
            && let Some(object) = entry.managed()
        {
            let place = Place::Live(category);
            match self.inner.store.head(&place.store_key(&key)).await {
                Ok(meta) if Some(&meta.version) == entry.version.as_ref() => {
                    return Ok((!object.is_expired(self.now())).then(|| (**object).clone()));
                }
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        let Some((place, object)) = self.find_copy(&key, Read::Head).await? else { return Ok(None) };
        let store_key = place.store_key(&key);
        let frame = format::decode_head(&object.bytes, object.meta.size).map_err(|e| frame_error(&store_key, e))?;
        let stored = stored_object(place.category(), &key, &frame, object.meta.size);
        Ok((!stored.is_expired(self.now())).then_some(stored))
    }

    /// Reads the copy of `key` (the newest when several categories hold one) and records what
    /// it is in the index.
    async fn find_copy(&self, key: &str, read: Read) -> Result<Option<(Place, Object)>> {
        let start = self.index().epoch;
        let owner = self.index().owner.get(key).cloned();
        if let Some(category) = &owner {
            let place = Place::Live(category.clone());
            if let Some(object) = self.read_as(read, &place, key, start).await? {
                return Ok(Some((place, object)));
            }
        }
        let candidates: Vec<Category> =
            self.candidate_categories().into_iter().filter(|c| Some(c) != owner.as_ref()).collect();
        if self.knows_every_copy(candidates.len()).await? {
            // No probing: the index holds every copy (usually none: one request in all).
            let known = self.known_copies(key);
            let found = self.probe(key, &known, start, read).await?;
            return Ok(newest(found));
        }
        let mut found = self.probe(key, &candidates, start, read).await?;
        if !self.index().loaded {
            // A custom category another process created is only known after a full scan, and a
            // copy there may be newer than one found in a built-in category (a move interrupted
            // between its put and its delete leaves both): a copy found so far is not enough.
            self.ensure_loaded().await?;
            let more: Vec<Category> = self
                .index()
                .live_categories()
                .into_iter()
                .filter(|c| !candidates.contains(c) && Some(c) != owner.as_ref())
                .collect();
            found.extend(self.probe(key, &more, start, read).await?);
        }
        Ok(newest(found))
    }

    /// True when the index holds every live copy of every key (see `marker.rs`), after listing
    /// the store again when the marker changed and that costs at most `probes` requests.
    async fn knows_every_copy(&self, probes: usize) -> Result<bool> {
        if !self.uses_marker() || !self.index().loaded {
            return Ok(false);
        }
        if self.index_is_current().await? {
            return Ok(true);
        }
        if !self.relisting_is_cheap(probes) {
            return Ok(false);
        }
        self.sync(None).await?;
        Ok(self.index().marker_seen.is_some())
    }

    /// The live categories the index says hold a copy of `key`.
    fn known_copies(&self, key: &str) -> Vec<Category> {
        let index = self.index();
        let mut out: Vec<Category> = index
            .folders
            .iter()
            .filter_map(|(place, folder)| match place {
                Place::Live(c) if folder.entries.get(key).is_some_and(Entry::counts) => Some(c.clone()),
                _ => None,
            })
            .collect();
        out.sort();
        out
    }

    async fn probe(&self, key: &str, categories: &[Category], start: u64, read: Read) -> Result<Vec<(Place, Object)>> {
        let reads = categories.iter().map(|category| {
            let place = Place::Live(category.clone());
            async move {
                let result = self.read_as(read, &place, key, start).await;
                result.map(|found| found.map(|object| (place, object)))
            }
        });
        let mut found = Vec::new();
        for result in join_all(reads).await {
            found.extend(result?);
        }
        Ok(found)
    }

    /// The built-in categories, those the index knows and those the settings allocate.
    fn candidate_categories(&self) -> Vec<Category> {
        let mut out: Vec<Category> = Category::BUILTIN.to_vec();
        for c in
            self.index().live_categories().into_iter().chain(self.inner.settings.storage_allocation.keys().cloned())
        {
            if !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }

    /// Reads `key` in `place` whole or only its header, and records what was found.
    async fn read_as(&self, read: Read, place: &Place, key: &str, start: u64) -> Result<Option<Object>> {
        match read {
            Read::Whole => self.read_recorded(place, key, start).await,
            Read::Head => self.read_head_recorded(place, key, start).await,
        }
    }

    /// Reads `key` in `place` and records what was found (or that nothing was) in the index.
    pub(crate) async fn read_recorded(&self, place: &Place, key: &str, start: u64) -> Result<Option<Object>> {
        match self.inner.store.read_object(&place.store_key(key)).await {
            Ok(object) => {
                self.observe(place, key, &object, start);
                Ok(Some(object))
            }
            Err(e) if e.is_not_found() => {
                self.observe_gone(place, key, start);
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Reads the prefix and header of `key` in `place` (see `head.rs`) and records what was
    /// found (or that nothing was) in the index.
    pub(crate) async fn read_head_recorded(&self, place: &Place, key: &str, start: u64) -> Result<Option<Object>> {
        match self.read_head(&place.store_key(key), None).await {
            Ok(object) => {
                self.observe(place, key, &object, start);
                Ok(Some(object))
            }
            Err(e) if e.is_not_found() => {
                self.observe_gone(place, key, start);
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes `key` in `place` and records a tombstone; false when it was already gone.
    pub(crate) async fn delete_recorded(&self, place: &Place, key: &str) -> Result<bool> {
        match self.inner.store.delete(&place.store_key(key)).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        let mut index = self.index();
        let epoch = index.next_epoch();
        index.put(place, key, tombstone(epoch));
        Ok(true)
    }

    /// Records a read object in the index (unless this process changed it since `start`).
    pub(crate) fn observe(&self, place: &Place, key: &str, object: &Object, start: u64) {
        let entry = entry_for(place, key, object, start);
        let mut index = self.index();
        if index.get(place, key).is_none_or(|e| e.epoch <= start && e.version != entry.version) {
            index.put(place, key, entry);
        }
    }

    /// Records that `key` is not in `place` (unless this process changed it since `start`).
    pub(crate) fn observe_gone(&self, place: &Place, key: &str, start: u64) {
        let mut index = self.index();
        if index.get(place, key).is_some_and(|e| e.epoch <= start) {
            index.forget(place, key);
        }
    }

    // ----- deleting, listing, searching --------------------------------------------------------

    /// Removes `key` (expired or not) from whichever category holds it. `NotFound` when none does.
    pub async fn delete(&self, key: &str) -> Result<()> {
        self.ready()?;
        let key = manager_key(key)?;
        let _guard = self.lock_key(&key).await;
        let start = self.index().epoch;
        let mut categories = self.candidate_categories();
        if self.knows_every_copy(categories.len()).await? {
            categories = self.known_copies(&key);
        } else if !self.index().loaded {
            self.ensure_loaded().await?;
            categories = self.candidate_categories();
        }
        // The copy a load finds (the newest, by the index) goes last: a delete interrupted
        // midway (a crash, a timeout, an error) must never leave an older copy as the value.
        let newest = self.index().owner.get(key.as_str()).cloned();
        let (last, first): (Vec<Category>, Vec<Category>) =
            categories.into_iter().partition(|c| Some(c) == newest.as_ref());
        let delete_in = |categories: Vec<Category>| {
            let key = key.as_str();
            join_all(categories.into_iter().map(move |category| {
                let place = Place::Live(category);
                async move {
                    let deleted = self.delete_recorded(&place, key).await?;
                    if !deleted {
                        self.observe_gone(&place, key, start);
                    }
                    Ok::<bool, Error>(deleted)
                }
            }))
        };
        let mut deleted = false;
        for result in delete_in(first).await {
            deleted |= result?;
        }
        for result in delete_in(last).await {
            deleted |= result?;
        }
        if !deleted {
            return Err(store_core::Error::NotFound { key }.into());
        }
        self.schedule_snapshot();
        Ok(())
    }

    /// The keys of `category`'s live (unexpired) objects, oldest first (ties by key).
    pub async fn list_keys(&self, category: &Category) -> Result<Vec<String>> {
        Ok(self.list_objects(category).await?.into_iter().map(|o| o.key.clone()).collect())
    }

    /// The live objects of `category`, oldest first.
    pub async fn list_objects(&self, category: &Category) -> Result<Vec<Arc<StoredObject>>> {
        self.ready()?;
        category.validate()?;
        let place = Place::Live(category.clone());
        // Whether another category holds a newer copy of a key is only known once every category
        // was scanned (once per manager; a save needs it too); later, this folder alone is
        // brought up to date (a first full scan just did that too).
        if self.index().loaded {
            self.sync(Some(&place)).await?;
        } else {
            self.ensure_loaded().await?;
        }
        let now = self.now();
        let index = self.index();
        // A copy that a newer copy in another category supersedes is not listed (see `cleanup`).
        let mut objects: Vec<Arc<StoredObject>> = index
            .folders
            .get(&place)
            .map(|f| {
                f.entries
                    .iter()
                    .filter(|(key, _)| index.owner.get(*key) == Some(category))
                    .filter_map(|(_, e)| e.managed())
                    .filter(|o| !o.is_expired(now))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        drop(index);
        objects.sort_unstable_by(|a, b| a.created.cmp(&b.created).then_with(|| a.key.cmp(&b.key)));
        Ok(objects)
    }

    /// Every live object, in any category, for which `pred` is true; oldest first.
    ///
    /// ```
    /// # use store_manager::{Category, Manager, SaveOptions, Settings};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = Manager::new(store_core::open("memory://").await?, Settings::default());
    /// manager.save("bt_1", &[1, 2], SaveOptions::new(Category::BacktestResults).with_metadata("sharpe", 1.8)).await?;
    /// manager.save("bt_2", &[3], SaveOptions::new(Category::BacktestResults).with_metadata("sharpe", 0.9)).await?;
    /// let good = manager.find(|o| o.metadata.get("sharpe").and_then(|v| v.as_f64()).is_some_and(|s| s > 1.5)).await?;
    /// assert_eq!(good.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(), ["bt_1"]);
    /// # Ok::<(), store_manager::Error>(()) }).unwrap();
    /// ```
    pub async fn find(&self, pred: impl Fn(&StoredObject) -> bool) -> Result<Vec<StoredObject>> {
        self.ready()?;
        self.sync(None).await?;
        let now = self.now();
        let index = self.index();
        let mut out: Vec<StoredObject> = index
            .folders
            .iter()
            .filter_map(|(place, f)| match place {
                Place::Live(category) => Some((category, f)),
                Place::Archive(_) => None,
            })
            // Only each key's newest copy (a superseded one waits for `cleanup`).
            .flat_map(|(category, f)| {
                f.entries.iter().filter(|(key, _)| index.owner.get(*key) == Some(category)).map(|(_, e)| e)
            })
            .filter_map(|e| e.managed())
            .filter(|o| !o.is_expired(now) && pred(o))
            .map(|o| (**o).clone())
            .collect();
        drop(index);
        out.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.key.cmp(&b.key)));
        Ok(out)
    }

    /// The archived copies of `category`'s expired objects, oldest archive first.
    pub async fn list_archived(&self, category: &Category) -> Result<Vec<ArchivedObject>> {
        self.ready()?;
        category.validate()?;
        let place = Place::Archive(category.clone());
        self.sync(Some(&place)).await?;
        let index = self.index();
        let mut out: Vec<ArchivedObject> = index
            .folders
            .get(&place)
            .map(|f| {
                f.entries
                    .values()
                    .filter_map(|e| match &e.kind {
                        Kind::Archived(a) => Some((**a).clone()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        drop(index);
        out.sort_by(|a, b| a.archived.cmp(&b.archived).then_with(|| a.object.key.cmp(&b.object.key)));
        Ok(out)
    }

    /// The bytes of an archived copy (decompressed, checksum verified), or `None`.
    pub async fn load_archived_bytes(&self, category: &Category, key: &str) -> Result<Option<Bytes>> {
        self.ready()?;
        category.validate()?;
        let key = manager_key(key)?;
        let store_key = Place::Archive(category.clone()).store_key(&key);
        let object = match self.inner.store.read_object(&store_key).await {
            Ok(o) => o,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let frame = format::decode(&object.bytes).map_err(|e| frame_error(&store_key, e))?;
        let bytes =
            run_cpu(frame.header.size as usize, move || frame.open()).await.map_err(|e| frame_error(&store_key, e))?;
        Ok(Some(bytes))
    }

    /// Objects in category folders the manager cannot use: damaged ones (with what is wrong)
    /// and ones it did not write. They still count against their category's quota; delete or
    /// replace them. Sorted by store key.
    pub async fn problems(&self) -> Result<Vec<(String, String)>> {
        self.ready()?;
        self.sync(None).await?;
        let index = self.index();
        let settings = &self.inner.settings;
        let mut out: Vec<(String, String)> = index
            .folders
            .iter()
            // Folders only named like a category hold unmanaged objects, not problems.
            .filter(|(place, _)| match place {
                Place::Live(category) => crate::census::is_category(&index, settings, category),
                Place::Archive(_) => true,
            })
            .flat_map(|(place, folder)| folder.entries.iter().map(move |(key, entry)| (place, key, entry)))
            .filter_map(|(place, key, entry)| {
                let store_key = place.store_key(key);
                match &entry.kind {
                    Kind::Corrupt(reason) => Some((store_key, format!("corrupt: {reason}"))),
                    Kind::Unreadable(reason) => Some((store_key, format!("unreadable: {reason}"))),
                    Kind::Foreign => Some((store_key, "not written by the manager (no manager header)".to_string())),
                    _ => None,
                }
            })
            .collect();
        drop(index);
        out.sort();
        Ok(out)
    }

    /// Refuses every save with [`Error::SavesRefused`] and `reason` (`Some`), or lets saves
    /// through again (`None`). The monitor calls it when the store is full and once space is
    /// freed; reads, deletes and cleanups keep working. Shared by every clone of this manager.
    pub fn refuse_saves(&self, reason: Option<String>) {
        *self.inner.saves_refused.lock().unwrap_or_else(PoisonError::into_inner) = reason;
    }

    /// Why saves are refused, when they are.
    pub fn saves_refused(&self) -> Option<String> {
        self.inner.saves_refused.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The current time, from the manager's clock.
    pub fn now(&self) -> SystemTime {
        self.inner.clock.now()
    }

    // ----- shared helpers ----------------------------------------------------------------------

    /// Fails when the manager cannot work: disabled, or invalid settings.
    pub(crate) fn ready(&self) -> Result<()> {
        if let Some(problem) = &self.inner.settings_problem {
            return Err(Error::Settings(problem.clone()));
        }
        if !self.inner.settings.enabled {
            return Err(Error::Disabled);
        }
        Ok(())
    }

    pub(crate) fn index(&self) -> MutexGuard<'_, Index> {
        self.inner.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) async fn lock_key(&self, key: &str) -> tokio::sync::MutexGuard<'_, ()> {
        let stripe = xxhash_rust::xxh3::xxh3_64(key.as_bytes()) as usize % self.inner.key_locks.len();
        self.inner.key_locks[stripe].lock().await
    }

    /// True when the index knows of an expired object or archive copy past its retention.
    fn has_expired(&self) -> bool {
        let now = self.now();
        self.index().folders.values().flat_map(|f| f.entries.values()).any(|e| match &e.kind {
            Kind::Managed(o) => o.is_expired(now),
            Kind::Archived(a) => a.purge_after <= now,
            _ => false,
        })
    }
}

/// The newest of several copies of one key (several only exist after a crash between a move's
/// put and delete, or when two processes saved the key in different categories at once).
fn newest(found: Vec<(Place, Object)>) -> Option<(Place, Object)> {
    // The order the index chooses its owner by (`index::preferred`), so that a delete removes the
    // copy found here last.
    let created = |object: &Object| {
        format::decode_head(&object.bytes, object.meta.size).ok().map(|f| format::from_ms(f.header.created_ms))
    };
    found
        .into_iter()
        .map(|(place, object)| (created(&object), place, object))
        .fold(None, |best: Option<(Option<std::time::SystemTime>, Place, Object)>, (c, place, object)| match best {
            Some((bc, bp, bo)) if !preferred((c, place.category()), (bc, bp.category())) => Some((bc, bp, bo)),
            _ => Some((c, place, object)),
        })
        .map(|(_, place, object)| (place, object))
}

/// How much of an object a lookup reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// The value too (a load).
    Whole,
    /// The prefix and header (metadata).
    Head,
}

/// A tombstone recorded at `epoch`.
pub(crate) fn tombstone(epoch: u64) -> Entry {
    Entry { version: None, stored_size: 0, epoch, seen: 0, kind: Kind::Tombstone }
}

/// The normal form of a manager key (the store's key rules apply).
pub(crate) fn manager_key(key: &str) -> Result<String> {
    Ok(Key::parse(key)?.as_str().to_string())
}

/// The error for an object that could not be decoded.
pub(crate) fn frame_error(store_key: &str, e: FrameError) -> Error {
    match e {
        FrameError::NotManaged => Error::NotManaged { key: store_key.to_string() },
        FrameError::Corrupt(reason) => Error::Corrupt { key: store_key.to_string(), reason },
    }
}

/// The description of a managed object from its frame. The folder, not the header, says which
/// category and key it is (the folder is where the quota counts it).
pub(crate) fn stored_object(category: &Category, key: &str, frame: &format::Frame, stored_size: u64) -> StoredObject {
    let h = &frame.header;
    stored_object_from(
        category,
        key,
        h.size,
        stored_size,
        frame.codec == format::Codec::Zstd,
        h.created_ms,
        h.expires_ms,
        h.metadata.clone(),
        frame.checksum,
    )
}

/// The description of a managed object from its header's fields.
#[allow(clippy::too_many_arguments)]
pub(crate) fn stored_object_from(
    category: &Category,
    key: &str,
    size: u64,
    stored_size: u64,
    compressed: bool,
    created_ms: u64,
    expires_ms: Option<u64>,
    metadata: serde_json::Map<String, serde_json::Value>,
    checksum: Checksum,
) -> StoredObject {
    StoredObject {
        key: key.to_string(),
        category: category.clone(),
        size,
        stored_size,
        compressed,
        created: format::from_ms(created_ms),
        expires: expires_ms.map(format::from_ms),
        metadata,
        checksum,
    }
}

/// The index entry for an object read from `place`.
pub(crate) fn entry_for(place: &Place, key: &str, object: &Object, epoch: u64) -> Entry {
    let stored_size = object.meta.size.max(object.bytes.len() as u64);
    let kind = match (format::decode_head(&object.bytes, stored_size), place) {
        (Err(FrameError::NotManaged), _) => Kind::Foreign,
        (Err(FrameError::Corrupt(reason)), _) => Kind::Corrupt(reason),
        (Ok(frame), Place::Live(category)) => {
            Kind::Managed(Arc::new(stored_object(category, key, &frame, stored_size)))
        }
        (Ok(frame), Place::Archive(category)) => match (frame.header.archived_ms, frame.header.purge_after_ms) {
            (Some(archived), Some(purge)) => Kind::Archived(Arc::new(ArchivedObject {
                object: stored_object(category, key, &frame, stored_size),
                archived: format::from_ms(archived),
                purge_after: format::from_ms(purge),
            })),
            _ => Kind::Corrupt("an archived copy without archived_ms and purge_after_ms".into()),
        },
    };
    Entry { version: Some(object.meta.version.clone()), stored_size, epoch, seen: 0, kind }
}

/// Runs CPU-heavy work (compression) on the blocking pool for large values when on a runtime.
pub(crate) async fn run_cpu<T, E>(size: usize, f: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, E>
where
    T: Send + 'static,
    E: Send + 'static + From<String>,
{
    if size <= OFFLOAD_BYTES || store_core::raw::io::may_block_here() {
        return f();
    }
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(join) => Err(E::from(format!("a compression task did not finish: {join}"))),
    }
}

impl From<String> for FrameError {
    fn from(s: String) -> FrameError {
        FrameError::Corrupt(s)
    }
}
