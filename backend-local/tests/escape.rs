//! No escapes on disk (README "No escapes"): whatever the key, and whatever symlink, loop, FIFO,
//! hard link or swapped-in folder sits under the root, no read, write, delete, listing or file
//! path of the local backend acts outside the root.
//!
//! - `accepted_keys_land_beneath_the_root` (property): adversarial keys saved on a real store in
//!   a temp folder; each accepted key is found by walking the folder only beneath the root, at
//!   exactly its path; distinct keys are distinct files; `get_file_path` canonicalises inside the
//!   root; refused keys and failed saves leave nothing; deleting removes every file again.
//! - `traps_under_the_root` (scenarios): folder and file symlinks to outside (absolute, relative,
//!   chained, `/`, `/proc/self/root`, `/proc/self/cwd`, dangling), symlink loops, a FIFO and a
//!   hard link, each probed by every operation on a fresh store; files outside are never
//!   changed, never returned, and the operations fail with a clear error.
//! - `swapped_folder_toctou` / `swapped_file_toctou`: a folder (or file) under the root is swapped
//!   for a symlink to outside (`renameat2(RENAME_EXCHANGE)`) thousands of times while reads,
//!   saves, deletes, listings and file paths run against it.
//!
//! Each check prints one line; the file prints `escape: ...` when all have run. `PROPTEST_CASES`
//! raises the property's case count.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use backend_local as _;
use futures::TryStreamExt;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use rustix::fs::{CWD, FileType, Mode, RenameFlags};
use store_core::blocking::{self, ObjectStore};
use store_core::{Error, Key, PutMode};
use tempfile::TempDir;

// ----- the summary line -------------------------------------------------------------------

const FILE: &str = "escape";
const CHECKS: usize = 4;
use store_core::testkit::keys::{colliding, hostile};
use store_core::testkit::proptest_cases as cases;
static TALLY: store_core::testkit::Tally = store_core::testkit::Tally::new(FILE, CHECKS);

// ----- sandboxes --------------------------------------------------------------------------

const SECRET: &[u8] = b"SECRET-OUTSIDE-THE-ROOT";
const VICTIM: &[u8] = b"VICTIM-OUTSIDE-THE-ROOT";

/// A temp folder holding `root/` (the store) and `outside/` (files the store must never touch).
struct Sandbox {
    _tmp: TempDir,
    top: PathBuf,
    root: PathBuf,
    outside: PathBuf,
}

impl Sandbox {
    fn new() -> Sandbox {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let top = tmp.path().canonicalize().unwrap_or_else(|e| panic!("canonicalize: {e}"));
        let (root, outside) = (top.join("root"), top.join("outside"));
        for dir in [&root, &outside, &outside.join("sub")] {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        }
        write(&outside.join("secret.txt"), SECRET);
        write(&outside.join("victim.txt"), VICTIM);
        write(&outside.join("sub/secret.txt"), SECRET);
        Sandbox { _tmp: tmp, top, root, outside }
    }

    fn open(&self) -> ObjectStore {
        let url = format!("file://{}", self.root.display());
        blocking::builder(&url)
            .option("durability", "buffered")
            .build()
            .unwrap_or_else(|e| panic!("cannot open {url}: {e}"))
    }

    /// Everything outside the root: paths (relative to the top) and what each is.
    fn outside_snapshot(&self) -> BTreeMap<PathBuf, String> {
        let mut all = BTreeMap::new();
        walk(&self.top, &self.top, &mut all);
        all.retain(|p, _| !p.starts_with("root"));
        all
    }
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn symlink(target: impl AsRef<Path>, link: &Path) {
    if let Some(parent) = link.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir {}: {e}", parent.display()));
    }
    std::os::unix::fs::symlink(target.as_ref(), link).unwrap_or_else(|e| panic!("symlink {}: {e}", link.display()));
}

/// Walks `dir` without following symlinks: each entry's path relative to `base` and what it is
/// (a file's content, a symlink's target, a folder, a FIFO).
fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let rel = path.strip_prefix(base).map(Path::to_path_buf).unwrap_or_else(|_| path.clone());
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        let ft = meta.file_type();
        if ft.is_symlink() {
            let target = std::fs::read_link(&path).map(|t| t.display().to_string()).unwrap_or_default();
            out.insert(rel, format!("link -> {target}"));
        } else if ft.is_dir() {
            out.insert(rel, "folder".to_string());
            walk(base, &path, out);
        } else if ft.is_file() {
            let content = std::fs::read(&path).unwrap_or_default();
            out.insert(rel, format!("file {}", String::from_utf8_lossy(&content)));
        } else {
            out.insert(rel, "special".to_string());
        }
    }
}

