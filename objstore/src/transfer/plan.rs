//! What every copy shares: the resume rule (`decide`), the plan of what to copy, and `run`, which
//! copies it at bounded parallelism and memory.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use futures::TryStreamExt;
use futures::future::BoxFuture;
use store_core::key::{MAX_KEY_BYTES, normalise_prefix};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::{
    Compare, Direction, MAX_ATTEMPTS, MAX_REPORTED, MODIFY_WINDOW, Progress, Rejection, RejectionKind, TransferOptions,
    TransferSummary,
};
use crate::{Error, Key, KeyBuf, ObjectStore, Result};

pub(super) enum Decision {
    Skip,
    /// Copy, after comparing contents when `compare`.
    Copy {
        compare: bool,
    },
}

/// The resume rule for a destination in a store (see the module docs).
pub(super) fn decide(
    compare: Compare,
    size: u64,
    modified: Option<SystemTime>,
    existing: Option<&Existing>,
) -> Decision {
    let Some(existing) = existing else { return Decision::Copy { compare: false } };
    if existing.size != size {
        return Decision::Copy { compare: false };
    }
    match compare {
        Compare::Content => Decision::Copy { compare: true },
        Compare::SizeAndTime => match (modified, existing.modified) {
            (Some(source), Some(dest)) if source.checked_add(MODIFY_WINDOW).is_some_and(|s| s <= dest) => {
                Decision::Skip
            }
            _ => Decision::Copy { compare: false },
        },
    }
}

pub(super) struct Existing {
    size: u64,
    modified: Option<SystemTime>,
}

/// Size and time of every object under `prefix`.
pub(super) async fn list_metadata(store: &ObjectStore, prefix: &str) -> Result<HashMap<KeyBuf, Existing>> {
    store
        .list(prefix)
        .try_fold(HashMap::new(), |mut map, meta| async move {
            map.insert(meta.key, Existing { size: meta.size, modified: meta.modified });
            Ok(map)
        })
        .await
}

