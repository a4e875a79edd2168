//! Crash consistency on local disk: a writer process is killed with SIGKILL at random moments,
//! over and over, while its tasks save, overwrite and delete values of 0 B to 4 MiB through the
//! facade and through the manager (categories, frames with checksums, zstd, moves between
//! categories).
//!
//! After each kill the store is reopened (and a fresh manager built over it) and checked:
//! - every save the writer acknowledged (announced after it returned Ok) is readable, through the
//!   facade or a fresh manager, with exactly its bytes, or a newer save is there (one may have
//!   landed unacknowledged); a key may be gone only if a delete of it had begun, and may be there
//!   after an acknowledged delete only if a later save had begun (the writer announces both);
//! - every stored value decodes (self-checksummed values, manager frames with their checksum):
//!   nothing is torn;
//! - no temp file is visible (opening the store sweeps the ones the killed writer left). Every
//!   other writer runs with `tests/support/fault_shim.c` refusing `O_TMPFILE`, as on a file
//!   system without unnamed temp files, so its temp files are named from the start and kills
//!   leave them behind (the other writers' temp files get a name only just before the rename);
//! - `usage()` and the shared usage ledger equal a recount done with `std::fs`, and the fresh
//!   manager's `usage_by_category` equals a recount of the frames on disk, category by category.
//!
//! One binary plays both parts: re-executed with `OBJSTORE_CRASH_WRITER` set, it is the writer.
//! `OBJSTORE_CRASH_KILLS` sets the number of kills (default 200: 90 s on 2 cores beside a CI run;
//! `cargo xtask soak` runs 2,000). The last line is `SUMMARY crash kills=.. acked_verified=.. ..
//! violations=0`; any violation fails the test after the summary.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use objstore::manager::{Category, Settings};
use rand::{Rng, SeedableRng};
use support::Expect;

const WRITER_ENV: &str = "OBJSTORE_CRASH_WRITER";
/// Facade keys with self-checking values, and keys whose every save is the empty value.
const FACADE_KEYS: u32 = 40;
const EMPTY_KEYS: u32 = 4;
const FACADE_TASKS: u32 = 3;
const MANAGER_KEYS: u32 = 24;
const MANAGER_TASKS: u32 = 2;
const TASKS: u32 = FACADE_TASKS + MANAGER_TASKS;
/// Where the manager keeps its folders (a project view of the same store).
const MANAGED: &str = "managed";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Facade,
    Manager,
}

fn main() {
    if let Ok(dir) = std::env::var(WRITER_ENV) {
        writer(Path::new(&dir));
        return;
    }
    crash_loop(support::env_count("OBJSTORE_CRASH_KILLS", 200));
}

fn name(kind: Kind, k: u32) -> String {
    match kind {
        Kind::Facade if k >= FACADE_KEYS => format!("crash/e{k:02}"),
        Kind::Facade => format!("crash/k{k:02}"),
        Kind::Manager => format!("m{k:02}"),
    }
}

fn is_empty_key(kind: Kind, k: u32) -> bool {
    kind == Kind::Facade && k >= FACADE_KEYS
}

/// A manager key's usual category; one save in ten moves it to the next one.
fn category(k: u32, moved: bool) -> Category {
    match (k + u32::from(moved)) % 3 {
        0 => Category::TradingState,
        1 => Category::MlModels,
        _ => Category::Custom("crash_custom".into()),
    }
}

/// Mostly small, some large enough (up to 4 MiB) that kills land in the middle of writing them.
fn size(rng: &mut impl Rng) -> usize {
    match rng.random_range(0..100) {
        0..5 => 0,
        5..55 => rng.random_range(1..4096),
        55..90 => rng.random_range(4096..256 * 1024),
        _ => rng.random_range(256 * 1024..=4 * 1024 * 1024),
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes()).unwrap();
    out.flush().unwrap();
}

