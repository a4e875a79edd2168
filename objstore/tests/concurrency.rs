//! Concurrency at the limits: two processes × 32 tasks on one store, on local disk and on S3
//! (the SeaweedFS that `cargo xtask test` starts).
//!
//! - **Limits and compare-and-swap.** All tasks of both processes go through three phases,
//!   together (a barrier across the processes between them): they increment one counter key by
//!   compare-and-swap (`PutMode::Update`, retried on `Precondition`) while the store is far from
//!   its limits; they create small objects until the object limit refuses them; they grow their
//!   objects by overwrites until the byte limit refuses them, with more increments among those
//!   saves, at the limits. A monitor recounts the store the whole time (`std::fs` on disk, a
//!   listing on S3) and checks that usage never passes `max_objects` or `max_bytes`. At the end
//!   the counter holds exactly the number of increments, the object limit is filled exactly and
//!   the byte limit to within one growth step, and what is stored is exactly what the writers were
//!   told they saved (objects and bytes). On disk, the usage ledger the processes share must agree
//!   with the recount, with no reservation left.
//!
//!   On S3 both processes increment the counter, but only one fills: the S3 backend has no usage
//!   ledger shared between processes and no cross-process lock (`Capabilities::shared_usage` and
//!   `cross_process_lock` are false), so each process's limits layer counts only its own saves
//!   between recounts, and two processes filling one bucket pass a limit together (both filling,
//!   max_objects = 80 ended at 143 objects). What the design promises there is that the tasks of
//!   one handle cannot, and that compare-and-swap is exact between processes; that is what runs.
//!
//!   The workload only ever adds objects or grows them (the counter keeps its size), so a recount
//!   that is not a snapshot (a folder walk, a paged listing) can only under-count: any overshoot
//!   it sees is real.
//! - **Readers beside writers.** In each process 8 writer tasks overwrite their own keys with
//!   self-describing values (key, sequence number, length, checksum; `tests/support`) and publish
//!   each acknowledged sequence number in a file both processes map as shared memory (atomics);
//!   24 reader tasks, through the writers' handle and through a second handle, read keys of both
//!   processes with the default cache (`CachePolicy::Revalidate`). Every value read must be whole,
//!   and its sequence number at least the one acknowledged before the read began; at the end each
//!   key holds its last acknowledged save.
//! - **Fairness.** Tasks reading a small value in a loop must not starve a task that saves on the
//!   same runtime (see `fairness_probe`).
//!
//! Prints `SUMMARY concurrency ...` (see `store_core::testkit::summary`). Sizes are CI-sized;
//! `OBJSTORE_CONCURRENCY_SCALE=N` multiplies the increments, growths and durations (for `cargo
//! xtask soak`); `OBJSTORE_CONC_ONLY=disk-fairness,disk-limits,disk-readers,s3-limits,s3-readers`
//! (any of them) runs only those parts. The S3 parts need `OBJSTORE_TEST_S3_SEAWEEDFS` (set by
//! `cargo xtask test`); without it the test fails after the local parts, it never skips.
//!
//! One binary plays all parts: re-executed with `OBJSTORE_CONC_WORKER` set, it is a worker process.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use objstore::{CacheOptions, Error, LimitKind, Limits, ObjectStore, PutMode, Usage};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

const WORKER_ENV: &str = "OBJSTORE_CONC_WORKER";
const S3_ENV: &str = "OBJSTORE_TEST_S3_SEAWEEDFS";
const SCALE_ENV: &str = "OBJSTORE_CONCURRENCY_SCALE";
const ONLY_ENV: &str = "OBJSTORE_CONC_ONLY";
const PROCESSES: usize = 2;
const TASKS: usize = 32;
const COUNTER: &str = "counter";
/// The counter is zero-padded to a fixed width, so an increment never grows the store and is
/// allowed at a full store (an overwrite counts at its new size).
const COUNTER_WIDTH: usize = 20;
/// The largest growth of one overwrite in the fill.
const MAX_GROWTH: u64 = 1024;
/// Writer tasks per process in the readers part (the other tasks read).
const WRITERS: usize = 8;
const KEYS_PER_WRITER: usize = 4;
const SLOTS: usize = PROCESSES * WRITERS * KEYS_PER_WRITER;
/// Violation messages kept per worker (all are counted).
const KEEP: usize = 20;

fn main() {
    if let Ok(config) = std::env::var(WORKER_ENV) {
        let config: Value = serde_json::from_str(&config).unwrap();
        worker(&config);
        return;
    }
    parent();
}

