//! The copy between stores (`copy_store`): keys kept as they are.

use std::time::Instant;

use futures::TryStreamExt;
use store_core::key::normalise_prefix;

use super::plan::{
    Decision, Outcome, Plan, changing, decide, finish, list_metadata, rejected_or_fatal, run, same_value,
};
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
            Decision::Copy { compare } => plan.job(CopyJob { key: object.key, compare }, object.size),
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
}

async fn copy_one(
    src: ObjectStore,
    dst: ObjectStore,
    job: CopyJob,
    dry_run: bool,
    recheck_always: bool,
) -> Result<Outcome> {
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
