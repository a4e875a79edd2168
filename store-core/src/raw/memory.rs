//! The in-memory backend (`memory://`): a sorted map, for tests and scratch work.
//!
//! `memory://` opens a fresh, empty store. `memory://NAME` opens the store of that name, shared
//! by every `open` of the same name in this process, so two handles behave like two processes on
//! one storage (useful for testing revalidation).

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};

use crate::error::{Error, Result};
use crate::key::{Key, KeyBuf};
use crate::raw::backend::{
    Backend, ByteRange, ByteStream, Capabilities, GetOptions, GetResult, Object, ObjectMeta, ObjectStream, PutMode,
    RangeRead, StoreLock, Usage, Version, chunked, collect_stream, resolve_range,
};
use crate::raw::ledger::{LedgerFigures, LocalLedger, UsageLedger};

/// How many entries a listing takes from the map per lock.
const LIST_CHUNK: usize = 256;

/// The chunk size of a streamed read.
const STREAM_CHUNK: usize = 1 << 20;

/// A backend that keeps objects in memory.
#[derive(Debug)]
pub struct MemoryBackend {
    name: String,
    map: Arc<RwLock<Map>>,
    next_version: AtomicU64,
    ledger: Arc<MemoryLedger>,
}

type Map = BTreeMap<KeyBuf, Entry>;

#[derive(Debug, Clone)]
struct Entry {
    bytes: Bytes,
    version: u64,
    modified: SystemTime,
}

impl Entry {
    fn meta(&self, key: &KeyBuf) -> ObjectMeta {
        ObjectMeta {
            key: key.clone(),
            size: self.bytes.len() as u64,
            version: Version::new(self.version.to_string()),
            modified: Some(self.modified),
        }
    }
}

impl MemoryBackend {
    /// A fresh, empty, anonymous store.
    pub fn new() -> MemoryBackend {
        MemoryBackend::named("memory://")
    }

    fn named(name: &str) -> MemoryBackend {
        let map: Arc<RwLock<Map>> = Arc::default();
        MemoryBackend {
            name: name.to_string(),
            ledger: Arc::new(MemoryLedger { figures: LocalLedger::default(), map: map.clone() }),
            map,
            next_version: AtomicU64::new(1),
        }
    }

    /// The process-wide store called `name` (created on first use).
    pub fn shared(name: &str) -> Arc<MemoryBackend> {
        static SHARED: OnceLock<Mutex<HashMap<String, Arc<MemoryBackend>>>> = OnceLock::new();
        let mut all = SHARED.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
        all.entry(name.to_string())
            .or_insert_with(|| Arc::new(MemoryBackend::named(&format!("memory://{name}"))))
            .clone()
    }

    fn read(&self) -> RwLockReadGuard<'_, Map> {
        read_map(&self.map)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Map> {
        // A panic while holding the lock cannot leave the map half-changed (every change is
        // one insert or remove), so a poisoned lock is still good to use.
        self.map.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores `value` as `mode` allows, counting it in the ledger.
    fn insert(&self, key: &Key, value: Bytes, mode: &PutMode) -> Result<ObjectMeta> {
        let mut map = self.write();
        match (mode, map.get(key)) {
            (PutMode::Create, Some(_)) => return Err(Error::AlreadyExists { key: key.to_string() }),
            (PutMode::Update(expected), current)
                if current.map(|e| e.version.to_string()).as_deref() != Some(expected.as_str()) =>
            {
                return Err(Error::Precondition { key: key.to_string(), expected: expected.to_string() });
            }
            _ => {}
        }
        let entry = Entry {
            bytes: value,
            version: self.next_version.fetch_add(1, Ordering::Relaxed),
            modified: SystemTime::now(),
        };
        let key = KeyBuf::from(key);
        let meta = entry.meta(&key);
        let old = map.insert(key, entry).map(|e| e.bytes.len() as u64);
        self.ledger.update(&mut |f| f.apply(old, Some(meta.size)))?;
        Ok(meta)
    }

    /// The entry of `key` and its metadata, if its version is `if_match` (when given).
    fn current(&self, key: &Key, if_match: Option<&Version>) -> Result<(Entry, ObjectMeta)> {
        let map = self.read();
        let (k, entry) = map.get_key_value(key).ok_or_else(|| Error::not_found(key))?;
        let meta = entry.meta(k);
        match if_match {
            Some(expected) if *expected != meta.version => {
                Err(Error::Precondition { key: key.to_string(), expected: expected.to_string() })
            }
            _ => Ok((entry.clone(), meta)),
        }
    }
}

/// The ledger of a memory store: figures kept beside the map, changed under the map's write lock
/// by every insert and remove, and recounted under its read lock (a snapshot).
struct MemoryLedger {
    figures: LocalLedger,
    map: Arc<RwLock<Map>>,
}

impl std::fmt::Debug for MemoryLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryLedger").field("figures", &self.figures).finish_non_exhaustive()
    }
}

impl UsageLedger for MemoryLedger {
    fn update(&self, change: &mut dyn FnMut(&mut LedgerFigures)) -> Result<LedgerFigures> {
        self.figures.update(change)
    }

    fn try_update(&self, change: &mut dyn FnMut(&mut LedgerFigures)) -> Result<Option<LedgerFigures>> {
        self.figures.try_update(change)
    }

    fn exact_update(&self, recount: bool, change: &mut dyn FnMut(&mut LedgerFigures)) -> Result<Option<LedgerFigures>> {
        if let Some(figures) = self.figures.exact_update(recount, change)? {
            return Ok(Some(figures));
        }
        let map = read_map(&self.map);
        let usage = Usage { bytes: map.values().map(|e| e.bytes.len() as u64).sum(), objects: map.len() as u64 };
        Ok(Some(self.figures.recounted(usage, change)))
    }

