//! The order of a durable save's system calls, seen with `strace`: the value reaches the disk
//! before its name, and every folder's name is flushed after it was made, up to the store
//! root's parent, also for folders that another program made (and never flushed) before.
//!
//! `durable_save_flushes_in_order` runs this file's ignored test `child` under
//! `strace -f -y` (it needs `strace`; it is ignored by default and run with `--ignored`). The
//! child saves `pre/by-hand/k` (its folders made by "another program" before the store opened)
//! and `new/folder/k` (folders the save makes), then saves `pre/by-hand/k2` again (the folders are
//! known durable by then: only the key's folder is flushed), and last `buffered/k` through a
//! buffered handle. The parent checks, in the trace:
//! - the temp file is flushed (`fsync`) before the rename that names it;
//! - the key's folder is flushed after the rename;
//! - for each folder on the way, its parent is flushed after the folder exists, up to and
//!   including the root's parent;
//! - the second save into known folders flushes only the file and the key's folder;
//! - the buffered save writes its value out (`sync_file_range` or `fdatasync`) before its
//!   rename, and flushes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::process::Command;

use backend_local::{Durability, LocalBackend};
use bytes::Bytes;
use store_core::raw::Backend;
use store_core::{KeyBuf, PutMode};

const CHILD_ENV: &str = "DURABLE_ORDER_ROOT";

#[test]
#[ignore = "run by durable_save_flushes_in_order under strace"]
fn child() {
    let Ok(root) = std::env::var(CHILD_ENV) else { return };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let store = LocalBackend::open(Path::new(&root), Durability::Durable).await.unwrap();
        for key in ["pre/by-hand/k", "new/folder/k", "pre/by-hand/k2"] {
            println!("SAVE {key}");
            // A marker in the trace between the saves.
            let _ = std::fs::metadata(format!("/marker-{}", key.replace('/', "-")));
            let key = KeyBuf::parse(key).unwrap();
            store.put(&key, Bytes::from_static(b"value"), &PutMode::Overwrite).await.unwrap();
        }
        let buffered = LocalBackend::open(Path::new(&root), Durability::Buffered).await.unwrap();
        println!("SAVE buffered/k");
        let _ = std::fs::metadata("/marker-buffered-k");
        let key = KeyBuf::parse("buffered/k").unwrap();
        buffered.put(&key, Bytes::from_static(b"value"), &PutMode::Overwrite).await.unwrap();
    });
}

/// One traced call: its name and its arguments' text (with `-y`, descriptors show their path).
#[derive(Debug)]
struct Call {
    name: String,
    args: String,
}