/// True when an error is one a user can act on: the key is refused, absent, or in conflict with
/// another object (each message names the key), or create-only found an object.
fn clear_error(e: &Error, key: &str) -> bool {
    let message = e.to_string();
    let named = Key::parse(key).map(|k| message.contains(k.as_str())).unwrap_or(true);
    let kind_ok = matches!(
        e,
        Error::InvalidKey { .. } | Error::NotFound { .. } | Error::Conflict { .. } | Error::AlreadyExists { .. }
    );
    kind_ok && named
}

fn kind(e: &Error) -> &'static str {
    match e {
        Error::InvalidKey { .. } => "InvalidKey",
        Error::NotFound { .. } => "NotFound",
        Error::Conflict { .. } => "Conflict",
        Error::AlreadyExists { .. } => "AlreadyExists",
        Error::Io { .. } => "Io",
        _ => "Other",
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `path` is under `root`, lexically and after resolving every symlink it holds (when it exists).
fn beneath(root: &Path, path: &Path) -> bool {
    if !path.starts_with(root) || path.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
        return false;
    }
    match path.canonicalize() {
        Ok(real) => real.starts_with(root),
        // Absent (a path for a new key), or a dangling link: check the nearest existing folder.
        Err(_) => path.parent().is_none_or(|p| p.canonicalize().map_or(true, |real| real.starts_with(root))),
    }
}

// ----- adversarial keys (see store-core's prop_keys for the full vocabulary) -------------------

// ----- the property: keys on disk ---------------------------------------------------------

