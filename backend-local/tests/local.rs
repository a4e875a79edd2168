//! What only local disk promises: temp files, foreign files, in-place edits, confinement,
//! special files, durability options.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::os::unix::fs::symlink;
use std::path::Path;

use backend_local as _;
use rustix::fs::FlockOperation;
use store_core::{CacheOptions, CachePolicy, Error, ObjectStore, blocking};

fn url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

fn names_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if entry.file_type().unwrap().is_dir() && name != ".objstore" {
            out.extend(names_under(&entry.path()).into_iter().map(|n| format!("{name}/{n}")));
        } else {
            out.push(name);
        }
    }
    out.sort();
    out
}

#[test]
fn temp_files_are_invisible_and_swept_unless_their_writer_lives() {
    let dir = tempfile::tempdir().unwrap();
    let store = blocking::open(&url(dir.path())).unwrap();
    store.save("a/kept", "v").unwrap();
    // Left by a crashed writer (no lock), at the top and in a folder.
    // (The hexadecimal process id in their names is above any Linux pid: that writer is gone.)
    std::fs::write(dir.path().join(".objstore-tmp-ffffffff-1"), vec![0u8; 100]).unwrap();
    std::fs::write(dir.path().join("a/.objstore-tmp-ffffffff-2"), vec![0u8; 100]).unwrap();
    // Unlocked, but its writer (this process) runs and it is new: a save a moment before its
    // lock, on a file system without O_TMPFILE. Spared. An old one of a running writer is not.
    let young = dir.path().join(format!(".objstore-tmp-{:x}-3", std::process::id()));
    std::fs::write(&young, b"x").unwrap();
    let old = dir.path().join(format!(".objstore-tmp-{:x}-4", std::process::id()));
    std::fs::write(&old, b"x").unwrap();
    let two_minutes_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(120);
    std::fs::File::options().write(true).open(&old).unwrap().set_modified(two_minutes_ago).unwrap();
    // Held by a live writer: its flock is taken.
    let live_path = dir.path().join("a/.objstore-tmp-live-3");
    let live = std::fs::File::create(&live_path).unwrap();
    rustix::fs::flock(&live, FlockOperation::LockExclusive).unwrap();

    assert_eq!(store.keys().unwrap(), vec!["a/kept"]);
    assert_eq!(store.usage().unwrap().objects, 1);
    assert_eq!(store.entries().count(), 1);
    assert!(matches!(store.read(".objstore-tmp-ffffffff-1"), Err(Error::InvalidKey { .. })));

    drop(store);
    let _reopened = blocking::open(&url(dir.path())).unwrap();
    assert!(!dir.path().join(".objstore-tmp-ffffffff-1").exists(), "an abandoned temp file survived the open");
    assert!(!dir.path().join("a/.objstore-tmp-ffffffff-2").exists());
    assert!(live_path.exists(), "the open removed the temp file of a live writer");
    assert!(young.exists(), "the open removed a new temp file of a running writer");
    assert!(!old.exists(), "an old unlocked temp file survived the open");
    drop(live);
}

#[test]
fn files_other_programs_write_are_objects() {
    let dir = tempfile::tempdir().unwrap();
    let store = blocking::open(&url(dir.path())).unwrap();
    std::fs::create_dir_all(dir.path().join("from/pandas")).unwrap();
    std::fs::write(dir.path().join("from/pandas/df.csv"), "a,b\n1,2\n").unwrap();
    std::fs::write(dir.path().join("top.txt"), "top").unwrap();
    assert!(store.contains_key("from/pandas/df.csv").unwrap());
    assert_eq!(store.read("from/pandas/df.csv").unwrap(), "a,b\n1,2\n");
    assert_eq!(store.keys().unwrap(), vec!["from/pandas/df.csv", "top.txt"]);
    assert_eq!(store.usage().unwrap().bytes, 11);
    store.delete("top.txt").unwrap();
    assert!(!dir.path().join("top.txt").exists());
    // Names that cannot be keys are not objects (and are left alone).
    std::fs::write(dir.path().join(r"back\slash"), "x").unwrap();
    std::fs::write(dir.path().join("tab\tname"), "x").unwrap();
    use std::os::unix::ffi::OsStrExt;
    std::fs::write(dir.path().join(std::ffi::OsStr::from_bytes(b"not-utf8-\xff")), "x").unwrap();
    assert_eq!(store.keys().unwrap(), vec!["from/pandas/df.csv"]);
}

