//! `objstore import`, `export` and `copy`, run as a user runs them, on local disk and on S3
//! (SeaweedFS, which `cargo xtask test` starts): round trips, resume after SIGKILL, changed files,
//! the JSON summary, `--quiet`, and errors with their exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

/// The command with its store at `url`.
fn objstore(url: &str) -> Command {
    let mut cmd = Command::cargo_bin("objstore").unwrap();
    cmd.env("OBJSTORE_URL", url).env_remove("OBJSTORE_SETTINGS");
    cmd
}

fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

/// A bucket URL on the SeaweedFS `cargo xtask test` runs, with a prefix of its own.
fn s3_url(test: &str) -> String {
    let base = std::env::var("OBJSTORE_TEST_S3_SEAWEEDFS").unwrap_or_else(|_| {
        panic!(
            "the S3 transfer tests need SeaweedFS: run `cargo xtask test`, which starts it and sets \
             OBJSTORE_TEST_S3_SEAWEEDFS=s3://BUCKET?endpoint=...; these tests never skip"
        )
    });
    let (bucket, query) = base.trim_start_matches("s3://").split_once('?').expect("s3://BUCKET?query");
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos();
    format!("s3://{bucket}/xfer-{test}-{}-{nanos}?{query}", std::process::id())
}

/// Sets a file's modification time (files written an hour ago are the common case of an import;
/// files written within the last second are copied again by design, see `transfer`).
fn set_mtime(path: &Path, when: SystemTime) {
    std::fs::File::options().write(true).open(path).unwrap().set_modified(when).unwrap();
}

fn an_hour_ago() -> SystemTime {
    SystemTime::now() - Duration::from_secs(3600)
}

/// A folder with nested folders, an empty file, binary data, and names with spaces and accents.
fn sample_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    files.insert("prices/spy.csv".to_string(), b"date,close\n2024-01-02,472.65\n".to_vec());
    files.insert("prices/2024/q1/qqq.csv".to_string(), b"date,close\n2024-01-02,400.00\n".to_vec());
    files.insert("empty".to_string(), Vec::new());
    files.insert("models/weights.bin".to_string(), (0..70_000u32).map(|i| (i * 7 % 256) as u8).collect());
    files.insert("notes/été report.txt".to_string(), "ça va\n".as_bytes().to_vec());
    files.insert(".hidden".to_string(), b"dotfile".to_vec());
    for (name, bytes) in &files {
        write(root, name, bytes);
    }
    files
}

fn write(root: &Path, name: &str, bytes: &[u8]) {
    let path = root.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    set_mtime(&path, an_hour_ago());
}

/// Every regular file under `root` (relative path → bytes), leaving out the store's own files.
fn read_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            if name.starts_with(".objstore") {
                continue;
            }
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                walk(root, &path, out);
            } else {
                let relative = path.strip_prefix(root).unwrap().to_str().unwrap().to_string();
                out.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Every object of the store at `url` under `prefix` (key → bytes).
fn read_store(url: &str, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    let store = objstore::blocking::open(url).unwrap();
    store
        .keys()
        .unwrap()
        .into_iter()
        .filter(|k| k.starts_with(prefix))
        .map(|k| {
            let bytes = store.read_bytes(&k).unwrap().to_vec();
            (k, bytes)
        })
        .collect()
}

/// Runs the command with `--json` and returns the summary it printed.
fn summary(cmd: &mut Command) -> Value {
    let out = cmd.arg("--json").assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out)))
}

fn counts(v: &Value) -> (u64, u64, u64) {
    (
        v["objects_copied"].as_u64().unwrap(),
        v["objects_skipped"].as_u64().unwrap(),
        v["objects_rejected"].as_u64().unwrap(),
    )
}

fn with_prefix(files: &BTreeMap<String, Vec<u8>>, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    files.iter().map(|(k, v)| (format!("{prefix}{k}"), v.clone())).collect()
}

// ----- local disk ------------------------------------------------------------------------------

