//! The `objstore` command in plain mode, run as a user runs it, on local disk and on S3: every
//! key command, piping, JSON output, errors and exit codes, help, completions and tracing.
//! Managed mode is in cli_managed.rs, the monitor's commands in cli_monitor.rs.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod cli_support;

use assert_cmd::Command;
use cli_support::{Backend, Env, json_lines, noise};
use predicates::prelude::*;

both!(
    put_get_cat_ls_rm_round_trip,
    exists_answers_with_its_exit_status,
    errors_are_one_clear_line_with_a_documented_code,
    rm_reports_every_missing_key,
    path_usage_and_json,
    a_closed_pipe_is_not_an_error,
    plain_mode_points_at_managed_objects,
    listings_are_aligned_and_stream_as_json_lines,
);

fn put_get_cat_ls_rm_round_trip(backend: Backend) {
    let env = Env::new(backend);
    env.cmd().args(["put", "greeting.txt"]).write_stdin("hello, object store\n").assert().success().stdout("");
    env.cmd().args(["cat", "greeting.txt"]).assert().success().stdout("hello, object store\n");
    let file = env.file("spy.csv", b"date,close\n2024-01-02,472.65\n");
    env.cmd().args(["put", "prices/spy.csv"]).arg(&file).assert().success();
    env.cmd().args(["put", "bin", "-"]).write_stdin(vec![0u8, 255, 7]).assert().success();
    env.cmd().args(["get", "bin"]).assert().success().stdout(predicate::eq(&[0u8, 255, 7][..]));
    let out = env.dir.path().join("out.csv");
    env.cmd().args(["get", "prices/spy.csv", "-o"]).arg(&out).assert().success().stdout("");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "date,close\n2024-01-02,472.65\n");
    env.cmd().arg("ls").assert().success().stdout("bin\ngreeting.txt\nprices/spy.csv\n");
    env.cmd().args(["ls", "prices/"]).assert().success().stdout("prices/spy.csv\n");
    env.cmd()
        .args(["ls", "--long"])
        .assert()
        .success()
        .stdout(predicate::str::contains("29 B").and(predicate::str::contains("prices/spy.csv")));
    env.cmd().args(["rm", "bin", "greeting.txt"]).assert().success().stdout("");
    env.cmd().arg("ls").assert().success().stdout("prices/spy.csv\n");
    // Large binary values survive both ways.
    let big = noise(3 << 20, 7);
    env.cmd().args(["put", "big.bin"]).write_stdin(big.clone()).assert().success();
    let got = env.cmd().args(["get", "big.bin"]).assert().success().get_output().stdout.clone();
    assert!(got == big, "3 MiB of noise came back different");
    if backend == Backend::Local {
        // The files are plain files under ./storage, as in LEAN.
        assert!(env.dir.path().join("storage/prices/spy.csv").is_file());
    }
}

fn exists_answers_with_its_exit_status(backend: Backend) {
    let env = Env::new(backend);
    env.cmd().args(["put", "k"]).write_stdin("v").assert().success();
    env.cmd().args(["exists", "k"]).assert().code(0).stdout("").stderr("");
    env.cmd().args(["exists", "nope"]).assert().code(1).stdout("").stderr("");
    env.cmd().args(["--json", "exists", "nope"]).assert().code(1).stdout("{\"exists\":false,\"key\":\"nope\"}\n");
    env.cmd().args(["--json", "exists", "k"]).assert().code(0).stdout("{\"exists\":true,\"key\":\"k\"}\n");
    env.cmd().args(["exists", "../k"]).assert().code(4);
}

