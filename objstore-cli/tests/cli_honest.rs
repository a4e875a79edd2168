//! The command never misleads (issue 14, section 4), tried as a new user tries it: reads never
//! create a store, suggested commands act on the same store, suggestions name only what is
//! needed, `export DIR --prefix P`, a copy onto itself is refused, `memory://` says that it
//! forgets, URL mistakes get a useful answer, the stored key is what `--json` prints, bad values
//! get the project's own messages and exit codes, and the small words and numbers read right.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod cli_support;

use std::path::Path;

use assert_cmd::Command;
use cli_support::{Env, parse_json};
use predicates::prelude::*;

/// The command with no store, settings or tracing from outside, in `dir`.
fn objstore(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("objstore").unwrap();
    cmd.env_remove("OBJSTORE_URL").env_remove("OBJSTORE_SETTINGS").env_remove("RUST_LOG");
    cmd.env("XDG_CACHE_HOME", dir.join("cache")).env_remove("OBJSTORE_STAGING_DIR");
    cmd.current_dir(dir);
    cmd
}

fn stderr_of(cmd: &mut Command) -> String {
    String::from_utf8(cmd.output().unwrap().stderr).unwrap()
}

// ----- reads never create a store ------------------------------------------------------------

#[test]
fn read_commands_never_create_a_store_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nonexistent/x/y");
    let url = format!("file://{}", missing.display());
    let out = tmp.path().join("out");
    let reads: Vec<Vec<&str>> = vec![
        vec!["ls"],
        vec!["ls", "--long"],
        vec!["--managed", "ls"],
        vec!["get", "k"],
        vec!["cat", "k"],
        vec!["exists", "k"],
        vec!["usage"],
        vec!["stats"],
        vec!["report"],
        vec!["health"],
        vec!["meta", "k"],
        vec!["suggest"],
        vec!["rm", "k"],
        vec!["cleanup"],
        vec!["export", out.to_str().unwrap()],
        vec!["copy", url.as_str(), "memory://"],
    ];
    for args in &reads {
        objstore(tmp.path()).args(["--store", &url]).args(args).assert().code(9).stdout("").stderr(
            predicate::str::starts_with(format!(
                "objstore: error: the store folder {} does not exist",
                missing.display()
            ))
            .and(predicate::str::contains("hint: ")),
        );
        assert!(!tmp.path().join("nonexistent").exists(), "`objstore {}` created the store folder", args.join(" "));
    }
    // The environment's store is no different.
    objstore(tmp.path()).env("OBJSTORE_URL", &url).arg("health").assert().code(9);
    assert!(!tmp.path().join("nonexistent").exists());

    // A file where the store folder should be.
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    for args in [&["ls"][..], &["health"], &["put", "k"]] {
        objstore(tmp.path())
            .args(["--store", &format!("file://{}", file.display())])
            .args(args)
            .write_stdin("v")
            .assert()
            .code(9)
            .stderr(predicate::str::contains("not a folder"));
    }

    // Writes create it.
    objstore(tmp.path()).args(["--store", &url, "put", "k"]).write_stdin("v").assert().success();
    assert_eq!(std::fs::read(missing.join("k")).unwrap(), b"v");
    objstore(tmp.path()).args(["--store", &url, "cat", "k"]).assert().success().stdout("v");
    let imported = tmp.path().join("imported");
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("f"), "f").unwrap();
    objstore(tmp.path())
        .args(["--store", &format!("file://{}", imported.display()), "-q", "import"])
        .arg(&src)
        .assert()
        .success();
    assert!(imported.join("f").is_file());
    let copied = tmp.path().join("copied");
    objstore(tmp.path()).args(["-q", "copy", &url, &format!("file://{}", copied.display())]).assert().success();
    assert!(copied.join("k").is_file());
}

// ----- suggested commands act on the same store --------------------------------------------

