//! Changes other programs make under the root while the store is open, noticed before a limit
//! decision without walking the folder.
//!
//! Files other programs put under the root are objects, so they count against limits. The usage
//! ledger counts what the store itself saves and deletes; this watcher (an inotify instance, one
//! per folder and process, started when a limits layer asks the ledger to keep fresh) tells the
//! ledger when something else changed, and the ledger then marks its figures stale: the next
//! decision that must be exact recounts (see `ledger.rs`). The watch is drained, without waiting,
//! every time the ledger is changed, so what happened before a decision is known to it (the
//! kernel queues an event within the system call that made the change).
//!
//! What counts as a change made around the store, in a watched folder (names of the store's own,
//! starting with `.objstore`, never do):
//! - a file created, moved in, hard-linked, or written in place (`get_file_path`, a copy, an
//!   editor): the store's own saves never create or write a key's name, they rename a temp file
//!   over it, and the rename is recognised by its pair of events (from a temp name to the key);
//! - a file moved out, and deletes beyond those the store made: the ledger counts its own
//!   deletes (every process's), the watcher counts the deletes it sees;
//! - a folder that appears with objects in it (moved in, or made by another process; folders this
//!   process makes for its saves are watched before anything goes in);
//! - a lost event (the kernel's queue overflowed) or a watch that could not be added.
//!
//! Writes to a store's unnamed temp files show as `#<inode>` names and are not changes. Where
//! inotify cannot cover the folder (no instance left, too many folders for the user's watch
//! limit), the watcher reports itself unhealthy and the ledger falls back to recounting figures
//! older than a few seconds before a decision. Changes on another machine (a network file system)
//! are not seen by inotify; such a store should be written through one host.

use std::collections::{HashMap, VecDeque};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use rustix::io::Errno;
use store_core::key::{is_reserved, is_segment};

use crate::root::Root;

/// What a watch reports.
const MASK: WatchFlags = WatchFlags::CREATE
    .union(WatchFlags::MOVED_FROM)
    .union(WatchFlags::MOVED_TO)
    .union(WatchFlags::MODIFY)
    .union(WatchFlags::CLOSE_WRITE)
    .union(WatchFlags::DELETE)
    .union(WatchFlags::DELETE_SELF)
    .union(WatchFlags::MOVE_SELF)
    .union(WatchFlags::ONLYDIR)
    .union(WatchFlags::DONT_FOLLOW);

/// The size of an event's fixed part (`struct inotify_event`).
const EVENT_HEADER: usize = 16;
/// The largest event: the fixed part and a name of 255 bytes, NUL-terminated and padded.
const LARGEST_EVENT: usize = EVENT_HEADER + 256 + 16;
/// How many bytes of events one read takes.
const EVENT_BUFFER: usize = 4096;

/// The watcher of one root folder in this process.
#[derive(Debug)]
pub(crate) struct Watcher {
    fd: OwnedFd,
    root: PathBuf,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Watch descriptor → folder, relative to the root ("" for the root).
    folders: HashMap<i32, String>,
    /// Something changed around the store since the last drain that reported it.
    changed: bool,
    /// Watches may be missing (events were lost): add them again at the next drain.
    rescan: bool,
    /// A watch could not be added: the watcher cannot be trusted to see everything.
    unhealthy: bool,
    /// Cookies of renames away from a temp name (the first half of a save's rename).
    temp_renames: VecDeque<u32>,
    /// Deletes of objects seen, and the ledger's count of the store's own deletes when counting
    /// started.
    deletes_seen: u64,
    deletes_base: u64,
}

type Registry = Mutex<HashMap<(u64, u64), Weak<Watcher>>>;

/// The watchers of this process, by root folder (device, inode).
static WATCHERS: OnceLock<Registry> = OnceLock::new();

fn registry() -> &'static Registry {
    WATCHERS.get_or_init(Default::default)
}

/// Tells this process's watcher of `root`, if one runs, about a folder just made for a save.
pub(crate) fn folder_made(root: &Root, relative: &str) {
    let Some(all) = WATCHERS.get() else { return };
    let Some(id) = identity(root) else { return };
    let watcher = all.lock().unwrap_or_else(|p| p.into_inner()).get(&id).and_then(Weak::upgrade);
    if let Some(watcher) = watcher {
        watcher.folder_made(relative);
    }
}