fn trace(root: &Path) -> Vec<Call> {
    let log = root.parent().unwrap().join("strace.log");
    let status = Command::new("strace")
        .args(["-f", "-y", "-qq", "-o"])
        .arg(&log)
        .args([
            "-e",
            "trace=fsync,fdatasync,sync_file_range,rename,renameat,renameat2,mkdir,mkdirat,newfstatat,statx,linkat",
        ])
        .arg(std::env::current_exe().unwrap())
        .args(["child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, root)
        .status()
        .unwrap_or_else(|e| panic!("cannot run strace (this test needs it: apt-get install strace): {e}"));
    assert!(status.success(), "the traced child failed: {status}");
    let text = std::fs::read_to_string(&log).unwrap();
    let mut calls = Vec::new();
    for line in text.lines() {
        // "[pid N] name(args) = result" or "N name(args) = result"
        let line = line.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ');
        let line = line.strip_prefix("[pid").map_or(line, |l| l.split_once(']').map_or(l, |(_, r)| r.trim_start()));
        let Some((name, rest)) = line.split_once('(') else { continue };
        if rest.contains("resumed>") || !rest.contains(") = 0") && !name.contains("stat") {
            continue;
        }
        calls.push(Call { name: name.to_string(), args: rest.to_string() });
    }
    // Keep only what the saves did: from the first marker on.
    let first = calls.iter().position(|c| c.args.contains("/marker-")).expect("no marker in the trace");
    let calls: Vec<Call> =
        calls.into_iter().skip(first).filter(|c| !c.name.contains("stat") || c.args.contains("/marker-")).collect();
    for c in &calls {
        println!("{}({}", c.name, c.args);
    }
    calls
}

/// The position of the first call at or after `from` that `matches`.
fn find(calls: &[Call], from: usize, what: &str, matches: impl Fn(&Call) -> bool) -> usize {
    calls[from..]
        .iter()
        .position(matches)
        .map(|p| p + from)
        .unwrap_or_else(|| panic!("not in the trace (from call {from}): {what}"))
}

fn fsync_of(dir: &Path) -> impl Fn(&Call) -> bool + '_ {
    move |c| c.name == "fsync" && c.args.starts_with(&format!("{}<{}>", fd_digits(&c.args), dir.display()))
}

/// A call on a temp file (unnamed: "(deleted)"; or named).
fn is_temp(c: &Call) -> bool {
    c.args.contains("(deleted)") || c.args.contains(".objstore-tmp-")
}

fn fd_digits(args: &str) -> &str {
    &args[..args.find('<').unwrap_or(0)]
}

#[test]
#[ignore = "needs strace; run with --ignored"]
fn durable_save_flushes_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let parent = dir.path().canonicalize().unwrap().join("stores");
    let root = parent.join("store");
    // Another program made these folders and flushed nothing.
    std::fs::create_dir_all(root.join("pre/by-hand")).unwrap();
    let calls = trace(&root);
    let marker = |key: &str| format!("/marker-{}", key.replace('/', "-"));
    let save = |key: &str| find(&calls, 0, key, |c| c.args.contains(&marker(key)));
    let (first, second, third) = (save("pre/by-hand/k"), save("new/folder/k"), save("pre/by-hand/k2"));
    let fourth = save("buffered/k");

    // First save, into folders made by another program.
    let pre = root.join("pre/by-hand");
    let data = find(&calls[..second], first, "fsync of the temp file", |c| c.name == "fsync" && is_temp(c));
    let rename = find(&calls[..second], first, "the rename into pre/by-hand/k", |c| {
        c.name.starts_with("rename") && c.args.contains(&format!("{}>, \"k\"", pre.display()))
    });
    assert!(data < rename, "the value was not flushed before its rename");
    let folder = find(&calls[..second], rename, "fsync of pre/by-hand after the rename", fsync_of(&pre));
    for above in [root.join("pre"), root.clone(), parent.clone()] {
        find(&calls[..second], rename.min(folder), &format!("fsync of {}", above.display()), fsync_of(&above));
    }

    // Second save: folders it makes are flushed in their parent after they are made.
    let new = root.join("new");
    let made = find(&calls[..third], second, "mkdirat new", |c| c.name == "mkdirat" && c.args.contains("\"new\""));
    find(&calls[..third], made, "fsync of the root after mkdir new", fsync_of(&root));
    let made =
        find(&calls[..third], second, "mkdirat new/folder", |c| c.name == "mkdirat" && c.args.contains("\"folder\""));
    find(&calls[..third], made, "fsync of new after mkdir folder", fsync_of(&new));
    let rename = find(&calls[..third], second, "the rename into new/folder/k", |c| c.name.starts_with("rename"));
    find(&calls[..third], rename, "fsync of new/folder after the rename", fsync_of(&new.join("folder")));

    // Third save, into known folders: the file and its folder only.
    let fsyncs: Vec<&Call> = calls[third..fourth].iter().filter(|c| c.name == "fsync").collect();
    assert_eq!(fsyncs.len(), 2, "a save into known folders flushed {fsyncs:?}");
    assert!(fsync_of(&pre)(fsyncs[1]), "the last flush is not of the key's folder: {fsyncs:?}");

    // A buffered save writes its value out before the rename (and flushes nothing).
    let written = find(&calls, fourth, "the buffered value written out", |c| {
        (c.name == "sync_file_range" || c.name == "fdatasync") && is_temp(c)
    });
    let rename = find(&calls, fourth, "the buffered rename", |c| c.name.starts_with("rename"));
    assert!(written < rename, "a buffered save renamed before writing its value out");
    assert!(!calls[fourth..].iter().any(|c| c.name == "fsync"), "a buffered save flushed");
}