// ----- the parent ------------------------------------------------------------------------------

/// Where a part runs.
#[derive(Clone)]
enum Target {
    Disk(PathBuf),
    S3(String),
}

impl Target {
    fn url(&self) -> String {
        match self {
            Target::Disk(dir) => format!("file://{}", dir.display()),
            Target::S3(url) => url.clone(),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Target::Disk(_) => "local disk",
            Target::S3(_) => "S3 (SeaweedFS)",
        }
    }
}

/// A bucket URL on the SeaweedFS of `cargo xtask test`, under a prefix of its own.
fn s3_url(base: &str, part: &str) -> String {
    let (path, query) = base.split_once('?').unwrap_or((base, ""));
    let unique = format!(
        "conc-{}-{}-{part}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
    );
    format!("{}/{unique}?{query}", path.trim_end_matches('/'))
}

#[derive(Default)]
struct Totals {
    cas_increments: u64,
    reads_checked: u64,
    acked_verified: u64,
    recounts: u64,
    violations: Vec<String>,
}

impl Totals {
    fn violation(&mut self, part: &str, message: String) {
        self.violations.push(format!("{part}: {message}"));
    }
}

fn parent() {
    let started = Instant::now();
    let scale = support::env_count(SCALE_ENV, 1).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut totals = Totals::default();

    // OBJSTORE_CONC_ONLY=disk-limits,s3-readers,... runs only those parts (when working on one).
    let only = std::env::var(ONLY_ENV).ok();
    let runs = |part: &str| only.as_ref().is_none_or(|o| o.split(',').any(|p| p == part));
    let dir = tempfile::tempdir().unwrap();
    if runs("disk-fairness") {
        fairness_probe(&dir.path().join("fairness"), &mut totals);
    }
    if runs("disk-limits") {
        limits_part(&runtime, &Target::Disk(dir.path().join("limits")), scale, &mut totals);
    }
    if runs("disk-readers") {
        readers_part(&runtime, &Target::Disk(dir.path().join("readers")), scale, dir.path(), &mut totals);
    }
    if runs("s3-limits") || runs("s3-readers") {
        let base = std::env::var(S3_ENV).unwrap_or_else(|_| {
            panic!(
                "the S3 half of this test needs SeaweedFS: run `cargo xtask test`, which starts it and sets \
                 {S3_ENV}=s3://BUCKET?endpoint=...; this test never skips"
            )
        });
        if runs("s3-limits") {
            let s3 = Target::S3(s3_url(&base, "limits"));
            limits_part(&runtime, &s3, scale, &mut totals);
            runtime.block_on(remove_all(&s3));
        }
        if runs("s3-readers") {
            let s3 = Target::S3(s3_url(&base, "readers"));
            readers_part(&runtime, &s3, scale, dir.path(), &mut totals);
            runtime.block_on(remove_all(&s3));
        }
    }

    let secs = started.elapsed().as_secs_f64();
    store_core::testkit::summary(
        "concurrency",
        &[
            ("processes", PROCESSES.to_string()),
            ("tasks", TASKS.to_string()),
            ("cas_increments", totals.cas_increments.to_string()),
            ("reads_checked", totals.reads_checked.to_string()),
            ("acked_verified", totals.acked_verified.to_string()),
            ("recounts", totals.recounts.to_string()),
            ("violations", totals.violations.len().to_string()),
            ("secs", format!("{secs:.1}")),
        ],
    );
    assert!(totals.violations.is_empty(), "{} violations:\n{}", totals.violations.len(), totals.violations.join("\n"));
}

