//! Bulk copies: a folder into a store ([`import_dir`]), a store into a folder
//! ([`export_to_dir`]), and one store into another ([`copy_store`], e.g. local disk to S3).
//!
//! Every copy runs in two steps. **Planning** lists both sides (a walk of the folder, a listing of
//! the store under the prefix) and decides from sizes and modification times which objects are
//! already up to date. **Copying** then runs at most [`TransferOptions::parallelism`] copies at
//! once (16 by default), each on its own task, with at most
//! [`TransferOptions::max_in_flight_bytes`] of values in memory: a value is read whole, saved, and
//! dropped, so memory stays bounded whatever the folder holds. Only the metadata of the plan (a
//! path or key, a size and a time per object, about 100–200 bytes each) is held for the whole run.
//!
//! ```
//! # let tmp = tempfile::tempdir().unwrap();
//! # let dir = tmp.path().join("data");
//! # std::fs::create_dir_all(dir.join("prices")).unwrap();
//! # std::fs::write(dir.join("prices/spy.csv"), "date,close\n").unwrap();
//! # std::fs::write(dir.join("notes.txt"), "hello").unwrap();
//! # let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
//! # for f in ["prices/spy.csv", "notes.txt"] {
//! #     std::fs::File::options().write(true).open(dir.join(f)).unwrap().set_modified(old).unwrap();
//! # }
//! # let url = format!("file://{}", tmp.path().join("storage").display());
//! use objstore::transfer::{self, TransferOptions};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = objstore::open(&url).await?;
//! let options = TransferOptions { prefix: "research/".into(), ..TransferOptions::default() };
//! let first = transfer::import_dir(&store, &dir, &options).await?;
//! assert_eq!((first.objects_copied, first.bytes_copied), (2, 16));
//! assert_eq!(store.read("research/prices/spy.csv").await?, "date,close\n");
//!
//! // Running it again copies nothing: every object is already there and up to date.
//! let again = transfer::import_dir(&store, &dir, &options).await?;
//! assert_eq!((again.objects_copied, again.objects_skipped), (0, 2));
//!
//! // Back out into another folder, keys under `research/` becoming paths under it.
//! let out = tmp.path().join("out");
//! transfer::export_to_dir(&store, &out, &options).await?;
//! assert_eq!(std::fs::read_to_string(out.join("prices/spy.csv")).unwrap(), "date,close\n");
//! # Ok::<(), objstore::Error>(()) }).unwrap();
//! ```
//!
//! ## Resume: what counts as up to date
//!
//! An interrupted copy (killed, a network failure) is resumed by running it again: it copies only
//! what is missing or changed. A destination object is taken as up to date when
//!
//! - it has the **same size** as the source, and
//! - its **modification time is at least one second later** than the source's ([`MODIFY_WINDOW`]).
//!
//! A copy's destination is written after its source was read, so its time is later than the
//! source's. The one-second window makes the rule hold where clocks are coarse: S3 keeps
//! `Last-Modified` in whole seconds (rounded down, which can only make the rule copy more), a
//! file system stamps files with a clock that lags by a few milliseconds, and the clocks of two
//! machines differ a little. The price is that a file modified less than a second before it was
//! copied is copied again by the next run. A destination whose time is unknown is never taken as
//! up to date. [`Compare::Content`] (`--checksum`) compares the bytes instead of the times, for
//! when clocks cannot be trusted (a server whose clock runs ahead by more than a second, files
//! whose times were set by hand).
//!
//! Why resuming is safe: a half-written object is never visible. Saves are atomic on every
//! backend (a temp file renamed into place on disk, a single PUT or a completed multipart upload
//! on S3), and an export writes a temp file in the target folder and renames it. So an
//! interrupted run leaves every object either absent, or old, or complete, and the rule above
//! sees the first two as "copy it". A source that changes *while* it is copied is caught too: an
//! import stats the file again after its save (and an export stamps the file with the time of
//! exactly the version it read), and a copy between stores checks the source's version again
//! when the source is on local disk or the copy took longer than half a second; a source that
//! keeps changing is saved once more, then reported (see below).
//!
//! Export decides with the same rule turned around, exactly: the file it writes gets the
//! object's modification time, so the file is up to date while the object keeps that time and
//! size. A file changed in the folder afterwards is newer than the object and is left alone when
//! its size is the same (`--checksum` compares contents).
//!
//! ## Keys and paths
//!
//! Import names each file by its path relative to the folder, with `/` separators, under the
//! prefix (`--prefix data` and `--prefix data/` both give `data/prices/spy.csv`). Export does the
//! reverse: the part of the prefix up to its last `/` is taken off each key, so
//! `export data/ DIR` after `import DIR --prefix data/` gives the same tree. A copy between stores
//! keeps keys as they are; its prefix only selects them.
//!
//! Files and objects that cannot be copied are **rejected**, counted and reported (the first
//! [`MAX_REPORTED`] by name) without stopping the others: names that are not valid keys (not
//! UTF-8, a `\` or a control character, longer than a key may be), things that are not regular
//! files (sockets, pipes, symbolic links to folders, which are not followed), unreadable files,
//! keys that would escape the target folder or cannot be file names (a segment longer than 255
//! bytes), keys that are both an object and a folder of other keys (`a` and `a/b` on S3) when
//! exported, and sources that kept changing. [`TransferSummary::error`] turns them into one typed
//! error; when nothing at all could be copied, the functions return it as their `Err`. Names
//! starting with `.objstore` are the store's own (temp files, its internal folder) and are passed
//! over silently, as is the store's own folder when it lies inside the imported folder.
//!
//! Any other failure (the store unreachable, a limit reached, access denied, a disk error) stops
//! the run at once with that error; what was copied so far stays, and a re-run resumes.
//!
//! Export overwrites the files it finds out of date (that is how a changed object reaches the
//! folder again) and never deletes files that are not objects. Exported files are written
//! atomically but not flushed to disk one by one (`fsync`): after a power cut a file may be
//! missing or empty, which the next run sees by its size and copies again.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures::TryStreamExt;
use futures::future::BoxFuture;
use store_core::io::offload;
use store_core::key::{MAX_KEY_BYTES, RESERVED_PREFIX, is_segment, normalise_prefix};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::{Error, Key, KeyBuf, ObjectMeta, ObjectStore, Result};

