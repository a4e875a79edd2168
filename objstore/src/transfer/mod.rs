//! Bulk copies: a folder into a store ([`import_dir`]), a store into a folder
//! ([`export_to_dir`]), and one store into another ([`copy_store`], e.g. local disk to S3).
//!
//! Every copy runs in two steps. **Planning** lists both sides (a walk of the folder, a listing of
//! the store under the prefix) and decides from sizes and modification times which objects are
//! already up to date. **Copying** then runs at most [`TransferOptions::parallelism`] copies at
//! once (16 by default), each on its own task, with at most
//! [`TransferOptions::max_in_flight_bytes`] of values in memory: a value of up to 8 MiB is read
//! whole, saved, and dropped; a larger one streams in chunks (a multipart upload on S3) and holds
//! at most 48 MiB, so memory stays bounded whatever the folder holds (a 400 MB model costs a few
//! MiB, not 400 MB). Only the metadata of the plan (a
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

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::Error;

mod copy;
mod export;
mod folder;
mod import;
mod plan;
mod streamed;

pub use copy::copy_store;
pub use export::export_to_dir;
pub use import::import_dir;

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
    /// first few, with control characters in names escaped (`\u{1b}`): a file name must not
    /// drive the terminal that shows the error.
    pub fn error(&self) -> Option<Error> {
        let escaped = |s: &str| -> String {
            s.chars().map(|c| if c.is_control() { c.escape_debug().to_string() } else { c.to_string() }).collect()
        };
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
            self.rejections[1..].iter().map(|r| format!("'{}' ({})", escaped(&r.source), r.reason)).collect();
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
            RejectionKind::InvalidName => Error::InvalidKey { key: escaped(&first.source), reason: message },
            RejectionKind::Conflict => Error::Conflict { key: escaped(&first.source), reason: message },
            RejectionKind::Unsupported | RejectionKind::Changing => {
                Error::io(format!("cannot copy '{}'", escaped(&first.source)), io::Error::other(message))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