/// Worker processes that are killed if the parent gives up on them (or panics).
struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Runs one worker process per config, starts them together, and returns what each printed.
fn run_workers(configs: Vec<Value>, sync_dir: &Path, timeout: Duration) -> Vec<Value> {
    std::fs::create_dir_all(sync_dir).unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut workers = Workers(Vec::new());
    for mut config in configs {
        config["sync"] = json!(sync_dir);
        workers.0.push(
            Command::new(&exe)
                .env(WORKER_ENV, config.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap(),
        );
    }
    // Every worker opens its store, says so, and waits for the go.
    let deadline = Instant::now() + Duration::from_secs(60);
    while (0..workers.0.len()).any(|id| !sync_dir.join(format!("ready-{id}")).exists()) {
        for child in &mut workers.0 {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("a worker exited before it was ready ({status})");
            }
        }
        assert!(Instant::now() < deadline, "the workers did not get ready within 60 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::fs::write(sync_dir.join("go"), b"").unwrap();
    let deadline = Instant::now() + timeout;
    loop {
        let statuses: Vec<_> = workers.0.iter_mut().map(|c| c.try_wait().unwrap()).collect();
        // A worker that failed would leave the other waiting at a barrier: stop at once.
        if let Some(status) = statuses.iter().flatten().find(|s| !s.success()) {
            panic!("a worker failed ({status}); its output is above");
        }
        if statuses.iter().all(Option::is_some) {
            break;
        }
        assert!(Instant::now() < deadline, "the workers did not finish within {timeout:?} (killed)");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = Vec::new();
    for child in std::mem::take(&mut workers.0) {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "a worker failed ({})", output.status);
        let stdout = String::from_utf8(output.stdout).unwrap();
        let last = stdout.lines().last().unwrap_or_default();
        out.push(serde_json::from_str(last).unwrap_or_else(|e| panic!("a worker printed {stdout:?}: {e}")));
    }
    out
}

fn field(v: &Value, name: &str) -> u64 {
    v[name].as_u64().unwrap_or_else(|| panic!("no {name} in {v}"))
}

fn worker_violations(part: &str, results: &[Value], totals: &mut Totals) {
    for (id, r) in results.iter().enumerate() {
        let count = field(r, "violations");
        for message in r["messages"].as_array().unwrap() {
            totals.violation(part, format!("process {id}: {}", message.as_str().unwrap()));
        }
        for _ in r["messages"].as_array().unwrap().len() as u64..count {
            totals.violation(part, format!("process {id}: (more of the above)"));
        }
    }
}

/// The usage of the store now, by an independent count: `std::fs` on disk, a listing on S3.
async fn recount(target: &Target, lister: Option<&ObjectStore>) -> Result<Usage, String> {
    match target {
        Target::Disk(dir) => {
            let r = support::recount(dir);
            Ok(Usage { bytes: r.bytes, objects: r.objects })
        }
        Target::S3(_) => lister
            .unwrap()
            .list("")
            .try_fold(
                Usage::default(),
                |u, m| async move { Ok(Usage { bytes: u.bytes + m.size, objects: u.objects + 1 }) },
            )
            .await
            .map_err(|e| format!("cannot list the bucket: {e}")),
    }
}

/// A handle with no limits and no cache, for counting and checking.
async fn plain(target: &Target) -> ObjectStore {
    ObjectStore::builder(target.url()).cache(CacheOptions::DISABLED).build().await.unwrap()
}

/// Removes what a part left in the bucket (best effort).
async fn remove_all(target: &Target) {
    let store = plain(target).await;
    let Ok(keys) = store.keys().await else { return };
    futures::stream::iter(keys)
        .for_each_concurrent(16, |key| {
            let store = store.clone();
            async move {
                let _ = store.delete(&key).await;
            }
        })
        .await;
}

/// What the monitor saw.
#[derive(Default)]
struct Watch {
    looks: u64,
    most: Usage,
    violations: Vec<String>,
}

/// Recounts `target` until `done`, checking usage against `limits` each time.
fn monitor(target: &Target, limits: Limits, done: &AtomicBool) -> Watch {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let lister = match target {
            Target::S3(_) => Some(plain(target).await),
            Target::Disk(_) => None,
        };
        let mut watch = Watch::default();
        while !done.load(Ordering::Acquire) {
            match recount(target, lister.as_ref()).await {
                Ok(u) => {
                    if u.objects > limits.max_objects.unwrap() || u.bytes > limits.max_bytes.unwrap() {
                        watch.violations.push(format!(
                            "a recount while the workers ran found {} objects and {} bytes, past the limits \
                             (max_objects {}, max_bytes {})",
                            u.objects,
                            u.bytes,
                            limits.max_objects.unwrap(),
                            limits.max_bytes.unwrap()
                        ));
                    }
                    watch.most =
                        Usage { bytes: watch.most.bytes.max(u.bytes), objects: watch.most.objects.max(u.objects) };
                    watch.looks += 1;
                }
                Err(e) => watch.violations.push(e),
            }
            // Leave the two cores to the workers (and the server) most of the time.
            tokio::time::sleep(Duration::from_millis(if lister.is_some() { 10 } else { 2 })).await;
        }
        watch
    })
}

