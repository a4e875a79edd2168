//! Secrets stay secret (issue 16, item 1), tried from outside: credentials put in a store URL
//! (the query's `secret_access_key`, `token` and any `*secret*`/`*token*`/`*password*` option, a
//! URL's `user:pass@`) never appear in the command's errors, hints, `run:` lines, `--json`
//! output, or its `RUST_LOG=trace` log, whether the store works, is misconfigured, or cannot be
//! reached.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod cli_support;

use assert_cmd::Command;
use cli_support::{Env, s3_url, unique};

/// The values that must never be shown.
const SECRETS: [&str; 5] = ["SUPERSECRET1", "SESSIONTOKEN2", "PASSWORD3", "USERPASS4", "CUSTOMSECRET5"];

/// Every output of the command, standard output and standard error.
fn everything(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn objstore() -> Command {
    let mut cmd = Command::cargo_bin("objstore").unwrap();
    cmd.env_remove("OBJSTORE_URL").env_remove("OBJSTORE_SETTINGS").env_remove("RUST_LOG");
    cmd
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} shows {secret}:\n{text}");
    }
}

/// A store nobody answers for, with credentials of every kind in its URL.
fn unreachable_with_secrets() -> String {
    "s3://USERNAME:USERPASS4@bucket/p?endpoint=http://127.0.0.1:1&allow_http=true&region=us-east-1\
     &access_key_id=AKIDPUBLIC&secret_access_key=SUPERSECRET1&token=SESSIONTOKEN2&max_retries=0"
        .to_string()
}

#[test]
fn no_credential_reaches_an_error_a_hint_or_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let urls = [
        // A misconfigured store: an unknown option next to the credentials.
        "s3://bucket/p?secret_access_key=SUPERSECRET1&session_token=SESSIONTOKEN2&db_password=PASSWORD3&bogus=1"
            .to_string(),
        "s3://bucket/p?my_custom_secret=CUSTOMSECRET5&timeout=soon&secret_access_key=SUPERSECRET1".to_string(),
        "memory://?secret_access_key=SUPERSECRET1".to_string(),
        "file:///tmp/x?aws_session_token=SESSIONTOKEN2".to_string(),
        // A store that cannot be reached.
        unreachable_with_secrets(),
        "s3://bucket/p?endpoint=http://u:USERPASS4@127.0.0.1:1&allow_http=true&access_key_id=a\
         &secret_access_key=SUPERSECRET1&max_retries=0"
            .to_string(),
        // A scheme nobody registered.
        "nope://USERNAME:USERPASS4@host?password=PASSWORD3".to_string(),
    ];
    for url in &urls {
        for args in [&["ls"][..], &["--json", "ls"], &["put", "k"], &["cat", "k"], &["health"], &["--json", "stats"]] {
            let mut cmd = objstore();
            cmd.current_dir(tmp.path()).args(["--store", url]).args(args).write_stdin("v");
            let text = everything(&mut cmd);
            assert!(text.contains("objstore: error: "), "{url} {args:?}: {text}");
            assert_no_secret(&format!("`objstore --store {url} {}`", args.join(" ")), &text);
            // The same through the environment, and with every log line on.
            let mut cmd = objstore();
            cmd.current_dir(tmp.path()).env("OBJSTORE_URL", url).env("RUST_LOG", "trace").args(args).write_stdin("v");
            assert_no_secret(&format!("RUST_LOG=trace `objstore {}` on {url}", args.join(" ")), &everything(&mut cmd));
        }
        let mut cmd = objstore();
        cmd.current_dir(tmp.path()).args(["--json", "copy", url, "memory://"]);
        assert_no_secret("copy", &everything(&mut cmd));
        let mut cmd = objstore();
        cmd.current_dir(tmp.path()).args(["--json", "copy", "memory://", url]);
        assert_no_secret("copy", &everything(&mut cmd));
    }
}

/// A working store whose URL holds the secret: the data flows, the secret is never printed.
#[test]
fn a_working_store_never_prints_its_credentials() {
    let url = s3_url(&format!("cli-secret-{}", unique()));
    let secret = url.split("secret_access_key=").nth(1).unwrap().split('&').next().unwrap().to_string();
    assert!(secret.len() >= 8, "{url}");
    let env = Env { url: url.clone(), ..Env::local() };
    let settings = env.settings(r#"{"max_files": 10}"#);
    let check = |what: &str, cmd: &mut Command| {
        let text = everything(cmd);
        assert!(!text.contains(&secret), "{what} shows the secret key:\n{text}");
        text
    };
    env.cmd().args(["put", "--category", "llm_cache", "--expire-days", "0", "old"]).write_stdin("x").assert().success();
    for i in 0..8 {
        env.cmd().args(["--managed", "put", &format!("k{i}")]).write_stdin("x").assert().success();
    }
    for args in [
        &["--store", url.as_str(), "cat", "missing"][..],
        &["--store", url.as_str(), "get", "k0"],
        &["--store", url.as_str(), "--json", "ls", "--long"],
        &["--store", url.as_str(), "--managed", "--json", "ls"],
        &["--store", url.as_str(), "--settings", settings.to_str().unwrap(), "suggest"],
        &["--store", url.as_str(), "--settings", settings.to_str().unwrap(), "--json", "suggest"],
        &["--store", url.as_str(), "--settings", settings.to_str().unwrap(), "--json", "stats"],
        &["--store", url.as_str(), "--json", "copy", url.as_str(), "memory://"],
        &["--store", url.as_str(), "--json", "path", "k0"],
    ] {
        let text = check(&args.join(" "), env.cmd().args(args).env("RUST_LOG", "trace"));
        assert!(!text.contains("panicked"), "{text}");
    }
    // Hints and run: lines still name the store, with the secret masked.
    let text = check("suggest", env.cmd().args(["--store", &url, "--settings", settings.to_str().unwrap(), "suggest"]));
    assert!(text.contains("run: objstore --store 's3://") && text.contains("secret_access_key=***"), "{text}");
    // Given by the environment, a hint refers to the variable rather than masking the key.
    let text = check("hint", env.cmd().env("OBJSTORE_URL", &url).args(["cat", "missing"]));
    assert!(text.contains("objstore --store \"$OBJSTORE_URL\" ls"), "{text}");
}

/// Credentials that the server refuses: the error says so and names no secret.
#[test]
fn refused_credentials_are_named_but_not_shown() {
    let url = s3_url(&format!("cli-refused-{}", unique()));
    let wrong = url.replace("secret_access_key=", "secret_access_key=SUPERSECRET1");
    let mut cmd = objstore();
    cmd.args(["--store", &wrong, "put", "k"]).env("RUST_LOG", "trace").write_stdin("v");
    let out = cmd.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(6), "{text}");
    assert_no_secret("refused credentials", &text);
}