/// Every `run:` line of `suggest` and every hint, pasted into a shell elsewhere (no
/// OBJSTORE_URL, another working folder), acts on the store and settings the command was given.
#[test]
fn run_lines_and_hints_repeat_the_store_and_the_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let store_dir = tmp.path().join("my store");
    let url = format!("file://{}", store_dir.display());
    let settings = tmp.path().join("settings 1.json");
    std::fs::write(&settings, r#"{"max_files": 10}"#).unwrap();
    let put = |key: &str, expire: &str| {
        objstore(tmp.path())
            .args(["--store", &url])
            .arg("--settings")
            .arg(&settings)
            .args(["put", "--category", "llm_cache", "--expire-days", expire, key])
            .write_stdin("x")
            .assert()
            .success();
    };
    put("stale", "0");
    for i in 0..8 {
        put(&format!("live/{i}"), "30");
    }

    // Given by flags, and given by the environment: the same lines.
    let by_flags = {
        let mut cmd = objstore(tmp.path());
        cmd.args(["--store", &url]).arg("--settings").arg(&settings).arg("suggest");
        String::from_utf8(cmd.assert().success().get_output().stdout.clone()).unwrap()
    };
    let by_env = {
        let mut cmd = objstore(tmp.path());
        cmd.env("OBJSTORE_URL", &url).env("OBJSTORE_SETTINGS", &settings).arg("suggest");
        String::from_utf8(cmd.assert().success().get_output().stdout.clone()).unwrap()
    };
    assert_eq!(by_flags, by_env);
    let runs: Vec<&str> = by_flags.lines().filter_map(|l| l.trim().strip_prefix("run: ")).collect();
    assert!(runs.len() >= 2, "{by_flags}");
    let quoted_store = format!("--store '{url}'");
    let quoted_settings = format!("--settings '{}'", settings.display());
    for run in &runs {
        assert!(run.contains(&quoted_store) && run.contains(&quoted_settings), "{run}");
    }

    // Pasted elsewhere, the cleanup line cleans this store up.
    let elsewhere = tempfile::tempdir().unwrap();
    let cleanup = runs.iter().find(|r| r.ends_with(" cleanup")).expect("a cleanup line");
    paste(elsewhere.path(), cleanup);
    assert!(!store_dir.join("llm_cache/stale").exists(), "the pasted cleanup acted elsewhere");
    assert!(!elsewhere.path().join("storage").exists());

    // Hints: a missing key's hint lists this store.
    let err = stderr_of(objstore(tmp.path()).args(["--store", &url, "cat", "missing"]));
    let hint = err.lines().find_map(|l| l.strip_prefix("hint: ")).unwrap_or_else(|| panic!("{err}"));
    assert!(hint.contains(&format!("`objstore {quoted_store} ls`")), "{err}");
    // A plain key the manager holds: the managed command with this store.
    let err = stderr_of(objstore(tmp.path()).args(["--store", &url, "get", "live/0"]));
    assert!(err.contains(&format!("`objstore {quoted_store} --managed get live/0`")), "{err}");
    // Managed mode from the environment's settings: plain mode must say to drop them.
    std::fs::write(store_dir.join("plain.txt"), "p").unwrap();
    let err = stderr_of(
        objstore(tmp.path()).env("OBJSTORE_URL", &url).env("OBJSTORE_SETTINGS", &settings).args(["get", "plain.txt"]),
    );
    let hint = err.lines().find_map(|l| l.strip_prefix("hint: ")).unwrap_or_else(|| panic!("{err}"));
    assert!(hint.contains(&format!("OBJSTORE_SETTINGS= objstore {quoted_store} get plain.txt")), "{err}");
    let line = hint.split('`').nth(1).unwrap();
    let out = paste(elsewhere.path(), line);
    assert_eq!(out, "p");
}