#[test]
fn accepted_keys_land_beneath_the_root() {
    let strategy = prop::collection::vec(prop_oneof![3 => colliding(), 1 => hostile()], 1..10);
    let config = Config { cases: cases(200), failure_persistence: None, ..Config::default() };
    let ran = AtomicU64::new(0);
    let (saved_total, refused_total, too_long_total, conflicts_total) =
        (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let result = TestRunner::new(config).run(&strategy, |inputs| {
        ran.fetch_add(1, Ordering::Relaxed);
        let sandbox = Sandbox::new();
        let store = sandbox.open();
        let before = sandbox.outside_snapshot();
        let root = &sandbox.root;
        let fail = |m: String| TestCaseError::fail(m);
        // key -> value of its last successful save
        let mut expected: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for (i, input) in inputs.iter().enumerate() {
            let value = format!("value {i} of {input:?}").into_bytes();
            let parsed = Key::parse(input).map(|k| k.as_str().to_string());
            match (store.save_bytes(input, value.clone()), parsed) {
                (Ok(()), Ok(key)) => {
                    saved_total.fetch_add(1, Ordering::Relaxed);
                    expected.insert(key, value);
                }
                (Ok(()), Err(e)) => return Err(fail(format!("{input:?} saved, though the key is refused: {e}"))),
                (Err(Error::InvalidKey { .. }), Err(_)) => {
                    refused_total.fetch_add(1, Ordering::Relaxed);
                }
                (Err(Error::InvalidKey { reason, .. }), Ok(key)) => {
                    // A segment longer than the file system allows (255 bytes), and only that.
                    prop_assert!(
                        key.split('/').any(|s| s.len() > 255),
                        "{:?} (key {:?}) refused on disk: {}",
                        input,
                        key,
                        reason
                    );
                    prop_assert!(reason.contains("255"), "unclear reason for {:?}: {}", key, reason);
                    too_long_total.fetch_add(1, Ordering::Relaxed);
                }
                (Err(Error::Conflict { .. }), Ok(key)) => {
                    // Only when an object is a folder of another key, or the other way round.
                    let clash = expected
                        .keys()
                        .any(|other| key.starts_with(&format!("{other}/")) || other.starts_with(&format!("{key}/")));
                    prop_assert!(clash, "{:?} (key {:?}) in conflict with nothing", input, key);
                    conflicts_total.fetch_add(1, Ordering::Relaxed);
                }
                (Err(e), parsed) => return Err(fail(format!("saving {input:?} ({parsed:?}) failed: {e:?}"))),
            }
        }

        // Every saved key reads back its own value, at exactly root/key, inside the root.
        let mut paths = BTreeSet::new();
        for (key, value) in &expected {
            let read = store.read_bytes(key).map_err(|e| fail(format!("read {key:?}: {e}")))?;
            prop_assert_eq!(&read[..], &value[..], "{:?} reads another key's value", key);
            let path = store.get_file_path(key).map_err(|e| fail(format!("get_file_path {key:?}: {e}")))?;
            let mut exact = root.clone();
            exact.extend(key.split('/'));
            prop_assert_eq!(&path, &exact, "path of {:?}", key);
            let real = path.canonicalize().map_err(|e| fail(format!("canonicalize {}: {e}", path.display())))?;
            prop_assert_eq!(&real, &exact, "{:?} resolves elsewhere", key);
            prop_assert!(real.starts_with(root));
            prop_assert_eq!(std::fs::read(&path).map_err(|e| fail(e.to_string()))?, value.clone());
            paths.insert(path);
        }
        prop_assert_eq!(paths.len(), expected.len(), "two keys share a file");

        // Walking the whole sandbox finds the objects beneath the root and nothing else new.
        prop_assert_eq!(&sandbox.outside_snapshot(), &before, "something outside the root changed");
        let mut inside = BTreeMap::new();
        walk(root, root, &mut inside);
        let files: BTreeMap<String, String> = inside
            .into_iter()
            .filter(|(p, what)| what.starts_with("file ") && !p.starts_with(".objstore"))
            .map(|(p, what)| (p.to_string_lossy().into_owned(), what))
            .collect();
        let wanted: BTreeSet<&String> = expected.keys().collect();
        prop_assert_eq!(files.keys().collect::<BTreeSet<_>>(), wanted, "files under the root vs saved keys");
        let listed = store.keys().map_err(|e| fail(format!("keys: {e}")))?;
        prop_assert_eq!(listed, expected.keys().cloned().collect::<Vec<_>>());

        // Deleting removes them all, and nothing else.
        for key in expected.keys() {
            store.delete(key).map_err(|e| fail(format!("delete {key:?}: {e}")))?;
            let gone = matches!(store.read_bytes(key), Err(Error::NotFound { .. }));
            prop_assert!(gone, "{:?} still reads after delete", key);
        }
        let mut after = BTreeMap::new();
        walk(root, root, &mut after);
        prop_assert!(
            after.iter().all(|(p, what)| what == "folder" || p.starts_with(".objstore")),
            "left after deleting everything: {:?}",
            after
        );
        prop_assert_eq!(&sandbox.outside_snapshot(), &before);
        Ok(())
    });
    let detail = format!(
        " saved={} refused={} too_long_segment={} conflicts={}",
        saved_total.load(Ordering::Relaxed),
        refused_total.load(Ordering::Relaxed),
        too_long_total.load(Ordering::Relaxed),
        conflicts_total.load(Ordering::Relaxed)
    );
    TALLY.finish(
        "accepted_keys_land_beneath_the_root",
        ran.load(Ordering::Relaxed),
        u64::from(result.is_err()),
        &detail,
    );
    if let Err(e) = result {
        panic!("{FILE}::accepted_keys_land_beneath_the_root: {e}");
    }
}

// ----- traps: symlinks, loops, special files ------------------------------------------------

/// Sets a trap up under `root` (the sandbox is given for absolute targets).
type Setup = fn(&Sandbox);

struct Trap {
    name: &'static str,
    setup: Setup,
    /// The keys to probe, given the sandbox (some embed its absolute path).
    keys: fn(&Sandbox) -> Vec<String>,
    /// A hard link is a file inside the root: reading it is fine; changing the outside name is not.
    outside_readable: bool,
}

/// The key under `link` (a symlink to `/`) that would reach `outside/secret.txt`.
fn via_slash(s: &Sandbox, link: &str, file: &str) -> String {
    format!("{link}/{}", s.outside.join(file).display().to_string().trim_start_matches('/'))
}

fn traps() -> Vec<Trap> {
    vec![
        Trap {
            name: "folder symlink, absolute",
            setup: |s| symlink(&s.outside, &s.root.join("evil")),
            keys: |_| {
                ["evil/secret.txt", "evil/victim.txt", "evil/new.txt", "evil/sub/secret.txt", "evil/sub/new/x", "evil"]
                    .map(String::from)
                    .to_vec()
            },
            outside_readable: false,
        },
        Trap {
            name: "folder symlink, relative ../outside",
            setup: |s| symlink("../outside", &s.root.join("up")),
            keys: |_| ["up/secret.txt", "up/new.txt", "up/sub/secret.txt"].map(String::from).to_vec(),
            outside_readable: false,
        },
        Trap {
            name: "folder symlink, deep ../../..",
            setup: |s| {
                std::fs::create_dir_all(s.root.join("a/b")).unwrap_or_else(|e| panic!("{e}"));
                symlink("../../../outside", &s.root.join("a/b/out"));
            },
            keys: |_| ["a/b/out/secret.txt", "a/b/out/new.txt"].map(String::from).to_vec(),
            outside_readable: false,
        },
        Trap {
            name: "symlink chain, escaping at the second hop",
            setup: |s| {
                symlink("../hop", &s.root.join("a/first"));
                symlink("../outside", &s.root.join("hop"));
            },
            keys: |_| ["a/first/secret.txt", "a/first/new.txt", "hop/secret.txt"].map(String::from).to_vec(),
            outside_readable: false,
        },
        Trap {
            name: "folder symlink to /",
            setup: |s| symlink("/", &s.root.join("slash")),
            keys: |s| {
                vec![via_slash(s, "slash", "secret.txt"), via_slash(s, "slash", "new.txt"), "slash/etc/passwd".into()]
            },
            outside_readable: false,
        },
        Trap {
            name: "magic links /proc/self/root and /proc/self/cwd",
            setup: |s| {
                symlink("/proc/self/root", &s.root.join("proc"));
                symlink("/proc/self/cwd", &s.root.join("cwd"));
            },
            keys: |s| {
                vec![via_slash(s, "proc", "secret.txt"), via_slash(s, "proc", "new.txt"), "cwd/Cargo.toml".into()]
            },
            outside_readable: false,
        },
        Trap {
            name: "file symlinks to outside files",
            setup: |s| {
                symlink(s.outside.join("secret.txt"), &s.root.join("link.txt"));
                symlink("../../outside/victim.txt", &s.root.join("dir/victim-link"));
            },
            keys: |_| ["link.txt", "dir/victim-link"].map(String::from).to_vec(),
            outside_readable: false,
        },
        Trap {
            name: "dangling symlinks to outside (file and folder)",
            setup: |s| {
                symlink(s.outside.join("created-by-store.txt"), &s.root.join("dangling"));
                symlink(s.outside.join("ghost"), &s.root.join("ghost"));
            },
            keys: |_| ["dangling", "ghost/new.txt", "ghost"].map(String::from).to_vec(),
            outside_readable: false,
        },
        Trap {
            name: "symlink loops",
            setup: |s| {
                symlink("loop", &s.root.join("loop"));
                symlink("pong", &s.root.join("ping"));
                symlink("ping", &s.root.join("pong"));
                symlink("../deep/self", &s.root.join("deep/self"));
            },
            keys: |_| ["loop", "loop/x", "ping/x", "pong", "deep/self/x", "deep/self"].map(String::from).to_vec(),
            outside_readable: false,
        },
        Trap {
            name: "FIFO under the root",
            setup: |s| {
                rustix::fs::mknodat(CWD, s.root.join("fifo"), FileType::Fifo, Mode::from_raw_mode(0o644), 0)
                    .unwrap_or_else(|e| panic!("mkfifo: {e}"));
            },
            keys: |_| vec!["fifo".into()],
            outside_readable: false,
        },
        Trap {
            name: "hard link to an outside file",
            setup: |s| {
                std::fs::hard_link(s.outside.join("victim.txt"), s.root.join("hard.txt"))
                    .unwrap_or_else(|e| panic!("hard link: {e}"));
            },
            keys: |_| vec!["hard.txt".into()],
            outside_readable: true,
        },
    ]
}

const OPERATIONS: &[&str] = &[
    "read",
    "head",
    "contains_key",
    "save",
    "save_create",
    "delete",
    "get_file_path",
    "local_file",
    "save_from_file",
    "list",
    "usage",
];

/// Runs one operation on `key` and judges it; returns the outcome's name, or a violation.
fn probe(sandbox: &Sandbox, store: &ObjectStore, op: &str, key: &str, readable: bool) -> Result<String, String> {
    let secret = |bytes: &[u8]| !readable && (contains(bytes, SECRET) || contains(bytes, VICTIM));
    let err = |e: Error| -> Result<String, String> {
        if clear_error(&e, key)
            || (op == "save_from_file" && matches!(&e, Error::Io { .. }) && e.to_string().contains(key))
        {
            Ok(kind(&e).to_string())
        } else {
            Err(format!("unclear error: {e:?}"))
        }
    };
    match op {
        "read" => match store.read_bytes(key) {
            Ok(bytes) if secret(&bytes) => {
                Err(format!("returned outside content {:?}", String::from_utf8_lossy(&bytes)))
            }
            Ok(_) => Ok("Ok".into()),
            Err(e) => err(e),
        },
        "head" => match store.head(key) {
            Ok(meta) if !readable => Err(format!("head found an object ({} bytes) through a trap", meta.size)),
            Ok(_) => Ok("Ok".into()),
            Err(e) => err(e),
        },
        "contains_key" => match store.contains_key(key) {
            Ok(true) if !readable => Err("contains_key says an outside file exists".into()),
            Ok(found) => Ok(format!("Ok({found})")),
            Err(e) => err(e),
        },
        "save" | "save_create" => {
            let mode = if op == "save" { PutMode::Overwrite } else { PutMode::Create };
            match store.save_bytes_with(key, b"STORE-WROTE".to_vec(), mode) {
                Ok(_) => {
                    // It replaced the name under the root with a regular file.
                    let mut path = sandbox.root.clone();
                    path.extend(Key::parse(key).map_err(|e| e.to_string())?.segments());
                    let meta = std::fs::symlink_metadata(&path).map_err(|e| format!("saved, but {e}"))?;
                    if !meta.is_file() || std::fs::read(&path).unwrap_or_default() != b"STORE-WROTE" {
                        return Err(format!("saved, but {} is not the new file", path.display()));
                    }
                    Ok("Ok(replaced the link)".into())
                }
                Err(e) => err(e),
            }
        }
        "delete" => match store.delete(key) {
            Ok(()) => Ok("Ok".into()),
            Err(e) => err(e),
        },
        "get_file_path" | "local_file" => {
            let result = if op == "get_file_path" {
                store.get_file_path(key).map(Some)
            } else {
                blocking::block_on(store.as_async().local_file(key)).and_then(|r| r)
            };
            match result {
                Ok(Some(path)) => {
                    if !beneath(&sandbox.root, &path) {
                        return Err(format!("gave {} (outside the root)", path.display()));
                    }
                    // (Only regular files: opening a FIFO for reading would block this test.)
                    let regular = std::fs::metadata(&path).is_ok_and(|m| m.is_file());
                    if regular && std::fs::read(&path).is_ok_and(|b| secret(&b)) {
                        return Err(format!("gave {} which holds outside content", path.display()));
                    }
                    Ok("Ok(path inside)".into())
                }
                Ok(None) => Ok("Ok(None)".into()),
                Err(e) => err(e),
            }
        }
        "save_from_file" => match store.save_from_file(key) {
            Ok(()) => match store.read_bytes(key) {
                Ok(bytes) if secret(&bytes) => Err("copied outside content into the store".into()),
                _ => Ok("Ok".into()),
            },
            Err(e) => err(e),
        },
        "list" => {
            let parent = Key::parse(key).map(|k| k.parent().to_string()).unwrap_or_default();
            let prefix = if parent.is_empty() { String::new() } else { format!("{parent}/") };
            let mut keys = store.keys().map_err(|e| format!("keys: {e:?}"))?;
            let under: Vec<String> =
                blocking::block_on(store.as_async().list_keys(&prefix).map_ok(String::from).try_collect::<Vec<_>>())
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("list_keys({prefix:?}): {e:?}"))?;
            keys.extend(under);
            for listed in &keys {
                let mut path = sandbox.root.clone();
                path.extend(listed.split('/'));
                if !beneath(&sandbox.root, &path) {
                    return Err(format!("listed {listed:?}, which resolves outside the root"));
                }
                if let Ok(bytes) = store.read_bytes(listed) {
                    if secret(&bytes) {
                        return Err(format!("listed {listed:?}, which reads outside content"));
                    }
                }
            }
            Ok(format!("Ok({} keys)", keys.len()))
        }
        "usage" => match store.usage() {
            Ok(u) if !readable && u.bytes > 0 => Err(format!("counts {} bytes of outside files", u.bytes)),
            Ok(u) => Ok(format!("Ok({} objects)", u.objects)),
            Err(e) => Err(format!("usage failed: {e:?}")),
        },
        other => Err(format!("no operation {other}")),
    }
}

