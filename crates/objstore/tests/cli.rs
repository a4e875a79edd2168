//! The `objstore` command, run as a user runs it: every command, piping, errors and exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use assert_cmd::Command;
use predicates::prelude::*;

/// The command with its store in `dir`.
fn objstore(dir: &tempfile::TempDir) -> Command {
    let mut cmd = Command::cargo_bin("objstore").unwrap();
    cmd.env("OBJSTORE_URL", format!("file://{}", dir.path().join("storage").display()));
    cmd
}

#[test]
fn put_get_cat_ls_rm_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    objstore(&dir).args(["put", "greeting.txt"]).write_stdin("hello, object store\n").assert().success();
    objstore(&dir).args(["cat", "greeting.txt"]).assert().success().stdout("hello, object store\n");
    let file = dir.path().join("spy.csv");
    std::fs::write(&file, "date,close\n2024-01-02,472.65\n").unwrap();
    objstore(&dir).args(["put", "prices/spy.csv"]).arg(&file).assert().success();
    objstore(&dir).args(["put", "bin", "-"]).write_stdin(vec![0u8, 255, 7]).assert().success();
    objstore(&dir).args(["get", "bin"]).assert().success().stdout(predicate::eq(&[0u8, 255, 7][..]));
    let out = dir.path().join("out.csv");
    objstore(&dir).args(["get", "prices/spy.csv", "-o"]).arg(&out).assert().success().stdout("");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "date,close\n2024-01-02,472.65\n");
    objstore(&dir).arg("ls").assert().success().stdout("bin\ngreeting.txt\nprices/spy.csv\n");
    objstore(&dir).args(["ls", "prices/"]).assert().success().stdout("prices/spy.csv\n");
    objstore(&dir)
        .args(["ls", "--long"])
        .assert()
        .success()
        .stdout(predicate::str::contains("29 B").and(predicate::str::contains("prices/spy.csv")));
    objstore(&dir).args(["rm", "bin", "greeting.txt"]).assert().success();
    objstore(&dir).arg("ls").assert().success().stdout("prices/spy.csv\n");
    // The files are plain files under ./storage, as in LEAN.
    assert!(dir.path().join("storage/prices/spy.csv").is_file());
}

#[test]
fn exists_answers_with_its_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    objstore(&dir).args(["put", "k"]).write_stdin("v").assert().success();
    objstore(&dir).args(["exists", "k"]).assert().code(0);
    objstore(&dir).args(["exists", "nope"]).assert().code(1).stderr("");
    objstore(&dir).args(["--json", "exists", "nope"]).assert().code(1).stdout("{\"exists\":false,\"key\":\"nope\"}\n");
}

#[test]
fn errors_are_one_clear_line_with_a_documented_code() {
    let dir = tempfile::tempdir().unwrap();
    objstore(&dir).args(["cat", "missing"]).assert().code(3).stdout("").stderr(
        predicate::str::starts_with("objstore: error: no object with key 'missing'")
            .and(predicate::str::contains("hint: list what exists with `objstore ls`")),
    );
    objstore(&dir).args(["rm", "missing"]).assert().code(3);
    objstore(&dir)
        .args(["put", "../escape"])
        .write_stdin("x")
        .assert()
        .code(4)
        .stderr(predicate::str::contains("invalid key '../escape'"));
    assert!(!dir.path().join("escape").exists());
    objstore(&dir).args(["put", "bin"]).write_stdin(vec![0xffu8, 0xfe]).assert().success();
    objstore(&dir).args(["cat", "bin"]).assert().code(4).stderr(predicate::str::contains("UTF-8"));
    objstore(&dir).args(["--store", "nonsense", "ls"]).assert().code(9).stderr(predicate::str::contains("scheme://"));
    objstore(&dir).args(["--store", "file:///tmp/x?bogus=1", "ls"]).assert().code(9);
    objstore(&dir).arg("frobnicate").assert().code(2);
    objstore(&dir)
        .args(["put", "k", "/no/such/file"])
        .assert()
        .code(8)
        .stderr(predicate::str::contains("/no/such/file"));
    // No Rust panic or debug dump reaches the user.
    objstore(&dir).args(["cat", "missing"]).assert().stderr(predicate::str::contains("panicked").not());
}

#[test]
fn conflicts_between_objects_and_folders_exit_7() {
    let dir = tempfile::tempdir().unwrap();
    objstore(&dir).args(["put", "a"]).write_stdin("x").assert().success();
    objstore(&dir).args(["put", "a/b"]).write_stdin("y").assert().code(7).stderr(predicate::str::contains("'a'"));
}

#[test]
fn path_usage_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = objstore(&dir).args(["path", "models/m.bin"]).assert().success().get_output().stdout.clone();
    let path = String::from_utf8(out).unwrap();
    let path = std::path::Path::new(path.trim_end());
    assert!(path.ends_with("storage/models/m.bin") && path.parent().unwrap().is_dir() && !path.exists());
    std::fs::write(path, b"12345").unwrap();
    objstore(&dir).arg("usage").assert().success().stdout("5 B in 1 objects\n");
    objstore(&dir).args(["--json", "usage"]).assert().success().stdout("{\"bytes\":5,\"objects\":1}\n");
    let listed = objstore(&dir).args(["--json", "ls"]).assert().success().get_output().stdout.clone();
    let line: serde_json::Value = serde_json::from_slice(&listed).unwrap();
    assert_eq!(line["key"], "models/m.bin");
    assert_eq!(line["size"], 5);
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    objstore(&dir).args(["put", "big"]).write_stdin(vec![b'x'; 4 << 20]).assert().success();
    let bin = assert_cmd::cargo::cargo_bin("objstore");
    // With pipefail the pipeline fails if objstore does.
    let status = std::process::Command::new("bash")
        .args(["-o", "pipefail", "-c"])
        .arg(format!("'{}' get big | head -c 10 >/dev/null", bin.display()))
        .env("OBJSTORE_URL", format!("file://{}", dir.path().join("storage").display()))
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn the_default_store_is_storage_in_the_working_folder() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::cargo_bin("objstore").unwrap();
    cmd.env_remove("OBJSTORE_URL").current_dir(dir.path()).args(["put", "k"]).write_stdin("v").assert().success();
    assert_eq!(std::fs::read_to_string(dir.path().join("storage/k")).unwrap(), "v");
    let mut cmd = Command::cargo_bin("objstore").unwrap();
    cmd.env_remove("OBJSTORE_URL").current_dir(dir.path()).args(["--store", "file://other/place", "put", "k2"]);
    cmd.write_stdin("w").assert().success();
    assert_eq!(std::fs::read_to_string(dir.path().join("other/place/k2")).unwrap(), "w");
}