/// Copies in flight at once unless [`TransferOptions::parallelism`] says otherwise.
pub const DEFAULT_PARALLELISM: usize = 16;

/// Bytes of values in memory at once unless [`TransferOptions::max_in_flight_bytes`] says
/// otherwise. A value larger than this is copied alone.
pub const DEFAULT_MAX_IN_FLIGHT_BYTES: u64 = 256 * 1024 * 1024;

/// How much later than its source a destination must be to count as up to date (see the module
/// docs).
pub const MODIFY_WINDOW: Duration = Duration::from_secs(1);

/// How many rejected files or objects a [`TransferSummary`] names (all are counted).
pub const MAX_REPORTED: usize = 10;

/// How many times a source that changes while it is copied is copied before it is reported.
const MAX_ATTEMPTS: usize = 3;

/// A copy between stores that took this long checks that its source did not change meanwhile.
const RECHECK_AFTER: Duration = Duration::from_millis(500);

/// Files up to this size are read on the copy's own task, as the local backend reads small
/// objects: a page-cache read costs microseconds, a hand-off to the blocking pool more.
const INLINE_READ_LIMIT: u64 = 64 * 1024;

/// The longest file name most file systems take, in bytes.
const MAX_FILE_NAME_BYTES: usize = 255;

/// Temp files of an export start with this (a reserved name: an import passes over them).
const EXPORT_TEMP_PREFIX: &str = ".objstore-export-";

