//! The export: a store into a folder (`export_to_dir`), each file written atomically and stamped
//! with its object's modification time.

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use futures::TryStreamExt;
use store_core::key::{is_segment, normalise_prefix};
use store_core::raw::io::offload;

use super::plan::{Decision, Outcome, Plan, finish, run};
use super::streamed::{STREAM_ABOVE, export_to_file, file_hash, stored_hash};
use super::{
    Compare, Direction, EXPORT_TEMP_PREFIX, MAX_FILE_NAME_BYTES, Rejection, RejectionKind, TransferOptions,
    TransferSummary,
};
use crate::{Error, KeyBuf, ObjectMeta, ObjectStore, Result};

/// Copies the objects of `store` whose keys start with [`TransferOptions::prefix`] into files
/// under `dir` (created when missing). A key's file is its path after the prefix's folder part:
/// with prefix `data/`, `data/a/b.csv` becomes `dir/a/b.csv`. Files are written atomically (a
/// temp file in the same folder, renamed) and stamped with the object's modification time; files
/// already up to date are skipped (see the module docs).
pub async fn export_to_dir(store: &ObjectStore, dir: &Path, options: &TransferOptions) -> Result<TransferSummary> {
    let started = Instant::now();
    let prefix = normalise_prefix(&options.prefix)?;
    let strip = prefix.rfind('/').map_or(0, |i| i + 1);
    let objects: Vec<ObjectMeta> = store.list(&prefix).try_collect().await?;

    // Keys that are also folders of other keys cannot both be files.
    let mut folders = HashSet::new();
    for object in &objects {
        let mut rest = &object.key.as_str()[strip..];
        while let Some((parent, _)) = rest.rsplit_once('/') {
            if !folders.insert(parent.to_string()) {
                break;
            }
            rest = parent;
        }
    }
    let mut plan = Plan::default();
    let mut targets = Vec::with_capacity(objects.len());
    for object in objects {
        let relative = &object.key.as_str()[strip..];
        if folders.contains(relative) {
            let reason = "this key is also the folder of other keys, and a folder cannot hold a file of the same name \
                          as a folder; export the two parts with different prefixes";
            plan.reject(object.size, Rejection::new(object.key.as_str(), RejectionKind::Conflict, reason));
            continue;
        }
        match target_path(dir, relative) {
            Ok(path) => targets.push((object, path)),
            Err(reason) => {
                plan.reject(object.size, Rejection::new(object.key.as_str(), RejectionKind::InvalidName, reason))
            }
        }
    }

    // What is in the folder already (one stat per object), and stale temp files of a killed run.
    let dir_owned = dir.to_path_buf();
    let dry_run = options.dry_run;
    let targets = offload(move || {
        // A dry run changes nothing, in the folder either.
        if !dry_run {
            std::fs::create_dir_all(&dir_owned)
                .map_err(|e| Error::io(format!("cannot create the folder '{}'", dir_owned.display()), e))?;
            remove_stale_temps(&targets);
        }
        Ok(targets
            .into_iter()
            .map(|(object, path)| {
                let found = std::fs::symlink_metadata(&path).ok();
                (object, path, found)
            })
            .collect::<Vec<_>>())
    })
    .await?;
    for (object, path, found) in targets {
        let decision = match found {
            Some(found) if found.is_dir() => {
                let reason = format!("'{}' is a folder; move it away to export this object", path.display());
                plan.reject(object.size, Rejection::new(object.key.as_str(), RejectionKind::Conflict, reason));
                continue;
            }
            Some(found) if found.is_file() => decide_export(options.compare, &object, &found),
            _ => Decision::Copy { compare: false },
        };
        match decision {
            Decision::Skip => plan.skip(object.size),
            Decision::Copy { compare } => {
                plan.job(ExportJob { key: object.key, path, compare, size: object.size }, object.size)
            }
        }
    }

    let store = store.clone();
    let summary = run(plan, options, Direction::Export, started, move |job: ExportJob| {
        Box::pin(export_one(store.clone(), job, dry_run))
    })
    .await?;
    finish(summary)
}

/// The export rule: same size and the file not older than the object (which an export stamps).
fn decide_export(compare: Compare, object: &ObjectMeta, file: &std::fs::Metadata) -> Decision {
    if file.len() != object.size {
        return Decision::Copy { compare: false };
    }
    match compare {
        Compare::Content => Decision::Copy { compare: true },
        Compare::SizeAndTime => match (object.modified, file.modified().ok()) {
            (Some(object), Some(file)) if file >= object => Decision::Skip,
            _ => Decision::Copy { compare: false },
        },
    }
}

struct ExportJob {
    key: KeyBuf,
    path: PathBuf,
    compare: bool,
    size: u64,
}

