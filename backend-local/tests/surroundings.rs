//! Hostile surroundings and other users (issue 16, items 2, 3 and 5):
//!
//! - the lock and ledger files let nobody but the store's writers block it, and no blocking lock
//!   call runs on an async runtime's thread (a timeout around a save fires);
//! - file modes: what objects, folders and the store's own files get, and `?mode=private`;
//! - a store the user may only read (an unprivileged user on a root-owned store, a read-only
//!   mount) can be read, listed and counted without creating or locking anything; saves and
//!   deletes fail with `PermissionDenied` saying why;
//! - a damaged ledger file never panics or turns limits off; a FIFO or a folder named like a temp
//!   file does not hang or break the sweep at open; reserved names are refused in any case.
//!
//! Tests run as root here; the unprivileged parts run this binary again as uid/gid 65534 (the
//! ignored test `child`, which does nothing unless `SURROUNDINGS_CHILD` is set).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use backend_local as _;
use rustix::fs::{FlockOperation, Mode, OFlags};
use serde::{Deserialize, Serialize};
use store_core::{Error, LimitKind, Limits, ObjectStore, blocking};

const CHILD_ENV: &str = "SURROUNDINGS_CHILD";
const NOBODY: u32 = 65534;

fn url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

/// A temp folder others may enter (tempdir makes 0700 folders).
fn open_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
    u32::from_str_radix(line.split_whitespace().nth(1).unwrap(), 8).unwrap()
}

fn mode_of(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

/// What the unprivileged child is asked to do, and what it reports.
#[derive(Serialize, Deserialize, Debug)]
enum Role {
    /// Open `.objstore/*` read-only and try to lock each (flock and an OFD read lock); report
    /// which it could, then hold them until killed.
    Block { dir: PathBuf },
    /// Use the store at `dir`: open, list, read, usage; try a save and a delete.
    Read { dir: PathBuf },
}

#[derive(Serialize, Deserialize, Debug, Default)]
struct Report {
    locked: Vec<String>,
    opened: Option<String>,
    keys: Vec<String>,
    value: Option<String>,
    objects: Option<u64>,
    contains: Option<bool>,
    save: Option<String>,
    delete: Option<String>,
    created: Vec<String>,
}

fn spawn_as_nobody(role: &Role) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, serde_json::to_string(role).unwrap())
        .uid(NOBODY)
        .gid(NOBODY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The child's report, and the rest of its output (to drain before waiting for it: a child whose
/// output was closed fails writing libtest's summary).
fn read_report(child: &mut std::process::Child) -> (Report, BufReader<std::process::ChildStdout>) {
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "the unprivileged child ended without a report");
        // libtest may print "test child ... " on the same line first.
        if let Some(at) = line.find("REPORT ") {
            return (serde_json::from_str(line[at + 7..].trim()).unwrap(), out);
        }
    }
}

fn describe<T>(r: store_core::Result<T>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e @ Error::PermissionDenied { .. }) => format!("permission denied: {e}"),
        Err(e) => format!("other error: {e}"),
    }
}

#[test]
#[ignore = "run by the other tests of this file as an unprivileged child process"]
fn child() {
    let Ok(role) = std::env::var(CHILD_ENV) else { return };
    let role: Role = serde_json::from_str(&role).unwrap();
    let mut report = Report::default();
    match role {
        Role::Block { dir } => {
            let mut held = Vec::new();
            for name in ["usage", "locks", "store.lock", "open.lock", "leases"] {
                let path = dir.join(".objstore").join(name);
                let Ok(fd) = rustix::fs::open(&path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) else { continue };
                if rustix::fs::flock(&fd, FlockOperation::NonBlockingLockShared).is_ok() {
                    report.locked.push(format!("{name} (flock)"));
                }
                let request = libc::flock {
                    l_type: libc::F_RDLCK as libc::c_short,
                    l_whence: libc::SEEK_SET as libc::c_short,
                    l_start: 0,
                    l_len: 0,
                    l_pid: 0,
                };
                #[allow(unsafe_code)]
                // SAFETY: a fully initialised flock that outlives the call; fd is open.
                let rc = unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&fd), libc::F_OFD_SETLK, &request) };
                if rc == 0 {
                    report.locked.push(format!("{name} (OFD read lock)"));
                }
                held.push(fd);
            }
            println!("REPORT {}", serde_json::to_string(&report).unwrap());
            std::thread::sleep(Duration::from_secs(600));
        }
        Role::Read { dir } => {
            let before = listing(&dir);
            match blocking::open(&url(&dir)) {
                Err(e) => report.opened = Some(e.to_string()),
                Ok(store) => {
                    report.opened = Some("ok".into());
                    report.keys = store.keys().unwrap_or_default();
                    report.value = store.read("a/one").ok();
                    report.objects = store.usage().ok().map(|u| u.objects);
                    report.contains = store.contains_key("a/one").ok();
                    report.save = Some(describe(store.save("new", "v")));
                    report.delete = Some(describe(store.delete("a/one")));
                }
            }
            report.created = listing(&dir).into_iter().filter(|p| !before.contains(p)).collect();
        }
    }
    println!("REPORT {}", serde_json::to_string(&report).unwrap());
}