/// A progress callback: called once when the plan is ready, then after each object.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// How a copy decides that a destination object is already up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compare {
    /// Same size, and modified at least [`MODIFY_WINDOW`] after the source (cheap: metadata only).
    #[default]
    SizeAndTime,
    /// Same bytes: a destination of the same size is read and compared (`--checksum`).
    Content,
}

/// How to run a copy.
#[derive(Clone)]
pub struct TransferOptions {
    /// Import: the folder the keys go under (`""` for the top; a missing trailing `/` is added).
    /// Export and copy: only keys starting with this (a string prefix, like `keys()`'s).
    pub prefix: String,
    /// Copies in flight at once (at least 1). Default [`DEFAULT_PARALLELISM`].
    pub parallelism: usize,
    /// Most bytes of values held in memory at once. Default [`DEFAULT_MAX_IN_FLIGHT_BYTES`].
    pub max_in_flight_bytes: u64,
    /// How to tell that a destination is up to date.
    pub compare: Compare,
    /// Plan only: count what would be copied, copy nothing.
    pub dry_run: bool,
    /// Called with the progress once the plan is ready and after every object.
    pub on_progress: Option<ProgressFn>,
}

impl Default for TransferOptions {
    fn default() -> TransferOptions {
        TransferOptions {
            prefix: String::new(),
            parallelism: DEFAULT_PARALLELISM,
            max_in_flight_bytes: DEFAULT_MAX_IN_FLIGHT_BYTES,
            compare: Compare::default(),
            dry_run: false,
            on_progress: None,
        }
    }
}

impl fmt::Debug for TransferOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransferOptions")
            .field("prefix", &self.prefix)
            .field("parallelism", &self.parallelism)
            .field("max_in_flight_bytes", &self.max_in_flight_bytes)
            .field("compare", &self.compare)
            .field("dry_run", &self.dry_run)
            .field("on_progress", &self.on_progress.as_ref().map(|_| "Fn(&Progress)"))
            .finish()
    }
}

/// Where a copy stands. Every object found is counted once in `objects_done` when it has been
/// copied, found up to date, or rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Files or objects found (under the prefix).
    pub objects_total: u64,
    /// Their bytes.
    pub bytes_total: u64,
    /// Objects finished so far (copied, skipped or rejected).
    pub objects_done: u64,
    /// Bytes of the objects finished so far.
    pub bytes_done: u64,
    /// Objects copied so far (in a dry run: that would be copied).
    pub objects_copied: u64,
    /// Bytes copied so far.
    pub bytes_copied: u64,
    /// Objects already up to date (or gone from the source since the listing).
    pub objects_skipped: u64,
    /// Objects that could not be copied.
    pub objects_rejected: u64,
}

/// Which way a copy went (for messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A folder into a store.
    Import,
    /// A store into a folder.
    Export,
    /// A store into a store.
    Copy,
}

impl Direction {
    /// `imported`, `exported`, `copied`.
    pub fn past_tense(self) -> &'static str {
        match self {
            Direction::Import => "imported",
            Direction::Export => "exported",
            Direction::Copy => "copied",
        }
    }

    fn things(self) -> &'static str {
        match self {
            Direction::Import => "files",
            Direction::Export | Direction::Copy => "objects",
        }
    }
}

/// Why a file or object was not copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectionKind {
    /// Its name cannot be a key, or its key cannot be a file name in the folder.
    InvalidName,
    /// Not something that can be copied: not a regular file, a symbolic link to a folder, not
    /// readable.
    Unsupported,
    /// Its place is taken: a key that is also a folder of other keys, a file where a folder
    /// should be.
    Conflict,
    /// It kept changing while it was being copied.
    Changing,
}

/// A file or object that was not copied, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The file's path (import) or the object's key (export, copy).
    pub source: String,
    /// What kind of problem.
    pub kind: RejectionKind,
    /// What is wrong, in words.
    pub reason: String,
}