fn identity(root: &Root) -> Option<(u64, u64)> {
    let st = rustix::fs::fstat(&root.fd).ok()?;
    Some((st.st_dev, st.st_ino))
}

impl Watcher {
    /// The watcher of `root` in this process, started if none runs; `None` (with a warning) when
    /// inotify cannot cover it.
    pub(crate) fn of(root: &Root) -> Option<Arc<Watcher>> {
        let id = identity(root)?;
        let mut all = registry().lock().unwrap_or_else(|p| p.into_inner());
        if let Some(watcher) = all.get(&id).and_then(Weak::upgrade) {
            return Some(watcher);
        }
        match Watcher::start(&root.path) {
            Ok(watcher) => {
                let watcher = Arc::new(watcher);
                all.retain(|_, w| w.strong_count() > 0);
                all.insert(id, Arc::downgrade(&watcher));
                Some(watcher)
            }
            Err(e) => {
                tracing::warn!(
                    root = %root.path.display(),
                    error = %e,
                    "cannot watch the store folder for changes other programs make (inotify); they will count \
                     against limits within a few seconds instead of at once"
                );
                None
            }
        }
    }

    fn start(root: &Path) -> std::result::Result<Watcher, Errno> {
        let fd = inotify::init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC)?;
        let watcher = Watcher { fd, root: root.to_path_buf(), state: Mutex::default() };
        {
            let mut state = watcher.state.lock().unwrap_or_else(|p| p.into_inner());
            watcher.watch_tree(&mut state, "");
            if state.unhealthy {
                return Err(Errno::NOSPC);
            }
        }
        Ok(watcher)
    }

    /// Starts counting deletes from the ledger's count `ledger_deletes` (called under the
    /// ledger's lock).
    pub(crate) fn start_counting(&self, ledger_deletes: u64) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.deletes_base = ledger_deletes;
        state.deletes_seen = 0;
    }

    /// False when the watcher may miss changes (a watch could not be added).
    pub(crate) fn healthy(&self) -> bool {
        !self.state.lock().unwrap_or_else(|p| p.into_inner()).unhealthy
    }

    /// Reads what happened since the last drain, without waiting. Returns true when something
    /// changed around the store; `ledger_deletes` is the ledger's count of the store's own
    /// deletes now (called under the ledger's lock, so every delete of the store that happened is
    /// in both counts).
    pub(crate) fn drain(&self, ledger_deletes: u64) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut new_folders = Vec::new();
        // A read that leaves room for another event has taken every event queued when it ran
        // (the kernel hands out as many whole events as fit), so no second read is needed to
        // learn that the queue is empty.
        let mut bytes = vec![0u8; EVENT_BUFFER];
        loop {
            let n = match rustix::io::read(&self.fd, &mut bytes) {
                Ok(n) => n,
                Err(Errno::AGAIN) => break,
                Err(Errno::INTR) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the store folder's watch");
                    state.changed = true;
                    break;
                }
            };
            let mut at = 0;
            while at + EVENT_HEADER <= n {
                let field = |i: usize| {
                    let mut v = [0u8; 4];
                    v.copy_from_slice(&bytes[at + 4 * i..at + 4 * i + 4]);
                    v
                };
                let (wd, mask, cookie, len) = (
                    i32::from_ne_bytes(field(0)),
                    u32::from_ne_bytes(field(1)),
                    u32::from_ne_bytes(field(2)),
                    u32::from_ne_bytes(field(3)) as usize,
                );
                let name_bytes = &bytes[(at + EVENT_HEADER).min(n)..(at + EVENT_HEADER + len).min(n)];
                at += EVENT_HEADER + len;
                let name = std::str::from_utf8(name_bytes.split(|&b| b == 0).next().unwrap_or_default()).ok();
                self.note(&mut state, wd, ReadFlags::from_bits_retain(mask), cookie, name, &mut new_folders);
            }
            if n + LARGEST_EVENT <= bytes.len() {
                break;
            }
        }
        for folder in new_folders {
            // Watched already: this process made it for a save, and watched it first.
            let known = state.folders.values().any(|f| *f == folder);
            if !known && self.watch_tree(&mut state, &folder) {
                state.changed = true;
            }
        }
        if std::mem::take(&mut state.rescan) {
            state.unhealthy = false;
            self.watch_tree(&mut state, "");
        }
        let own_deletes = ledger_deletes.wrapping_sub(state.deletes_base);
        if state.deletes_seen > own_deletes {
            // More objects went than the store deleted: another program removed some.
            state.changed = true;
        }
        if state.deletes_seen >= own_deletes {
            state.deletes_base = ledger_deletes;
            state.deletes_seen = 0;
        }
        // An unhealthy watcher is not a change: the ledger then goes by the age of its figures.
        std::mem::take(&mut state.changed)
    }

    /// Notes one event (`name`: `None` for an event on the watched folder itself).
    fn note(
        &self,
        state: &mut State,
        wd: i32,
        flags: ReadFlags,
        cookie: u32,
        name: Option<&str>,
        new_folders: &mut Vec<String>,
    ) {
        if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
            state.changed = true;
            state.rescan = true;
            return;
        }
        if flags.contains(ReadFlags::IGNORED) {
            state.folders.remove(&wd);
            return;
        }
        let Some(folder) = state.folders.get(&wd).cloned() else { return };
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            // The root moved or went away.
            if folder.is_empty() && flags.intersects(ReadFlags::DELETE_SELF | ReadFlags::MOVE_SELF | ReadFlags::UNMOUNT)
            {
                state.changed = true;
            }
            return;
        };
        if let Some(folder) = classify(state, flags, cookie, &folder, name) {
            new_folders.push(folder);
        }
    }

    /// Watches a folder this process just made for a save, before anything goes into it.
    pub(crate) fn folder_made(&self, relative: &str) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.watch(&mut state, relative);
    }

    /// Adds a watch on `relative`; returns its descriptor.
    fn watch(&self, state: &mut State, relative: &str) -> Option<i32> {
        let path = if relative.is_empty() { self.root.clone() } else { self.root.join(relative) };
        match inotify::add_watch(&self.fd, &path, MASK) {
            Ok(wd) => {
                state.folders.insert(wd, relative.to_string());
                Some(wd)
            }
            // Gone meanwhile, or not a folder (a symlink is not followed).
            Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => None,
            Err(e) => {
                if !state.unhealthy {
                    tracing::warn!(
                        folder = %path.display(),
                        error = %e,
                        "cannot watch a folder of the store (inotify's limits: fs.inotify.max_user_watches); changes \
                         other programs make will count against limits within a few seconds instead of at once"
                    );
                }
                state.unhealthy = true;
                None
            }
        }
    }

    /// Watches `relative` and every folder beneath it that can hold objects. Returns true when
    /// it holds objects already.
    fn watch_tree(&self, state: &mut State, relative: &str) -> bool {
        let mut holds_objects = false;
        let mut pending = vec![relative.to_string()];
        while let Some(folder) = pending.pop() {
            // Watch first, then list: whatever lands after the listing is an event.
            if self.watch(state, &folder).is_none() {
                continue;
            }
            let path = if folder.is_empty() { self.root.clone() } else { self.root.join(&folder) };
            let Ok(entries) = std::fs::read_dir(&path) else { continue };
            for entry in entries.flatten() {
                let Ok(name) = entry.file_name().into_string() else { continue };
                if !is_segment(&name) {
                    continue;
                }
                match entry.file_type() {
                    Ok(t) if t.is_dir() => {
                        pending.push(if folder.is_empty() { name } else { format!("{folder}/{name}") })
                    }
                    Ok(_) => holds_objects = true,
                    Err(_) => {}
                }
            }
        }
        holds_objects
    }
}