#[test]
fn revalidation_sees_in_place_edits_by_other_programs() {
    let dir = tempfile::tempdir().unwrap();
    let store = blocking::open(&url(dir.path())).unwrap();
    store.save("params.json", "{\"lookback\": 20}").unwrap();
    assert_eq!(store.read("params.json").unwrap(), "{\"lookback\": 20}");
    // Same length, new content, written in place (same inode) by another program.
    std::fs::write(dir.path().join("params.json"), "{\"lookback\": 30}").unwrap();
    assert_eq!(store.read("params.json").unwrap(), "{\"lookback\": 30}");
    std::fs::remove_file(dir.path().join("params.json")).unwrap();
    assert!(matches!(store.read("params.json"), Err(Error::NotFound { .. })));

    // With Trust the cached value stays until clear(), as in LEAN.
    let trusting = blocking::builder(url(dir.path()))
        .cache(CacheOptions { policy: CachePolicy::Trust, ..CacheOptions::default() })
        .build()
        .unwrap();
    trusting.save("k", "v1").unwrap();
    std::fs::write(dir.path().join("k"), "v2").unwrap();
    assert_eq!(trusting.read("k").unwrap(), "v1");
    trusting.clear();
    assert_eq!(trusting.read("k").unwrap(), "v2");
}

#[test]
fn symlinks_never_lead_outside_the_root() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "outside").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    symlink(outside.path(), root.join("escape")).unwrap();
    symlink(outside.path().join("secret"), root.join("secret-link")).unwrap();
    symlink("../../", root.join("up")).unwrap();
    let store = blocking::open(&url(&root)).unwrap();

    for key in ["escape/secret", "secret-link", "up/secret", "escape/new"] {
        assert!(
            matches!(store.read(key), Err(Error::InvalidKey { .. } | Error::NotFound { .. })),
            "read {key}: {:?}",
            store.read(key)
        );
        assert!(!store.contains_key(key).unwrap_or(false), "contains_key {key}");
    }
    for key in ["escape/secret", "escape/new", "up/x", "escape/deep/new"] {
        assert!(matches!(store.save(key, "pwned"), Err(Error::InvalidKey { .. })), "save {key}");
        assert!(store.delete(key).is_err(), "delete {key}");
        assert!(store.get_file_path(key).is_err(), "get_file_path {key}");
    }
    assert!(store.get_file_path("secret-link").is_err());
    // Nothing outside changed, and the symlinks are not listed as objects.
    assert_eq!(std::fs::read_to_string(outside.path().join("secret")).unwrap(), "outside");
    assert_eq!(names_under(outside.path()), vec!["secret"]);
    assert!(store.keys().unwrap().is_empty(), "{:?}", store.keys().unwrap());

    // A relative symlink to a file inside the root is an ordinary object. An absolute one is
    // refused even when it points inside: resolution never starts from outside the root.
    store.save("real", "inside").unwrap();
    symlink("real", root.join("alias")).unwrap();
    symlink(root.join("real"), root.join("absolute-alias")).unwrap();
    assert_eq!(store.read("alias").unwrap(), "inside");
    assert!(matches!(store.read("absolute-alias"), Err(Error::InvalidKey { .. })));
    assert_eq!(store.keys().unwrap(), vec!["alias", "real"]);
}

#[test]
fn a_fifo_under_the_root_does_not_hang_a_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = blocking::open(&url(dir.path())).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        dir.path().join("pipe"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    assert!(matches!(store.read("pipe"), Err(Error::NotFound { .. })));
    assert!(!store.contains_key("pipe").unwrap());
    assert!(store.keys().unwrap().is_empty());
}