/// Runs `f` on another thread, failing when it takes longer than `limit` (a hang on a FIFO or a
/// loop would otherwise block the suite).
fn within<T: Send + 'static>(
    limit: Duration,
    what: String,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit).map_err(|_| format!("{what}: no answer within {limit:?} (hangs)"))
}

#[test]
fn traps_under_the_root() {
    let mut probes = 0u64;
    let mut violations = Vec::new();
    let mut table = Vec::new();
    for trap in traps() {
        let count = (trap.keys)(&Sandbox::new()).len();
        for index in 0..count {
            let mut row = Vec::new();
            let mut shown = String::new();
            for op in OPERATIONS {
                probes += 1;
                // A fresh sandbox per operation: an earlier one may have replaced the trap.
                let sandbox = Arc::new(Sandbox::new());
                let key = (trap.keys)(&sandbox).swap_remove(index);
                shown = key.replace(sandbox.top.display().to_string().trim_start_matches('/'), "TMP");
                (trap.setup)(&sandbox);
                let before = sandbox.outside_snapshot();
                let store = sandbox.open();
                let (s2, op2, key2, readable) = (sandbox.clone(), op.to_string(), key.clone(), trap.outside_readable);
                let outcome = within(Duration::from_secs(20), format!("{op} {key:?}"), move || {
                    probe(&s2, &store, &op2, &key2, readable)
                })
                .and_then(|r| r);
                let after = sandbox.outside_snapshot();
                let outcome = match outcome {
                    Ok(o) if after == before => o,
                    Ok(o) => {
                        let changed: Vec<_> = after.iter().filter(|(p, w)| before.get(*p) != Some(w)).collect();
                        let gone: Vec<_> = before.keys().filter(|p| !after.contains_key(*p)).collect();
                        violations.push(format!(
                            "[{}] {op} {key:?}: {o}, but outside changed: {changed:?} removed {gone:?}",
                            trap.name
                        ));
                        "CHANGED OUTSIDE".into()
                    }
                    Err(v) => {
                        violations.push(format!("[{}] {op} {key:?}: {v}", trap.name));
                        "VIOLATION".into()
                    }
                };
                row.push(format!("{op}={outcome}"));
            }
            table.push(format!("  [{}] {shown:?}: {}", trap.name, row.join(" ")));
        }
    }
    if std::env::var_os("OBJSTORE_ESCAPE_TABLE").is_some() {
        eprintln!("{}", table.join("\n"));
    }
    let detail = format!(" traps={} operations={}", traps().len(), OPERATIONS.len());
    TALLY.finish("traps_under_the_root", probes, violations.len() as u64, &detail);
    assert!(violations.is_empty(), "{} violations:\n{}", violations.len(), violations.join("\n"));
}