/// The writer: FACADE_TASKS facade tasks and MANAGER_TASKS manager tasks, each owning the keys
/// k with k % tasks == task, saving, overwriting and deleting until killed. It announces each
/// operation before it starts (P: save, B: delete) and after it succeeded (S: save, D: delete):
/// `{op} {f|m} {key} {seq} {x}`, x the body's length for P and its checksum for S.
fn writer(dir: &Path) {
    let base: u64 = std::env::var("OBJSTORE_CRASH_SEQ_BASE").unwrap().parse().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let store = objstore::open(&format!("file://{}", dir.display())).await.unwrap();
        let manager = objstore::manager::Manager::new(store.project(MANAGED), Settings::default());
        let mut tasks = Vec::new();
        for task in 0..TASKS {
            let (store, manager) = (store.clone(), manager.clone());
            tasks.push(tokio::spawn(async move {
                let mut rng = rand::rngs::SmallRng::seed_from_u64(base + u64::from(task));
                let (kind, tag, owner, owners, keys) = if task < FACADE_TASKS {
                    (Kind::Facade, 'f', task, FACADE_TASKS, FACADE_KEYS + EMPTY_KEYS)
                } else {
                    (Kind::Manager, 'm', task - FACADE_TASKS, MANAGER_TASKS, MANAGER_KEYS)
                };
                let mut n = 0u64;
                loop {
                    n += 1;
                    let seq = base + n * u64::from(TASKS) + u64::from(task);
                    let k = rng.random_range(0..keys.div_ceil(owners)) * owners + owner;
                    if k >= keys {
                        continue;
                    }
                    let key = name(kind, k);
                    if rng.random_range(0..100) < 15 {
                        say(&format!("B {tag} {k} {seq} 0\n"));
                        let deleted = match kind {
                            Kind::Facade => store.delete(&key).await.map_err(|e| (e.is_not_found(), e.to_string())),
                            Kind::Manager => manager.delete(&key).await.map_err(|e| (e.is_not_found(), e.to_string())),
                        };
                        match deleted {
                            Ok(()) => say(&format!("D {tag} {k} {seq} 0\n")),
                            Err((true, _)) => {}
                            Err((false, e)) => panic!("delete of {key} failed: {e}"),
                        }
                        continue;
                    }
                    let len = size(&mut rng);
                    let value =
                        if is_empty_key(kind, k) { bytes::Bytes::new() } else { support::value(&key, seq, len) };
                    let checksum = if value.is_empty() { 0 } else { support::checksum_of(&value) };
                    say(&format!("P {tag} {k} {seq} {len}\n"));
                    match kind {
                        Kind::Facade => store.save_bytes(&key, value).await.map(drop).map_err(|e| e.to_string()),
                        Kind::Manager => {
                            let opts = objstore::manager::SaveOptions::new(category(k, rng.random_range(0..10) == 0));
                            manager.save_bytes(&key, value, opts).await.map(drop).map_err(|e| e.to_string())
                        }
                    }
                    .unwrap_or_else(|e| panic!("save of {key} failed: {e}"));
                    say(&format!("S {tag} {k} {seq} {checksum}\n"));
                }
            }));
        }
        // The tasks save until the process is killed; a panic in one ends the writer.
        futures::future::try_join_all(tasks).await.unwrap();
    });
}

#[derive(Default)]
struct Totals {
    acked_ops: usize,
    /// Saves under way when the writer was killed (begun, never acknowledged), and how many of
    /// them were large (1 MiB or more).
    in_flight: usize,
    in_flight_large: usize,
    /// Temp files the killed writers left, found before reopening (the sweep removes them).
    temps_left: usize,
    acked_verified: usize,
    values_verified: usize,
    violations: Vec<String>,
}

fn crash_loop(kills: usize) {
    let dir = tempfile::tempdir().unwrap();
    let shim_dir = tempfile::tempdir().unwrap();
    let shim = support::build_shim(shim_dir.path());
    let exe = std::env::current_exe().unwrap();
    let mut rng = rand::rngs::SmallRng::seed_from_u64(0x00b1_570e);
    let mut model: BTreeMap<(Kind, u32), Expect> = BTreeMap::new();
    let mut totals = Totals::default();
    let started = Instant::now();
    for round in 0..kills {
        let mut command = Command::new(&exe);
        if round % 2 == 1 {
            // Every other writer runs as on a file system without O_TMPFILE: its temp files are
            // named from the start, so kills leave them behind for the sweep.
            command.env("LD_PRELOAD", &shim).env("OBJSTORE_FAULT_NO_TMPFILE", "1");
        }
        let mut child = command
            .env(WRITER_ENV, dir.path())
            .env("OBJSTORE_CRASH_SEQ_BASE", ((round as u64 + 1) * 1_000_000_000).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader =
            std::thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).collect::<Vec<String>>());
        // Now and then during start-up (the sweep, the ledger's rebuild, the manager's scan).
        let wait = if rng.random_range(0..10) == 0 { rng.random_range(0..20) } else { rng.random_range(20..300) };
        std::thread::sleep(Duration::from_millis(wait));
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(9), "the writer ended on its own, not by the kill: {status}");
        let mut pending: BTreeMap<u64, u64> = BTreeMap::new();
        for line in reader.join().unwrap() {
            let parts: Vec<&str> = line.split(' ').collect();
            let [op, tag, k, seq, x] = parts[..] else { panic!("unexpected writer output: {line}") };
            let kind = if tag == "f" { Kind::Facade } else { Kind::Manager };
            let (k, seq, x): (u32, u64, u64) = (k.parse().unwrap(), seq.parse().unwrap(), x.parse().unwrap());
            let expect = model.entry((kind, k)).or_default();
            match op {
                "P" => {
                    expect.begin_save();
                    pending.insert(seq, x);
                }
                "S" => {
                    expect.saved(seq, x);
                    pending.remove(&seq);
                }
                "B" => expect.begin_delete(),
                _ => expect.deleted(seq),
            }
            totals.acked_ops += usize::from(op == "S" || op == "D");
        }
        totals.in_flight += pending.len();
        totals.in_flight_large += pending.values().filter(|&&len| len >= 1 << 20).count();
        totals.temps_left += support::recount(dir.path()).temps.len();
        let before = totals.violations.len();
        verify(dir.path(), &mut model, &mut totals);
        for v in &totals.violations[before..] {
            eprintln!("VIOLATION after kill {}: {v}", round + 1);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "crash test: {kills} kills in {secs:.1} s, {} acknowledged saves and deletes, {} saves in flight when \
         killed ({} of 1 MiB or more), {} temp files left and swept, {} acknowledged states verified after \
         kills, {} stored values verified intact, {} violations",
        totals.acked_ops,
        totals.in_flight,
        totals.in_flight_large,
        totals.temps_left,
        totals.acked_verified,
        totals.values_verified,
        totals.violations.len()
    );
    support::summary(
        "crash",
        &[
            ("kills", kills.to_string()),
            ("acked_ops", totals.acked_ops.to_string()),
            ("in_flight", totals.in_flight.to_string()),
            ("temps_swept", totals.temps_left.to_string()),
            ("acked_verified", totals.acked_verified.to_string()),
            ("values_verified", totals.values_verified.to_string()),
            ("violations", totals.violations.len().to_string()),
            ("secs", format!("{secs:.1}")),
        ],
    );
    assert!(
        totals.violations.is_empty(),
        "{} violations; the first: {}",
        totals.violations.len(),
        totals.violations[0]
    );
}

