//! Hostile data and surroundings (issue 16, items 4 and 7): an expiry past what a calendar can
//! print is refused, a stored object with a damaged or far-future time breaks no listing, and the
//! staging folder of `path` is private, created safely even where other users can write (HOME
//! and XDG_CACHE_HOME unset), and never overwrites edits not uploaded yet.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod cli_support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use cli_support::{Env, json_lines, parse_json, s3_url, unique};
use predicates::prelude::*;

// ----- expiry ---------------------------------------------------------------------------------

#[test]
fn an_expiry_beyond_the_calendar_is_refused() {
    let env = Env::local();
    for days in ["3000000", "36501", "4294967295"] {
        env.cmd()
            .args(["put", "--expire-days", days, "k"])
            .write_stdin("v")
            .assert()
            .code(4)
            .stderr(predicate::str::starts_with("objstore: error: ").and(predicate::str::contains("36500")));
    }
    env.cmd().args(["--managed", "exists", "k"]).assert().code(1);
    env.cmd().args(["put", "--expire-days", "36500", "k"]).write_stdin("v").assert().success();
    let v = env.json(&["meta", "k"]);
    assert!(v["expires"].as_str().unwrap().starts_with("21"), "{v}");
}

/// Rewrites the header of the managed object at `path` with `change` (docs/FORMAT.md: magic,
/// version, codec, flags, u32 header length, JSON header, payload).
fn rewrite_header(path: &Path, change: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89OSM\r\n\x1a\n");
    let len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let mut header: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&bytes[16..16 + len]).unwrap();
    change(&mut header);
    let header = serde_json::to_vec(&header).unwrap();
    let mut out = bytes[..12].to_vec();
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&bytes[16 + len..]);
    std::fs::write(path, out).unwrap();
}

#[test]
fn far_future_and_damaged_times_break_no_listing() {
    let env = Env::local();
    let storage = env.dir.path().join("storage");
    for key in ["far", "farther", "max", "fine"] {
        env.cmd()
            .args(["put", "--category", "llm_cache", "--expire-days", "30", key])
            .write_stdin("v")
            .assert()
            .success();
    }
    // The year 100,000; the largest time a header can hold; a creation time past 9999 too.
    rewrite_header(&storage.join("llm_cache/far"), |h| {
        h.insert("expires_ms".into(), 3_093_527_980_800_000u64.into());
    });
    rewrite_header(&storage.join("llm_cache/farther"), |h| {
        h.insert("expires_ms".into(), u64::MAX.into());
        h.insert("created_ms".into(), 253_402_300_800_000u64.into());
    });
    rewrite_header(&storage.join("llm_cache/max"), |h| {
        h.insert("expires_ms".into(), (i64::MAX as u64).into());
    });
    let no_panic = |args: &[&str]| {
        let out = env.cmd().args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "`objstore {}` failed ({:?}): {err}", args.join(" "), out.status);
        assert!(!err.contains("panicked"), "{err}");
        String::from_utf8(out.stdout).unwrap()
    };
    let long = no_panic(&["--managed", "ls", "--long"]);
    assert_eq!(long.lines().count(), 5, "{long}");
    let far = long.lines().find(|l| l.ends_with(" far")).unwrap();
    assert!(far.contains("+100000-01-01T00:00:00Z"), "{long}");
    let meta = no_panic(&["meta", "farther"]);
    assert!(meta.lines().any(|l| l.starts_with("expires") && l.contains('+')), "{meta}");
    assert!(meta.lines().any(|l| l.starts_with("created") && l.contains("+10000-01-01T00:00:00Z")), "{meta}");
    let v = parse_json(no_panic(&["--json", "meta", "far"]).as_bytes());
    assert_eq!(v["expires"], "+100000-01-01T00:00:00.000Z");
    let rows = json_lines(no_panic(&["--managed", "--json", "ls"]).as_bytes());
    assert_eq!(rows.len(), 4);
    for args in [
        &["--managed", "--json", "ls", "--long"][..],
        &["--json", "ls", "--category", "llm_cache"],
        &["stats"],
        &["--json", "stats"],
        &["report"],
        &["--json", "report"],
        &["health"],
        &["--json", "health"],
        &["suggest"],
        &["--json", "suggest"],
        &["cleanup", "--dry-run"],
        &["--json", "cleanup", "--dry-run"],
        &["ls", "--long"],
        &["--json", "ls", "--long"],
        &["--json", "meta", "max"],
        &["--managed", "get", "farther"],
    ] {
        no_panic(args);
    }
}

// ----- staging --------------------------------------------------------------------------------

/// `objstore path` on S3 with HOME and XDG_CACHE_HOME unset and the temporary folder `tmp`.
fn path_cmd(url: &str, tmp: &Path, key: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("objstore"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TMPDIR", tmp)
        .env("OBJSTORE_URL", url)
        .args(["path", key])
        .current_dir(tmp);
    cmd
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).unwrap();
}

