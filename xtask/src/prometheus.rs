//! Prometheus's `promtool` and `prometheus` binaries, from Debian's `prometheus` package.
//!
//! `cargo xtask test` looks both up before the tests and hands their paths to them
//! (`OBJSTORE_TEST_PROMTOOL`, `OBJSTORE_TEST_PROMETHEUS`: `store-monitor`'s `tests/prometheus.rs`
//! lints the exposition with `promtool check metrics` and has a real Prometheus scrape the
//! monitor); after the tests it runs `promtool check rules` and `promtool test rules` on
//! `deploy/prometheus/alerts.yml` and `deploy/prometheus/alerts_test.yml`. The binaries are looked
//! up on `PATH` (and in `/usr/bin`, where the package puts them); when one is missing, the package
//! is installed with `apt-get`, which needs root. On a host running systemd the package also
//! enables and starts a `prometheus` service (port 9090); in a container without an init system it
//! stays stopped. The tests never use that service: they start their own `prometheus` on a free
//! loopback port.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The Debian (and Ubuntu) package that provides both `promtool` and `prometheus`.
pub const PACKAGE: &str = "prometheus";

/// Folders searched after `PATH`: where the Debian package installs the binaries.
const FALLBACK_DIRS: &[&str] = &["/usr/bin"];

/// What to tell the user when the binaries cannot be installed automatically.
const HINT: &str = "install Debian's `prometheus` package yourself (`sudo apt-get install prometheus`), or \
                    download Prometheus 2.x from https://prometheus.io/download/ and put `promtool` and \
                    `prometheus` on PATH";

/// Returns the path of `promtool`, installing Debian's `prometheus` package when it is not on
/// `PATH`.
///
/// The install runs `apt-get install -y --no-install-recommends prometheus` with
/// `DEBIAN_FRONTEND=noninteractive`, and `apt-get update` followed by a second install only when
/// the first one fails (stale or missing package lists). The error says what to install when
/// neither the lookup nor the install succeeds.
pub fn ensure_promtool() -> Result<PathBuf, String> {
    ensure("promtool")
}

/// Returns the path of the `prometheus` server binary, installing Debian's `prometheus` package
/// (the same package as `promtool`, the same way as [`ensure_promtool`]) when it is not on `PATH`.
pub fn ensure_prometheus() -> Result<PathBuf, String> {
    ensure("prometheus")
}

/// Finds `name`, installing the package if it is missing.
fn ensure(name: &str) -> Result<PathBuf, String> {
    if let Some(path) = locate(name) {
        return Ok(path);
    }
    install(name, PACKAGE)?;
    locate(name)
        .ok_or_else(|| format!("`{name}` is still not found after installing Debian's `{PACKAGE}` package; {HINT}"))
}

/// Looks `name` up on `PATH`, then in [`FALLBACK_DIRS`].
fn locate(name: &str) -> Option<PathBuf> {
    on_path(name).or_else(|| {
        FALLBACK_DIRS.iter().map(|dir| Path::new(dir).join(name)).find(|candidate| is_executable(candidate))
    })
}

/// The first executable file called `name` in the folders of `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// Whether `path` is a regular file (after following links) with an execute bit set.
fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Returns the path of `strace` (which the durable-order test runs saves under), installing
/// Debian's `strace` package the same way when it is not on `PATH`.
pub fn ensure_strace() -> Result<PathBuf, String> {
    if let Some(path) = on_path("strace") {
        return Ok(path);
    }
    install("strace", "strace")?;
    on_path("strace")
        .ok_or_else(|| "`strace` is still not found after installing Debian's `strace` package".to_string())
}

/// Installs Debian's `package` with `apt-get`, updating the package lists only if a first install
/// fails. `missing` names the binary that was looked for, for the messages.
fn install(missing: &str, package: &str) -> Result<(), String> {
    let Some(apt) = on_path("apt-get") else {
        return Err(format!("`{missing}` is not on PATH and apt-get is not available to install it; {HINT}"));
    };
    let install_args = ["install", "-y", "--no-install-recommends", package];
    eprintln!("xtask: `{missing}` not found; installing Debian's `{package}` package (apt-get install)");
    let first = apt_get(&apt, &install_args)?;
    if first.status.success() {
        return Ok(());
    }
    if needs_root(&first) {
        return Err(failure("apt-get install", &first, missing));
    }
    eprintln!("xtask: apt-get install failed; running apt-get update and trying again");
    let update = apt_get(&apt, &["update"])?;
    if !update.status.success() {
        return Err(failure("apt-get update", &update, missing));
    }
    let second = apt_get(&apt, &install_args)?;
    if second.status.success() { Ok(()) } else { Err(failure("apt-get install", &second, missing)) }
}

/// Runs `apt-get` non-interactively with `args`, capturing its output.
fn apt_get(apt: &Path, args: &[&str]) -> Result<Output, String> {
    Command::new(apt)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {} {}: {e}", apt.display(), args.join(" ")))
}

/// Whether a failed `apt-get` says it lacks the rights to lock its files (not run as root), which
/// `apt-get update` cannot fix.
fn needs_root(output: &Output) -> bool {
    let stderr = String::from_utf8_lossy(&output.stderr);
    stderr.contains("Permission denied") || stderr.contains("are you root")
}

/// The error for a failed `apt-get` step: its status, the end of its output, and what to do.
fn failure(what: &str, output: &Output, missing: &str) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let text = if stderr.trim().is_empty() { stdout } else { stderr };
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(5)..].join(" | ");
    let root = if needs_root(output) { " (apt-get needs root: run as root or with sudo)" } else { "" };
    format!("{what} failed ({}){root}: {tail}; `{missing}` is needed: {HINT}", output.status)
}