fn errors_are_one_clear_line_with_a_documented_code(backend: Backend) {
    let env = Env::new(backend);
    // Reading a store that does not exist yet is an error of its own (exit 9, see cli_honest.rs).
    env.cmd().args(["put", "something"]).write_stdin("x").assert().success();
    env.cmd().args(["cat", "missing"]).assert().code(3).stdout("").stderr(
        predicate::str::starts_with("objstore: error: no object with key 'missing'\n")
            .and(predicate::str::contains("hint: list what exists with `objstore --store "))
            .and(predicate::str::contains(" ls`")),
    );
    env.cmd().args(["get", "missing"]).assert().code(3).stdout("");
    env.cmd().args(["rm", "missing"]).assert().code(3);
    env.cmd()
        .args(["put", "../escape"])
        .write_stdin("x")
        .assert()
        .code(4)
        .stderr(predicate::str::contains("invalid key '../escape'").and(predicate::str::contains("hint: keys are")));
    assert!(!env.dir.path().join("escape").exists());
    env.cmd().args(["put", "bin"]).write_stdin(vec![0xffu8, 0xfe]).assert().success();
    env.cmd()
        .args(["cat", "bin"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("UTF-8").and(predicate::str::contains(" get bin -o FILE`")));
    // A bare word is a folder's path: this one does not exist.
    env.cmd().args(["--store", "nonsense", "ls"]).assert().code(9).stderr(predicate::str::contains("does not exist"));
    env.cmd().args(["--store", "nonsense:x", "ls"]).assert().code(9).stderr(predicate::str::contains("scheme://"));
    env.cmd().args(["--store", "file:///tmp/x?bogus=1", "ls"]).assert().code(9);
    // Usage errors are clap's: exit 2, with what went wrong.
    env.cmd().arg("frobnicate").assert().code(2).stderr(predicate::str::contains("frobnicate"));
    env.cmd().args(["put"]).assert().code(2).stderr(predicate::str::contains("<KEY>"));
    env.cmd().args(["put", "k", "--meta", "novalue"]).assert().code(2).stderr(predicate::str::contains("NAME=VALUE"));
    env.cmd().args(["put", "k", "--expire-days", "-3"]).assert().code(4);
    env.cmd().args(["monitor", "--listen", "nowhere"]).assert().code(2);
    env.cmd().args(["monitor", "--listen", "127.0.0.1:0", "--interval", "0s"]).assert().code(2);
    env.cmd().args(["put", "k", "/no/such/file"]).assert().code(8).stderr(predicate::str::contains("/no/such/file"));
    // No Rust panic or debug dump reaches the user; every error is one line and a hint.
    for args in [&["cat", "missing"][..], &["put", "../x"], &["--store", "nonsense", "ls"]] {
        let out = env.cmd().args(args).write_stdin("x").assert().failure().get_output().stderr.clone();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("panicked") && !text.contains("Error {") && !text.contains("NotFound {"), "{text}");
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("objstore: error: ") && lines.len() <= 2, "{text}");
        assert!(lines.get(1).is_none_or(|l| l.starts_with("hint: ")), "{text}");
    }
}

fn rm_reports_every_missing_key(backend: Backend) {
    let env = Env::new(backend);
    for key in ["a", "b", "c"] {
        env.cmd().args(["put", key]).write_stdin(key).assert().success();
    }
    // Every key that exists is deleted; each missing one is named; the exit code says not found.
    let out = env.cmd().args(["rm", "a", "nope1", "b", "nope2"]).assert().code(3).get_output().stderr.clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("'nope1'") && text.contains("'nope2'"), "{text}");
    env.cmd().arg("ls").assert().success().stdout("c\n");
    env.cmd().args(["rm", "--force", "c", "nope"]).assert().success().stderr("");
    env.cmd().args(["put", "d"]).write_stdin("d").assert().success();
    let v = cli_support::parse_json(
        &env.cmd().args(["--json", "rm", "-f", "d", "gone"]).assert().success().get_output().stdout,
    );
    assert_eq!(v, serde_json::json!({"deleted": ["d"], "not_found": ["gone"]}));
}

