//! The developer's automation: `cargo xtask <task>`.
//!
//! - `test`: every test of the workspace, with every feature (what CI runs).
//! - `lint`: `cargo fmt --check`, clippy with warnings as errors, docs with warnings as errors.
//! - `bench [ARGS]`: the benchmark table (each figure beside its floor measured in the same run);
//!   `--quick` for fewer repetitions, `--only NAME` for one group.

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(task) = args.first() else {
        eprintln!("usage: cargo xtask <test|lint|bench> [args]");
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    let result = match task.as_str() {
        "test" => test(rest),
        "lint" => lint(),
        "bench" => bench(rest),
        other => Err(format!("unknown task '{other}'; the tasks are test, lint, bench")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `cargo` with `args` (and extra environment), failing when it fails.
fn cargo(args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    eprintln!("xtask: cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .envs(env.iter().copied())
        .status()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("cargo {} failed ({status})", args.join(" "))) }
}

fn test(extra: &[String]) -> Result<(), String> {
    let mut args = vec!["test", "--workspace", "--all-features", "--locked"];
    args.extend(extra.iter().map(String::as_str));
    cargo(&args, &[])
}

fn lint() -> Result<(), String> {
    cargo(&["fmt", "--all", "--", "--check"], &[])?;
    cargo(&["clippy", "--workspace", "--all-targets", "--all-features", "--locked", "--", "-D", "warnings"], &[])?;
    cargo(&["doc", "--workspace", "--no-deps", "--all-features", "--locked"], &[("RUSTDOCFLAGS", "-D warnings")])
}

fn bench(extra: &[String]) -> Result<(), String> {
    let mut args = vec!["bench", "--locked", "-p", "objstore", "--bench", "store", "--"];
    args.extend(extra.iter().map(String::as_str));
    cargo(&args, &[])
}