#[test]
fn import_then_export_round_trips_a_tree_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let files = sample_tree(&src);
    let url = file_url(&tmp.path().join("storage"));

    let s = summary(objstore(&url).args(["import", "--prefix", "data"]).arg(&src));
    assert_eq!(counts(&s), (6, 0, 0));
    let total: usize = files.values().map(Vec::len).sum();
    assert_eq!(s["bytes_copied"].as_u64().unwrap(), total as u64);
    assert_eq!(read_store(&url, ""), with_prefix(&files, "data/"));

    let out = tmp.path().join("out");
    let s = summary(objstore(&url).arg("export").arg(&out).args(["--prefix", "data/"]));
    assert_eq!(counts(&s), (6, 0, 0));
    assert_eq!(read_tree(&out), files);
    // Nothing is left behind but the files: no temp files.
    assert!(
        std::fs::read_dir(&out).unwrap().all(|e| !e.unwrap().file_name().to_str().unwrap().starts_with(".objstore"))
    );

    // Both directions are up to date now: a second run copies nothing.
    assert_eq!(counts(&summary(objstore(&url).args(["import", "--prefix", "data/"]).arg(&src))), (0, 6, 0));
    assert_eq!(counts(&summary(objstore(&url).arg("export").arg(&out).args(["--prefix", "data/"]))), (0, 6, 0));
}

#[test]
fn export_of_a_prefix_writes_only_its_keys_under_the_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let url = file_url(&tmp.path().join("storage"));
    let store = objstore::blocking::open(&url).unwrap();
    store.save("data/prices/spy.csv", "spy").unwrap();
    store.save("data/prices/qqq.csv", "qqq").unwrap();
    store.save("data/models/m.bin", "m").unwrap();
    store.save("other/x", "x").unwrap();

    let out = tmp.path().join("out");
    assert_eq!(counts(&summary(objstore(&url).arg("export").arg(&out).args(["--prefix", "data/prices/"]))), (2, 0, 0));
    let expected: BTreeMap<String, Vec<u8>> =
        [("spy.csv", "spy"), ("qqq.csv", "qqq")].iter().map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())).collect();
    assert_eq!(read_tree(&out), expected);

    // A prefix is a folder of the store: `data/pr` is the folder data/pr/, which holds nothing.
    let out2 = tmp.path().join("out2");
    assert_eq!(counts(&summary(objstore(&url).arg("export").arg(&out2).args(["--prefix", "data/pr"]))), (0, 0, 0));
    assert!(read_tree(&out2).is_empty());

    // Without a prefix, everything; files already in the folder that are not objects stay.
    let all = tmp.path().join("all");
    write(&all, "mine.txt", b"not an object");
    assert_eq!(counts(&summary(objstore(&url).arg("export").arg(&all))), (4, 0, 0));
    assert_eq!(read_tree(&all).len(), 5);
    assert_eq!(std::fs::read(all.join("mine.txt")).unwrap(), b"not an object");
}

#[test]
fn changed_files_are_copied_again_and_checksum_finds_what_times_miss() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let files = sample_tree(&src);
    let url = file_url(&tmp.path().join("storage"));
    assert_eq!(counts(&summary(objstore(&url).arg("import").arg(&src))), (6, 0, 0));

    // A change of content (same size) and one of size, as an editor makes them: newer times.
    std::fs::write(src.join("prices/spy.csv"), b"date,close\n2024-01-02,999.99\n").unwrap();
    std::fs::write(src.join("empty"), b"no longer empty").unwrap();
    // (Files modified less than a second before a run are copied again by the next one: wait.)
    std::thread::sleep(Duration::from_millis(1100));
    let s = summary(objstore(&url).arg("import").arg(&src));
    assert_eq!(counts(&s), (2, 4, 0));
    assert_eq!(s["bytes_copied"].as_u64().unwrap(), 29 + 15);
    assert_eq!(read_store(&url, "")["prices/spy.csv"], b"date,close\n2024-01-02,999.99\n");

    // Same size and a time set back by hand: the time rule cannot see it; --checksum does.
    std::fs::write(src.join("prices/2024/q1/qqq.csv"), b"date,close\n2024-01-02,111.11\n").unwrap();
    set_mtime(&src.join("prices/2024/q1/qqq.csv"), an_hour_ago());
    assert_eq!(counts(&summary(objstore(&url).arg("import").arg(&src))), (0, 6, 0));
    let s = summary(objstore(&url).args(["import", "--checksum"]).arg(&src));
    assert_eq!(counts(&s), (1, 5, 0));
    let mut expected = files.clone();
    expected.insert("prices/spy.csv".into(), b"date,close\n2024-01-02,999.99\n".to_vec());
    expected.insert("empty".into(), b"no longer empty".to_vec());
    expected.insert("prices/2024/q1/qqq.csv".into(), b"date,close\n2024-01-02,111.11\n".to_vec());
    assert_eq!(read_store(&url, ""), expected);
}