fn path_usage_and_json(backend: Backend) {
    let env = Env::new(backend);
    let out = env.stdout(&["path", "models/m.bin"]);
    let path = std::path::PathBuf::from(out.trim_end());
    assert!(path.ends_with("models/m.bin") && path.parent().unwrap().is_dir() && !path.exists(), "{path:?}");
    env.cmd().args(["put", "models/m.bin"]).write_stdin("12345").assert().success();
    let out = env.stdout(&["path", "models/m.bin"]);
    assert_eq!(std::fs::read(out.trim_end()).unwrap(), b"12345");
    env.cmd().arg("usage").assert().success().stdout("5 B in 1 object\n");
    env.cmd().args(["--json", "usage"]).assert().success().stdout("{\"bytes\":5,\"objects\":1}\n");
    let v = env.json(&["path", "models/m.bin"]);
    assert_eq!(v["key"], "models/m.bin");
    assert!(v["path"].as_str().unwrap().ends_with("models/m.bin"));
    let v = env.json(&["put", "k2"]);
    assert_eq!(v, serde_json::json!({"key": "k2", "size": 0}));
    env.cmd().args(["put", "note"]).write_stdin("some text\n").assert().success();
    assert_eq!(env.json(&["cat", "note"]), serde_json::json!({"key": "note", "value": "some text\n"}));
    let v = env.json(&["get", "note", "-o", "note.txt"]);
    assert_eq!(v, serde_json::json!({"key": "note", "size": 10, "path": "note.txt"}));
    assert_eq!(std::fs::read(env.dir.path().join("note.txt")).unwrap(), b"some text\n");
    // Raw bytes stay raw with --json (they are the data).
    env.cmd().args(["--json", "get", "note"]).assert().success().stdout("some text\n");
    env.cmd().args(["get", "note", "-o", "-"]).assert().success().stdout("some text\n");
    // Empty variables count as unset.
    env.cmd().env("OBJSTORE_SETTINGS", "").args(["get", "note"]).assert().success();
    let path = env.stdout(&["path", "models/m.bin"]);
    let path = std::path::Path::new(path.trim_end());
    match backend {
        // On local disk the path is the object itself.
        Backend::Local => assert_eq!(path, env.dir.path().join("storage/models/m.bin")),
        // On S3 it is a copy in the cache folder that outlives the command; `put` uploads edits.
        Backend::S3 => {
            assert!(path.starts_with(env.dir.path().join("cache/objstore/staging")), "{path:?}");
            assert!(!path.to_string_lossy().contains("secret"), "{path:?}");
            std::fs::write(path, b"edited").unwrap();
            env.cmd().args(["put", "models/m.bin"]).arg(path).assert().success();
            env.cmd().args(["cat", "models/m.bin"]).assert().success().stdout("edited");
            let elsewhere = env.dir.path().join("elsewhere");
            let out = env.stdout(&["path", "models/m.bin", "--staging-dir", elsewhere.to_str().unwrap()]);
            assert_eq!(std::fs::read(out.trim_end()).unwrap(), b"edited");
            assert!(out.starts_with(elsewhere.to_str().unwrap()));
        }
    }
}

