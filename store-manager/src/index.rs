//! The manager's in-memory index: what each category folder holds, as last seen.
//!
//! It is a cache of the objects' own headers, never the truth: every listing compares the
//! backend's versions with the ones recorded here and re-reads only what changed, so a warm
//! index costs one listing and no per-object read. Mutations made by this process carry an
//! epoch; a scan that started before a mutation never undoes it.

use std::collections::BTreeMap;

/// The index's maps: a fast hasher seeded per process (keys come from the store, so not a fixed
/// seed).
pub type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
use std::sync::Arc;
use std::time::SystemTime;

use store_core::Version;

use crate::category::Category;
use crate::object::{ArchivedObject, StoredObject};

/// The folder under which expired objects are archived: `_archive/{category}/{key}`.
pub const ARCHIVE_FOLDER: &str = "_archive";
/// Folders of the manager's and the monitor's own files (the index snapshot, the change
/// marker, the usage history): neither categories nor the user's objects.
pub const INTERNAL_FOLDERS: [&str; 2] = ["_manager/", "_monitor/"];

/// True for a store key of the manager's or the monitor's own files.
pub fn is_internal(store_key: &str) -> bool {
    INTERNAL_FOLDERS.iter().any(|folder| store_key.starts_with(folder))
}

/// A folder of the store the manager owns.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Place {
    /// `{category}/`: the category's live objects.
    Live(Category),
    /// `_archive/{category}/`: its archived copies.
    Archive(Category),
}

impl Place {
    /// The folder's prefix in the store, with a trailing `/`.
    pub fn prefix(&self) -> String {
        match self {
            Place::Live(c) => format!("{c}/"),
            Place::Archive(c) => format!("{ARCHIVE_FOLDER}/{c}/"),
        }
    }

    /// The store key of `key` in this folder.
    pub fn store_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix())
    }

    /// Where a store key belongs, and the manager key inside it. Keys outside category
    /// folders (top-level objects, folders that are not category names) belong nowhere.
    pub fn classify(store_key: &str) -> Option<(Place, &str)> {
        let (first, rest) = store_key.split_once('/')?;
        if first == ARCHIVE_FOLDER {
            let (cat, key) = rest.split_once('/')?;
            return Some((Place::Archive(Category::parse(cat).ok()?), key));
        }
        Some((Place::Live(Category::parse(first).ok()?), rest))
    }

    /// The category.
    pub fn category(&self) -> &Category {
        match self {
            Place::Live(c) | Place::Archive(c) => c,
        }
    }
}

/// What an object in a managed folder turned out to be.
#[derive(Debug, Clone)]
pub enum Kind {
    /// A managed object (live folder).
    Managed(Arc<StoredObject>),
    /// An archived copy (archive folder).
    Archived(Arc<ArchivedObject>),
    /// Not written by the manager; it still takes room.
    Foreign,
    /// Damaged; it still takes room. The text says what is wrong.
    Corrupt(String),
    /// Listed but not readable (a link out of the root, a file this process may not read); it
    /// still takes room. Not a fact about its version: a later scan tries again.
    Unreadable(String),
    /// Deleted by this process (kept so that an older listing cannot bring it back).
    Tombstone,
}

/// One object as last seen.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The backend's version of exactly what was parsed (None for tombstones).
    pub version: Option<Version>,
    /// Bytes in the store.
    pub stored_size: u64,
    /// The epoch of the change that recorded it.
    pub epoch: u64,
    /// The last scan whose listing included it.
    pub seen: u64,
    /// What it is.
    pub kind: Kind,
}

impl Entry {
    /// True when the entry is an object in the store (not a tombstone): it counts in the sums.
    pub fn counts(&self) -> bool {
        !matches!(self.kind, Kind::Tombstone)
    }

    /// The managed object, when it is one.
    pub fn managed(&self) -> Option<&Arc<StoredObject>> {
        match &self.kind {
            Kind::Managed(o) => Some(o),
            _ => None,
        }
    }
}

/// Files and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    /// Stored bytes.
    pub bytes: u64,
    /// Objects.
    pub files: u64,
}

/// One folder's entries and their sums.
#[derive(Debug, Default)]
pub struct Folder {
    /// Entries by manager key.
    pub entries: HashMap<Box<str>, Entry>,
    /// Sum over the entries that count (not tombstones).
    pub figures: Figures,
}