/// The limits and compare-and-swap part on `target`.
fn limits_part(runtime: &tokio::runtime::Runtime, target: &Target, scale: usize, totals: &mut Totals) {
    let started = Instant::now();
    let part = format!("limits, {}", target.name());
    let s3 = matches!(target, Target::S3(_));
    // Each task first increments the counter `early` times (while the store is far from its
    // limits), then fills: `creates` new small objects (16..64 bytes: the object limit fills
    // first), then `growths` growing overwrites (1..=MAX_GROWTH bytes more each: the byte limit
    // fills about half-way), with `late` more increments among them, at the limits.
    let (max_objects, max_bytes) = if s3 { (80u64, 64 * 1024u64) } else { (150, 128 * 1024) };
    let (early, late, creates, growths) =
        if s3 { (2 * scale, scale, 4, 8 * scale) } else { (4 * scale, scale, 4, 8 * scale) };
    let limits = Limits { max_objects: Some(max_objects), max_bytes: Some(max_bytes), ..Limits::default() };
    if let Target::Disk(dir) = target {
        std::fs::create_dir_all(dir).unwrap();
    }
    // The parent keeps a handle open all along: on disk it joins the workers' shared ledger,
    // which is then compared with a recount at the end.
    let store = runtime.block_on(async {
        let store = ObjectStore::builder(target.url()).limits(limits).build().await.unwrap();
        store.save(COUNTER, &format!("{:0COUNTER_WIDTH$}", 0)).await.unwrap();
        store
    });

    let done = Arc::new(AtomicBool::new(false));
    let watch = Arc::new(Mutex::new(None));
    let watcher = {
        let (done, watch, target) = (done.clone(), watch.clone(), target.clone());
        std::thread::spawn(move || *watch.lock().unwrap() = Some(monitor(&target, limits, &done)))
    };
    let configs = (0..PROCESSES)
        .map(|id| {
            json!({
                "part": "limits", "url": target.url(), "id": id,
                // On S3 one process fills; both increment (see the top of the file).
                "fill": !s3 || id == 0,
                "max_objects": max_objects, "max_bytes": max_bytes,
                "early": early, "late": late, "creates": creates, "growths": growths,
            })
        })
        .collect();
    let sync = tempfile::tempdir().unwrap();
    let results = run_workers(configs, sync.path(), Duration::from_secs(300 * scale as u64));
    done.store(true, Ordering::Release);
    watcher.join().unwrap();
    let watch = watch.lock().unwrap().take().unwrap();
    worker_violations(&part, &results, totals);
    for v in watch.violations {
        totals.violation(&part, v);
    }

    let sum = |name: &str| results.iter().map(|r| field(r, name)).sum::<u64>();
    let (increments, retries, created, stored_bytes) =
        (sum("increments"), sum("retries"), sum("created"), sum("stored_bytes"));
    let (refused_objects, refused_bytes) = (sum("refused_objects"), sum("refused_bytes"));
    let expected = (PROCESSES * TASKS * (early + late)) as u64;
    runtime.block_on(async {
        let counter = store.read(COUNTER).await.unwrap();
        let n: u64 = counter.parse().unwrap();
        if n != expected || increments != expected {
            totals.violation(
                &part,
                format!(
                    "the counter holds {n} after {increments} acknowledged increments ({expected} made): \
                     a compare-and-swap update was lost or doubled"
                ),
            );
        }
        let lister = plain(target).await;
        let counted = recount(target, Some(&lister)).await.unwrap();
        let want = Usage { objects: 1 + created, bytes: COUNTER_WIDTH as u64 + stored_bytes };
        if counted != want {
            totals.violation(
                &part,
                format!(
                    "the store holds {counted:?}, the writers were told they saved {want:?} (a save was lost, or one \
                     reported as refused was stored)"
                ),
            );
        }
        if counted.objects > max_objects || counted.bytes > max_bytes {
            totals.violation(&part, format!("the store ends at {counted:?}, past the limits"));
        }
        let usage = store.usage().await.unwrap();
        if usage != counted {
            totals.violation(&part, format!("usage() says {usage:?}, a recount finds {counted:?}"));
        }
        if let Some(ledger) = store.backend().usage_ledger() {
            let figures = ledger.read().unwrap();
            if figures.usage() != counted || figures.reserved_bytes != 0 || figures.reserved_objects != 0 {
                totals.violation(
                    &part,
                    format!(
                        "with no save in flight, the shared usage ledger holds {figures:?}; a recount finds {counted:?}"
                    ),
                );
            }
        }
        // The limits were reached, so the run tested them (not violations: a failed check here
        // means the sizes above need adjusting).
        assert_eq!(counted.objects, max_objects, "{part}: the object limit was not filled exactly");
        assert!(
            counted.bytes + MAX_GROWTH > max_bytes,
            "{part}: the byte limit was not reached within one growth step ({counted:?}, max_bytes {max_bytes})"
        );
        assert!(refused_objects > 0 && refused_bytes > 0, "{part}: not both limits refused saves");
    });
    totals.cas_increments += increments;
    totals.acked_verified += created;
    totals.recounts += watch.looks;
    println!(
        "concurrency, {part}: {PROCESSES} processes x {TASKS} tasks, {:.1} s: counter = {n} ({retries} retries on \
         Precondition); {created} objects admitted, {refused_objects} refused on max_objects = {max_objects}, \
         {refused_bytes} growths refused on max_bytes = {max_bytes}; at most {} objects / {} bytes seen in {} \
         recounts while running",
        started.elapsed().as_secs_f64(),
        watch.most.objects,
        watch.most.bytes,
        watch.looks,
        n = increments,
    );
}

