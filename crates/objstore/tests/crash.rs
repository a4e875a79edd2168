//! Crash consistency on local disk: a writer process is killed with SIGKILL at random moments,
//! over and over, while several tasks save (and sometimes delete) values of mixed sizes.
//!
//! After each kill the store is reopened and checked:
//! - every save the writer acknowledged (printed after `save_bytes` returned Ok) is readable,
//!   intact, and not older than the acknowledged one (a later save may have landed unacknowledged;
//!   a key may be gone only if a delete of it had begun: the writer announces deletes first);
//! - every acknowledged delete stays done unless a newer save landed;
//! - every value in the store decodes (self-checksummed): nothing is torn;
//! - no temp file is left on disk (opening the store sweeps them);
//! - `usage()` and the shared usage ledger equal a recount done with `std::fs`.
//!
//! One binary plays both parts: re-executed with `OBJSTORE_CRASH_WRITER` set, it is the writer.
//! `OBJSTORE_CRASH_KILLS` sets the number of kills (default 40).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::{Rng, SeedableRng};

const WRITER_ENV: &str = "OBJSTORE_CRASH_WRITER";
const MAGIC: &[u8; 8] = b"OBJCRASH";
const HEADER: usize = 8 + 4 + 8 + 4 + 8;
const KEYS: u32 = 40;
const TASKS: u32 = 4;

fn main() {
    if let Ok(dir) = std::env::var(WRITER_ENV) {
        writer(Path::new(&dir));
        return;
    }
    let kills: usize = std::env::var("OBJSTORE_CRASH_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(40);
    crash_loop(kills);
}

fn key_name(k: u32) -> String {
    format!("crash/k{k:02}")
}

/// A self-checking value: magic, key, seq, body length, xxh3 of the body, body.
fn encode(key: u32, seq: u64, len: usize) -> Bytes {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seq);
    let body: Vec<u8> = (0..len).map(|_| rng.random()).collect();
    let mut out = Vec::with_capacity(HEADER + len);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&key.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(&body).to_le_bytes());
    out.extend_from_slice(&body);
    out.into()
}

/// (key, seq) of a well-formed value, or a description of what is wrong with it.
fn decode(bytes: &[u8]) -> Result<(u32, u64), String> {
    if bytes.len() < HEADER || &bytes[..8] != MAGIC {
        return Err(format!("torn or foreign value of {} bytes", bytes.len()));
    }
    let key = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
    let seq = u64::from_le_bytes(bytes[12..20].try_into().unwrap());
    let len = u32::from_le_bytes(bytes[20..24].try_into().unwrap()) as usize;
    let hash = u64::from_le_bytes(bytes[24..32].try_into().unwrap());
    if bytes.len() != HEADER + len {
        return Err(format!("torn value: {} bytes, header says {}", bytes.len(), HEADER + len));
    }
    if xxhash_rust::xxh3::xxh3_64(&bytes[HEADER..]) != hash {
        return Err("torn value: checksum mismatch".into());
    }
    Ok((key, seq))
}

fn size(rng: &mut impl Rng) -> usize {
    match rng.random_range(0..100) {
        0..5 => 0,
        5..55 => rng.random_range(1..4096),
        55..90 => rng.random_range(4096..256 * 1024),
        _ => rng.random_range(256 * 1024..4 * 1024 * 1024),
    }
}

/// The writer: TASKS tasks, each owning the keys k with k % TASKS == task, saving and deleting
/// until killed, acknowledging each completed operation on stdout.
fn writer(dir: &Path) {
    let base: u64 = std::env::var("OBJSTORE_CRASH_SEQ_BASE").unwrap().parse().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let store = objstore::open(&format!("file://{}", dir.display())).await.unwrap();
        let mut tasks = Vec::new();
        for task in 0..TASKS {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut rng = rand::rngs::SmallRng::seed_from_u64(base + u64::from(task));
                let mut n = 0u64;
                loop {
                    n += 1;
                    let seq = base + n * u64::from(TASKS) + u64::from(task);
                    let key = rng.random_range(0..KEYS / TASKS) * TASKS + task;
                    let line = if rng.random_range(0..100) < 15 {
                        say(&format!("B {key} {seq}\n"));
                        match store.delete(&key_name(key)).await {
                            Ok(()) => format!("D {key} {seq}\n"),
                            Err(objstore::Error::NotFound { .. }) => continue,
                            Err(e) => panic!("delete failed: {e}"),
                        }
                    } else {
                        let value = encode(key, seq, size(&mut rng));
                        store.save_bytes(&key_name(key), value).await.unwrap();
                        format!("S {key} {seq}\n")
                    };
                    say(&line);
                }
            }));
        }
        // The tasks save until the process is killed; a panic in one ends the writer.
        futures::future::try_join_all(tasks).await.unwrap();
    });
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes()).unwrap();
    out.flush().unwrap();
}