#[test]
fn options_durability_and_unknown_ones() {
    let dir = tempfile::tempdir().unwrap();
    let buffered = blocking::open(&format!("{}?durability=buffered", url(dir.path()))).unwrap();
    buffered.save("fast", "v").unwrap();
    assert_eq!(buffered.read("fast").unwrap(), "v");
    let e = blocking::open(&format!("{}?durability=sometimes", url(dir.path()))).unwrap_err().to_string();
    assert!(e.contains("durable") && e.contains("buffered"), "{e}");
    let e = blocking::open(&format!("{}?fsync=no", url(dir.path()))).unwrap_err().to_string();
    assert!(e.contains("fsync") && e.contains("durability"), "{e}");
    let e = blocking::open("file://").unwrap_err();
    assert!(matches!(e, Error::Config { .. }), "{e}");
    // A file where the root should be is a clear error, not a panic.
    std::fs::write(dir.path().join("plain-file"), "x").unwrap();
    assert!(blocking::open(&url(&dir.path().join("plain-file"))).is_err());
}

#[tokio::test]
async fn the_store_folder_layout_is_plain_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectStore::builder(url(dir.path())).build().await.unwrap();
    store.save("a/b/c.json", "{}").await.unwrap();
    store.save_bytes("d.bin", vec![1u8, 2]).await.unwrap();
    assert_eq!(names_under(dir.path()), vec![".objstore", "a/b/c.json", "d.bin"]);
    assert_eq!(std::fs::read(dir.path().join("d.bin")).unwrap(), vec![1, 2]);
    // Deleting leaves folders; a later key of a folder's name reclaims an empty one.
    store.delete("a/b/c.json").await.unwrap();
    store.save("a/b", "now a file").await.unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join("a/b")).unwrap(), "now a file");
}

#[test]
fn opening_the_folder_again_and_again_never_disturbs_a_writer() {
    // Every open sweeps temp files; a writer's temp files must never be among them.
    let dir = tempfile::tempdir().unwrap();
    let writer = blocking::open(&url(dir.path())).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sweeper = {
        let (stop, url) = (stop.clone(), url(dir.path()));
        std::thread::spawn(move || {
            let mut opens = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                drop(blocking::open(&url).unwrap());
                opens += 1;
            }
            opens
        })
    };
    for i in 0..400 {
        if let Err(e) = writer.save_bytes(&format!("k{}", i % 20), vec![i as u8; 1000 + i]) {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            panic!("save {i} failed while other handles opened the folder: {e}");
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let opens = sweeper.join().unwrap();
    assert!(opens > 10, "the sweeping thread hardly ran ({opens} opens)");
    assert_eq!(writer.keys().unwrap().len(), 20);
}

/// Another program makes and removes folders under the root while the store lists them (a folder
/// may vanish between its open and its reading, or between two reads of it). Every listing still
/// succeeds, holds every key that stayed, and holds nothing but keys that were there at some
/// moment: inline on the blocking facade, on a runtime's blocking pool, keys and `list` with sizes.
#[test]
fn listings_survive_folders_removed_while_they_are_read() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    use futures::TryStreamExt as _;

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    std::fs::create_dir_all(root.join("stable")).unwrap();
    let stable: Vec<String> = (0..40).map(|i| format!("stable/k{i:02}")).collect();
    for key in &stable {
        std::fs::write(root.join(key), b"v").unwrap();
    }
    let store = blocking::open(&url(&root)).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let on_runtime = runtime.block_on(store_core::open(&url(&root))).unwrap();

    // The other program: folders of one file, made and removed as fast as it can.
    let stop = Arc::new(AtomicBool::new(false));
    let removed = Arc::new(AtomicU64::new(0));
    let churn = {
        let (stop, removed, root) = (stop.clone(), removed.clone(), root.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let folder = root.join(format!("churn/f{}", n % 64));
                if std::fs::create_dir_all(&folder).is_ok() && std::fs::write(folder.join("x"), b"x").is_ok() {
                    let _ = std::fs::remove_file(folder.join("x"));
                    if std::fs::remove_dir(&folder).is_ok() {
                        removed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                n += 1;
            }
        })
    };

    let check = |how: &str, keys: Vec<String>| -> Option<String> {
        if let Some(missing) = stable.iter().find(|k| !keys.contains(k)) {
            return Some(format!("{how}: '{missing}' was not listed"));
        }
        let existed = |k: &String| k.starts_with("stable/k") || (k.starts_with("churn/f") && k.ends_with("/x"));
        let stranger = keys.iter().find(|k| !existed(k));
        stranger.map(|k| format!("{how}: listed '{k}', which never existed"))
    };
    let (mut listings, mut failures) = (0u64, Vec::new());
    while listings < 1_200 && failures.is_empty() {
        listings += 1;
        let outcome = match listings % 3 {
            0 => store.keys().map(|keys| ("keys, blocking", keys)),
            1 => runtime.block_on(on_runtime.keys()).map(|keys| ("keys, runtime", keys)),
            _ => runtime
                .block_on(on_runtime.list("").map_ok(|meta| meta.key.to_string()).try_collect::<Vec<_>>())
                .map(|keys| ("list with sizes, runtime", keys)),
        };
        match outcome {
            Ok((how, keys)) => failures.extend(check(how, keys)),
            Err(e) => failures.push(format!("listing {listings} failed: {e}")),
        }
    }
    stop.store(true, Ordering::Relaxed);
    churn.join().unwrap();
    assert!(failures.is_empty(), "while another program removed folders: {failures:?}");
    let removed = removed.load(Ordering::Relaxed);
    assert!(removed > 100, "the other program hardly ran ({removed} folders removed in {listings} listings)");
}

