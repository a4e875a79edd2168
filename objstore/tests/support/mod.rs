//! What the reliability tests (`crash`, `faults`, `disk_full`) share: self-checking values,
//! recounts done with `std::fs` (objects, bytes, temp files, manager frames per category), and
//! the `SUMMARY` line that `cargo xtask test` and `cargo xtask soak` collect.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use rand::{RngCore, SeedableRng};

/// The name prefix of the local backend's temp files (`backend-local/src/write.rs`,
/// `temp_prefix()`: the reserved prefix `.objstore` and `-tmp-`).
pub const TEMP_PREFIX: &str = ".objstore-tmp-";
/// The local backend's own folder (the usage ledger); never an object.
pub const INTERNAL: &str = ".objstore";

const MAGIC: &[u8; 8] = b"OBJVALU1";
/// magic, xxh3 of the key, seq, body length, xxh3 of the body.
pub const HEADER: usize = 8 + 8 + 8 + 4 + 8;

/// The body of save number `seq`: random bytes, or (one save in four) compressible text, so that
/// the manager's zstd path is taken too.
fn body(seq: u64, len: usize) -> Vec<u8> {
    let mut body = vec![0u8; len];
    if seq % 4 == 0 {
        let line = format!("{seq},2024-01-02T09:30:00Z,SPY,470.{},100\n", seq % 100);
        for (b, l) in body.iter_mut().zip(line.bytes().cycle()) {
            *b = l;
        }
    } else {
        rand::rngs::SmallRng::seed_from_u64(seq).fill_bytes(&mut body);
    }
    body
}

/// The self-checking value of save `seq` of `key` with a body of `len` bytes (`len` 0 gives a
/// header-only value; see [`EMPTY`] for truly empty objects).
pub fn value(key: &str, seq: u64, len: usize) -> Bytes {
    let body = body(seq, len);
    let mut out = Vec::with_capacity(HEADER + len);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(key.as_bytes()).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(&body).to_le_bytes());
    out.extend_from_slice(&body);
    out.into()
}

/// Keys whose every save is the empty value (0 bytes): they carry no sequence number, so the
/// checks on them are presence and emptiness.
pub const EMPTY: &[u8] = b"";

/// (seq, body checksum) of a well-formed value of `key`, or what is wrong with it. Values of
/// one seq are equal exactly when their body checksums are: an acknowledged save is compared by
/// its checksum (see [`Expect::saved`]) instead of being generated again.
pub fn check(key: &str, bytes: &[u8]) -> Result<(u64, u64), String> {
    if bytes.len() < HEADER || &bytes[..8] != MAGIC {
        return Err(format!("torn or foreign value of {} bytes", bytes.len()));
    }
    let field = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    let (key_hash, seq, hash) = (field(8), field(16), field(28));
    let len = u32::from_le_bytes(bytes[24..28].try_into().unwrap()) as usize;
    if key_hash != xxhash_rust::xxh3::xxh3_64(key.as_bytes()) {
        return Err("holds another key's value".into());
    }
    if bytes.len() != HEADER + len {
        return Err(format!("torn value: {} bytes, its header says {}", bytes.len(), HEADER + len));
    }
    if xxhash_rust::xxh3::xxh3_64(&bytes[HEADER..]) != hash {
        return Err("torn value: checksum mismatch".into());
    }
    Ok((seq, hash))
}

/// The body checksum a value was made with (what a writer acknowledges).
pub fn checksum_of(value: &[u8]) -> u64 {
    u64::from_le_bytes(value[28..36].try_into().unwrap())
}

/// What a key may hold, from the acknowledgements seen so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Expect {
    /// An acknowledged save is there (or a newer one): the key must exist.
    pub must_exist: bool,
    /// A save may have landed since the last acknowledged delete (false after an acknowledged
    /// delete until a later save begins, and before any save).
    pub may_exist: bool,
    /// A value found must have at least this sequence number.
    pub min_seq: u64,
    /// The acknowledged (seq, body checksum): a value with that seq must be exactly those bytes.
    pub acked: Option<(u64, u64)>,
}