    fn keep_fresh(&self) -> Result<()> {
        // Nothing changes a memory store around its handles.
        Ok(())
    }
}

fn read_map(map: &RwLock<Map>) -> RwLockReadGuard<'_, Map> {
    map.read().unwrap_or_else(|p| p.into_inner())
}

/// The metadata of the keys under `prefix` after `after`, at most `LIST_CHUNK` of them.
fn chunk(map: &RwLock<Map>, prefix: &str, after: Option<&KeyBuf>) -> Vec<ObjectMeta> {
    let map = read_map(map);
    let start: Bound<&str> = match after {
        Some(k) => Bound::Excluded(k.as_str()),
        None => Bound::Included(prefix),
    };
    map.range::<str, _>((start, Bound::Unbounded))
        .take_while(|(k, _)| k.as_str().starts_with(prefix))
        .take(LIST_CHUNK)
        .map(|(k, e)| e.meta(k))
        .collect()
}

impl Default for MemoryBackend {
    fn default() -> MemoryBackend {
        MemoryBackend::new()
    }
}

#[async_trait]
impl Backend for MemoryBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            local_paths: false,
            conditional_put: true,
            object_and_prefix: true,
            persistent: false,
            cross_process_lock: false,
            shared_usage: true,
            conditional_delete: true,
        }
    }

    async fn put(&self, key: &Key, value: Bytes, mode: &PutMode) -> Result<ObjectMeta> {
        self.insert(key, value, mode)
    }

    async fn put_stream(&self, key: &Key, body: ByteStream, size: Option<u64>, mode: &PutMode) -> Result<ObjectMeta> {
        // Values live in memory here anyway; nothing is visible until the whole body arrived.
        let value = collect_stream(key, body, size).await?;
        self.insert(key, value, mode)
    }

    async fn get(&self, key: &Key, opts: &GetOptions) -> Result<GetResult> {
        let map = self.read();
        let Some((k, entry)) = map.get_key_value(key) else {
            return Err(Error::not_found(key));
        };
        let meta = entry.meta(k);
        if opts.if_none_match.as_ref() == Some(&meta.version) {
            return Ok(GetResult::NotModified);
        }
        Ok(GetResult::Found(Object { bytes: entry.bytes.clone(), meta }))
    }

    async fn get_range(&self, key: &Key, range: &ByteRange, if_match: Option<&Version>) -> Result<RangeRead> {
        let (entry, meta) = self.current(key, if_match)?;
        let range = resolve_range(key, range, meta.size)?;
        let bytes = entry.bytes.slice(range.start as usize..range.end as usize);
        Ok(RangeRead { bytes, range, meta })
    }

    async fn get_stream(
        &self,
        key: &Key,
        range: Option<&ByteRange>,
        if_match: Option<&Version>,
    ) -> Result<ObjectStream> {
        let (entry, meta) = self.current(key, if_match)?;
        let range = match range {
            Some(range) => resolve_range(key, range, meta.size)?,
            None => 0..meta.size,
        };
        let bytes = entry.bytes.slice(range.start as usize..range.end as usize);
        Ok(ObjectStream { meta, range, body: chunked(bytes, STREAM_CHUNK) })
    }

    fn get_ready(&self, key: &Key) -> Option<Bytes> {
        self.read().get(key).map(|e| e.bytes.clone())
    }

    fn version_now(&self, key: &Key) -> Option<Result<Version>> {
        Some(self.read().get(key).map(|e| Version::new(e.version.to_string())).ok_or_else(|| Error::not_found(key)))
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        let map = self.read();
        map.get_key_value(key).map(|(k, e)| e.meta(k)).ok_or_else(|| Error::not_found(key))
    }

    async fn delete(&self, key: &Key, if_match: Option<&Version>) -> Result<()> {
        let mut map = self.write();
        let current = map.get(key).ok_or_else(|| Error::not_found(key))?;
        if let Some(expected) = if_match {
            if current.version.to_string() != expected.as_str() {
                return Err(Error::Precondition { key: key.to_string(), expected: expected.to_string() });
            }
        }
        let removed = map.remove(key).ok_or_else(|| Error::not_found(key))?;
        self.ledger.update(&mut |f| f.apply(Some(removed.bytes.len() as u64), None))?;
        Ok(())
    }

    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>> {
        // Walk the map a chunk at a time, never holding the lock across a yield.
        let map = self.map.clone();
        let prefix = prefix.to_string();
        stream::unfold(Some(None::<KeyBuf>), move |state| {
            let map = map.clone();
            let prefix = prefix.clone();
            async move {
                let after = state?;
                let chunk = chunk(&map, &prefix, after.as_ref());
                let next = if chunk.len() < LIST_CHUNK { None } else { chunk.last().map(|m| Some(m.key.clone())) };
                if chunk.is_empty() { None } else { Some((stream::iter(chunk.into_iter().map(Ok)), next)) }
            }
        })
        .flatten()
        .boxed()
    }

    fn list_keys(&self, prefix: &str) -> BoxStream<'static, Result<KeyBuf>> {
        self.list(prefix).map(|m| m.map(|m| m.key)).boxed()
    }

    async fn usage(&self) -> Result<Usage> {
        let map = self.read();
        Ok(Usage { bytes: map.values().map(|e| e.bytes.len() as u64).sum(), objects: map.len() as u64 })
    }

    async fn local_path(&self, _key: &Key, _create_parents: bool) -> Result<Option<PathBuf>> {
        Ok(None)
    }

    fn usage_ledger(&self) -> Option<Arc<dyn UsageLedger>> {
        Some(self.ledger.clone())
    }

    async fn lock_store(&self) -> Result<Option<StoreLock>> {
        Ok(None)
    }
}
