//! Every task answers `--help` and `-h` with its usage, at once, doing nothing else (issue 14: `cargo
//! xtask bench --help` used to run the whole 20-minute benchmark).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TASKS: [&str; 6] = ["test", "lint", "bench", "servers", "fuzz", "soak"];

/// Runs xtask with `args`; kills it (and fails) when it has not finished within 20 s.
fn run(args: &[&str]) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`cargo xtask {}` did not answer within 20 s: it ran the task", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn every_task_answers_help_with_its_usage() {
    for task in TASKS {
        for flag in ["--help", "-h"] {
            let (ok, text) = run(&[task, flag]);
            assert!(ok, "`cargo xtask {task} {flag}` failed: {text}");
            assert!(text.starts_with(&format!("usage: cargo xtask {task}")), "{task} {flag}: {text}");
        }
    }
    let (ok, text) = run(&["--help"]);
    assert!(ok && TASKS.iter().all(|t| text.contains(t)), "{text}");
    let (ok, text) = run(&["help", "bench"]);
    assert!(ok && text.starts_with("usage: cargo xtask bench"), "{text}");
}
