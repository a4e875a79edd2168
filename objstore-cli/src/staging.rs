//! The staging folder of `objstore path`: where copies of objects that are not local files (S3)
//! go, and stay after the command.
//!
//! Where: `--staging-dir`, `$OBJSTORE_STAGING_DIR`, else `$XDG_CACHE_HOME/objstore/staging/STORE`,
//! else `~/.cache/objstore/staging/STORE`, else (no HOME: cron, services)
//! `$TMPDIR/objstore-UID/staging/STORE`. STORE is the store's URL, redacted and without its
//! query, made into one folder name.
//!
//! Invariants: every folder this module makes is private (0700), made one level at a time, never
//! through a symbolic link; a folder of ours that it finds must be a real folder (not a link)
//! owned by this user and writable by nobody else, or the command refuses to use it (in a shared
//! folder such as /tmp another user can pre-create the name to read or swap the files staged
//! there); one that others may read is made private. A folder given with `--staging-dir` must be
//! owned by this user and writable by nobody else; its missing parts are made private.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::exit::{self, CliResult, Failure};

/// The staging folder for `url`, made and checked: `chosen` (`--staging-dir`) or the default.
pub fn prepare(chosen: Option<PathBuf>, url: &str) -> CliResult<PathBuf> {
    if let Some(dir) = chosen {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| Failure::from(objstore::Error::io(format!("cannot create {}", dir.display()), e)))?;
        let meta = std::fs::metadata(&dir)
            .map_err(|e| Failure::from(objstore::Error::io(format!("cannot read {}", dir.display()), e)))?;
        check(&dir, &meta, false)?;
        return Ok(dir);
    }
    let name = folder_name(url);
    // The same place as `default_dir`, made one level at a time.
    let (base, ours): (PathBuf, Vec<String>) = match cache_home() {
        Some(cache) => {
            // The user's cache folder itself, made private when missing (as XDG asks).
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&cache).map_err(|e| {
                Failure::from(objstore::Error::io(format!("cannot create the cache folder {}", cache.display()), e))
            })?;
            (cache, vec!["objstore".into(), "staging".into(), name])
        }
        None => (
            std::env::temp_dir(),
            vec![format!("objstore-{}", rustix::process::geteuid().as_raw()), "staging".into(), name],
        ),
    };
    let mut dir = base;
    for part in ours {
        dir.push(part);
        private_dir(&dir)?;
    }
    Ok(dir)
}

/// The staging folder `put KEY FILE` should tell the store about: the one (`$OBJSTORE_STAGING_DIR`,
/// else the default) whose copy of `key` FILE is, when it is, so that the upload is recorded as
/// the copy's content and a later `path KEY` hands out the store's newer values again.
pub fn holding(url: &str, key: &str, file: &Path) -> Option<PathBuf> {
    let dir = match std::env::var_os("OBJSTORE_STAGING_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => default_dir(url)?,
    };
    let staged = objstore::Key::parse(key).ok()?.segments().fold(dir.clone(), |path, s| path.join(s));
    let same = staged.canonicalize().ok()? == file.canonicalize().ok()?;
    let meta = std::fs::metadata(&dir).ok()?;
    (same && check(&dir, &meta, false).is_ok()).then_some(dir)
}

/// Where the default staging folder of `url` is (nothing is made).
fn default_dir(url: &str) -> Option<PathBuf> {
    let name = folder_name(url);
    Some(match cache_home() {
        Some(cache) => cache.join("objstore").join("staging").join(name),
        None => std::env::temp_dir()
            .join(format!("objstore-{}", rustix::process::geteuid().as_raw()))
            .join("staging")
            .join(name),
    })
}

/// `$XDG_CACHE_HOME`, else `$HOME/.cache` (absolute paths only).
fn cache_home() -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    std::env::var_os("XDG_CACHE_HOME")
        .and_then(absolute)
        .or_else(|| std::env::var_os("HOME").and_then(absolute).map(|h| h.join(".cache")))
}

/// The store's URL, redacted and without its query, as one folder name.
fn folder_name(url: &str) -> String {
    let shown = objstore::url::redact(url);
    let base = shown.split(['?', '#']).next().unwrap_or(&shown);
    let name: String =
        base.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    let name = name.trim_matches('_');
    if name.is_empty() || name.chars().all(|c| c == '.') { "store".to_string() } else { name.to_string() }
}

/// Makes `dir` (its parent exists) private to this user, or checks the one that is there.
fn private_dir(dir: &Path) -> CliResult<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(objstore::Error::io(format!("cannot create the staging folder {}", dir.display()), e).into());
        }
    }
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| Failure::from(objstore::Error::io(format!("cannot read {}", dir.display()), e)))?;
    check(dir, &meta, true)?;
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Failure::from(objstore::Error::io(format!("cannot make {} private", dir.display()), e)))?;
    }
    Ok(())
}

/// Refuses a staging folder another user could read files from or swap files in.
fn check(dir: &Path, meta: &std::fs::Metadata, ours: bool) -> CliResult<()> {
    let refuse = |why: String| {
        Err(Failure::new(exit::PERMISSION, format!("will not stage files in {}: {why}", dir.display())).hint(
            "remove it (another user may have made it to read or replace what is staged there), \
             or pass --staging-dir DIR",
        ))
    };
    if ours && meta.file_type().is_symlink() {
        return refuse("it is a symbolic link".into());
    }
    if !meta.is_dir() {
        return refuse("it is not a folder".into());
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return refuse(format!("it belongs to another user (uid {})", meta.uid()));
    }
    if meta.permissions().mode() & 0o022 != 0 {
        return refuse(format!("other users may write in it (mode {:o})", meta.permissions().mode() & 0o7777));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_hold_no_query_and_no_credential() {
        let name = folder_name("s3://u:pw@b/p?secret_access_key=x");
        assert!(name.starts_with("s3_") && name.ends_with("_b_p") && !name.contains("pw"), "{name}");
        assert_eq!(folder_name("memory://"), "memory");
        assert_eq!(folder_name("..?"), "store");
    }
}