#[test]
fn dry_run_counts_and_copies_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    sample_tree(&src);
    let url = file_url(&tmp.path().join("storage"));
    let s = summary(objstore(&url).args(["import", "--dry-run"]).arg(&src));
    assert_eq!(counts(&s), (6, 0, 0));
    assert_eq!(s["dry_run"], Value::Bool(true));
    assert!(read_store(&url, "").is_empty());
    objstore(&url)
        .args(["import", "--dry-run"])
        .arg(&src)
        .assert()
        .success()
        .stdout(predicate::str::starts_with("dry run: would import 6 objects"));
    objstore(&url).args(["-q", "import"]).arg(&src).assert().success();
    let out = tmp.path().join("out");
    let s = summary(objstore(&url).args(["export", "--dry-run"]).arg(&out));
    assert_eq!((counts(&s), s["dry_run"].as_bool()), ((6, 0, 0), Some(true)));
    assert!(!out.exists(), "a dry run created the folder");
}

/// Runs `objstore import ARGS SRC` against `url` and kills it (SIGKILL: no cleanup) once
/// `reached` is true, polling every `poll`; fails when that takes over 60 s or the import ends first.
fn import_killed_when(url: &str, args: &[&str], src: &Path, what: &str, poll: Duration, reached: impl Fn() -> bool) {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("objstore"))
        .env("OBJSTORE_URL", url)
        .arg("import")
        .args(args)
        .arg(src)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !reached() {
        assert!(Instant::now() < deadline, "the import did not reach {what} in 60 s");
        assert!(child.try_wait().unwrap().is_none(), "the import ended before it could be killed");
        std::thread::sleep(poll);
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn an_import_killed_midway_resumes_with_only_the_missing_and_changed_files() {
    const FILES: usize = 6000;
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let mut files = BTreeMap::new();
    for i in 0..FILES {
        let name = format!("d{:02}/f{i:05}.txt", i % 10);
        let bytes = format!("file {i} {}\n", "x".repeat(i % 300)).into_bytes();
        write(&src, &name, &bytes);
        files.insert(name, bytes);
    }
    let root = tmp.path().join("storage");
    let url = file_url(&root);

    // Copies go in key order; once the 300th has landed, kill the process (SIGKILL: no cleanup).
    let names: Vec<&String> = files.keys().collect();
    let watched = root.join("in").join(names[300]);
    import_killed_when(&url, &["--jobs", "4", "--prefix", "in"], &src, "300 files", Duration::from_micros(200), || {
        watched.exists()
    });

    // What landed is whole: every object equals its file (saves are atomic), no temp file is an
    // object, and the import had not finished. With 4 copies in flight, up to 3 files before the
    // 300th may not have landed when it did (the kill stops them).
    let landed = read_store(&url, "");
    assert!(landed.contains_key(&format!("in/{}", names[300])), "the 300th file did not land");
    assert!(landed.len() >= 300 - 3 && landed.len() < FILES, "{} objects landed", landed.len());
    for (key, bytes) in &landed {
        assert_eq!(Some(bytes), files.get(key.strip_prefix("in/").unwrap()), "{key}");
    }

    // Change one file that landed (same size, new content) and re-run.
    let changed = names[0].clone();
    let new_bytes = files[&changed].iter().map(|b| b.to_ascii_uppercase()).collect::<Vec<u8>>();
    std::fs::write(src.join(&changed), &new_bytes).unwrap();
    files.insert(changed, new_bytes);
    // (A file modified less than a second before a run is copied again by the next one: wait.)
    std::thread::sleep(Duration::from_millis(1100));
    let s = summary(objstore(&url).args(["import", "--prefix", "in/"]).arg(&src));
    let landed = landed.len() as u64;
    assert_eq!(counts(&s), (FILES as u64 - landed + 1, landed - 1, 0), "{s}");
    assert_eq!(read_store(&url, ""), with_prefix(&files, "in/"));
    assert_eq!(counts(&summary(objstore(&url).args(["import", "--prefix", "in/"]).arg(&src))), (0, FILES as u64, 0));
}

#[test]
fn an_export_resumes_cleans_its_temp_files_and_writes_changed_objects_again() {
    let tmp = tempfile::tempdir().unwrap();
    let url = file_url(&tmp.path().join("storage"));
    let store = objstore::blocking::open(&url).unwrap();
    for i in 0..20 {
        store.save(&format!("k/{i:02}"), &format!("value {i}")).unwrap();
    }
    let out = tmp.path().join("out");
    // What a killed export leaves: a temp file, and a file cut short... which the sizes expose.
    write(&out, "k/.objstore-export-999-1", b"half");
    write(&out, "k/05", b"val");
    let s = summary(objstore(&url).arg("export").arg(&out));
    assert_eq!(counts(&s), (20, 0, 0));
    assert!(!out.join("k/.objstore-export-999-1").exists());
    assert_eq!(read_tree(&out).len(), 20);

    store.save("k/07", "changed").unwrap();
    assert_eq!(counts(&summary(objstore(&url).arg("export").arg(&out))), (1, 19, 0));
    assert_eq!(std::fs::read(out.join("k/07")).unwrap(), b"changed");
}

#[test]
fn the_json_summary_has_its_documented_fields() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    sample_tree(&src);
    let url = file_url(&tmp.path().join("storage"));
    let s = summary(objstore(&url).args(["import", "--prefix", "data/"]).arg(&src));
    assert_eq!(s["operation"], "import");
    assert_eq!(s["source"], src.display().to_string());
    assert_eq!(s["destination"], url);
    assert_eq!(s["prefix"], "data/");
    assert_eq!(s["dry_run"], false);
    for field in ["objects_copied", "bytes_copied", "objects_skipped", "bytes_skipped", "objects_rejected"] {
        assert!(s[field].is_u64(), "{field}: {s}");
    }
    for field in ["elapsed_seconds", "objects_per_second", "bytes_per_second"] {
        assert!(s[field].as_f64().is_some_and(|v| v >= 0.0), "{field}: {s}");
    }
    assert_eq!(s["rejected"], Value::Array(vec![]));
    assert_eq!(s.as_object().unwrap().len(), 14, "{s}");

    let s = summary(objstore(&url).arg("export").arg(tmp.path().join("out")).args(["--prefix", "data/"]));
    assert_eq!((s["operation"].as_str(), s["source"].as_str()), (Some("export"), Some(url.as_str())));
}