/// The readers-beside-writers part on `target`.
fn readers_part(runtime: &tokio::runtime::Runtime, target: &Target, scale: usize, scratch: &Path, totals: &mut Totals) {
    let started = Instant::now();
    let part = format!("readers, {}", target.name());
    let secs = 3 * scale as u64;
    let acks = scratch.join(format!("acks-{}", if matches!(target, Target::S3(_)) { "s3" } else { "disk" }));
    std::fs::write(&acks, vec![0u8; SLOTS * 8]).unwrap();
    if let Target::Disk(dir) = target {
        std::fs::create_dir_all(dir).unwrap();
    }
    let configs = (0..PROCESSES)
        .map(|id| json!({"part": "readers", "url": target.url(), "id": id, "acks": acks, "secs": secs}))
        .collect();
    let sync = tempfile::tempdir().unwrap();
    let results = run_workers(configs, sync.path(), Duration::from_secs(120 + 10 * secs));
    worker_violations(&part, &results, totals);
    let sum = |name: &str| results.iter().map(|r| field(r, name)).sum::<u64>();
    let (reads, cross, stale_checks, writes) = (sum("reads"), sum("cross_reads"), sum("stale_checks"), sum("writes"));

    // Every key holds exactly its last acknowledged save.
    let acked: Vec<u64> =
        std::fs::read(&acks).unwrap().chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect();
    let verified = runtime.block_on(async {
        let store = plain(target).await;
        let mut verified = 0;
        for (slot, &seq) in acked.iter().enumerate() {
            let key = slot_key(slot);
            let found = match store.read_bytes(&key).await {
                Ok(bytes) => support::check(&key, &bytes).map(|(s, _)| s),
                Err(Error::NotFound { .. }) => Err("absent".into()),
                Err(e) => Err(e.to_string()),
            };
            match found {
                Ok(s) if s == seq => verified += 1,
                Ok(s) => totals.violation(&part, format!("{key} ends with save {s}, the last acknowledged is {seq}")),
                Err(_) if seq == 0 => {}
                Err(e) => totals.violation(&part, format!("{key}: {e} (its last acknowledged save is {seq})")),
            }
        }
        verified
    });
    totals.reads_checked += reads;
    totals.acked_verified += verified;
    println!(
        "concurrency, {part}: {PROCESSES} processes x ({WRITERS} writers + {} readers), {:.1} s: {writes} saves \
         acknowledged; {reads} reads checked whole ({cross} of the other process's keys, {stale_checks} against an \
         acknowledged sequence number); {verified} keys end at their last acknowledged save",
        TASKS - WRITERS,
        started.elapsed().as_secs_f64()
    );
}

