//! The import: a folder into a store (`import_dir`), one file per task.

use std::path::{Path, PathBuf};
use std::time::Instant;

use store_core::raw::io::offload;

use super::folder::{FileOpen, FileRead, file_stamp, open_file, read_file, walk_folder};
use super::plan::{
    Decision, Outcome, Plan, changing, decide, display, finish, folder_prefix, list_metadata, rejected_or_fatal, run,
    same_value, store_folder,
};
use super::streamed::{STREAM_ABOVE, file_hash, stored_hash};
use super::{Direction, INLINE_READ_LIMIT, MAX_ATTEMPTS, Rejection, RejectionKind, TransferOptions, TransferSummary};
use crate::{Error, KeyBuf, ObjectStore, Result};

/// Copies every file under `dir` (recursively) into `store`, under [`TransferOptions::prefix`].
/// Files already in the store and up to date are skipped (see the module docs).
///
/// Errors: `Io` when `dir` cannot be read or is not a folder, `InvalidKey` for a bad prefix (or
/// when every file was rejected), and the store's own errors, which stop the run.
pub async fn import_dir(store: &ObjectStore, dir: &Path, options: &TransferOptions) -> Result<TransferSummary> {
    let started = Instant::now();
    let prefix = folder_prefix(&options.prefix)?;
    let exclude = store_folder(store).await;
    let walk = {
        let dir = dir.to_path_buf();
        offload(move || walk_folder(&dir, exclude.as_deref()))
    };
    let (walk, existing) = futures::future::try_join(walk, list_metadata(store, &prefix)).await?;

    let mut plan = Plan::default();
    for rejection in walk.rejections {
        plan.reject(0, rejection);
    }
    for file in walk.files {
        let key = match KeyBuf::parse(&format!("{prefix}{}", file.relative)) {
            Ok(key) => key,
            Err(e) => {
                let reason = match e {
                    Error::InvalidKey { reason, .. } => reason,
                    other => other.to_string(),
                };
                plan.reject(file.size, Rejection::new(display(&file.path), RejectionKind::InvalidName, reason));
                continue;
            }
        };
        match decide(options.compare, file.size, file.modified, existing.get(&key)) {
            Decision::Skip => plan.skip(file.size),
            Decision::Copy { compare } => {
                plan.job(ImportJob { path: file.path, key, size: file.size, compare }, file.size)
            }
        }
    }

    let store = store.clone();
    let dry_run = options.dry_run;
    let summary = run(plan, options, Direction::Import, started, move |job: ImportJob| {
        Box::pin(import_one(store.clone(), job, dry_run))
    })
    .await?;
    finish(summary)
}

struct ImportJob {
    path: PathBuf,
    key: KeyBuf,
    size: u64,
    compare: bool,
}

async fn import_one(store: ObjectStore, job: ImportJob, dry_run: bool) -> Result<Outcome> {
    if job.size > STREAM_ABOVE {
        return import_streamed(store, job, dry_run).await;
    }
    let mut compare = job.compare;
    for _ in 0..MAX_ATTEMPTS {
        let read = if job.size <= INLINE_READ_LIMIT {
            read_file(&job.path)?
        } else {
            let path = job.path.clone();
            offload(move || read_file(&path)).await?
        };
        let (bytes, stamp) = match read {
            FileRead::Read(bytes, stamp) => (bytes, stamp),
            FileRead::Gone => return Ok(Outcome::Skipped),
            FileRead::Rejected(rejection) => return Ok(Outcome::Rejected(rejection)),
        };
        if compare {
            compare = false;
            if same_value(&store, &job.key, &bytes).await? {
                return Ok(Outcome::Skipped);
            }
        }
        if dry_run {
            return Ok(Outcome::Copied);
        }
        if let Err(e) = store.save_bytes(job.key.as_str(), bytes).await {
            return rejected_or_fatal(e, &job.key);
        }
        // The file may have changed between the read and the end of the save: then the object,
        // though newer, may not hold its last content. Copy it again. (One stat: done inline.)
        if file_stamp(&job.path).is_none_or(|now| now == stamp) {
            return Ok(Outcome::Copied);
        }
    }
    Ok(Outcome::Rejected(changing(display(&job.path))))
}

/// A large file: streamed into the store, compared by hashes.
async fn import_streamed(store: ObjectStore, job: ImportJob, dry_run: bool) -> Result<Outcome> {
    let mut compare = job.compare;
    for _ in 0..MAX_ATTEMPTS {
        let path = job.path.clone();
        let (file, stamp) = match offload(move || open_file(&path)).await? {
            FileOpen::Open(file, stamp) => (file, stamp),
            FileOpen::Gone => return Ok(Outcome::Skipped),
            FileOpen::Rejected(rejection) => return Ok(Outcome::Rejected(rejection)),
        };
        if compare {
            compare = false;
            let ours = file_hash(&job.path).await?;
            if ours.is_some() && ours == stored_hash(&store, job.key.as_str()).await? {
                return Ok(Outcome::Skipped);
            }
        }
        if dry_run {
            return Ok(Outcome::Copied);
        }
        let body = store_core::raw::io::file_stream(file, job.path.clone());
        match store.save_stream(job.key.as_str(), body, Some(stamp.size)).await {
            Ok(_) => {}
            // The file grew or shrank while it was read: copy it again.
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::InvalidData => continue,
            Err(e) => return rejected_or_fatal(e, &job.key),
        }
        if file_stamp(&job.path).is_none_or(|now| now == stamp) {
            return Ok(Outcome::Copied);
        }
    }
    Ok(Outcome::Rejected(changing(display(&job.path))))
}