/// Every path under `dir` (for "nothing was created").
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            out.push(e.path().display().to_string());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

// ----- item 2: nobody but writers can block the store ---------------------------------------

/// Another local user who may read the store cannot take any of its locks, and saves go on.
/// (Before: the lock and ledger files were 0644 under a 0755 folder, and `flock` works on a
/// read-only descriptor: any local user could hold the ledger's lock and block every save.)
#[test]
fn another_user_cannot_block_the_store() {
    let dir = open_dir();
    let store = blocking::builder(url(dir.path()))
        .limits(Limits { max_objects: Some(100), ..Limits::default() })
        .build()
        .unwrap();
    store.save("a/one", "1").unwrap();
    let mut child = spawn_as_nobody(&Role::Block { dir: dir.path().to_path_buf() });
    // Its output stays open while it holds what it took (it is killed below).
    let (report, _output) = read_report(&mut child);
    // A save must not wait for the other user, whatever it holds.
    let (tx, rx) = std::sync::mpsc::channel();
    let saver = store.clone();
    std::thread::spawn(move || tx.send(saver.save("a/two", "2").map_err(|e| e.to_string())));
    let saved = rx.recv_timeout(Duration::from_secs(10));
    let _ = child.kill();
    let _ = child.wait();
    assert!(report.locked.is_empty(), "an unprivileged reader took the store's locks: {:?}", report.locked);
    assert!(matches!(saved, Ok(Ok(()))), "a save waited on another user's lock: {saved:?}");
}

/// With the ledger's lock held for a while (by a writer's long recount, here by the test), a
/// save on an async runtime must not block the runtime's thread: a timeout around it fires.
/// (Before: the limits layer took the ledger's `flock` on the runtime's thread.)
#[test]
fn a_held_lock_never_blocks_a_runtime_thread() {
    let dir = open_dir();
    let limits = Limits { max_objects: Some(100), ..Limits::default() };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let store = runtime.block_on(ObjectStore::builder(url(dir.path())).limits(limits).build()).unwrap();
    runtime.block_on(store.save("warm", "v")).unwrap();
    let ledger = std::fs::File::options().read(true).write(true).open(dir.path().join(".objstore/usage")).unwrap();
    rustix::fs::flock(&ledger, FlockOperation::LockExclusive).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let outcome =
            runtime.block_on(async { tokio::time::timeout(Duration::from_millis(300), store.save("k", "v")).await });
        tx.send(outcome.is_err()).unwrap();
        // Let the save finish once the lock is free.
        runtime.block_on(async { tokio::time::sleep(Duration::from_millis(200)).await });
    });
    let fired = rx.recv_timeout(Duration::from_secs(5));
    drop(ledger);
    worker.join().unwrap();
    assert_eq!(fired, Ok(true), "the runtime's thread blocked in a lock call: the timeout around the save never fired");
}

// ----- file modes ---------------------------------------------------------------------------

/// Objects and folders follow the umask; the store's own folder and files are never readable by
/// anyone who may not write them. (Before: lock and ledger files 0644 under a 0755 folder.)
#[test]
fn modes_follow_the_umask_and_internal_files_are_for_writers_only() {
    let dir = open_dir();
    let store = blocking::open(&url(dir.path())).unwrap();
    store.save("a/b/c", "v").unwrap();
    let umask = umask();
    assert_eq!(mode_of(&dir.path().join("a/b/c")), 0o666 & !umask);
    assert_eq!(mode_of(&dir.path().join("a/b")), 0o777 & !umask);
    let internal = dir.path().join(".objstore");
    let only_writers = |mode: u32| {
        // A class without write permission gets no read (or search) permission either.
        for shift in [0, 3, 6] {
            let class = (mode >> shift) & 0o7;
            assert!(class & 0o2 != 0 || class == 0, "{mode:o} lets a class read without writing");
        }
    };
    only_writers(mode_of(&internal));
    for entry in std::fs::read_dir(&internal).unwrap() {
        let entry = entry.unwrap();
        only_writers(mode_of(&entry.path()));
    }
}