/// Notes one event about `name` in `folder`; returns a folder to watch, when one appeared.
fn classify(state: &mut State, flags: ReadFlags, cookie: u32, folder: &str, name: &str) -> Option<String> {
    if is_reserved(name) {
        if flags.contains(ReadFlags::MOVED_FROM) {
            // A temp file renamed: the save's key gets the matching MOVED_TO.
            state.temp_renames.push_back(cookie);
            if state.temp_renames.len() > 64 {
                state.temp_renames.pop_front();
            }
        }
        return None;
    }
    if is_unnamed_temp(name) {
        // An unnamed (O_TMPFILE) temp file being written or closed.
        return None;
    }
    if !is_segment(name) {
        // Cannot be an object or hold any.
        return None;
    }
    let path = || if folder.is_empty() { name.to_string() } else { format!("{folder}/{name}") };
    if flags.contains(ReadFlags::ISDIR) {
        if flags.intersects(ReadFlags::CREATE | ReadFlags::MOVED_TO) {
            return Some(path());
        }
        if flags.contains(ReadFlags::MOVED_FROM) {
            state.changed = true;
        }
        return None;
    }
    if flags.contains(ReadFlags::MOVED_TO) {
        match state.temp_renames.iter().position(|&c| c == cookie) {
            Some(at) => {
                state.temp_renames.remove(at);
            }
            None => state.changed = true,
        }
    } else if flags.intersects(ReadFlags::CREATE | ReadFlags::MODIFY | ReadFlags::CLOSE_WRITE | ReadFlags::MOVED_FROM) {
        state.changed = true;
    } else if flags.contains(ReadFlags::DELETE) {
        state.deletes_seen = state.deletes_seen.saturating_add(1);
    }
    None
}