/// Runs a command line printed by objstore in `dir`, with the built binary for `objstore`.
fn paste(dir: &Path, line: &str) -> String {
    let bin = assert_cmd::cargo::cargo_bin("objstore");
    let line = line.replacen("objstore ", &format!("'{}' ", bin.display()), 1);
    let out = std::process::Command::new("bash")
        .args(["-c", &line])
        .current_dir(dir)
        .env_remove("OBJSTORE_URL")
        .env("OBJSTORE_SETTINGS", dir.join("elsewhere.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{line}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

// ----- suggest names only what is needed ---------------------------------------------------

#[test]
fn suggest_names_only_enough_of_the_oldest_objects() {
    let env = Env::local();
    // 8 of 10 files is the warning threshold (80 %); deleting the oldest one is enough.
    let s = env.settings(r#"{"max_files": 10}"#);
    let s = s.to_str().unwrap();
    for i in 0..8 {
        env.cmd().args(["--settings", s, "put", &format!("k{i}")]).write_stdin("x").assert().success();
    }
    let v = env.json(&["--settings", s, "suggest"]);
    let actions = v["actions"].as_array().unwrap();
    let oldest = actions.iter().find(|a| a["action"] == "delete_oldest").unwrap_or_else(|| panic!("{v}"));
    assert_eq!(oldest["keys"], serde_json::json!(["k0"]), "{v}");
    // max_files was set in the settings: a larger tier would not raise it.
    let upgrade = actions.iter().find(|a| a["action"] == "upgrade_tier").unwrap_or_else(|| panic!("{v}"));
    let reason = upgrade["reason"].as_str().unwrap();
    assert!(!reason.contains("tier") && reason.contains("max_files"), "{reason}");
    let human = env.stdout(&["--settings", s, "suggest"]);
    assert!(!human.contains("set \"tier\""), "{human}");

    // From a tier: the next tier is named.
    let tiered = env.settings(r#"{"tier": "free", "max_file_size_mb": 45}"#);
    for (seed, key) in [(1, "a"), (2, "b")] {
        let big = cli_support::noise(21 << 20, seed);
        env.cmd().args(["--settings", tiered.to_str().unwrap(), "put", key]).write_stdin(big).assert().success();
    }
    let v = env.json(&["--settings", tiered.to_str().unwrap(), "suggest"]);
    let actions = v["actions"].as_array().unwrap();
    let upgrade = actions.iter().find(|a| a["action"] == "upgrade_tier").unwrap_or_else(|| panic!("{v}"));
    assert!(upgrade["reason"].as_str().unwrap().contains("2GB"), "{v}");
}

// ----- export DIR --prefix P ----------------------------------------------------------------

#[test]
fn export_takes_a_folder_and_prefix_means_one_thing() {
    let env = Env::local();
    for key in ["d01/a", "d01/sub/b", "d012/c", "other"] {
        env.cmd().args(["put", key]).write_stdin(key).assert().success();
    }
    let help = env.stdout(&["export", "--help"]);
    assert!(help.contains("Usage: objstore export [OPTIONS] <DIR>"), "{help}");
    // `export d01/` is a folder: everything goes there.
    env.cmd().args(["-q", "export", "d01/"]).assert().success();
    let d01 = env.dir.path().join("d01");
    assert!(d01.join("d01/a").is_file() && d01.join("other").is_file());
    // --prefix names a folder of the store, in import, export and copy alike.
    let out = env.dir.path().join("out");
    env.cmd().args(["-q", "export", out.to_str().unwrap(), "--prefix", "d01"]).assert().success();
    assert_eq!(std::fs::read(out.join("a")).unwrap(), b"d01/a");
    assert_eq!(std::fs::read(out.join("sub/b")).unwrap(), b"d01/sub/b");
    assert!(!out.join("2").exists() && !out.join("c").exists() && !out.join("other").exists());
    let copy = format!("file://{}", env.dir.path().join("copy").display());
    env.cmd().args(["-q", "copy", &env.url, &copy, "--prefix", "d01"]).assert().success();
    let copied = env.dir.path().join("copy");
    assert!(copied.join("d01/a").is_file() && copied.join("d01/sub/b").is_file());
    assert!(!copied.join("d012").exists(), "copy --prefix d01 took d012/ too");
    env.cmd().args(["-q", "import", out.to_str().unwrap(), "--prefix", "again"]).assert().success();
    env.cmd().args(["ls", "again/"]).assert().success().stdout("again/a\nagain/sub/b\n");
}

// ----- copy onto itself ---------------------------------------------------------------------

#[test]
fn a_copy_onto_the_same_or_an_overlapping_store_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let url = format!("file://{}", store.display());
    objstore(tmp.path()).args(["--store", &url, "put", "k"]).write_stdin("v").assert().success();
    std::os::unix::fs::symlink(&store, tmp.path().join("link")).unwrap();
    for dst in [
        format!("file://{}/./", store.display()),
        format!("file://{}", tmp.path().join("link").display()),
        "file://store".to_string(),
        format!("{}/", store.display()),
        format!("file://{}/sub", store.display()),
    ] {
        objstore(tmp.path())
            .args(["copy", &url, &dst])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("same store").or(predicate::str::contains("inside")));
    }
    assert!(!store.join("sub").exists() && !store.join("k/k").exists());
    let listing = std::fs::read_dir(&store).unwrap().map(|e| e.unwrap().file_name()).collect::<Vec<_>>();
    assert_eq!(listing.iter().filter(|n| !n.to_string_lossy().starts_with(".objstore")).count(), 1);
}

// ----- memory:// ------------------------------------------------------------------------------

#[test]
fn memory_stores_say_they_end_with_the_command() {
    let tmp = tempfile::tempdir().unwrap();
    objstore(tmp.path())
        .args(["--store", "memory://", "put", "k"])
        .write_stdin("v")
        .assert()
        .success()
        .stderr(predicate::str::starts_with("note: ").and(predicate::str::contains("only as long as")));
    objstore(tmp.path())
        .args(["--store", "memory://", "-q", "put", "k"])
        .write_stdin("v")
        .assert()
        .success()
        .stderr("");
    objstore(tmp.path()).args(["--store", "memory://", "ls"]).assert().success().stderr("");
    objstore(tmp.path())
        .args(["--store", "memory://", "path", "k"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("memory://"));
    assert!(!tmp.path().join("cache").exists(), "`path` on memory:// made a staging folder");
}

// ----- URL mistakes ---------------------------------------------------------------------------

#[test]
fn url_mistakes_get_a_useful_answer() {
    let tmp = tempfile::tempdir().unwrap();
    objstore(tmp.path())
        .args(["--store", "fil://x", "ls"])
        .assert()
        .code(9)
        .stderr(predicate::str::contains("did you mean file://").and(predicate::str::contains("feature").not()));
    // A bare path and file:PATH are folders.
    let bare = tmp.path().join("bare");
    objstore(tmp.path()).args(["--store", bare.to_str().unwrap(), "put", "k"]).write_stdin("1").assert().success();
    assert!(bare.join("k").is_file());
    objstore(tmp.path()).args(["--store", "file:relative", "put", "k"]).write_stdin("2").assert().success();
    assert!(tmp.path().join("relative/k").is_file());
    let abs = tmp.path().join("abs");
    objstore(tmp.path())
        .args(["--store", &format!("file:{}", abs.display()), "put", "k"])
        .write_stdin("3")
        .assert()
        .success();
    assert!(abs.join("k").is_file());
    objstore(tmp.path()).args(["--store", "rel2", "put", "k"]).write_stdin("4").assert().success();
    assert!(tmp.path().join("rel2/k").is_file());
    // Scheme case and missing credentials: a hint about credentials, not about the endpoint.
    let err = stderr_of(
        objstore(tmp.path())
            .args(["--store", "S3://b", "ls"])
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
            .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
            .env("AWS_METADATA_ENDPOINT", "http://127.0.0.1:1")
            .env("AWS_ENDPOINT", "http://127.0.0.1:1")
            .env("AWS_ALLOW_HTTP", "true"),
    );
    assert!(err.contains("credentials") && !err.contains("check that the endpoint is up"), "{err}");
}

// ----- what --json prints -----------------------------------------------------------------------

#[test]
fn json_put_prints_the_stored_key() {
    let env = Env::local();
    let v = env.json(&["put", "/abs2"]);
    assert_eq!(v, serde_json::json!({"key": "abs2", "size": 0}));
    env.cmd().args(["ls"]).assert().stdout("abs2\n");
    assert_eq!(env.json(&["exists", "./abs2"]), serde_json::json!({"key": "abs2", "exists": true}));
    assert_eq!(env.json(&["rm", "//abs2"]), serde_json::json!({"deleted": ["abs2"], "not_found": []}));
}

// ----- bad values -------------------------------------------------------------------------------

#[test]
fn bad_values_get_the_projects_messages_and_exit_codes() {
    use std::os::unix::ffi::OsStrExt;
    let env = Env::local();
    let key = std::ffi::OsStr::from_bytes(b"bad\xffkey");
    for command in ["put", "get", "cat", "exists", "meta", "rm"] {
        env.cmd().arg(command).arg(key).write_stdin("v").assert().code(4).stderr(
            predicate::str::starts_with("objstore: error: invalid key 'bad\u{fffd}key'")
                .and(predicate::str::contains("UTF-8")),
        );
    }
    for (value, needle) in [("-1", "-1"), ("abc", "abc")] {
        let err = stderr_of(env.cmd().args(["put", "k", "--expire-days", value]).write_stdin("v"));
        assert!(err.starts_with("objstore: error: --expire-days") && err.contains(needle), "{err}");
        assert!(!err.contains("-- -1") && !err.contains("tip:"), "{err}");
        env.cmd().args(["put", "k", "--expire-days", value]).write_stdin("v").assert().code(4);
    }
    env.cmd().args(["exists", "k"]).assert().code(1);
}

// ----- words and numbers ---------------------------------------------------------------------

#[test]
fn plurals_separators_help_completion_and_escaped_names_read_right() {
    let env = Env::local();
    env.cmd().args(["put", "k"]).write_stdin("12345").assert().success();
    env.cmd().arg("usage").assert().success().stdout("5 B in 1 object\n");
    let src = env.dir.path().join("many");
    std::fs::create_dir(&src).unwrap();
    for i in 0..1233 {
        std::fs::write(src.join(format!("f{i}")), "").unwrap();
    }
    env.cmd().args(["-q", "import"]).arg(&src).assert().success();
    env.cmd().arg("usage").assert().success().stdout("5 B in 1,234 objects\n");

    // Expired objects and problems: plural and singular.
    let s = env.settings("{}");
    let s = s.to_str().unwrap();
    env.cmd().args(["--settings", s, "put", "--expire-days", "0", "old"]).write_stdin("x").assert().success();
    let human = env.stdout(&["--settings", s, "suggest"]);
    assert!(human.starts_with("1. cleanup_expired: 1 object has expired"), "{human}");

    // `[env: NAME=]` is not shown as if the variable were set to an empty value.
    let help = env.cmd().env_remove("OBJSTORE_STAGING_DIR").args(["path", "--help"]).output().unwrap().stdout;
    let help = String::from_utf8(help).unwrap();
    assert!(help.contains("OBJSTORE_STAGING_DIR") && !help.contains("OBJSTORE_STAGING_DIR="), "{help}");

    // Bash completes --category with categories, not with file names.
    let script = env.stdout(&["completions", "bash"]);
    std::fs::write(env.dir.path().join("a-file-name"), "").unwrap();
    for words in ["objstore ls --category ''", "objstore put --category ''"] {
        let line = format!(
            "source /dev/stdin; COMP_WORDS=({words}); COMP_CWORD=3; COMP_LINE='{words}'; \
             _objstore objstore '' --category; printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        let out = std::process::Command::new("bash")
            .args(["-c", &line])
            .current_dir(env.dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(script.as_bytes())?;
                child.wait_with_output()
            })
            .unwrap();
        let offered = String::from_utf8(out.stdout).unwrap();
        assert!(offered.contains("trading_state") && offered.contains("llm_cache"), "{words}: {offered}");
        assert!(!offered.contains("a-file-name"), "{words}: {offered}");
    }

    // A control character in a file name is escaped in the import's error line.
    let odd = env.dir.path().join("odd");
    std::fs::create_dir(&odd).unwrap();
    std::fs::write(odd.join("red\u{1b}[31mname\\x"), "x").unwrap();
    std::fs::write(odd.join("fine.txt"), "y").unwrap();
    let out = env.cmd().args(["import"]).arg(&odd).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("objstore: error: ") && err.contains("red\\u{1b}[31mname"), "{err:?}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
    let v = parse_json(&env.cmd().args(["--json", "import"]).arg(&odd).output().unwrap().stdout);
    assert_eq!(v["objects_rejected"], 1);
}