#[test]
fn quiet_prints_nothing_and_a_pipe_gets_the_summary_without_a_bar() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    sample_tree(&src);
    let url = file_url(&tmp.path().join("storage"));
    objstore(&url).args(["--quiet", "import"]).arg(&src).assert().success().stdout("").stderr("");
    objstore(&url).args(["export", "-q"]).arg(tmp.path().join("out")).assert().success().stdout("").stderr("");
    // Piped (not a terminal): no progress bar on stderr, one summary line on stdout.
    std::fs::write(src.join("new.txt"), b"new").unwrap();
    objstore(&url)
        .arg("import")
        .arg(&src)
        .assert()
        .success()
        .stderr("")
        .stdout(predicate::str::is_match(r"^imported 1 object \(3 B\) in .*; 6 skipped \(up to date\)\n$").unwrap());
    // --json still prints with --quiet.
    let out = objstore(&url).args(["--quiet", "--json", "import"]).arg(&src).assert().success().stderr("");
    assert!(serde_json::from_slice::<Value>(&out.get_output().stdout).is_ok());
}

#[test]
fn bad_folders_and_names_are_one_clear_line_with_an_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let url = file_url(&tmp.path().join("storage"));
    let one_error_line = |text: &'static str| {
        predicate::function(move |err: &str| {
            let first = err.lines().next().unwrap_or("");
            first.starts_with("objstore: error: ") && first.contains(text) && !err.contains("panicked")
        })
        .name(text)
    };
    objstore(&url)
        .args(["import", "/no/such/folder"])
        .assert()
        .code(8)
        .stdout("")
        .stderr(one_error_line("cannot import the folder '/no/such/folder'"));
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    objstore(&url).arg("import").arg(&file).assert().code(8).stderr(one_error_line("not a folder"));
    objstore(&url)
        .arg("export")
        .arg(file.join("below"))
        .args(["--prefix", "x"])
        .assert()
        .code(8)
        .stderr(one_error_line("a-file"));
    let src = tmp.path().join("src");
    sample_tree(&src);
    objstore(&url).args(["import", "--prefix", "../up"]).arg(&src).assert().code(4).stderr(one_error_line("../up"));
    objstore(&url).args(["copy", &url, &url]).assert().code(2).stderr(one_error_line("same store"));
    objstore(&url).args(["import", "--jobs", "0"]).arg(&src).assert().code(2);

    // A name that cannot be a key: the others are imported, the command says which and fails.
    write(&src, "bad\\name", b"x");
    write(&src, "ctl\u{1}name", b"y");
    let out = objstore(&url)
        .args(["--json", "import"])
        .arg(&src)
        .assert()
        .code(4)
        .stderr(one_error_line("2 of 8 files could not be imported"));
    let s: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(counts(&s), (6, 0, 2));
    assert_eq!(s["rejected"].as_array().unwrap().len(), 2);
    assert_eq!(s["rejected"][0]["kind"], "invalid_name");
    assert_eq!(read_store(&url, "").len(), 6);

    // Nothing but bad names: an error, nothing imported.
    let bad = tmp.path().join("bad");
    write(&bad, "only\\bad", b"z");
    objstore(&url).arg("import").arg(&bad).assert().code(4).stdout("").stderr(one_error_line("1 of 1 files"));
}