/// Every copy of a manager key on disk, for a violation's message: its category, when it was
/// created and the save it holds.
fn manager_copies(dir: &Path, key: &str) -> String {
    let mut copies = String::from("; copies:");
    for category in std::fs::read_dir(dir.join(MANAGED)).into_iter().flatten().flatten() {
        let Ok(raw) = std::fs::read(category.path().join(key)) else { continue };
        let what = match objstore::manager::format::decode(&bytes::Bytes::from(raw)) {
            Ok(frame) => {
                let seq = frame.open().map_err(|e| format!("{e:?}")).and_then(|v| support::check(key, &v));
                format!("created_ms {}, {seq:?}", frame.header.created_ms)
            }
            Err(e) => format!("not a frame: {e:?}"),
        };
        copies += &format!(" [{}: {what}]", category.file_name().to_string_lossy());
    }
    copies
}

/// Reopens the store and checks every promise, recording violations. What is found becomes the
/// baseline for the next round (the writer is dead: whatever it had in flight landed or not).
fn verify(dir: &Path, model: &mut BTreeMap<(Kind, u32), Expect>, totals: &mut Totals) {
    let url = format!("file://{}", dir.display());
    let store = match objstore::blocking::open(&url) {
        Ok(store) => store,
        Err(e) => return totals.violations.push(format!("the store does not reopen: {e}")),
    };
    let v = &mut totals.violations;

    // Opening swept what the killed writer left: no temp file anywhere.
    let counted = support::recount(dir);
    if !counted.temps.is_empty() {
        v.push(format!("temp files visible after reopening: {:?}", counted.temps));
    }

    // Every acknowledged state, through the facade and through a fresh manager.
    let manager = objstore::manager::blocking::Manager::new(store.project(MANAGED), Settings::default());
    // The checker reads; it must not write its index snapshot between a figure and its recount.
    manager.set_index_snapshots(None);
    for (&(kind, k), expect) in model.iter_mut() {
        let key = name(kind, k);
        let found = match kind {
            Kind::Facade => match store.read_bytes(&key) {
                Ok(bytes) => Some(bytes),
                Err(objstore::Error::NotFound { .. }) => None,
                Err(e) => {
                    v.push(format!("{key}: cannot read: {e}"));
                    continue;
                }
            },
            Kind::Manager => match manager.load_bytes(&key) {
                Ok(found) => found,
                Err(e) => {
                    v.push(format!("manager {key}: cannot load: {e}"));
                    continue;
                }
            },
        };
        totals.acked_verified += usize::from(expect.must_exist || expect.acked.is_some() || !expect.may_exist);
        if let Some(problem) = expect.verify(&key, found.as_deref(), is_empty_key(kind, k)) {
            let copies = if kind == Kind::Manager { manager_copies(dir, &key) } else { String::new() };
            v.push(format!("{kind:?} {key}: {problem}{copies}"));
        }
    }

    // Every stored value is whole: the keys above were read already; manager frames are all
    // decoded below (a recount with std::fs); any other key is read now.
    let mut listed = 0usize;
    for key in store.keys().unwrap_or_else(|e| {
        v.push(format!("cannot list the keys: {e}"));
        Vec::new()
    }) {
        listed += 1;
        let known = model.keys().any(|&(kind, k)| kind == Kind::Facade && name(kind, k) == key);
        if known || key.starts_with(&format!("{MANAGED}/")) {
            continue;
        }
        v.push(format!("{key}: an object the writer never saved"));
    }
    totals.values_verified += listed;

    // The figures agree with a recount.
    v.extend(support::figure_differences(dir, MANAGED, &counted, &store, &manager));
    match manager.problems() {
        Ok(problems) if problems.is_empty() => {}
        other => v.push(format!("the fresh manager reports problems: {other:?}")),
    }
}