/// `?mode=private`: objects 0600, folders 0700, whatever the umask.
#[test]
fn private_mode_keeps_everything_to_the_owner() {
    let dir = open_dir();
    let store = blocking::open(&format!("{}?mode=private", url(dir.path()))).unwrap();
    store.save("secrets/api/key", "v").unwrap();
    let path = store.get_file_path("secrets/models/m").unwrap();
    std::fs::write(&path, "w").unwrap();
    store.save_from_file("secrets/models/m").unwrap();
    assert_eq!(mode_of(&dir.path().join("secrets/api/key")), 0o600);
    assert_eq!(mode_of(&dir.path().join("secrets/models/m")), 0o600);
    for folder in ["secrets", "secrets/api", "secrets/models", ".objstore"] {
        assert_eq!(mode_of(&dir.path().join(folder)), 0o700, "{folder}");
    }
    for entry in std::fs::read_dir(dir.path().join(".objstore")).unwrap() {
        assert_eq!(mode_of(&entry.unwrap().path()) & 0o077, 0);
    }
    assert!(blocking::open(&format!("{}?mode=public", url(dir.path()))).is_err(), "an unknown mode was accepted");
}

// ----- item 3: read-only stores ------------------------------------------------------------

fn seed_store(dir: &Path) {
    let store = blocking::open(&url(dir)).unwrap();
    store.save("a/one", "1").unwrap();
    store.save("b/two", "22").unwrap();
}

fn assert_read_only_report(report: &Report, why: &str) {
    assert_eq!(report.opened.as_deref(), Some("ok"), "{why}: the store did not open for reading");
    assert_eq!(report.keys, vec!["a/one", "b/two"], "{why}: listing");
    assert_eq!(report.value.as_deref(), Some("1"), "{why}: read");
    assert_eq!(report.objects, Some(2), "{why}: usage");
    assert_eq!(report.contains, Some(true), "{why}: contains_key");
    for (what, outcome) in [("save", &report.save), ("delete", &report.delete)] {
        let outcome = outcome.as_deref().unwrap_or_default();
        assert!(
            outcome.starts_with("permission denied") && outcome.contains("read-only"),
            "{why}: a {what} must fail with PermissionDenied saying the store is read-only here: {outcome}"
        );
    }
    assert!(report.created.is_empty(), "{why}: reading created {:?}", report.created);
}

/// A root-owned 0755 store, used by an unprivileged user. (Before: "cannot open the store's
/// open.lock file: Permission denied".)
#[test]
fn an_unprivileged_user_reads_a_root_owned_store() {
    let dir = open_dir();
    seed_store(dir.path());
    let mut child = spawn_as_nobody(&Role::Read { dir: dir.path().to_path_buf() });
    let (report, mut rest) = read_report(&mut child);
    std::io::copy(&mut rest, &mut std::io::sink()).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "the unprivileged child failed: {status}");
    assert_read_only_report(&report, "as uid 65534");
    assert_eq!(blocking::open(&url(dir.path())).unwrap().read("a/one").unwrap(), "1");
}

/// A bind mount made read-only.
#[test]
fn a_read_only_mount_is_read() {
    let dir = open_dir();
    let store_dir = dir.path().join("store");
    seed_store(&store_dir);
    let mount = dir.path().join("ro");
    std::fs::create_dir(&mount).unwrap();
    let status = Command::new("mount").args(["--bind", "-o", "ro"]).arg(&store_dir).arg(&mount).status().unwrap();
    assert!(status.success(), "mount --bind -o ro failed (the test needs root)");
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mount.clone());
    let before = listing(&store_dir);
    let mut report = Report::default();
    match blocking::open(&url(&mount)) {
        Err(e) => report.opened = Some(e.to_string()),
        Ok(store) => {
            report.opened = Some("ok".into());
            report.keys = store.keys().unwrap_or_default();
            report.value = store.read("a/one").ok();
            report.objects = store.usage().ok().map(|u| u.objects);
            report.contains = store.contains_key("a/one").ok();
            report.save = Some(describe(store.save("new", "v")));
            report.delete = Some(describe(store.delete("a/one")));
        }
    }
    report.created = listing(&store_dir).into_iter().filter(|p| !before.contains(p)).collect();
    assert_read_only_report(&report, "on a read-only mount");
}

// ----- item 5: damaged ledger, odd temp names, reserved names ---------------------------------