async fn export_one(store: ObjectStore, job: ExportJob, dry_run: bool) -> Result<Outcome> {
    if job.size > STREAM_ABOVE {
        return export_streamed(store, job, dry_run).await;
    }
    let object = match store.read_object(job.key.as_str()).await {
        Ok(object) => object,
        Err(Error::NotFound { .. }) => return Ok(Outcome::Skipped),
        Err(e) => return Err(e),
    };
    if job.compare {
        let path = job.path.clone();
        let current = offload(move || Ok(std::fs::read(&path).ok())).await?;
        if current.is_some_and(|c| c[..] == object.bytes[..]) {
            return Ok(Outcome::Skipped);
        }
    }
    if dry_run {
        return Ok(Outcome::Copied);
    }
    let key = job.key.clone();
    offload(move || match write_file(&job.path, &object.bytes, object.meta.modified) {
        Ok(()) => Ok(Outcome::Copied),
        Err(e) if place_taken(&e) => Ok(Outcome::Rejected(Rejection::new(
            key.as_str(),
            RejectionKind::Conflict,
            format!("cannot write '{}': {e} (a file is where a folder should be, or the reverse)", job.path.display()),
        ))),
        Err(e) => Err(Error::io(format!("cannot write '{}'", job.path.display()), e)),
    })
    .await
}

/// A large object: streamed into its file, compared by hashes.
async fn export_streamed(store: ObjectStore, job: ExportJob, dry_run: bool) -> Result<Outcome> {
    if job.compare {
        let file = file_hash(&job.path).await?;
        if file.is_some() && file == stored_hash(&store, job.key.as_str()).await? {
            return Ok(Outcome::Skipped);
        }
    }
    if dry_run {
        return Ok(Outcome::Copied);
    }
    match export_to_file(&store, job.key.as_str(), &job.path).await {
        Ok(()) => Ok(Outcome::Copied),
        Err(Error::NotFound { .. }) => Ok(Outcome::Skipped),
        Err(Error::Io { source, .. }) if place_taken(&source) => Ok(Outcome::Rejected(Rejection::new(
            job.key.as_str(),
            RejectionKind::Conflict,
            format!(
                "cannot write '{}': {source} (a file is where a folder should be, or the reverse)",
                job.path.display()
            ),
        ))),
        Err(e) => Err(e),
    }
}

/// Writes `bytes` to `path` atomically: a temp file beside it, renamed over it.
fn write_file(path: &Path, bytes: &[u8], modified: Option<SystemTime>) -> io::Result<()> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let temp =
        parent.join(format!("{EXPORT_TEMP_PREFIX}{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed)));
    let written = (|| {
        let mut file = std::fs::File::create_new(&temp)?;
        file.write_all(bytes)?;
        if let Some(modified) = modified {
            file.set_modified(modified)?;
        }
        drop(file);
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// Errors that mean a file or folder is in the way, not that the disk failed.
fn place_taken(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::NotADirectory | io::ErrorKind::IsADirectory | io::ErrorKind::AlreadyExists)
        || e.kind() == io::ErrorKind::DirectoryNotEmpty
}

/// Removes the temp files a killed export left in the folders this one writes to.
fn remove_stale_temps(targets: &[(ObjectMeta, PathBuf)]) {
    let folders: HashSet<&Path> = targets.iter().filter_map(|(_, p)| p.parent()).collect();
    for folder in folders {
        let Ok(entries) = std::fs::read_dir(folder) else { continue };
        for entry in entries.flatten() {
            if entry.file_name().to_str().is_some_and(|n| n.starts_with(EXPORT_TEMP_PREFIX)) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// `dir/relative`, refusing anything that would not be a plain path beneath `dir`.
fn target_path(dir: &Path, relative: &str) -> std::result::Result<PathBuf, String> {
    let mut path = dir.to_path_buf();
    if relative.is_empty() {
        return Err("the key is the prefix itself, so it has no file name under the folder; \
                    export with a shorter prefix"
            .into());
    }
    for segment in relative.split('/') {
        if !is_segment(segment)
            || !matches!(Path::new(segment).components().collect::<Vec<_>>()[..], [Component::Normal(_)])
        {
            return Err(format!("'{segment}' would not be a file or folder name inside the folder"));
        }
        if segment.len() > MAX_FILE_NAME_BYTES {
            return Err(format!(
                "a part of the key is {} bytes long, more than the {MAX_FILE_NAME_BYTES} a file name may be",
                segment.len()
            ));
        }
        path.push(segment);
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_paths_stay_inside_the_folder() {
        let dir = Path::new("/out");
        assert_eq!(target_path(dir, "a/b.csv").unwrap(), Path::new("/out/a/b.csv"));
        assert!(target_path(dir, "").is_err());
        assert!(target_path(dir, "../x").is_err());
        assert!(target_path(dir, "a//b").is_err());
        assert!(target_path(dir, "/etc/passwd").is_err());
        assert!(target_path(dir, &"n".repeat(300)).is_err());
    }
}