#[cfg(unix)]
#[test]
fn sockets_and_links_to_folders_are_rejected_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src, "real/file.txt", b"data");
    std::os::unix::fs::symlink(src.join("real"), src.join("loop")).unwrap();
    std::os::unix::fs::symlink(src.join("real/file.txt"), src.join("link.txt")).unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(src.join("sock")).unwrap();
    let url = file_url(&tmp.path().join("storage"));
    let out = objstore(&url).args(["--json", "import"]).arg(&src).assert().code(8);
    let s: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(counts(&s), (2, 0, 2), "{s}");
    let kinds: Vec<&str> = s["rejected"].as_array().unwrap().iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["unsupported", "unsupported"]);
    assert_eq!(read_store(&url, "").keys().collect::<Vec<_>>(), ["link.txt", "real/file.txt"]);
}

// ----- S3 --------------------------------------------------------------------------------------

#[test]
fn s3_import_export_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let files = sample_tree(&src);
    let url = s3_url("roundtrip");
    assert_eq!(counts(&summary(objstore(&url).args(["import", "--prefix", "data/"]).arg(&src))), (6, 0, 0));
    assert_eq!(read_store(&url, ""), with_prefix(&files, "data/"));
    // The folder's files are an hour old: a re-run finds everything up to date.
    assert_eq!(counts(&summary(objstore(&url).args(["import", "--prefix", "data/"]).arg(&src))), (0, 6, 0));
    let out = tmp.path().join("out");
    assert_eq!(counts(&summary(objstore(&url).arg("export").arg(&out).args(["--prefix", "data/"]))), (6, 0, 0));
    assert_eq!(read_tree(&out), files);
    assert_eq!(counts(&summary(objstore(&url).arg("export").arg(&out).args(["--prefix", "data/"]))), (0, 6, 0));
}