/// Files put in by hand with modification times at the edges (1970, 1900, the last nanosecond
/// before the epoch, 2038, 2262, 2446, year 9999, which ext4 clamps to its last second) are
/// read, and each rewrite in place by another program at the same size, stamped with the next
/// edge, is seen on the next revalidated read: at the top and in a folder (where the folder's
/// handle states it).
#[test]
fn revalidation_sees_edits_stamped_at_the_edges_of_time() {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    let edges: [(&str, SystemTime); 7] = [
        ("1970", UNIX_EPOCH),
        ("1900", UNIX_EPOCH - Duration::from_secs(2_208_988_800)),
        ("a nanosecond before 1970", UNIX_EPOCH - Duration::from_nanos(1)),
        ("2038", UNIX_EPOCH + Duration::from_secs(i32::MAX as u64 + 1)),
        ("2262", UNIX_EPOCH + Duration::from_secs(9_223_372_800)),
        ("2446, near ext4's last second", UNIX_EPOCH + Duration::from_secs(15_032_304_000)),
        ("9999", UNIX_EPOCH + Duration::from_secs(253_402_300_799)),
    ];
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("signals/eod")).unwrap();
    let store = blocking::open(&url(dir.path())).unwrap();
    for key in ["edge.json", "signals/eod/edge.json"] {
        let path = dir.path().join(key);
        let (mut stored_before, mut clamped) = (None, Vec::new());
        for (i, (when, time)) in edges.iter().enumerate() {
            // Same length every time, written in place (same inode) and stamped.
            let value = format!("{{\"step\": {i}}}");
            let mut file = std::fs::File::options().write(true).create(true).truncate(false).open(&path).unwrap();
            std::io::Write::write_all(&mut file, value.as_bytes()).unwrap();
            file.set_modified(*time).unwrap_or_else(|e| panic!("{key}: cannot stamp {when}: {e}"));
            drop(file);
            let stored = std::fs::metadata(&path).unwrap().modified().unwrap();
            if Some(stored) == stored_before {
                // The file system clamped this edge to the time it kept for the one before (XFS
                // without bigtime ends in 2038): nothing tells this rewrite apart; not an edge here.
                clamped.push(*when);
                continue;
            }
            stored_before = Some(stored);
            match store.read(key) {
                Ok(read) => assert_eq!(read, value, "{key}: the rewrite stamped {when} was not seen"),
                Err(e) => panic!("{key}: reading the file stamped {when} failed: {e}"),
            }
            assert_eq!(store.read(key).unwrap(), value, "{key}: a second read stamped {when}");
        }
        // 1970, the two times before it and 2038 (or the last second before it) are told apart
        // by any Linux file system that keeps times before 1970; ext4 here clamps 9999 only.
        assert!(clamped.len() <= 3, "{key}: the file system kept {clamped:?} as earlier times");
    }
    let mut keys = store.keys().unwrap();
    keys.sort();
    assert_eq!(keys, vec!["edge.json", "signals/eod/edge.json"]);
}