/// Tasks reading a small value in a loop must leave room on the runtime for a task that saves.
fn fairness_probe(dir: &Path, totals: &mut Totals) {
    const SAVES: u64 = 20;
    const READERS: usize = 4;
    let part = "fairness, local disk";
    std::fs::create_dir_all(dir).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // Ends the readers after 3 s even when they starve everything else on the runtime.
    let timer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(3);
            while !stop.load(Ordering::Acquire) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            stop.store(true, Ordering::Release);
        })
    };
    let url = format!("file://{}", dir.display());
    let (saved, elapsed, reads) = runtime.block_on(async {
        let store = ObjectStore::builder(url).build().await.unwrap();
        store.save("hot", &"x".repeat(100)).await.unwrap();
        let reads = Arc::new(AtomicU64::new(0));
        let mut readers = Vec::new();
        for _ in 0..READERS {
            let (store, stop, reads) = (store.clone(), stop.clone(), reads.clone());
            readers.push(tokio::spawn(async move {
                while !stop.load(Ordering::Acquire) {
                    store.read_bytes("hot").await.unwrap();
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        let started = Instant::now();
        let writer = {
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut saved = 0;
                while saved < SAVES && !stop.load(Ordering::Acquire) {
                    store.save(&format!("k{saved}"), "v").await.unwrap();
                    saved += 1;
                }
                saved
            })
        };
        let saved = writer.await.unwrap();
        let elapsed = started.elapsed();
        stop.store(true, Ordering::Release);
        for reader in readers {
            reader.await.unwrap();
        }
        (saved, elapsed, reads.load(Ordering::Relaxed))
    });
    timer.join().unwrap();
    if saved < SAVES {
        totals.violation(
            part,
            format!(
                "{saved} of {SAVES} saves done in {elapsed:.1?} while {READERS} tasks read a 100-byte value in a loop \
                 ({reads} reads) on the same 2-thread runtime: a small read on disk never returns Pending (backend-local \
                 reads files under 64 KiB inline), so a read loop never yields and starves every other task; reads that \
                 complete at once should still consume tokio's cooperative budget \
                 (tokio::task::coop::consume_budget().await)"
            ),
        );
    }
    println!(
        "concurrency, {part}: {saved} of {SAVES} saves in {elapsed:.1?} beside {READERS} read loops ({reads} reads)"
    );
}

fn slot_key(slot: usize) -> String {
    let (process, rest) = (slot / (WRITERS * KEYS_PER_WRITER), slot % (WRITERS * KEYS_PER_WRITER));
    format!("rw/p{process}-w{}-k{}", rest / KEYS_PER_WRITER, rest % KEYS_PER_WRITER)
}

// ----- the workers -----------------------------------------------------------------------------

/// Violations seen by one worker process: all counted, the first few kept.
#[derive(Default)]
struct Problems {
    count: AtomicU64,
    kept: Mutex<Vec<String>>,
}

impl Problems {
    fn add(&self, message: String) {
        if self.count.fetch_add(1, Ordering::Relaxed) < KEEP as u64 {
            self.kept.lock().unwrap().push(message);
        }
    }
}

fn worker(config: &Value) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let problems = Arc::new(Problems::default());
    let mut out = match config["part"].as_str().unwrap() {
        "limits" => runtime.block_on(limits_worker(config, problems.clone())),
        "readers" => runtime.block_on(readers_worker(config, problems.clone())),
        other => panic!("no part {other}"),
    };
    out["violations"] = json!(problems.count.load(Ordering::Relaxed));
    out["messages"] = json!(*problems.kept.lock().unwrap());
    println!("{out}");
}

/// Tells the parent this worker is ready, and waits for the go.
fn ready_then_wait(config: &Value) {
    let sync = PathBuf::from(config["sync"].as_str().unwrap());
    std::fs::write(sync.join(format!("ready-{}", config["id"])), b"").unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !sync.join("go").exists() {
        assert!(Instant::now() < deadline, "no go within 60 s");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A barrier between the phases of the limits part, across every task of every worker process.
struct Phases {
    tasks: tokio::sync::Barrier,
    sync: PathBuf,
    id: u64,
}

impl Phases {
    /// Waits until every task of every process has called `wait(phase)`.
    async fn wait(&self, phase: &str) {
        if self.tasks.wait().await.is_leader() {
            std::fs::write(self.sync.join(format!("{phase}-{}", self.id)), b"").unwrap();
            let deadline = Instant::now() + Duration::from_secs(300);
            while (0..PROCESSES).any(|p| !self.sync.join(format!("{phase}-{p}")).exists()) {
                assert!(Instant::now() < deadline, "the other worker did not reach {phase} within 300 s");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        self.tasks.wait().await;
    }
}

/// One compare-and-swap increment of the counter; returns the retries it took.
async fn increment(store: &ObjectStore) -> Result<u64, String> {
    let mut retries = 0;
    loop {
        let object = store.read_object(COUNTER).await.map_err(|e| format!("cannot read the counter: {e}"))?;
        let text = std::str::from_utf8(&object.bytes).map_err(|_| "the counter is not text".to_string())?;
        let n: u64 = text.parse().map_err(|_| format!("the counter holds {text:?}"))?;
        let next = format!("{:0COUNTER_WIDTH$}", n + 1);
        match store.save_bytes_with(COUNTER, next, PutMode::Update(object.meta.version)).await {
            Ok(_) => return Ok(retries),
            Err(Error::Precondition { .. }) => retries += 1,
            Err(e) => return Err(format!("an increment failed: {e}")),
        }
    }
}

/// What one task of the limits part did.
#[derive(Default)]
struct FillTask {
    increments: u64,
    retries: u64,
    created: u64,
    stored_bytes: u64,
    refused_objects: u64,
    refused_bytes: u64,
}

async fn limits_worker(config: &Value, problems: Arc<Problems>) -> Value {
    let id = field(config, "id");
    let fill = config["fill"].as_bool().unwrap();
    let [early, late, creates, growths] = ["early", "late", "creates", "growths"].map(|f| field(config, f) as usize);
    let limits = Limits {
        max_objects: Some(field(config, "max_objects")),
        max_bytes: Some(field(config, "max_bytes")),
        ..Limits::default()
    };
    let store = ObjectStore::builder(config["url"].as_str().unwrap()).limits(limits).build().await.unwrap();
    ready_then_wait(config);
    let phases = Arc::new(Phases {
        tasks: tokio::sync::Barrier::new(TASKS),
        sync: PathBuf::from(config["sync"].as_str().unwrap()),
        id,
    });
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let (store, problems, phases) = (store.clone(), problems.clone(), phases.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::SmallRng::seed_from_u64(id * 1000 + task as u64);
            let mut done = FillTask::default();
            let mut own: Vec<(String, u64)> = Vec::new();
            let bump = async |done: &mut FillTask| match increment(&store).await {
                Ok(retries) => {
                    done.increments += 1;
                    done.retries += retries;
                }
                Err(e) => problems.add(e),
            };
            // Phase 1, far from the limits: increments (plus the late ones of a process that
            // does not fill). Phase 2: the creates fill the object limit. Phase 3: growths fill
            // the byte limit, with the late increments among them.
            for _ in 0..early + if fill { 0 } else { late } {
                bump(&mut done).await;
            }
            phases.wait("early").await;
            for step in 0..if fill { creates } else { 0 } {
                let key = format!("fill/p{id}-t{task}-{step}");
                save(&store, &key, rng.random_range(16..64u64), &mut own, &mut done, &problems).await;
            }
            phases.wait("created").await;
            let late_at: Vec<usize> = (0..late).map(|j| (j + 1) * growths / (late + 1)).collect();
            for step in 0..if fill { growths } else { 0 } {
                for _ in late_at.iter().filter(|&&at| at == step) {
                    bump(&mut done).await;
                }
                if own.is_empty() {
                    continue;
                }
                let (key, size) = own[rng.random_range(0..own.len())].clone();
                save(&store, &key, size + rng.random_range(1..=MAX_GROWTH), &mut own, &mut done, &problems).await;
            }
            done.created = own.len() as u64;
            done.stored_bytes = own.iter().map(|(_, s)| s).sum();
            done
        }));
    }
    let mut total = FillTask::default();
    for task in tasks {
        let t = task.await.unwrap();
        total.increments += t.increments;
        total.retries += t.retries;
        total.created += t.created;
        total.stored_bytes += t.stored_bytes;
        total.refused_objects += t.refused_objects;
        total.refused_bytes += t.refused_bytes;
    }
    json!({
        "increments": total.increments, "retries": total.retries, "created": total.created,
        "stored_bytes": total.stored_bytes, "refused_objects": total.refused_objects,
        "refused_bytes": total.refused_bytes,
    })
}

/// A save of the fill: `size` bytes under `key`, recorded in `own` when it succeeds.
async fn save(
    store: &ObjectStore,
    key: &str,
    size: u64,
    own: &mut Vec<(String, u64)>,
    done: &mut FillTask,
    problems: &Problems,
) {
    match store.save_bytes(key, vec![b'x'; size as usize]).await {
        Ok(()) => match own.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = size,
            None => own.push((key.to_string(), size)),
        },
        Err(Error::LimitExceeded { kind: LimitKind::Objects, .. }) => done.refused_objects += 1,
        Err(Error::LimitExceeded { kind: LimitKind::Bytes, .. }) => done.refused_bytes += 1,
        Err(e) => problems.add(format!("saving {key} ({size} bytes) failed: {e}")),
    }
}

/// The acknowledged sequence numbers, one atomic per key, in a file every worker maps shared.
#[allow(unsafe_code)]
fn map_acks(path: &Path) -> &'static [AtomicU64] {
    use std::os::fd::AsRawFd as _;
    let file = std::fs::OpenOptions::new().read(true).write(true).open(path).unwrap();
    assert_eq!(file.metadata().unwrap().len(), (SLOTS * 8) as u64);
    // SAFETY: a shared read-write mapping of the whole file (SLOTS * 8 bytes, checked above). A
    // mapping is page-aligned, so aligned for AtomicU64; it is never unmapped (the process ends
    // with it), outlives the file descriptor by design, and is only accessed through the atomics.
    unsafe {
        let ptr = libc::mmap(
            std::ptr::null_mut(),
            SLOTS * 8,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        );
        assert_ne!(ptr, libc::MAP_FAILED, "mmap failed: {}", std::io::Error::last_os_error());
        std::slice::from_raw_parts(ptr as *const AtomicU64, SLOTS)
    }
}