/// What the checker may find under a key.
#[derive(Clone, Copy, Debug)]
struct Expect {
    /// False when the key may be absent (never saved, deleted, or a delete had begun).
    must_exist: bool,
    /// A value found must have at least this sequence number.
    min_seq: u64,
}

fn crash_loop(kills: usize) {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = rand::rngs::SmallRng::seed_from_u64(0x00b1_570e);
    let mut model: BTreeMap<u32, Expect> = BTreeMap::new();
    let (mut acked_total, mut checked, mut objects_checked) = (0usize, 0usize, 0usize);
    let started = Instant::now();
    for round in 0..kills {
        let mut child = Command::new(&exe)
            .env(WRITER_ENV, dir.path())
            .env("OBJSTORE_CRASH_SEQ_BASE", ((round as u64 + 1) * 1_000_000_000).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader =
            std::thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).collect::<Vec<String>>());
        std::thread::sleep(Duration::from_millis(rng.random_range(20..250)));
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert!(!status.success(), "the writer exited on its own: {status}");
        for line in reader.join().unwrap() {
            let mut parts = line.split(' ');
            let (op, key, seq) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
            let (key, seq): (u32, u64) = (key.parse().unwrap(), seq.parse().unwrap());
            let expect = model.entry(key).or_insert(Expect { must_exist: false, min_seq: 0 });
            match op {
                // A save acknowledged: it must be there, or something newer.
                "S" => *expect = Expect { must_exist: true, min_seq: seq },
                // A delete begun: the key may be gone from now on.
                "B" => expect.must_exist = false,
                // A delete acknowledged: gone, unless a newer save landed.
                _ => *expect = Expect { must_exist: false, min_seq: seq + 1 },
            }
            acked_total += usize::from(op != "B");
        }
        let (c, o) = verify(dir.path(), &mut model);
        checked += c;
        objects_checked += o;
    }
    println!(
        "crash test: {kills} kills in {:.1} s, {acked_total} acknowledged operations, {checked} acknowledged \
         states checked after kills, {objects_checked} stored values verified intact, violations = 0",
        started.elapsed().as_secs_f64()
    );
}

/// Reopens the store and checks every promise; panics on a violation. What is found becomes the
/// baseline for the next round (the writer is dead: whatever it had in flight has landed or not).
/// Returns (acknowledged states checked, values verified).
fn verify(dir: &Path, model: &mut BTreeMap<u32, Expect>) -> (usize, usize) {
    let store = objstore::blocking::open(&format!("file://{}", dir.display())).unwrap();
    for (&key, expect) in model.iter_mut() {
        let name = key_name(key);
        match store.read_bytes(&name) {
            Ok(bytes) => {
                let (k, seq) = decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(k, key, "{name} holds another key's value");
                assert!(seq >= expect.min_seq, "{name}: holds {seq}, older than acknowledged {}", expect.min_seq);
                *expect = Expect { must_exist: true, min_seq: seq };
            }
            Err(objstore::Error::NotFound { .. }) => {
                assert!(!expect.must_exist, "{name}: acknowledged save {} lost, key absent", expect.min_seq);
            }
            Err(e) => panic!("{name}: {e}"),
        }
    }
    let mut values = 0;
    for entry in store.entries() {
        let (key, bytes) = entry.unwrap();
        decode(&bytes).unwrap_or_else(|e| panic!("{key}: {e}"));
        values += 1;
    }
    // Nothing left behind, and every count agrees with a recount by std::fs.
    let (bytes, objects, temps) = recount(dir);
    assert_eq!(temps, 0, "temp files left visible after reopening");
    let usage = store.usage().unwrap();
    assert_eq!((usage.bytes, usage.objects), (bytes, objects), "usage() differs from a recount");
    let ledger = store.as_async().backend().usage_ledger().unwrap().read().unwrap();
    assert_eq!((ledger.bytes, ledger.objects), (bytes, objects), "the usage ledger differs from a recount");
    assert_eq!(values as u64, objects);
    (model.len(), values)
}

/// (bytes, objects, temp files) under `dir`, counted with std::fs.
fn recount(dir: &Path) -> (u64, u64, usize) {
    let (mut bytes, mut objects, mut temps) = (0, 0, 0);
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let kind = entry.file_type().unwrap();
        if name.starts_with(".objstore-tmp") {
            temps += 1;
        } else if name == ".objstore" {
        } else if kind.is_dir() {
            let (b, o, t) = recount(&entry.path());
            (bytes, objects, temps) = (bytes + b, objects + o, temps + t);
        } else {
            bytes += entry.metadata().unwrap().len();
            objects += 1;
        }
    }
    (bytes, objects, temps)
}