#[test]
fn s3_import_killed_midway_resumes() {
    const FILES: usize = 1500;
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let mut files = BTreeMap::new();
    for i in 0..FILES {
        let name = format!("f{i:05}");
        let bytes = format!("{i}:{}", "y".repeat(i % 97)).into_bytes();
        write(&src, &name, &bytes);
        files.insert(name, bytes);
    }
    let url = s3_url("resume");
    let store = objstore::blocking::open(&url).unwrap();
    import_killed_when(&url, &["--jobs", "2"], &src, "100 objects", Duration::from_millis(2), || {
        store.contains_key("f00100").unwrap()
    });
    // Requests whose body was sent may still complete on the server: let them.
    std::thread::sleep(Duration::from_millis(500));
    let landed = read_store(&url, "");
    assert!(landed.len() >= 100 && landed.len() < FILES, "{} objects landed", landed.len());
    for (key, bytes) in &landed {
        assert_eq!(Some(bytes), files.get(key), "{key}");
    }
    let changed = "f00003".to_string();
    let new_bytes: Vec<u8> = files[&changed].iter().map(|_| b'Z').collect();
    std::fs::write(src.join(&changed), &new_bytes).unwrap();
    files.insert(changed, new_bytes);
    let landed = landed.len() as u64;
    let s = summary(objstore(&url).arg("import").arg(&src));
    assert_eq!(counts(&s), (FILES as u64 - landed + 1, landed - 1, 0), "{s}");
    assert_eq!(read_store(&url, ""), files);
}

#[test]
fn s3_copy_local_to_s3_and_back_is_equal_and_resumable() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let mut files = sample_tree(&src);
    for i in 0..200 {
        let name = format!("bulk/{:02}/obj-{i:04}", i % 7);
        let bytes = format!("object {i}").into_bytes();
        write(&src, &name, &bytes);
        files.insert(name, bytes);
    }
    let local = file_url(&tmp.path().join("local"));
    objstore(&local).args(["-q", "import"]).arg(&src).assert().success();
    let s3 = s3_url("copy");
    // A store saved a while ago (objects are plain files on disk): times set back by an hour.
    // Objects saved less than a second or two before a copy are copied again by the next run.
    for name in files.keys() {
        set_mtime(&tmp.path().join("local").join(name), an_hour_ago());
    }
    let s = summary(objstore(&local).args(["copy", &local, &s3]));
    assert_eq!(counts(&s), (206, 0, 0));
    assert_eq!((s["operation"].as_str(), s["source"].as_str()), (Some("copy"), Some(local.as_str())));
    assert!(!s["destination"].as_str().unwrap().contains("secret"), "credentials shown: {s}");
    assert_eq!(read_store(&s3, ""), files);
    assert_eq!(counts(&summary(objstore(&local).args(["copy", &local, &s3]))), (0, 206, 0));

    // One object changes, one is deleted at the destination: a re-run copies those two.
    objstore::blocking::open(&local).unwrap().save("prices/spy.csv", "changed").unwrap();
    objstore::blocking::open(&s3).unwrap().delete("bulk/03/obj-0010").unwrap();
    assert_eq!(counts(&summary(objstore(&local).args(["copy", &local, &s3]))), (2, 204, 0));
    files.insert("prices/spy.csv".into(), b"changed".to_vec());

    // And back to another folder, with a prefix.
    let back = file_url(&tmp.path().join("back"));
    assert_eq!(counts(&summary(objstore(&local).args(["copy", &s3, &back, "--prefix", "bulk/"]))), (200, 0, 0));
    // The other 6, and maybe some of the 200 again: they are less than a second old.
    let (copied, skipped, rejected) = counts(&summary(objstore(&local).args(["copy", &s3, &back])));
    assert!(copied >= 6 && copied + skipped == 206 && rejected == 0, "{copied} {skipped}");
    assert_eq!(read_store(&back, ""), files);
    assert_eq!(read_store(&s3, ""), files);
}

#[test]
fn s3_export_of_keys_that_are_also_folders_exports_the_rest_and_exits_7() {
    let tmp = tempfile::tempdir().unwrap();
    let url = s3_url("conflict");
    let store = objstore::blocking::open(&url).unwrap();
    store.save("a", "object a").unwrap();
    store.save("a/b", "object a/b").unwrap();
    store.save("c", "object c").unwrap();
    let out = tmp.path().join("out");
    let assert = objstore(&url).args(["--json", "export"]).arg(&out).assert().code(7).stderr(
        predicate::str::starts_with("objstore: error: cannot store 'a':").and(predicate::str::contains("1 of 3")),
    );
    let s: Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    assert_eq!(counts(&s), (2, 0, 1));
    assert_eq!(s["rejected"][0]["kind"], "conflict");
    let expected: BTreeMap<String, Vec<u8>> = [("a/b", "object a/b"), ("c", "object c")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect();
    assert_eq!(read_tree(&out), expected);
}