fn a_closed_pipe_is_not_an_error(backend: Backend) {
    let env = Env::new(backend);
    env.cmd().args(["put", "big"]).write_stdin(vec![b'x'; 4 << 20]).assert().success();
    for i in 0..300 {
        env.cmd().args(["put", &format!("many/{i:04}")]).write_stdin("x").assert().success();
        if backend == Backend::S3 && i >= 40 {
            break;
        }
    }
    let bin = assert_cmd::cargo::cargo_bin("objstore");
    // With pipefail the pipeline fails if objstore does; stderr must stay empty too.
    for command in ["get big | head -c 10", "ls | head -1", "ls --long | head -1", "--json ls | head -1"] {
        let out = std::process::Command::new("bash")
            .args(["-o", "pipefail", "-c"])
            .arg(format!("'{}' {command} >/dev/null", bin.display()))
            .env("OBJSTORE_URL", &env.url)
            .output()
            .unwrap();
        assert!(out.status.success(), "{command}: {:?} {}", out.status, String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{command}");
    }
    // And standard input from a pipe, standard output to a pipe.
    let out = std::process::Command::new("bash")
        .args(["-o", "pipefail", "-c"])
        .arg(format!("printf 'a\\nb\\n' | '{0}' put piped && '{0}' get piped | wc -l", bin.display()))
        .env("OBJSTORE_URL", &env.url)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2");
}

fn plain_mode_points_at_managed_objects(backend: Backend) {
    let env = Env::new(backend);
    env.cmd().args(["put", "--category", "trading_state", "state"]).write_stdin("{}").assert().success();
    // The manager keeps it as trading_state/state: plain `get state` says how to read it.
    env.cmd().args(["get", "state"]).assert().code(3).stderr(
        predicate::str::contains("no object with key 'state'")
            .and(predicate::str::contains("stored as 'trading_state/state'"))
            .and(predicate::str::contains(" --managed get state`")),
    );
    env.cmd().args(["--managed", "get", "state"]).assert().success().stdout("{}");
    // The stored object itself is the manager's frame, and a note says so.
    let out = env.cmd().args(["get", "trading_state/state"]).assert().success().get_output().clone();
    assert!(out.stdout.starts_with(b"\x89OSM\r\n\x1a\n"));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("note: 'trading_state/state' is a managed object's stored frame")
    );
    env.cmd().args(["--quiet", "get", "trading_state/state"]).assert().success().stderr("");
    env.cmd()
        .args(["cat", "trading_state/state"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("--managed cat state"));
}

fn listings_are_aligned_and_stream_as_json_lines(backend: Backend) {
    let env = Env::new(backend);
    env.cmd().args(["put", "a/one"]).write_stdin("1").assert().success();
    env.cmd().args(["put", "a/two"]).write_stdin(vec![b'2'; 2048]).assert().success();
    let out = env.stdout(&["ls", "--long"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].contains("SIZE") && lines[0].contains("MODIFIED") && lines[0].ends_with("KEY"), "{out}");
    let key_col = lines[0].find("KEY").unwrap();
    assert!(lines.iter().skip(1).all(|l| l[key_col..].starts_with("a/")), "{out}");
    assert!(lines[2].contains("2.0 KiB"), "{out}");
    let out = env.cmd().args(["--json", "ls", "a/"]).assert().success().get_output().stdout.clone();
    let rows = json_lines(&out);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["key"], "a/two");
    assert_eq!(rows[1]["size"], 2048);
    assert!(rows[1]["modified"].as_str().unwrap().ends_with('Z'));
    env.cmd().args(["ls", "nothing/"]).assert().success().stdout("");
}

#[test]
fn s3_credentials_refused_is_a_permission_error() {
    let url = cli_support::s3_url(&format!("cli-{}", cli_support::unique()));
    let (base, query) = url.split_once('?').unwrap();
    let query: Vec<String> = query
        .split('&')
        .map(|kv| if kv.starts_with("secret_access_key=") { "secret_access_key=wrong".to_string() } else { kv.into() })
        .collect();
    let wrong = format!("{base}?{}", query.join("&"));
    let mut cmd = Command::cargo_bin("objstore").unwrap();
    cmd.args(["--store", &wrong, "put", "k"])
        .write_stdin("v")
        .assert()
        .code(6)
        .stderr(predicate::str::starts_with("objstore: error: ").and(predicate::str::contains("credentials")));
}

#[test]
fn storage_unreachable_is_exit_8() {
    // Nothing listens on port 1.
    let url = "s3://bucket/p?endpoint=http://127.0.0.1:1&allow_http=true&access_key_id=a&secret_access_key=b&region=us-east-1";
    let mut cmd = Command::cargo_bin("objstore").unwrap();
    cmd.args(["--store", url, "ls"]).assert().code(8).stderr(predicate::str::contains("reachable"));
}

#[test]
fn a_folder_the_user_cannot_write_is_a_permission_error() {
    let dir = tempfile::tempdir().unwrap();
    // Root writes anywhere a mode allows; the kernel's own folders refuse even root.
    let is_root = std::process::Command::new("id").arg("-u").output().unwrap().stdout.starts_with(b"0\n");
    let store = if is_root {
        "file:///sys/kernel/objstore-cli-test".to_string()
    } else {
        use std::os::unix::fs::PermissionsExt;
        let locked = dir.path().join("locked");
        std::fs::create_dir(&locked).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o500)).unwrap();
        format!("file://{}", locked.join("store").display())
    };
    let mut cmd = Command::cargo_bin("objstore").unwrap();
    cmd.args(["--store", &store, "put", "k"]).write_stdin("v").assert().code(6);
}