/// The staging path of `key`, and the first folder the command made for it under `tmp`.
fn staged(url: &str, tmp: &Path, key: &str) -> (PathBuf, PathBuf) {
    let out = path_cmd(url, tmp, key).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let path = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim_end());
    let first = tmp.join(path.strip_prefix(tmp).unwrap().components().next().unwrap());
    (path, first)
}

#[test]
fn staging_without_a_home_is_private_and_refuses_folders_it_cannot_trust() {
    let url = s3_url(&format!("cli-staging-{}", unique()));
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    Env { url: url.clone(), ..Env::local() }.cmd().args(["put", "models/m.bin"]).write_stdin("v1").assert().success();

    // Every folder the command makes is private and ours.
    let (path, first) = staged(&url, tmp.path(), "models/m.bin");
    assert_eq!(std::fs::read(&path).unwrap(), b"v1");
    let me = std::fs::metadata(tmp.path()).unwrap().uid();
    let mut dir = path.parent().unwrap();
    loop {
        let meta = std::fs::symlink_metadata(dir).unwrap();
        assert!(meta.is_dir() && meta.uid() == me, "{}", dir.display());
        if dir == first {
            break;
        }
        dir = dir.parent().unwrap();
    }
    for dir in [first.clone(), path.parent().unwrap().to_path_buf()] {
        assert_eq!(mode(&dir), 0o700, "{} is not private", dir.display());
    }
    std::fs::remove_dir_all(&first).unwrap();

    // Pre-created by another user, open to everyone: refused, nothing written into it.
    std::fs::create_dir(&first).unwrap();
    std::fs::set_permissions(&first, std::fs::Permissions::from_mode(0o777)).unwrap();
    chown(&first, 65534);
    let out = path_cmd(&url, tmp.path(), "models/m.bin").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a folder of another user was used");
    assert!(err.starts_with("objstore: error: ") && err.contains(&first.display().to_string()), "{err}");
    assert_eq!(std::fs::read_dir(&first).unwrap().count(), 0);
    std::fs::remove_dir(&first).unwrap();

    // A symlink to a folder elsewhere: refused.
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), &first).unwrap();
    let out = path_cmd(&url, tmp.path(), "models/m.bin").output().unwrap();
    assert!(!out.status.success(), "a symlink was followed");
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    std::fs::remove_file(&first).unwrap();

    // Ours but open to others: others may have put things inside; refused too.
    std::fs::create_dir(&first).unwrap();
    std::fs::set_permissions(&first, std::fs::Permissions::from_mode(0o777)).unwrap();
    assert!(!path_cmd(&url, tmp.path(), "models/m.bin").output().unwrap().status.success());
    std::fs::remove_dir(&first).unwrap();

    // As an unprivileged user, with the folder pre-created by root: refused.
    let nobody_tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(nobody_tmp.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let mut cmd = path_cmd(&url, nobody_tmp.path(), "models/m.bin");
    let (_, nobody_first) = {
        // Where it goes for nobody: made by nobody itself first, to learn the name.
        let out = cmd.uid(65534).gid(65534).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let path = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim_end());
        assert!(std::fs::metadata(path.parent().unwrap()).unwrap().uid() == 65534);
        let first = nobody_tmp.path().join(path.strip_prefix(nobody_tmp.path()).unwrap().components().next().unwrap());
        (path, first)
    };
    assert_ne!(nobody_first.file_name(), first.file_name(), "two users share one staging folder name");
    std::fs::remove_dir_all(&nobody_first).unwrap();
    std::fs::create_dir(&nobody_first).unwrap();
    std::fs::set_permissions(&nobody_first, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = path_cmd(&url, nobody_tmp.path(), "models/m.bin").uid(65534).gid(65534).output().unwrap();
    assert!(!out.status.success(), "nobody used root's folder");
    assert_eq!(std::fs::read_dir(&nobody_first).unwrap().count(), 0);
}

#[test]
fn path_twice_keeps_edits_not_uploaded_yet() {
    let url = s3_url(&format!("cli-staging-edits-{}", unique()));
    let env = Env { url: url.clone(), ..Env::local() };
    env.cmd().args(["put", "notes.txt"]).write_stdin("from the store").assert().success();
    let path = PathBuf::from(env.stdout(&["path", "notes.txt"]).trim_end());
    assert_eq!(std::fs::read(&path).unwrap(), b"from the store");
    std::fs::write(&path, "my edit").unwrap();
    let again = PathBuf::from(env.stdout(&["path", "notes.txt"]).trim_end());
    assert_eq!(again, path);
    assert_eq!(std::fs::read(&path).unwrap(), b"my edit", "the second `path` overwrote the edit");
    // Uploaded, then changed by someone else: the next `path` brings the new value.
    env.cmd().args(["put", "notes.txt"]).arg(&path).assert().success();
    env.cmd().args(["put", "notes.txt"]).write_stdin("changed elsewhere").assert().success();
    let third = PathBuf::from(env.stdout(&["path", "notes.txt"]).trim_end());
    assert_eq!(std::fs::read(third).unwrap(), b"changed elsewhere");
    // The staging folders are private.
    assert_eq!(mode(path.parent().unwrap()), 0o700);
}
