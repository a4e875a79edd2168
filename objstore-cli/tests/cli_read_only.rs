//! The command on a store it may only read (issue 16, item 3): as an unprivileged user (uid and
//! gid 65534) on a root-owned 0755 store, and as root on a read-only bind mount, `ls`, `cat`,
//! `usage` and `health` work without creating or locking anything in the store; `put` and `rm`
//! fail with exit status 6 (permission denied), saying the store is read-only and why. (Before:
//! every command failed with "cannot open the store's open.lock file: Permission denied".)
//!
//! Tests run as root here; the unprivileged runs start the command with `setuid`/`setgid`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const NOBODY: u32 = 65534;
const PERMISSION_DENIED: i32 = 6;

/// A scratch folder others may enter, with a store in `storage/` holding two objects.
fn seeded() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let store = dir.path().join("storage");
    for (key, value) in [("a/one", "1"), ("b/two", "22")] {
        let file = dir.path().join("value");
        std::fs::write(&file, value).unwrap();
        let out = objstore(dir.path(), &store, None, &["put", key, file.to_str().unwrap()]);
        assert!(out.status.success(), "seeding failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    dir
}

/// Runs the command on the store at `store` (as `user` when given).
fn objstore(scratch: &Path, store: &Path, user: Option<u32>, args: &[&str]) -> Output {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("objstore"));
    cmd.arg("--store")
        .arg(format!("file://{}", store.display()))
        .args(args)
        .env_remove("OBJSTORE_URL")
        .env_remove("OBJSTORE_SETTINGS")
        .env_remove("RUST_LOG")
        .env("HOME", scratch.join("cache"))
        .env("XDG_CACHE_HOME", scratch.join("cache"))
        .current_dir(scratch)
        .stdin(Stdio::null());
    if let Some(id) = user {
        cmd.uid(id).gid(id);
    }
    cmd.output().unwrap()
}

/// Every path under `dir`, with its modification time (for "nothing was created or changed").
fn listing(dir: &Path) -> Vec<(PathBuf, Option<std::time::SystemTime>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let meta = e.metadata().unwrap();
            out.push((e.path(), meta.modified().ok()));
            if meta.is_dir() {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The checks both cases share: reads work, writes are refused saying why, nothing changes.
fn reads_work_writes_are_refused(scratch: &Path, store: &Path, user: Option<u32>, case: &str) {
    let before = listing(store);
    let ls = objstore(scratch, store, user, &["ls"]);
    assert!(ls.status.success(), "{case}: ls failed: {}", text(&ls));
    assert_eq!(String::from_utf8_lossy(&ls.stdout).lines().collect::<Vec<_>>(), ["a/one", "b/two"], "{case}: ls");
    let cat = objstore(scratch, store, user, &["cat", "a/one"]);
    assert!(cat.status.success(), "{case}: cat failed: {}", text(&cat));
    assert_eq!(String::from_utf8_lossy(&cat.stdout).trim_end(), "1", "{case}: cat");
    let usage = objstore(scratch, store, user, &["--json", "usage"]);
    assert!(usage.status.success(), "{case}: usage failed: {}", text(&usage));
    let usage: serde_json::Value = serde_json::from_slice(&usage.stdout).unwrap();
    assert_eq!(usage["objects"], 2, "{case}: usage {usage}");
    let health = objstore(scratch, store, user, &["health"]);
    assert_eq!(health.status.code(), Some(0), "{case}: health failed: {}", text(&health));
    let value = scratch.join("value");
    for args in [vec!["put", "new", value.to_str().unwrap()], vec!["rm", "a/one"]] {
        let out = objstore(scratch, store, user, &args);
        assert_eq!(out.status.code(), Some(PERMISSION_DENIED), "{case}: {args:?} must be refused: {}", text(&out));
        assert!(text(&out).contains("read-only"), "{case}: {args:?} does not say why: {}", text(&out));
    }
    assert_eq!(listing(store), before, "{case}: the store changed");
}

#[test]
fn an_unprivileged_user_reads_a_root_owned_store() {
    let dir = seeded();
    reads_work_writes_are_refused(dir.path(), &dir.path().join("storage"), Some(NOBODY), "as uid 65534");
}

#[test]
fn a_read_only_mount_is_read() {
    let dir = seeded();
    let mount = dir.path().join("ro");
    std::fs::create_dir(&mount).unwrap();
    let status =
        Command::new("mount").args(["--bind", "-o", "ro"]).arg(dir.path().join("storage")).arg(&mount).status();
    assert!(status.is_ok_and(|s| s.success()), "mount --bind -o ro failed (the test needs root)");
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mount.clone());
    reads_work_writes_are_refused(dir.path(), &mount, None, "on a read-only mount");
}