// ----- TOCTOU: a folder or file swapped for a symlink while the store works ----------------------

/// Swaps `a` and `b` (both under the root) atomically, over and over, until `stop`.
fn swapper(a: PathBuf, b: PathBuf, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut swaps = 0u64;
        while !stop.load(Ordering::Relaxed) {
            if rustix::fs::renameat_with(CWD, &a, CWD, &b, RenameFlags::EXCHANGE).is_ok() {
                swaps += 1;
            }
        }
        swaps
    })
}

fn toctou_budget() -> Duration {
    let secs = std::env::var("OBJSTORE_TOCTOU_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(2.0f64);
    Duration::from_secs_f64(secs)
}

#[test]
fn swapped_folder_toctou() {
    let sandbox = Sandbox::new();
    // root/d is a real folder or a symlink to outside, flipping; root/d-swap is the other one.
    std::fs::create_dir_all(sandbox.root.join("d")).unwrap_or_else(|e| panic!("{e}"));
    write(&sandbox.root.join("d/secret.txt"), b"INSIDE");
    symlink(&sandbox.outside, &sandbox.root.join("d-swap"));
    let before = sandbox.outside_snapshot();
    let store = sandbox.open();
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = swapper(sandbox.root.join("d"), sandbox.root.join("d-swap"), stop.clone());
    let (mut ops, mut violations) = (0u64, Vec::new());
    let started = Instant::now();
    let mut i = 0u64;
    while started.elapsed() < toctou_budget() {
        i += 1;
        ops += 6;
        match store.read_bytes("d/secret.txt") {
            Ok(bytes) if bytes.as_ref() != b"INSIDE" => {
                violations.push(format!("read gave {:?}", String::from_utf8_lossy(&bytes)))
            }
            Ok(_) => {}
            Err(e) if clear_error(&e, "d/secret.txt") => {}
            Err(e) => violations.push(format!("read: unclear error {e:?}")),
        }
        let new = format!("d/new-{i}");
        match store.save_bytes(&new, b"STORE-WROTE".to_vec()) {
            Ok(()) => {}
            Err(e) if clear_error(&e, &new) => {}
            Err(e) => violations.push(format!("save: unexpected error {e:?}")),
        }
        match store.delete("d/victim.txt") {
            Ok(()) => violations.push("delete d/victim.txt succeeded: there is no such object inside".into()),
            Err(e) if clear_error(&e, "d/victim.txt") => {}
            Err(e) => violations.push(format!("delete: unclear error {e:?}")),
        }
        // (Racing the swap, a new folder's creation may meet the symlink: Conflict, naming the key.)
        let deep = format!("d/sub-{}/f", i % 8);
        match store.get_file_path(&deep) {
            Ok(path) if !path.starts_with(&sandbox.root) => {
                violations.push(format!("get_file_path gave {}", path.display()))
            }
            Ok(_) => {}
            Err(e) if clear_error(&e, &deep) => {}
            Err(e) => violations.push(format!("get_file_path: unexpected error {e:?}")),
        }
        match store.keys() {
            Ok(keys) => {
                if let Some(k) = keys.iter().find(|k| k.ends_with("victim.txt") || k.contains("sub/secret")) {
                    violations.push(format!("listed {k}, which only exists outside"));
                }
            }
            Err(e) => violations.push(format!("keys: {e:?}")),
        }
        if let Ok(bytes) = store.read_bytes("d-swap/secret.txt") {
            if bytes.as_ref() != b"INSIDE" {
                violations.push("read through d-swap gave outside content".into());
            }
        }
    }
    end_toctou("swapped_folder_toctou", &sandbox, &before, (stop, swaps), ops, violations);
}

#[test]
fn swapped_file_toctou() {
    let sandbox = Sandbox::new();
    write(&sandbox.root.join("t"), b"INSIDE");
    symlink(sandbox.outside.join("secret.txt"), &sandbox.root.join("t-swap"));
    let before = sandbox.outside_snapshot();
    let store = sandbox.open();
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = swapper(sandbox.root.join("t"), sandbox.root.join("t-swap"), stop.clone());
    let (mut ops, mut violations) = (0u64, Vec::new());
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < toctou_budget() {
        n += 1;
        ops += 4;
        for key in ["t", "t-swap"] {
            match store.read_bytes(key) {
                Ok(bytes) if bytes.as_ref() != b"INSIDE" && bytes.as_ref() != b"STORE-WROTE" => {
                    violations.push(format!("read {key} gave {:?}", String::from_utf8_lossy(&bytes)))
                }
                Ok(_) => {}
                Err(e) if clear_error(&e, key) => {}
                Err(e) => violations.push(format!("read {key}: unclear error {e:?}")),
            }
        }
        match store.head("t") {
            Ok(meta) if meta.size != 6 && meta.size != 11 => violations.push(format!("head t: {} bytes", meta.size)),
            _ => {}
        }
        // Now and then save over it: a save replaces the name, never writes through a link.
        if n % 50 == 0 {
            let _ = store.save_bytes("t-swap", b"STORE-WROTE".to_vec());
            symlink_again(&sandbox);
        }
    }
    end_toctou("swapped_file_toctou", &sandbox, &before, (stop, swaps), ops, violations);
}

/// Stops the swapper and judges a swap test: the outside untouched, the swapper busy, no
/// violation.
fn end_toctou(
    name: &str,
    sandbox: &Sandbox,
    before: &BTreeMap<PathBuf, String>,
    (stop, swaps): (Arc<AtomicBool>, std::thread::JoinHandle<u64>),
    ops: u64,
    mut violations: Vec<String>,
) {
    stop.store(true, Ordering::Relaxed);
    let swaps = swaps.join().unwrap_or(0);
    if sandbox.outside_snapshot() != *before {
        violations.push(format!("outside changed: {:?}", sandbox.outside_snapshot()));
    }
    TALLY.finish(name, ops, violations.len() as u64, &format!(" swaps={swaps}"));
    assert!(swaps > 100, "the swapper hardly ran ({swaps} swaps)");
    assert!(
        violations.is_empty(),
        "{} violations, first: {:#?}",
        violations.len(),
        &violations[..violations.len().min(10)]
    );
}

/// After a save replaced the symlink with a file, put a symlink back (whichever name lacks one).
fn symlink_again(sandbox: &Sandbox) {
    let names = [sandbox.root.join("t"), sandbox.root.join("t-swap")];
    if names.iter().any(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())) {
        return;
    }
    for p in &names {
        let tmp = p.with_extension("relink");
        let _ = std::fs::remove_file(&tmp);
        if std::os::unix::fs::symlink(sandbox.outside.join("secret.txt"), &tmp).is_ok() {
            let _ = std::fs::rename(&tmp, p);
            return;
        }
    }
}