/// Everything the manager has seen, plus the room reserved by saves in flight.
#[derive(Debug, Default)]
pub struct Index {
    /// Folders by place.
    pub folders: HashMap<Place, Folder>,
    /// Manager key -> the live category that holds it (the newest copy when several do).
    pub owner: HashMap<Box<str>, Category>,
    /// The last mutation's epoch.
    pub epoch: u64,
    /// A full scan has completed: the figures cover every folder.
    pub loaded: bool,
    /// The number of the last scan.
    pub scan_seq: u64,
    /// Sum over every folder.
    pub totals: Figures,
    /// Room reserved by saves in flight, store-wide.
    pub reserved: Figures,
    /// Bytes reserved by saves in flight, per category.
    pub reserved_by_category: HashMap<Category, u64>,
    /// Objects outside the category folders and the archive (plain saves, other programs'
    /// files), as the last full scan listed them.
    pub unmanaged: Figures,
    /// The manager's and the monitor's own files ([`INTERNAL_FOLDERS`]), by store key, as the
    /// last full scan listed them (or as this process wrote them since).
    pub internal: BTreeMap<String, (u64, Version)>,
    /// Objects the last full scan listed (what a new listing costs).
    pub listed: u64,
    /// Changes to the entries so far, and how many of them the snapshot in the store holds.
    pub changes: u64,
    /// See `changes`.
    pub persisted: u64,
    /// The change marker's version (`None`: absent) when the last full scan started, while this
    /// process knows that no manager added a copy since; `None` when it does not know.
    pub marker_seen: Option<Option<Version>>,
}

impl Index {
    /// A new epoch for a mutation.
    pub fn next_epoch(&mut self) -> u64 {
        self.epoch += 1;
        self.epoch
    }

    /// The entry for `key` in `place`.
    pub fn get(&self, place: &Place, key: &str) -> Option<&Entry> {
        self.folders.get(place)?.entries.get(key)
    }

    /// Records `entry` for `key` in `place`, replacing what was there, and keeps the sums and
    /// the owner map right.
    pub fn put(&mut self, place: &Place, key: &str, entry: Entry) {
        self.changes += 1;
        let folder = self.folders.entry(place.clone()).or_default();
        let new_counts = entry.counts();
        let new_size = entry.stored_size;
        let managed_created = entry.managed().map(|o| o.created);
        let old = folder.entries.insert(key.into(), entry);
        if let Some(old) = &old
            && old.counts()
        {
            folder.figures.bytes -= old.stored_size;
            folder.figures.files -= 1;
            self.totals.bytes -= old.stored_size;
            self.totals.files -= 1;
        }
        if new_counts {
            folder.figures.bytes += new_size;
            folder.figures.files += 1;
            self.totals.bytes += new_size;
            self.totals.files += 1;
        }
        if let Place::Live(category) = place {
            if new_counts {
                let replace = match self.owner.get(key) {
                    None => true,
                    Some(current) if current == category => true,
                    Some(current) => {
                        let current_created =
                            self.get(&Place::Live(current.clone()), key).and_then(|e| e.managed()).map(|o| o.created);
                        preferred((managed_created, category), (current_created, current))
                    }
                };
                if replace {
                    self.owner.insert(key.into(), category.clone());
                }
            } else if self.owner.get(key) == Some(category) {
                self.reassign_owner(key);
            }
        }
    }

    /// Forgets `key` in `place` (no tombstone).
    pub fn forget(&mut self, place: &Place, key: &str) {
        let Some(folder) = self.folders.get_mut(place) else { return };
        let Some(old) = folder.entries.remove(key) else { return };
        self.changes += 1;
        if old.counts() {
            folder.figures.bytes -= old.stored_size;
            folder.figures.files -= 1;
            self.totals.bytes -= old.stored_size;
            self.totals.files -= 1;
        }
        if let Place::Live(category) = place
            && self.owner.get(key) == Some(category)
        {
            self.reassign_owner(key);
        }
    }

    /// After the owner's copy went away: the newest remaining live copy, if any.
    fn reassign_owner(&mut self, key: &str) {
        let mut best: Option<(Option<SystemTime>, Category)> = None;
        for (place, folder) in &self.folders {
            let Place::Live(category) = place else { continue };
            let Some(entry) = folder.entries.get(key).filter(|e| e.counts()) else { continue };
            let created = entry.managed().map(|o| o.created);
            if best.as_ref().is_none_or(|(c, b)| preferred((created, category), (*c, b))) {
                best = Some((created, category.clone()));
            }
        }
        match best {
            Some((_, category)) => self.owner.insert(key.into(), category),
            None => self.owner.remove(key),
        };
    }

    /// The live category and entry holding `key`, by the owner map.
    pub fn owned(&self, key: &str) -> Option<(&Category, &Entry)> {
        let category = self.owner.get(key)?;
        Some((category, self.get(&Place::Live(category.clone()), key)?))
    }

    /// The folder's figures (zero when unknown).
    pub fn figures(&self, place: &Place) -> Figures {
        self.folders.get(place).map(|f| f.figures).unwrap_or_default()
    }

    /// Every live category the index knows.
    pub fn live_categories(&self) -> Vec<Category> {
        let mut out: Vec<Category> = self
            .folders
            .keys()
            .filter_map(|p| match p {
                Place::Live(c) => Some(c.clone()),
                Place::Archive(_) => None,
            })
            .collect();
        out.sort();
        out
    }
}