async fn readers_worker(config: &Value, problems: Arc<Problems>) -> Value {
    let id = field(config, "id") as usize;
    let acks = map_acks(Path::new(config["acks"].as_str().unwrap()));
    let url = config["url"].as_str().unwrap();
    // Writers and half the readers share a handle (and its cache); the other readers have their
    // own, like another program in the same process.
    let shared = ObjectStore::builder(url).build().await.unwrap();
    let second = ObjectStore::builder(url).build().await.unwrap();
    ready_then_wait(config);
    let deadline = Instant::now() + Duration::from_secs(field(config, "secs"));
    let (writes, reads, cross, stale_checks) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let store = if task < WRITERS || task % 2 == 0 { shared.clone() } else { second.clone() };
        let (problems, writes, reads, cross, stale_checks) =
            (problems.clone(), writes.clone(), reads.clone(), cross.clone(), stale_checks.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::SmallRng::seed_from_u64((id * 1000 + task) as u64);
            if task < WRITERS {
                let base = (id * WRITERS + task) * KEYS_PER_WRITER;
                let mut seqs = [0u64; KEYS_PER_WRITER];
                let mut k = 0;
                while Instant::now() < deadline {
                    let key = slot_key(base + k);
                    let seq = seqs[k] + 1;
                    let len = if rng.random_range(0..10) == 0 {
                        rng.random_range(16_384..65_536)
                    } else {
                        rng.random_range(0..4096)
                    };
                    match store.save_bytes(&key, support::value(&key, seq, len)).await {
                        Ok(()) => {
                            seqs[k] = seq;
                            acks[base + k].store(seq, Ordering::Release);
                            writes.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => problems.add(format!("saving {key} (save {seq}) failed: {e}")),
                    }
                    k = (k + 1) % KEYS_PER_WRITER;
                }
            } else {
                while Instant::now() < deadline {
                    let slot = rng.random_range(0..SLOTS);
                    let key = slot_key(slot);
                    let acked = acks[slot].load(Ordering::Acquire);
                    match store.read_bytes(&key).await {
                        Ok(bytes) => match support::check(&key, &bytes) {
                            Ok((seq, _)) if seq < acked => problems.add(format!(
                                "stale read: {key} gave save {seq}, but save {acked} was acknowledged before the \
                                 read began"
                            )),
                            Ok(_) => {}
                            Err(e) => problems.add(format!("{key}: {e}")),
                        },
                        Err(Error::NotFound { .. }) if acked == 0 => {}
                        Err(Error::NotFound { .. }) => {
                            problems.add(format!("{key} is absent, but save {acked} was acknowledged before"))
                        }
                        Err(e) => problems.add(format!("reading {key} failed: {e}")),
                    }
                    reads.fetch_add(1, Ordering::Relaxed);
                    // A read of a small file on disk completes without ever returning Pending,
                    // so a loop of them would starve the writers on this runtime (see
                    // `fairness_probe`): yield, as a real reader loop would have to today.
                    tokio::task::yield_now().await;
                    if slot / (WRITERS * KEYS_PER_WRITER) != id {
                        cross.fetch_add(1, Ordering::Relaxed);
                    }
                    if acked > 0 {
                        stale_checks.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    json!({"writes": get(&writes), "reads": get(&reads), "cross_reads": get(&cross), "stale_checks": get(&stale_checks)})
}
