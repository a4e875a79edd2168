//! The copy between stores (`copy_store`): keys kept as they are.

use std::time::Instant;

use futures::TryStreamExt;
use store_core::key::normalise_prefix;

use super::plan::{
    Decision, Outcome, Plan, changing, decide, finish, list_metadata, rejected_or_fatal, run, same_value,
};
use super::streamed::{STREAM_ABOVE, stored_hash};
use super::{Direction, MAX_ATTEMPTS, RECHECK_AFTER, TransferOptions, TransferSummary};
use crate::{Error, KeyBuf, ObjectStore, Result};

/// Copies the objects of `src` whose keys start with [`TransferOptions::prefix`] into `dst`,
/// under the same keys (local disk to S3 and back, or any two stores, or two project views of
/// one store). Objects already in `dst` and up to date are skipped (see the module docs). Nothing
/// is deleted from either store.
pub async fn copy_store(src: &ObjectStore, dst: &ObjectStore, options: &TransferOptions) -> Result<TransferSummary> {
    let started = Instant::now();
    let prefix = normalise_prefix(&options.prefix)?;
    let (objects, existing) =
        futures::future::try_join(src.list(&prefix).try_collect::<Vec<_>>(), list_metadata(dst, &prefix)).await?;
    let mut plan = Plan::default();
    for object in objects {
        match decide(options.compare, object.size, object.modified, existing.get(&object.key)) {
            Decision::Skip => plan.skip(object.size),
            Decision::Copy { compare } => {
                plan.job(CopyJob { key: object.key, compare, size: object.size }, object.size)
            }
        }
    }
    let recheck_always = src.capabilities().local_paths;
    let (src, dst) = (src.clone(), dst.clone());
    let dry_run = options.dry_run;
    let summary = run(plan, options, Direction::Copy, started, move |job: CopyJob| {
        Box::pin(copy_one(src.clone(), dst.clone(), job, dry_run, recheck_always))
    })
    .await?;
    finish(summary)
}

struct CopyJob {
    key: KeyBuf,
    compare: bool,
    size: u64,
}

async fn copy_one(
    src: ObjectStore,
    dst: ObjectStore,
    job: CopyJob,
    dry_run: bool,
    recheck_always: bool,
) -> Result<Outcome> {
    if job.size > STREAM_ABOVE {
        return copy_streamed(src, dst, job, dry_run).await;
    }
    let mut compare = job.compare;
    let key = job.key.as_str();
    for _ in 0..MAX_ATTEMPTS {
        let started = Instant::now();
        let object = match src.read_object(key).await {
            Ok(object) => object,
            Err(Error::NotFound { .. }) => return Ok(Outcome::Skipped),
            Err(e) => return Err(e),
        };
        if compare {
            compare = false;
            if same_value(&dst, &job.key, &object.bytes).await? {
                return Ok(Outcome::Skipped);
            }
        }
        if dry_run {
            return Ok(Outcome::Copied);
        }
        if let Err(e) = dst.save_bytes(key, object.bytes).await {
            return rejected_or_fatal(e, &job.key);
        }
        if !recheck_always && started.elapsed() < RECHECK_AFTER {
            return Ok(Outcome::Copied);
        }
        match src.head(key).await {
            Ok(now) if now.version != object.meta.version => continue,
            Ok(_) | Err(Error::NotFound { .. }) => return Ok(Outcome::Copied),
            Err(e) => return Err(e),
        }
    }
    Ok(Outcome::Rejected(changing(key.to_string())))
}

/// A large object: one store's stream into the other's streamed save, compared by hashes. The
/// stream reads one version (a value replaced midway fails it, and the copy starts over).
async fn copy_streamed(src: ObjectStore, dst: ObjectStore, job: CopyJob, dry_run: bool) -> Result<Outcome> {
    let key = job.key.as_str();
    if job.compare {
        let ours = stored_hash(&src, key).await?;
        if ours.is_some() && ours == stored_hash(&dst, key).await? {
            return Ok(Outcome::Skipped);
        }
    }
    if dry_run {
        return Ok(Outcome::Copied);
    }
    for _ in 0..MAX_ATTEMPTS {
        let stream = match src.read_stream(key, None).await {
            Ok(stream) => stream,
            Err(Error::NotFound { .. }) => return Ok(Outcome::Skipped),
            Err(e) => return Err(e),
        };
        match dst.save_stream(key, stream.body, Some(stream.meta.size)).await {
            Ok(_) => return Ok(Outcome::Copied),
            // Replaced or changed at the source while it streamed: nothing was saved; again.
            Err(Error::Conflict { .. } | Error::Precondition { .. })
                if src.head(key).await.is_ok_and(|now| now.version != stream.meta.version) =>
            {
                continue;
            }
            Err(e) => return rejected_or_fatal(e, &job.key),
        }
    }
    Ok(Outcome::Rejected(changing(key.to_string())))
}