/// True when `store` holds exactly `bytes` under `key`.
pub(super) async fn same_value(store: &ObjectStore, key: &Key, bytes: &Bytes) -> Result<bool> {
    match store.read_bytes(key.as_str()).await {
        Ok(current) => Ok(current == bytes),
        Err(Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// A failed save: a place taken is this object's problem; anything else stops the run.
pub(super) fn rejected_or_fatal(e: Error, key: &Key) -> Result<Outcome> {
    match e {
        Error::Conflict { reason, .. } => {
            Ok(Outcome::Rejected(Rejection::new(key.as_str(), RejectionKind::Conflict, reason)))
        }
        other => Err(other),
    }
}

pub(super) fn changing(source: String) -> Rejection {
    Rejection::new(
        source,
        RejectionKind::Changing,
        format!(
            "it changed while it was being copied, {MAX_ATTEMPTS} times; the destination holds one of its versions: \
             run again when it stays still"
        ),
    )
}

/// What became of one object.
pub(super) enum Outcome {
    Copied,
    Skipped,
    Rejected(Rejection),
}

/// What planning decided, and the copies left to do.
pub(super) struct Plan<T> {
    jobs: Vec<(T, u64)>,
    progress: Progress,
    rejections: Vec<Rejection>,
    bytes_skipped: u64,
}

impl<T> Default for Plan<T> {
    fn default() -> Self {
        Plan { jobs: Vec::new(), progress: Progress::default(), rejections: Vec::new(), bytes_skipped: 0 }
    }
}

impl<T> Plan<T> {
    pub(super) fn job(&mut self, job: T, size: u64) {
        self.progress.objects_total += 1;
        self.progress.bytes_total += size;
        self.jobs.push((job, size));
    }

    pub(super) fn skip(&mut self, size: u64) {
        self.progress.objects_total += 1;
        self.progress.bytes_total += size;
        self.done(size, Outcome::Skipped);
    }

    pub(super) fn reject(&mut self, size: u64, rejection: Rejection) {
        self.progress.objects_total += 1;
        self.progress.bytes_total += size;
        self.done(size, Outcome::Rejected(rejection));
    }

    fn done(&mut self, size: u64, outcome: Outcome) {
        let p = &mut self.progress;
        p.objects_done += 1;
        p.bytes_done += size;
        match outcome {
            Outcome::Copied => {
                p.objects_copied += 1;
                p.bytes_copied += size;
            }
            Outcome::Skipped => {
                p.objects_skipped += 1;
                self.bytes_skipped += size;
            }
            Outcome::Rejected(rejection) => {
                p.objects_rejected += 1;
                if self.rejections.len() < MAX_REPORTED {
                    self.rejections.push(rejection);
                }
            }
        }
    }
}

/// Runs the plan's copies, at most `options.parallelism` at once and within the byte budget,
/// each on its own task. Stops at the first error (dropping the set aborts the others: every
/// save is atomic, so an aborted one leaves nothing half-written).
pub(super) async fn run<T, F>(
    mut plan: Plan<T>,
    options: &TransferOptions,
    direction: Direction,
    started: Instant,
    job: F,
) -> Result<TransferSummary>
where
    T: Send + 'static,
    F: Fn(T) -> BoxFuture<'static, Result<Outcome>>,
{
    let report = |progress: &Progress| {
        if let Some(on_progress) = &options.on_progress {
            on_progress(progress);
        }
    };
    report(&plan.progress);
    let budget_kib = (options.max_in_flight_bytes / 1024).clamp(1, u64::from(u32::MAX) / 2) as u32;
    let budget = Arc::new(Semaphore::new(budget_kib as usize));
    let parallelism = options.parallelism.max(1);
    let mut jobs = std::mem::take(&mut plan.jobs).into_iter();
    let mut running = JoinSet::new();
    loop {
        while running.len() < parallelism {
            let Some((item, size)) = jobs.next() else { break };
            let memory = super::streamed::memory_for(size);
            let wanted = u32::try_from(memory.div_ceil(1024)).unwrap_or(u32::MAX).clamp(1, budget_kib);
            let permit = budget.clone().acquire_many_owned(wanted).await.map_err(internal)?;
            let work = job(item);
            running.spawn(async move {
                let outcome = work.await;
                drop(permit);
                (size, outcome)
            });
        }
        let Some(finished) = running.join_next().await else { break };
        let (size, outcome) = finished.map_err(internal)?;
        plan.done(size, outcome?);
        report(&plan.progress);
    }
    let p = &plan.progress;
    Ok(TransferSummary {
        direction,
        dry_run: options.dry_run,
        objects_copied: p.objects_copied,
        bytes_copied: p.bytes_copied,
        objects_skipped: p.objects_skipped,
        bytes_skipped: plan.bytes_skipped,
        objects_rejected: p.objects_rejected,
        rejections: plan.rejections,
        elapsed: started.elapsed(),
    })
}

/// Nothing could be copied because of rejections: that is an error, not a summary.
pub(super) fn finish(summary: TransferSummary) -> Result<TransferSummary> {
    if summary.objects_rejected > 0 && summary.objects_copied + summary.objects_skipped == 0 {
        if let Some(e) = summary.error() {
            return Err(e);
        }
    }
    Ok(summary)
}

fn internal(e: impl fmt::Display) -> Error {
    Error::io("a copy task did not finish", io::Error::other(e.to_string()))
}

/// `""`, or the prefix as a folder: normalised, ending with `/`.
pub(super) fn folder_prefix(prefix: &str) -> Result<String> {
    let mut prefix = normalise_prefix(prefix)?;
    if !prefix.is_empty() && !prefix.ends_with('/') {
        prefix.push('/');
    }
    if prefix.len() > MAX_KEY_BYTES {
        return Err(Error::InvalidKey {
            key: prefix,
            reason: format!("a prefix may be at most {MAX_KEY_BYTES} bytes"),
        });
    }
    Ok(prefix)
}

/// The folder a local store keeps its objects in (canonical), when it has one.
pub(super) async fn store_folder(store: &ObjectStore) -> Option<PathBuf> {
    let probe = store.local_file("objstore-import-probe").await.ok()??;
    probe.parent()?.canonicalize().ok()
}

pub(super) fn display(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn existing(size: u64, modified: SystemTime) -> Existing {
        Existing { size, modified: Some(modified) }
    }

    #[test]
    fn the_resume_rule_wants_same_size_and_a_later_destination() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let skip = |d: Decision| matches!(d, Decision::Skip);
        let later = existing(10, t + Duration::from_secs(5));
        assert!(skip(decide(Compare::SizeAndTime, 10, Some(t), Some(&later))));
        assert!(!skip(decide(Compare::SizeAndTime, 11, Some(t), Some(&later))), "size differs");
        assert!(!skip(decide(Compare::SizeAndTime, 10, Some(t), None)), "missing");
        assert!(!skip(decide(Compare::SizeAndTime, 10, None, Some(&later))), "source time unknown");
        let within = existing(10, t + Duration::from_millis(400));
        assert!(!skip(decide(Compare::SizeAndTime, 10, Some(t), Some(&within))), "inside the window");
        let older = existing(10, t - Duration::from_secs(5));
        assert!(!skip(decide(Compare::SizeAndTime, 10, Some(t), Some(&older))), "destination older");
        assert!(matches!(decide(Compare::Content, 10, Some(t), Some(&later)), Decision::Copy { compare: true }));
        assert!(matches!(decide(Compare::Content, 9, Some(t), Some(&later)), Decision::Copy { compare: false }));
    }

    #[test]
    fn prefixes_become_folders_on_import() {
        assert_eq!(folder_prefix("").unwrap(), "");
        assert_eq!(folder_prefix("data").unwrap(), "data/");
        assert_eq!(folder_prefix("/data/").unwrap(), "data/");
        assert!(folder_prefix("../up").is_err());
    }
}