// ----- bugs these tests found (fixed; kept as regressions) ---------------------

/// `save_from_file` on local disk reads the object through the backend (beneath the root), not
/// by path: it used to check the path with `local_path` and then read it with `std::fs::read`,
/// which follows symlinks anywhere, so a folder swapped for a symlink between the two made it
/// copy a file from outside the root into the store.
#[test]
fn save_from_file_never_follows_a_swapped_symlink_outside() {
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.root.join("d")).unwrap_or_else(|e| panic!("{e}"));
    write(&sandbox.root.join("d/secret.txt"), b"INSIDE");
    symlink(&sandbox.outside, &sandbox.root.join("d-swap"));
    let store = sandbox.open();
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = swapper(sandbox.root.join("d"), sandbox.root.join("d-swap"), stop.clone());
    let started = Instant::now();
    let mut stolen = None;
    while stolen.is_none() && started.elapsed() < Duration::from_secs(10) {
        if store.save_from_file("d/secret.txt").is_ok() {
            // Read it from whichever name holds the real folder now.
            for key in ["d/secret.txt", "d-swap/secret.txt"] {
                if let Ok(bytes) = store.read_bytes(key) {
                    if contains(&bytes, SECRET) {
                        stolen = Some(format!("{key} now holds {:?}", String::from_utf8_lossy(&bytes)));
                    }
                }
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = swaps.join();
    assert_eq!(stolen, None, "save_from_file copied a file from outside the root into the store");
}

/// A FIFO placed under the root: `save_from_file` answers at once (it used to open it with a
/// blocking `std::fs::read` and wait forever for a writer).
#[test]
fn save_from_file_on_a_fifo_answers_at_once() {
    let sandbox = Sandbox::new();
    rustix::fs::mknodat(CWD, sandbox.root.join("fifo"), FileType::Fifo, Mode::from_raw_mode(0o644), 0)
        .unwrap_or_else(|e| panic!("mkfifo: {e}"));
    let store = sandbox.open();
    let answered = within(Duration::from_secs(5), "save_from_file(\"fifo\")".into(), move || {
        store.save_from_file("fifo").map_err(|e| e.to_string())
    });
    assert!(answered.is_ok(), "{answered:?}");
}

/// A key whose file name (last segment) is over 255 bytes: the save answers `InvalidKey` ("a
/// segment is longer than the file system allows (255 bytes); shorten it"), as a long folder
/// name and a read of the same key do (it used to answer `Io`: "cannot stat ...: File name too
/// long").
#[test]
fn a_too_long_file_name_is_an_invalid_key() {
    let sandbox = Sandbox::new();
    let store = sandbox.open();
    let long = "y".repeat(256);
    let folder = store.save(&format!("{long}/x"), "v").unwrap_err();
    assert!(matches!(folder, Error::InvalidKey { .. }), "long folder: {folder:?}");
    let read = store.read(&long).unwrap_err();
    assert!(matches!(read, Error::InvalidKey { .. }), "read: {read:?}");
    for key in [long.clone(), format!("a/{long}")] {
        let save = store.save(&key, "v").unwrap_err();
        assert!(matches!(save, Error::InvalidKey { .. }), "save of a {}-byte file name: {save:?}", long.len());
    }
}

/// `openat2` with `RESOLVE_BENEATH` answers EAGAIN when resolving a `..` (here in the target of a
/// symlink that stays inside the root) races a rename anywhere on the system; the man page says
/// to retry. The backend does not, so reads through such a link fail with
/// `Io("Resource temporarily unavailable")` while saves (renames) run, in this store or any other.
#[test]
fn a_dotdot_symlink_inside_keeps_working_while_anything_renames() {
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.root.join("real")).unwrap_or_else(|e| panic!("{e}"));
    write(&sandbox.root.join("real/file"), b"INSIDE");
    symlink("../real", &sandbox.root.join("dir/alias"));
    let store = sandbox.open();
    assert_eq!(store.read_bytes("dir/alias/file").ok().as_deref(), Some(&b"INSIDE"[..]), "the link works when idle");
    // Another handle saves (renames temp files into place) in a loop.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, url) = (stop.clone(), format!("file://{}", sandbox.root.display()));
        std::thread::spawn(move || {
            let other = blocking::builder(&url).option("durability", "buffered").build();
            let other = other.unwrap_or_else(|e| panic!("{e}"));
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let _ = other.save(&format!("busy/{}", i % 16), "x");
            }
        })
    };
    let (mut reads, mut failures, mut first) = (0u64, 0u64, None);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        reads += 1;
        if let Err(e) = store.read_bytes("dir/alias/file") {
            failures += 1;
            first.get_or_insert(e.to_string());
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = writer.join();
    assert_eq!(failures, 0, "{failures} of {reads} reads failed while another handle saved; first: {first:?}");
}