/// `#` and digits: the name the kernel reports for an unnamed (`O_TMPFILE`) file.
fn is_unnamed_temp(name: &str) -> bool {
    name.strip_prefix('#').is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drained(w: &Watcher) -> bool {
        w.drain(0)
    }

    #[test]
    fn the_stores_own_saves_are_not_changes_other_files_are() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        let w = Watcher::start(dir.path()).unwrap();
        w.start_counting(0);
        assert!(!drained(&w));
        // A save: a temp file, renamed over the key.
        std::fs::write(dir.path().join("a/.objstore-tmp-1-1"), "v").unwrap();
        std::fs::rename(dir.path().join("a/.objstore-tmp-1-1"), dir.path().join("a/k")).unwrap();
        assert!(!drained(&w), "a save looked like a change made around the store");
        // Another program writes a file, in place.
        std::fs::write(dir.path().join("a/k"), "in place").unwrap();
        assert!(drained(&w));
        assert!(!drained(&w), "a change is reported once");
        std::fs::write(dir.path().join("new"), "x").unwrap();
        assert!(drained(&w));
        // A folder made elsewhere with a file in it; then a file in it, seen through its watch.
        std::fs::create_dir_all(dir.path().join("b/c")).unwrap();
        std::fs::write(dir.path().join("b/c/f"), "x").unwrap();
        assert!(drained(&w));
        std::fs::write(dir.path().join("b/c/g"), "x").unwrap();
        assert!(drained(&w), "a folder that appeared is not watched");
        // A folder made by this process for a save, watched first.
        std::fs::create_dir(dir.path().join("d")).unwrap();
        w.folder_made("d");
        std::fs::write(dir.path().join("d/.objstore-tmp-1-2"), "v").unwrap();
        std::fs::rename(dir.path().join("d/.objstore-tmp-1-2"), dir.path().join("d/k")).unwrap();
        assert!(!drained(&w), "a save into a folder of its own looked like a change");
    }

    #[test]
    fn deletes_beyond_the_stores_own_are_changes() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["x", "y", "z"] {
            std::fs::write(dir.path().join(name), "v").unwrap();
        }
        let w = Watcher::start(dir.path()).unwrap();
        w.start_counting(10);
        std::fs::remove_file(dir.path().join("x")).unwrap();
        // The store counted this delete as its own.
        assert!(!w.drain(11));
        std::fs::remove_file(dir.path().join("y")).unwrap();
        assert!(w.drain(11), "a delete the store did not make went unnoticed");
        std::fs::remove_file(dir.path().join("z")).unwrap();
        assert!(!w.drain(12));
    }

    #[test]
    fn unnamed_temp_files_are_recognised() {
        assert!(is_unnamed_temp("#123"));
        assert!(!is_unnamed_temp("#"));
        assert!(!is_unnamed_temp("#12a"));
        assert!(!is_unnamed_temp("123"));
    }
}
