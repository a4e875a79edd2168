//! The Python package `objstore` (objstore-py): its virtual environment, build, tests and bench.
//!
//! The environment lives in `target/objstore-py/venv` with pinned packages from PyPI (pytest,
//! pandas, pyarrow, fsspec, joblib; the bench's peers obstore, s3fs and boto3). The package is
//! installed into it exactly as a user installs it, `pip install ./objstore-py` (maturin from
//! PyPI builds the Rust extension in release mode), so every test run checks that path too.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Pinned packages of the Python tests and bench.
pub const REQUIREMENTS: &[&str] = &[
    "pytest==9.2.0",
    "numpy==2.3.5",
    "pandas==2.3.3",
    "pyarrow==23.0.1",
    "fsspec==2026.9.0",
    "joblib==1.6.0",
    "obstore==0.12.1",
    "s3fs==2026.9.0",
    "boto3==1.43.117",
];

/// The environment's paths.
pub struct Venv {
    /// Its Python.
    pub python: PathBuf,
}

/// Creates the environment and installs the pinned packages, unless already done.
pub fn ensure(root: &Path) -> Result<Venv, String> {
    let dir = root.join("target").join("objstore-py");
    let venv = dir.join("venv");
    let python = venv.join("bin").join("python");
    let marker = dir.join("installed.txt");
    let wanted = REQUIREMENTS.join("\n");
    if std::fs::read_to_string(&marker).unwrap_or_default() == wanted && python.is_file() {
        return Ok(Venv { python });
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    if !python.is_file() {
        eprintln!("xtask: creating a Python virtualenv in {}", venv.display());
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv), "python3 -m venv")?;
    }
    eprintln!("xtask: installing {} (PyPI)", REQUIREMENTS.join(", "));
    run(
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
            .args(REQUIREMENTS),
        "pip install",
    )?;
    std::fs::write(&marker, wanted).map_err(|e| format!("cannot write {}: {e}", marker.display()))?;
    Ok(Venv { python })
}

/// Builds and installs the package as a user does: `pip install ./objstore-py`.
pub fn install(root: &Path, venv: &Venv) -> Result<(), String> {
    eprintln!("xtask: pip install ./objstore-py (maturin, release build of the extension)");
    run(
        Command::new(&venv.python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--force-reinstall", "--no-deps"])
            .arg("./objstore-py")
            .current_dir(root),
        "pip install ./objstore-py",
    )
}

/// Runs the pytest suite with `env` (the S3 servers' URLs).
pub fn test(env: &[(String, String)]) -> Result<(), String> {
    let root = crate::root();
    let venv = ensure(&root)?;
    install(&root, &venv)?;
    eprintln!("xtask: pytest objstore-py/tests");
    run(
        Command::new(&venv.python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "objstore-py/tests"])
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(&root),
        "pytest objstore-py/tests",
    )
}

/// Runs the Python bench (`objstore-py/bench/bench.py`) with `env` and `args`.
pub fn bench(env: &[(String, String)], args: &[String]) -> Result<(), String> {
    let root = crate::root();
    let venv = ensure(&root)?;
    install(&root, &venv)?;
    run(
        Command::new(&venv.python)
            .arg("objstore-py/bench/bench.py")
            .args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(&root),
        "objstore-py/bench/bench.py",
    )
}

fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let status = command.status().map_err(|e| format!("cannot run {what}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{what} failed ({status})")) }
}