impl Expect {
    /// A save began.
    pub fn begin_save(&mut self) {
        self.may_exist = true;
    }
    /// A save was acknowledged.
    pub fn saved(&mut self, seq: u64, checksum: u64) {
        *self = Expect { must_exist: true, may_exist: true, min_seq: seq, acked: Some((seq, checksum)) };
    }
    /// A delete began.
    pub fn begin_delete(&mut self) {
        self.must_exist = false;
    }
    /// A delete was acknowledged.
    pub fn deleted(&mut self, seq: u64) {
        *self = Expect { must_exist: false, may_exist: false, min_seq: seq + 1, acked: None };
    }

    /// Checks what was found under `key` (None: absent); returns a violation, if any, and makes
    /// what was found the new baseline (the writer is gone: it stays).
    pub fn verify(&mut self, key: &str, found: Option<&[u8]>, empty_key: bool) -> Option<String> {
        let checked = found.filter(|_| !empty_key).map(|bytes| check(key, bytes));
        let problem = match (found, &checked) {
            (None, _) if self.must_exist => Some(format!("acknowledged save {:?} lost: the key is absent", self.acked)),
            (None, _) => None,
            (Some(_), _) if !self.may_exist => Some("present, but it was deleted (acknowledged) or never saved".into()),
            (Some(bytes), None) => (!bytes.is_empty()).then(|| format!("holds {} bytes, not 0", bytes.len())),
            (Some(_), Some(Err(e))) => Some(e.clone()),
            (Some(_), Some(Ok((seq, _)))) if *seq < self.min_seq => {
                Some(format!("holds save {seq}, older than the acknowledged {}", self.min_seq))
            }
            (Some(_), Some(Ok((seq, hash)))) if self.acked.is_some_and(|(s, h)| s == *seq && h != *hash) => {
                Some(format!("save {seq} does not hold exactly the acknowledged bytes"))
            }
            (Some(_), Some(Ok(_))) => None,
        };
        *self = match (found, checked) {
            (None, _) => Expect { must_exist: false, may_exist: false, min_seq: self.min_seq, acked: None },
            (Some(_), Some(Ok((seq, hash)))) => {
                Expect { must_exist: true, may_exist: true, min_seq: seq, acked: Some((seq, hash)) }
            }
            (Some(_), _) => Expect { must_exist: true, may_exist: true, ..*self },
        };
        problem
    }
}

/// What `std::fs` finds under a folder.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recount {
    /// Objects (regular files outside the internal folder, temps excluded).
    pub objects: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Temp files, by path.
    pub temps: Vec<PathBuf>,
}

/// Counts objects, bytes and temp files under `dir` (which may be missing: all zero).
pub fn recount(dir: &Path) -> Recount {
    let mut out = Recount::default();
    recount_into(dir, &mut out);
    out
}

fn recount_into(dir: &Path, out: &mut Recount) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // A file may vanish between the listing and the stat (a writer may still run).
        let Ok(kind) = entry.file_type() else { continue };
        if name.starts_with(TEMP_PREFIX) {
            out.temps.push(entry.path());
        } else if name == INTERNAL {
        } else if kind.is_dir() {
            recount_into(&entry.path(), out);
        } else if let Ok(meta) = entry.metadata() {
            out.objects += 1;
            out.bytes += meta.len();
        }
    }
}

/// (files, stored bytes, original bytes) of each category folder, by folder name.
pub type Frames = BTreeMap<String, (u64, u64, u64)>;