impl Rejection {
    fn new(source: impl Into<String>, kind: RejectionKind, reason: impl Into<String>) -> Rejection {
        Rejection { source: source.into(), kind, reason: reason.into() }
    }
}

/// What a copy did.
#[derive(Debug, Clone, PartialEq)]
pub struct TransferSummary {
    /// Which way it went.
    pub direction: Direction,
    /// True when nothing was copied because [`TransferOptions::dry_run`] was set; the counts then
    /// say what would have been.
    pub dry_run: bool,
    /// Objects copied (or that would be).
    pub objects_copied: u64,
    /// Their bytes.
    pub bytes_copied: u64,
    /// Objects already up to date, left alone (and sources deleted since the listing).
    pub objects_skipped: u64,
    /// Their bytes.
    pub bytes_skipped: u64,
    /// Files or objects that could not be copied (see [`TransferSummary::rejections`]).
    pub objects_rejected: u64,
    /// The first [`MAX_REPORTED`] of them.
    pub rejections: Vec<Rejection>,
    /// From the start of planning to the end.
    pub elapsed: Duration,
}

impl TransferSummary {
    /// Objects copied per second of the whole run.
    pub fn objects_per_second(&self) -> f64 {
        self.objects_copied as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Bytes copied per second of the whole run.
    pub fn bytes_per_second(&self) -> f64 {
        self.bytes_copied as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The rejections as one typed error (`None` when there were none): `InvalidKey` for names,
    /// `Conflict` for places taken, `Io` for the rest; its message counts them and names the
    /// first few.
    pub fn error(&self) -> Option<Error> {
        let first = self.rejections.first()?;
        let total = self.objects_copied + self.objects_skipped + self.objects_rejected;
        let mut message = format!(
            "{}; {} of {} {} could not be {}",
            first.reason,
            self.objects_rejected,
            total,
            self.direction.things(),
            self.direction.past_tense()
        );
        let others: Vec<String> =
            self.rejections[1..].iter().map(|r| format!("'{}' ({})", r.source, r.reason)).collect();
        if !others.is_empty() {
            message.push_str(&format!(" (also {}", others.join(", ")));
            if self.objects_rejected > self.rejections.len() as u64 {
                message.push_str(", ...");
            }
            message.push(')');
        }
        let done = self.objects_copied + self.objects_skipped;
        if done > 0 {
            let up_to_date = if self.objects_skipped > 0 { " or already up to date" } else { "" };
            message.push_str(&format!("; the other {done} were {}{up_to_date}", self.direction.past_tense()));
        }
        Some(match first.kind {
            RejectionKind::InvalidName => Error::InvalidKey { key: first.source.clone(), reason: message },
            RejectionKind::Conflict => Error::Conflict { key: first.source.clone(), reason: message },
            RejectionKind::Unsupported | RejectionKind::Changing => {
                Error::io(format!("cannot copy '{}'", first.source), io::Error::other(message))
            }
        })
    }
}

// ----- import ----------------------------------------------------------------------------------

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

// ----- export ----------------------------------------------------------------------------------

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
            Decision::Copy { compare } => plan.job(ExportJob { key: object.key, path, compare }, object.size),
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
}

async fn export_one(store: ObjectStore, job: ExportJob, dry_run: bool) -> Result<Outcome> {
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

// ----- copy ------------------------------------------------------------------------------------

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

// ----- the shared parts ------------------------------------------------------------------------

enum Decision {
    Skip,
    /// Copy, after comparing contents when `compare`.
    Copy {
        compare: bool,
    },
}

/// The resume rule for a destination in a store (see the module docs).
fn decide(compare: Compare, size: u64, modified: Option<SystemTime>, existing: Option<&Existing>) -> Decision {
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

struct Existing {
    size: u64,
    modified: Option<SystemTime>,
}

/// Size and time of every object under `prefix`.
async fn list_metadata(store: &ObjectStore, prefix: &str) -> Result<HashMap<KeyBuf, Existing>> {
    store
        .list(prefix)
        .try_fold(HashMap::new(), |mut map, meta| async move {
            map.insert(meta.key, Existing { size: meta.size, modified: meta.modified });
            Ok(map)
        })
        .await
}

/// True when `store` holds exactly `bytes` under `key`.
async fn same_value(store: &ObjectStore, key: &Key, bytes: &Bytes) -> Result<bool> {
    match store.read_bytes(key.as_str()).await {
        Ok(current) => Ok(current == bytes),
        Err(Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// A failed save: a place taken is this object's problem; anything else stops the run.
fn rejected_or_fatal(e: Error, key: &Key) -> Result<Outcome> {
    match e {
        Error::Conflict { reason, .. } => {
            Ok(Outcome::Rejected(Rejection::new(key.as_str(), RejectionKind::Conflict, reason)))
        }
        other => Err(other),
    }
}

fn changing(source: String) -> Rejection {
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
enum Outcome {
    Copied,
    Skipped,
    Rejected(Rejection),
}

/// What planning decided, and the copies left to do.
struct Plan<T> {
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
    fn job(&mut self, job: T, size: u64) {
        self.progress.objects_total += 1;
        self.progress.bytes_total += size;
        self.jobs.push((job, size));
    }

    fn skip(&mut self, size: u64) {
        self.progress.objects_total += 1;
        self.progress.bytes_total += size;
        self.done(size, Outcome::Skipped);
    }

    fn reject(&mut self, size: u64, rejection: Rejection) {
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
async fn run<T, F>(
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
            let wanted = u32::try_from(size.div_ceil(1024)).unwrap_or(u32::MAX).clamp(1, budget_kib);
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
fn finish(summary: TransferSummary) -> Result<TransferSummary> {
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
fn folder_prefix(prefix: &str) -> Result<String> {
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
async fn store_folder(store: &ObjectStore) -> Option<PathBuf> {
    let probe = store.local_file("objstore-import-probe").await.ok()??;
    probe.parent()?.canonicalize().ok()
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

// ----- the folder side -------------------------------------------------------------------------

struct FoundFile {
    path: PathBuf,
    /// The path under the folder, with `/` separators.
    relative: String,
    size: u64,
    modified: Option<SystemTime>,
}

#[derive(Default)]
struct Walk {
    files: Vec<FoundFile>,
    rejections: Vec<Rejection>,
}

/// Every regular file under `root`, sorted by relative path, and what cannot be imported.
fn walk_folder(root: &Path, exclude: Option<&Path>) -> Result<Walk> {
    let cannot = |e: io::Error| Error::io(format!("cannot import the folder '{}'", root.display()), e);
    let meta = std::fs::metadata(root).map_err(cannot)?;
    if !meta.is_dir() {
        return Err(cannot(io::Error::new(io::ErrorKind::NotADirectory, "not a folder")));
    }
    let mut walk = Walk::default();
    let mut pending = vec![(root.to_path_buf(), String::new())];
    while let Some((folder, relative)) = pending.pop() {
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) if folder == root => return Err(cannot(e)),
            Err(e) => {
                walk.rejections.push(unsupported(&folder, format!("cannot read the folder: {e}")));
                continue;
            }
        };
        for entry in entries {
            let entry = entry.map_err(cannot)?;
            let path = entry.path();
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                walk.rejections.push(Rejection::new(
                    display(&path),
                    RejectionKind::InvalidName,
                    "the name is not UTF-8, and keys are; rename the file",
                ));
                continue;
            };
            if name.starts_with(RESERVED_PREFIX) {
                continue;
            }
            if !is_segment(name) {
                walk.rejections.push(Rejection::new(display(&path), RejectionKind::InvalidName, segment_problem(name)));
                continue;
            }
            let relative = if relative.is_empty() { name.to_string() } else { format!("{relative}/{name}") };
            let file_type = match entry.file_type() {
                Ok(t) => t,
                Err(e) => {
                    walk.rejections.push(unsupported(&path, e.to_string()));
                    continue;
                }
            };
            if file_type.is_dir() {
                if exclude.is_none_or(|ex| path.canonicalize().ok().as_deref() != Some(ex)) {
                    pending.push((path, relative));
                }
                continue;
            }
            // Symbolic links are followed to files, never to folders (no loops).
            let meta = match std::fs::metadata(&path) {
                Ok(meta) => meta,
                Err(e) => {
                    walk.rejections.push(unsupported(&path, format!("cannot read: {e}")));
                    continue;
                }
            };
            if meta.is_file() {
                walk.files.push(FoundFile { path, relative, size: meta.len(), modified: meta.modified().ok() });
            } else if meta.is_dir() {
                walk.rejections
                    .push(unsupported(&path, "a symbolic link to a folder; links to folders are not followed"));
            } else {
                walk.rejections.push(unsupported(&path, "not a regular file (a socket, pipe or device)"));
            }
        }
    }
    walk.files.sort_unstable_by(|a, b| a.relative.cmp(&b.relative));
    Ok(walk)
}

fn unsupported(path: &Path, reason: impl Into<String>) -> Rejection {
    Rejection::new(display(path), RejectionKind::Unsupported, reason)
}

fn segment_problem(name: &str) -> String {
    if name.contains('\\') {
        return "a '\\' in a file name would become a key separator; rename the file".into();
    }
    if name.chars().any(char::is_control) {
        return "the name holds a control character, which keys may not; rename the file".into();
    }
    if name.len() > MAX_KEY_BYTES {
        return format!("the name is longer than a key may be ({MAX_KEY_BYTES} bytes)");
    }
    "the name cannot be part of a key; rename the file".into()
}

/// The size and modification time of an open file: what tells that it changed.
#[derive(PartialEq, Eq, Clone, Copy)]
struct Stamp {
    size: u64,
    modified: Option<SystemTime>,
}

fn file_stamp(path: &Path) -> Option<Stamp> {
    std::fs::metadata(path).ok().map(|m| Stamp { size: m.len(), modified: m.modified().ok() })
}

enum FileRead {
    Read(Bytes, Stamp),
    Gone,
    Rejected(Rejection),
}

/// Reads a whole file, with the stamp it had when it was opened.
fn read_file(path: &Path) -> Result<FileRead> {
    let cannot = |e: io::Error| Error::io(format!("cannot read '{}'", path.display()), e);
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(FileRead::Gone),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return Ok(FileRead::Rejected(unsupported(path, format!("cannot read: {e}"))));
        }
        Err(e) => return Err(cannot(e)),
    };
    let meta = file.metadata().map_err(cannot)?;
    if !meta.is_file() {
        return Ok(FileRead::Rejected(unsupported(path, "not a regular file")));
    }
    let stamp = Stamp { size: meta.len(), modified: meta.modified().ok() };
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0).saturating_add(1));
    file.read_to_end(&mut bytes).map_err(cannot)?;
    Ok(FileRead::Read(Bytes::from(bytes), stamp))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_error_counts_and_names_rejections() {
        let summary = TransferSummary {
            direction: Direction::Import,
            dry_run: false,
            objects_copied: 8,
            bytes_copied: 80,
            objects_skipped: 0,
            bytes_skipped: 0,
            objects_rejected: 2,
            rejections: vec![
                Rejection::new("dir/a\\b", RejectionKind::InvalidName, "bad"),
                Rejection::new("dir/fifo", RejectionKind::Unsupported, "not a regular file"),
            ],
            elapsed: Duration::from_secs(1),
        };
        let e = summary.error().unwrap();
        assert!(matches!(e, Error::InvalidKey { .. }), "{e:?}");
        let text = e.to_string();
        assert!(text.contains("2 of 10 files could not be imported"), "{text}");
        assert!(text.contains("dir/fifo") && text.contains("the other 8 were imported"), "{text}");
    }
}