/// Whether the copy `a` (its creation time, its category) is the one a load finds rather than
/// `b`: the later created; on a tie (two saves in one millisecond), the first category in
/// [`Category`]'s order. Every choice of "the newest copy" uses this order (the index's owner, a
/// load's probe), so that the copy a delete removes last is the copy a load would find: a delete
/// interrupted midway never leaves an older copy as the value.
pub(crate) fn preferred(a: (Option<SystemTime>, &Category), b: (Option<SystemTime>, &Category)) -> bool {
    (a.0, std::cmp::Reverse(a.1)) > (b.0, std::cmp::Reverse(b.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn foreign(size: u64, epoch: u64) -> Entry {
        Entry { version: Some(Version::new("v")), stored_size: size, epoch, seen: 0, kind: Kind::Foreign }
    }

    #[test]
    fn sums_follow_puts_forgets_and_tombstones() {
        let mut index = Index::default();
        let a = Place::Live(Category::LlmCache);
        let b = Place::Live(Category::MlModels);
        index.put(&a, "x", foreign(10, 1));
        index.put(&a, "y", foreign(5, 1));
        index.put(&b, "x", foreign(7, 1));
        assert_eq!(index.figures(&a), Figures { bytes: 15, files: 2 });
        assert_eq!(index.totals, Figures { bytes: 22, files: 3 });
        assert_eq!(index.owner.get("x"), Some(&Category::LlmCache));
        index.put(&a, "x", Entry { version: None, stored_size: 0, epoch: 2, seen: 0, kind: Kind::Tombstone });
        assert_eq!(index.figures(&a), Figures { bytes: 5, files: 1 });
        assert_eq!(index.owner.get("x"), Some(&Category::MlModels), "the other copy takes over");
        index.forget(&b, "x");
        assert_eq!(index.owner.get("x"), None);
        assert_eq!(index.totals, Figures { bytes: 5, files: 1 });
    }

    fn managed(category: Category, created_ms: u64) -> Entry {
        let object = crate::object::StoredObject {
            key: "x".into(),
            category,
            size: 1,
            stored_size: 1,
            compressed: false,
            created: crate::format::from_ms(created_ms),
            expires: None,
            metadata: serde_json::Map::new(),
            checksum: crate::object::Checksum::of(b"v"),
        };
        Entry {
            version: Some(Version::new("v")),
            stored_size: 1,
            epoch: 1,
            seen: 0,
            kind: Kind::Managed(Arc::new(object)),
        }
    }

    /// Two copies created in the same millisecond: the owner is the same whatever order they
    /// are recorded in (a scan's listing order, a save's), and the one `preferred` picks. Before,
    /// the copy recorded last won, while a load picked by category: a delete removed the copy a
    /// load finds first, and a crash midway left the other (older) one as the value.
    #[test]
    fn the_owner_of_copies_made_in_one_millisecond_does_not_depend_on_the_order_seen() {
        let (a, b) = (Category::MlModels, Category::Custom("crash_custom".into()));
        let first = if preferred((Some(crate::format::from_ms(5)), &a), (Some(crate::format::from_ms(5)), &b)) {
            a.clone()
        } else {
            b.clone()
        };
        for order in [[a.clone(), b.clone()], [b.clone(), a.clone()]] {
            let mut index = Index::default();
            for category in &order {
                index.put(&Place::Live(category.clone()), "x", managed(category.clone(), 5));
            }
            assert_eq!(index.owner.get("x"), Some(&first), "recorded in the order {order:?}");
            // The owner's copy goes: the other takes over; and back.
            let other = if first == a { b.clone() } else { a.clone() };
            index.forget(&Place::Live(first.clone()), "x");
            assert_eq!(index.owner.get("x"), Some(&other));
        }
        // A later copy wins whatever its category.
        let mut index = Index::default();
        index.put(&Place::Live(first.clone()), "x", managed(first.clone(), 5));
        let other = if first == a { b.clone() } else { a.clone() };
        index.put(&Place::Live(other.clone()), "x", managed(other.clone(), 6));
        assert_eq!(index.owner.get("x"), Some(&other));
    }

    #[test]
    fn classify_places() {
        assert_eq!(Place::classify("llm_cache/a/b"), Some((Place::Live(Category::LlmCache), "a/b")));
        assert_eq!(Place::classify("_archive/ml_models/m"), Some((Place::Archive(Category::MlModels), "m")));
        assert_eq!(Place::classify("fx/k"), Some((Place::Live(Category::Custom("fx".into())), "k")));
        assert_eq!(Place::classify("top-level"), None);
        assert_eq!(Place::classify("Not A Category/k"), None);
        assert_eq!(Place::classify("_archive/k"), None);
    }
}