/// Every byte of the ledger file damaged in turn: no panic, limits stay on, and the figures come
/// back from a recount. (Before: figures from disk were used unchecked; a damaged reservation
/// overflowed, a panic in debug builds and limits off in release.)
#[test]
fn a_damaged_ledger_is_recounted_never_trusted() {
    let dir = open_dir();
    let limits = Limits { max_objects: Some(3), ..Limits::default() };
    let store = blocking::builder(url(dir.path())).limits(limits).build().unwrap();
    store.save("a", "1").unwrap();
    store.save("b", "2").unwrap();
    let path = dir.path().join(".objstore/usage");
    let len = std::fs::metadata(&path).unwrap().len() as usize;
    for at in 0..len {
        for value in [0xffu8, 0x7f, 0x01] {
            let mut bytes = std::fs::read(&path).unwrap();
            if at >= bytes.len() {
                continue;
            }
            bytes[at] = value;
            std::fs::write(&path, &bytes).unwrap();
            let third = store.save("c", "3");
            assert!(third.is_ok(), "byte {at} = {value:#x}: the third object was refused: {third:?}");
            let fourth = store.save("d", "4");
            assert!(
                matches!(fourth, Err(Error::LimitExceeded { kind: LimitKind::Objects, .. })),
                "byte {at} = {value:#x}: a damaged ledger turned the limit off: {fourth:?}"
            );
            store.delete("c").unwrap();
        }
    }
    let ledger = store.as_async().backend().usage_ledger().unwrap().read().unwrap();
    assert_eq!((ledger.objects, ledger.bytes), (2, 2));
    // Reopening over a damaged file recounts too.
    std::fs::write(&path, vec![0xffu8; len]).unwrap();
    drop(store);
    let store = blocking::builder(url(dir.path())).limits(limits).build().unwrap();
    let ledger = store.as_async().backend().usage_ledger().unwrap().read().unwrap();
    assert_eq!((ledger.objects, ledger.bytes), (2, 2));
}

/// A FIFO named like a temp file: the sweep at open must neither hang on it nor remove it.
/// (Before: the sweep opened it for reading without O_NONBLOCK and waited for a writer.)
#[test]
fn a_fifo_named_like_a_temp_file_does_not_hang_the_sweep() {
    let dir = open_dir();
    seed_store(dir.path());
    let fifo = dir.path().join("a/.objstore-tmp-ffffffff-7");
    rustix::fs::mknodat(rustix::fs::CWD, &fifo, rustix::fs::FileType::Fifo, Mode::from_raw_mode(0o644), 0).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let url = url(dir.path());
    std::thread::spawn(move || tx.send(blocking::open(&url).map(|s| s.keys().unwrap()).map_err(|e| e.to_string())));
    let opened = rx.recv_timeout(Duration::from_secs(10));
    if opened.is_err() {
        // Unblock the hung open so the test can end.
        let _ = std::fs::OpenOptions::new().write(true).open(&fifo);
    }
    assert!(matches!(&opened, Ok(Ok(keys)) if keys.len() == 2), "opening the store hung or failed: {opened:?}");
    assert!(fifo.exists(), "the sweep removed a FIFO it did not make");
}

/// A folder named like a temp file: skipped, the store opens. (Before: the sweep tried to
/// unlink it as a file and the open failed.)
#[test]
fn a_folder_named_like_a_temp_file_does_not_break_the_sweep() {
    let dir = open_dir();
    seed_store(dir.path());
    std::fs::create_dir_all(dir.path().join(".objstore-tmp-ffffffff-8/inner")).unwrap();
    std::fs::write(dir.path().join(".objstore-tmp-ffffffff-8/inner/file"), "x").unwrap();
    let store = blocking::open(&url(dir.path()));
    assert!(store.is_ok(), "{:?}", store.err());
    assert_eq!(store.unwrap().keys().unwrap(), vec!["a/one", "b/two"]);
}

/// Reserved names are refused in any case (`.OBJSTORE/usage` reaches the store's own folder
/// on a case-folding file system) by every operation.
#[test]
fn reserved_names_are_refused_in_any_case() {
    let dir = open_dir();
    let store = blocking::open(&url(dir.path())).unwrap();
    for key in [".OBJSTORE/usage", ".ObjStore/locks", "a/.OBJSTORE-tmp-1-1", ".objſtore/usage"] {
        assert!(matches!(store.save(key, "x"), Err(Error::InvalidKey { .. })), "save {key}");
        assert!(matches!(store.read(key), Err(Error::InvalidKey { .. })), "read {key}");
        assert!(matches!(store.delete(key), Err(Error::InvalidKey { .. })), "delete {key}");
        assert!(matches!(store.get_file_path(key), Err(Error::InvalidKey { .. })), "get_file_path {key}");
    }
}