/// Per category folder of a manager's root: (files, stored bytes, original bytes), decoding each
/// frame with the manager's own format module (checksum included). Damaged frames are reported.
pub fn recount_frames(root: &Path) -> (Frames, Vec<String>) {
    let mut out = BTreeMap::new();
    let mut bad = Vec::new();
    let Ok(entries) = std::fs::read_dir(root) else { return (out, bad) };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // `_archive`, and the manager's and monitor's own files (`_manager/`, `_monitor/`), are
        // not category folders.
        if name.starts_with(INTERNAL) || name.starts_with('_') || !entry.path().is_dir() {
            continue;
        }
        let mut files = Vec::new();
        collect_files(&entry.path(), &mut files);
        let figures: &mut (u64, u64, u64) = out.entry(name.clone()).or_default();
        for file in files {
            let Ok(bytes) = std::fs::read(&file) else { continue };
            figures.0 += 1;
            figures.1 += bytes.len() as u64;
            match objstore::manager::format::decode(&Bytes::from(bytes)) {
                Ok(frame) => match frame.open() {
                    Ok(_) => figures.2 += frame.header.size,
                    Err(e) => bad.push(format!("{}: {e:?}", file.display())),
                },
                Err(e) => bad.push(format!("{}: {e:?}", file.display())),
            }
        }
    }
    (out, bad)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(INTERNAL) {
            continue;
        }
        match entry.file_type() {
            Ok(t) if t.is_dir() => collect_files(&entry.path(), out),
            Ok(_) => out.push(entry.path()),
            Err(_) => {}
        }
    }
}

/// The differences between the figures of `store` (its `usage()` and usage ledger) and of
/// `manager` (its `usage_by_category`, over the manager's folder `managed` under `dir`) and a
/// recount on disk (`counted`, and [`recount_frames`]).
pub fn figure_differences(
    dir: &Path,
    managed: &str,
    counted: &Recount,
    store: &objstore::blocking::ObjectStore,
    manager: &objstore::manager::blocking::Manager,
) -> Vec<String> {
    let mut v = Vec::new();
    match store.usage() {
        Ok(u) if (u.bytes, u.objects) == (counted.bytes, counted.objects) => {}
        other => v.push(format!("usage() = {other:?}, a recount finds {counted:?}")),
    }
    match store.as_async().backend().usage_ledger().map(|l| l.read()) {
        Some(Ok(l)) if (l.bytes, l.objects) == (counted.bytes, counted.objects) => {}
        other => v.push(format!("the usage ledger holds {other:?}, a recount finds {counted:?}")),
    }
    match manager.usage_by_category() {
        Ok(usage) => {
            let (frames, bad) = recount_frames(&dir.join(managed));
            v.extend(bad.into_iter().map(|b| format!("damaged frame on disk: {b}")));
            v.extend(compare_usage(&usage, &frames));
        }
        Err(e) => v.push(format!("usage_by_category failed: {e}")),
    }
    v
}

/// Compares a manager's `usage_by_category` with [`recount_frames`]; returns the differences.
pub fn compare_usage(
    usage: &BTreeMap<objstore::manager::Category, objstore::manager::CategoryUsage>,
    recount: &Frames,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (category, u) in usage {
        let counted = recount.get(category.name()).copied().unwrap_or_default();
        if (u.files, u.stored_bytes, u.original_bytes) != counted {
            problems.push(format!(
                "usage_by_category[{category}] = (files {}, stored {}, original {}), a recount of the frames on \
                 disk finds {counted:?}",
                u.files, u.stored_bytes, u.original_bytes
            ));
        }
    }
    for (name, counted) in recount {
        if counted.0 > 0 && !usage.keys().any(|c| c.name() == name) {
            problems.push(format!("category {name} holds {counted:?} on disk but usage_by_category omits it"));
        }
    }
    problems
}

/// Prints `SUMMARY {name} k=v ...` and appends it to `$OBJSTORE_SUMMARY_FILE` (see
/// [`store_core::testkit::summary`]).
pub fn summary(name: &str, fields: &[(&str, String)]) {
    store_core::testkit::summary(name, fields);
}

/// Compiles `tests/support/fault_shim.c` (the LD_PRELOAD fault-injection library) into `dir` with
/// `$CC` or `cc`; returns the library's path.
pub fn build_shim(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fault_shim.c");
    let out = dir.join("fault_shim.so");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = std::process::Command::new(&cc)
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run the C compiler `{cc}` to build the fault-injection shim ({e}); install one \
                 (Debian: apt-get install gcc) or point CC at one"
            )
        });
    assert!(status.success(), "`{cc}` failed to build {} ({status})", src.display());
    out
}

/// A count from the environment, or `default`.
pub fn env_count(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a count")),
        Err(_) => default,
    }
}