#[test]
fn conflicts_between_objects_and_folders_exit_7() {
    let env = Env::local();
    env.cmd().args(["put", "a"]).write_stdin("x").assert().success();
    env.cmd().args(["put", "a/b"]).write_stdin("y").assert().code(7).stderr(predicate::str::contains("'a'"));
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

#[test]
fn every_command_has_help_a_new_user_can_follow() {
    let env = Env::local();
    let top = env.stdout(&["--help"]);
    for needle in ["Plain mode", "Managed mode", "Examples:", "Exit codes:", "OBJSTORE_URL", "RUST_LOG"] {
        assert!(top.contains(needle), "--help lacks {needle}:\n{top}");
    }
    let commands = [
        "put",
        "get",
        "cat",
        "exists",
        "rm",
        "ls",
        "path",
        "usage",
        "meta",
        "stats",
        "report",
        "health",
        "cleanup",
        "suggest",
        "monitor",
        "completions",
        "import",
        "export",
        "copy",
    ];
    for command in commands {
        assert!(top.contains(&format!("  {command} ")), "--help does not list {command}");
        let help = env.stdout(&[command, "--help"]);
        assert!(help.contains(&format!("Usage: objstore {command}")), "{command} --help:\n{help}");
        assert!(help.contains("--store <URL>"), "{command} --help lacks the global options:\n{help}");
    }
    for (command, needle) in [
        ("put", "Examples:"),
        ("put", "--expire-days"),
        ("ls", "--category"),
        ("health", "20 warning, 21 critical, 22 full"),
        ("monitor", "--interval"),
        ("cleanup", "--dry-run"),
        ("completions", "bash"),
        ("meta", "default settings"),
    ] {
        assert!(env.stdout(&[command, "--help"]).contains(needle), "{command} --help lacks {needle}");
    }
    env.cmd().arg("--version").assert().success().stdout(predicate::str::starts_with("objstore "));
    // No command: usage on stderr, exit 2.
    env.cmd().assert().code(2).stderr(predicate::str::contains("Usage: objstore"));
}

#[test]
fn completions_for_bash_and_others() {
    let env = Env::local();
    let bash = env.stdout(&["completions", "bash"]);
    assert!(bash.contains("_objstore()") && bash.contains("complete -F _objstore"), "{bash}");
    for command in ["put", "cleanup", "monitor", "--dry-run", "--expire-days"] {
        assert!(bash.contains(command), "bash completions lack {command}");
    }
    // The script is valid bash.
    let check = std::process::Command::new("bash").args(["-n", "-c", &bash]).status().unwrap();
    assert!(check.success());
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        assert!(env.stdout(&["completions", shell]).contains("objstore"), "{shell}");
    }
    env.cmd().args(["completions", "tcsh"]).assert().code(2);
}

#[test]
fn rust_log_turns_on_tracing_on_stderr() {
    let env = Env::local();
    env.cmd().args(["put", "k"]).write_stdin("v").assert().success().stderr("");
    env.cmd()
        .env("RUST_LOG", "objstore=debug")
        .args(["ls"])
        .assert()
        .success()
        .stdout("k\n")
        .stderr(predicate::str::contains("DEBUG").and(predicate::str::contains("opening store")));
    // The store's URL is logged with its credentials masked.
    let s3 = Env::s3();
    let out = s3.cmd().env("RUST_LOG", "objstore=debug").arg("ls").assert().success().get_output().stderr.clone();
    let text = String::from_utf8(out).unwrap();
    let secret = s3.url.split("secret_access_key=").nth(1).unwrap().split('&').next().unwrap();
    assert!(text.contains("opening store s3://") && text.contains("secret_access_key=***"), "{text}");
    assert!(!text.contains(secret), "{text}");
    // Not a terminal: no colour codes.
    let out = env.cmd().env("RUST_LOG", "debug").arg("ls").assert().success().get_output().stderr.clone();
    assert!(!out.contains(&0x1b), "{}", String::from_utf8_lossy(&out));
}
