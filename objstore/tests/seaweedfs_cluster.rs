//! The store on a real distributed engine: a SeaweedFS cluster of separate processes (a master,
//! three volume servers, a filer and the S3 gateway) with replication `001`, so that each object
//! lives on two volume servers. A workload saves new objects, overwrites them and reads them back
//! through `s3://` from several tasks; half-way, one volume server is killed (SIGKILL). Every
//! acknowledged object must still read back intact (its last acknowledged save, or a later one
//! that was attempted), no read may return a torn value or one older than a save acknowledged
//! before it began, and the workload must go on: errors are allowed only while the cluster
//! heals, only as `Error::Backend` (the server failed, retrying is the remedy), and saves must
//! succeed again afterwards.
//!
//! The figures (objects acknowledged and verified, errors during the outage by kind, time to
//! recover) go to `SUMMARY seaweedfs_cluster ...` (see `store_core::testkit::summary`). The
//! workload runs 5 s before the kill and 15 s after it; `OBJSTORE_CLUSTER_SCALE=N` multiplies both
//! (`cargo xtask soak` runs it longer).
//!
//! Needs `OBJSTORE_TEST_WEED`, the `weed` binary that `cargo xtask test` installs and points at;
//! without it the test fails (it never skips). Every process runs in its own process group, is
//! killed when the test ends (also on a panic) and dies with the test (`PR_SET_PDEATHSIG`).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use objstore::{CacheOptions, Error, ObjectStore};
use rand::{Rng, SeedableRng};
use support::Expect;

const WEED_ENV: &str = "OBJSTORE_TEST_WEED";
const ACCESS_KEY: &str = "cluster-test";
const SECRET_KEY: &str = "cluster-test-secret";
const BUCKET: &str = "test";
const VOLUME_SERVERS: usize = 3;
const WRITERS: usize = 6;
const READERS: usize = 2;
/// The workload runs this long before the kill (times `OBJSTORE_CLUSTER_SCALE`)...
const BEFORE_KILL: Duration = Duration::from_secs(5);
/// ...and this long after it (times `OBJSTORE_CLUSTER_SCALE`).
const AFTER_KILL: Duration = Duration::from_secs(15);
/// Multiplies the workload's durations (`cargo xtask soak` sets it; 1 in `cargo xtask test`).
const SCALE_ENV: &str = "OBJSTORE_CLUSTER_SCALE";
/// An error this long after the kill means the cluster did not heal (slowness alone is only reported).
const MAX_RECOVERY: Duration = Duration::from_secs(10);
/// A save this slow after the kill counts as slowed down by the outage (they take ~10-50 ms).
const STALL: Duration = Duration::from_millis(500);
/// Objects saved before the workload and left alone.
const ARCHIVE: usize = 200;
/// Objects of the workload whose copies are read straight from the volume servers (with every
/// archive object).
const SAMPLE: usize = 200;

fn main() {
    let started = Instant::now();
    let weed = std::env::var_os(WEED_ENV).map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "this test runs a SeaweedFS cluster and needs the weed binary: run `cargo xtask test`, which installs \
             it and sets {WEED_ENV}; this test never skips"
        )
    });
    let cluster = Cluster::start(&weed);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let report = runtime.block_on(run(&cluster));
    drop(cluster);

    let kinds: BTreeMap<String, u64> = report.errors.iter().fold(BTreeMap::new(), |mut m, e| {
        *m.entry(format!("{}:{}", e.op, e.kind)).or_default() += 1;
        m
    });
    let kinds_text = if kinds.is_empty() {
        "none".into()
    } else {
        // One word: the summary line separates its fields with spaces.
        kinds.iter().map(|(k, n)| format!("{k}={n}").replace(' ', "_")).collect::<Vec<_>>().join(",")
    };
    let noticed = report.master_noticed.map_or("not within the run".into(), |d| format!("{:.1} s", d.as_secs_f64()));
    println!(
        "seaweedfs_cluster: {} volumes with 2 copies each, {} with a copy on the killed server; the master dropped it \
         after {noticed}; {} volumes had one copy at the end",
        report.volumes, report.volumes_on_victim, report.volumes_single
    );
    println!(
        "seaweedfs_cluster: {} saves and {} reads acknowledged; {} objects acknowledged, {} verified after the kill; \
         errors {} ({kinds_text}), the last at +{:.1} s; saves caught by the kill done by +{:.1} s, the first save \
         begun after it done at +{:.1} s; recovered (no error, no save slower than {STALL:?}) after {:.1} s; slowest save {:.2} s before the kill, {:.2} s after",
        report.saves,
        report.reads,
        report.objects,
        report.verified,
        report.errors.len(),
        report.last_error_after_kill.as_secs_f64(),
        report.caught_done.as_secs_f64(),
        report.first_new.as_secs_f64(),
        report.recovered.as_secs_f64(),
        report.slowest_save[0].as_secs_f64(),
        report.slowest_save[1].as_secs_f64(),
    );
    println!(
        "seaweedfs_cluster: {} objects sampled: {} copies read straight from the live volume servers match; {} of \
         them had their other copy on the killed server; the gateway, filer and master logged {} warnings or errors \
         (failed replica writes they retried themselves)",
        report.sampled, report.copies_checked, report.sampled_on_victim, report.server_warnings
    );
    for e in report.errors.iter().take(10) {
        println!("  error at {:+.2} s from the kill, {} {}: {}", e.at_from_kill, e.op, e.kind, e.message);
    }
    store_core::testkit::summary(
        "seaweedfs_cluster",
        &[
            ("volume_servers", VOLUME_SERVERS.to_string()),
            ("killed", "1".into()),
            ("objects_acked", report.objects.to_string()),
            ("acked_verified", report.verified.to_string()),
            ("saves", report.saves.to_string()),
            ("reads", report.reads.to_string()),
            ("copies_checked", report.copies_checked.to_string()),
            ("sampled_on_killed", report.sampled_on_victim.to_string()),
            ("server_warnings", report.server_warnings.to_string()),
            ("errors", report.errors.len().to_string()),
            ("error_kinds", kinds_text),
            ("recover_secs", format!("{:.1}", report.recovered.as_secs_f64())),
            (
                "master_noticed_secs",
                report.master_noticed.map_or("never".into(), |d| format!("{:.1}", d.as_secs_f64())),
            ),
            ("violations", report.violations.len().to_string()),
            ("secs", format!("{:.1}", started.elapsed().as_secs_f64())),
        ],
    );
    assert!(report.violations.is_empty(), "{} violations:\n{}", report.violations.len(), report.violations.join("\n"));
}

// ----- the cluster -----------------------------------------------------------------------------

/// One `weed` process.
struct Process {
    name: String,
    child: Child,
    log: PathBuf,
}

/// The cluster's processes and data; dropping it kills them all.
struct Cluster {
    _dir: tempfile::TempDir,
    master: String,
    filer: String,
    s3_endpoint: String,
    /// `127.0.0.1:PORT` of each volume server, as the master names them.
    volume_servers: Vec<String>,
    processes: Mutex<Vec<Process>>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `weed ARGS` in its own process group, output to `dir/NAME.log`; it dies with this
/// process.
#[allow(unsafe_code)]
fn spawn(weed: &Path, dir: &Path, name: &str, args: &[String]) -> Process {
    let log = dir.join(format!("{name}.log"));
    let out = std::fs::File::create(&log).unwrap();
    let mut command = Command::new(weed);
    command.args(args).stdin(Stdio::null()).stdout(out.try_clone().unwrap()).stderr(out).process_group(0);
    // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn().unwrap_or_else(|e| panic!("cannot start {} ({name}): {e}", weed.display()));
    Process { name: name.to_string(), child, log }
}

/// Kills a process group (SIGKILL) and reaps its leader.
#[allow(unsafe_code)]
fn kill(process: &mut Process) {
    // SAFETY: kill(2) on a process group this test created; no memory involved.
    unsafe {
        libc::kill(-(process.child.id() as i32), libc::SIGKILL);
    }
    let _ = process.child.wait();
}

/// The last lines of a log, for messages.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

impl Cluster {
    fn start(weed: &Path) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let loopback = ["-ip=127.0.0.1".to_string(), "-ip.bind=127.0.0.1".to_string()];
        let (master_port, master_grpc) = (free_port(), free_port());
        // SeaweedFS addresses name the gRPC port after a dot (its default is port + 10000).
        let master = format!("127.0.0.1:{master_port}.{master_grpc}");
        let mut processes = Vec::new();
        let mut wait_for = Vec::new();
        let mut volume_servers = Vec::new();

        std::fs::create_dir_all(d.join("master")).unwrap();
        let mut args = vec![
            "master".to_string(),
            format!("-port={master_port}"),
            format!("-port.grpc={master_grpc}"),
            format!("-mdir={}", d.join("master").display()),
            // One extra copy on another server of the same rack: two copies of each object.
            "-defaultReplication=001".into(),
            "-volumeSizeLimitMB=64".into(),
            "-peers=none".into(),
            "-telemetry=false".into(),
        ];
        args.extend(loopback.clone());
        processes.push(spawn(weed, d, "master", &args));
        wait_for.push(("master", master_port));

        for i in 0..VOLUME_SERVERS {
            let (port, grpc) = (free_port(), free_port());
            let data = d.join(format!("volume{i}"));
            std::fs::create_dir_all(&data).unwrap();
            let mut args = vec![
                "volume".to_string(),
                format!("-port={port}"),
                format!("-port.grpc={grpc}"),
                format!("-dir={}", data.display()),
                format!("-master={master}"),
                "-max=30".into(),
                "-preStopSeconds=0".into(),
            ];
            args.extend(loopback.clone());
            processes.push(spawn(weed, d, &format!("volume{i}"), &args));
            wait_for.push(("volume", port));
            volume_servers.push(format!("127.0.0.1:{port}"));
        }

        let (filer_port, filer_grpc) = (free_port(), free_port());
        std::fs::create_dir_all(d.join("filer")).unwrap();
        let mut args = vec![
            "filer".to_string(),
            format!("-port={filer_port}"),
            format!("-port.grpc={filer_grpc}"),
            format!("-master={master}"),
            format!("-defaultStoreDir={}", d.join("filer").display()),
            format!("-localSocket={}", d.join("filer.sock").display()),
        ];
        args.extend(loopback.clone());
        processes.push(spawn(weed, d, "filer", &args));
        wait_for.push(("filer", filer_port));

        let (s3_port, s3_grpc) = (free_port(), free_port());
        let config = serde_json::json!({"identities": [{
            "name": "objstore",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }]});
        std::fs::write(d.join("s3.json"), config.to_string()).unwrap();
        let args = vec![
            "s3".to_string(),
            format!("-port={s3_port}"),
            format!("-port.grpc={s3_grpc}"),
            format!("-filer=127.0.0.1:{filer_port}.{filer_grpc}"),
            format!("-config={}", d.join("s3.json").display()),
            format!("-localSocket={}", d.join("s3.sock").display()),
            "-port.iceberg=0".into(),
            "-port.lance=0".into(),
            "-ip.bind=127.0.0.1".into(),
        ];
        processes.push(spawn(weed, d, "s3", &args));
        wait_for.push(("s3", s3_port));

        let cluster = Cluster {
            master: format!("127.0.0.1:{master_port}"),
            filer: format!("127.0.0.1:{filer_port}"),
            s3_endpoint: format!("http://127.0.0.1:{s3_port}"),
            processes: Mutex::new(processes),
            volume_servers,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        for (name, port) in wait_for {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                cluster.check_alive();
                assert!(Instant::now() < deadline, "the {name} did not listen on {port} within 30 s");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        cluster
    }

    /// Panics, with the log's end, when a process of the cluster has exited.
    fn check_alive(&self) {
        for p in self.processes.lock().unwrap().iter_mut() {
            if let Ok(Some(status)) = p.child.try_wait() {
                panic!("weed {} exited ({status}); its log ends with:\n{}", p.name, tail(&p.log));
            }
        }
    }

    /// The bucket URL, under `prefix`.
    fn url(&self, prefix: &str) -> String {
        format!(
            "s3://{BUCKET}/{prefix}?endpoint={}&allow_http=true&region=us-east-1&access_key_id={ACCESS_KEY}&\
             secret_access_key={SECRET_KEY}",
            self.s3_endpoint
        )
    }

    /// Warning and error lines the S3 gateway, the filer and the master logged (glog: `W...`, `E...`).
    fn server_warnings(&self) -> usize {
        let processes = self.processes.lock().unwrap();
        processes
            .iter()
            .filter(|p| ["s3", "filer", "master"].contains(&p.name.as_str()))
            .map(|p| {
                let log = std::fs::read_to_string(&p.log).unwrap_or_default();
                log.lines().filter(|l| l.starts_with('W') || l.starts_with('E')).count()
            })
            .sum()
    }

    /// Kills the volume server `i` (SIGKILL).
    fn kill_volume(&self, i: usize) {
        let mut processes = self.processes.lock().unwrap();
        let p = processes.iter_mut().find(|p| p.name == format!("volume{i}")).unwrap();
        kill(p);
    }

    /// The master's view of the volumes: volume id -> the servers that hold a copy.
    fn volumes(&self) -> BTreeMap<u64, Vec<String>> {
        let mut out: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        let Some((200, status)) = http_get(&self.master, "/vol/status") else { return out };
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(&status) else { return out };
        let mut stack = vec![("".to_string(), &json["Volumes"]["DataCenters"])];
        // DataCenters -> racks -> servers -> [volume]; walk down to the arrays.
        while let Some((server, node)) = stack.pop() {
            match node {
                serde_json::Value::Object(map) => {
                    for (k, v) in map {
                        stack.push((k.clone(), v));
                    }
                }
                serde_json::Value::Array(volumes) => {
                    for v in volumes {
                        if let Some(id) = v["Id"].as_u64() {
                            out.entry(id).or_default().push(server.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }
}

impl Cluster {
    /// The file ids of the chunks that hold `key` (under the prefix `cluster`), from the filer.
    fn chunks(&self, key: &str) -> Option<Vec<String>> {
        let (200, body) = http_get(&self.filer, &format!("/buckets/{BUCKET}/cluster/{key}?metadata=true"))? else {
            return None;
        };
        let entry: serde_json::Value = serde_json::from_slice(&body).ok()?;
        entry["chunks"].as_array()?.iter().map(|c| c["file_id"].as_str().map(str::to_string)).collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut processes = self.processes.lock().unwrap_or_else(|p| p.into_inner());
        for p in processes.iter_mut() {
            kill(p);
        }
    }
}

/// A plain HTTP/1.0 GET on loopback: (status, body), or None when it cannot be made.
fn http_get(host: &str, path: &str) -> Option<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(host).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let end = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&response[..end]);
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, response[end + 4..].to_vec()))
}

// ----- the workload ----------------------------------------------------------------------------

struct Failure {
    at_from_kill: f64,
    op: &'static str,
    kind: String,
    message: String,
}

#[derive(Default)]
struct Report {
    saves: u64,
    reads: u64,
    objects: u64,
    verified: u64,
    errors: Vec<Failure>,
    /// When the last save caught in flight by the kill was acknowledged (from the kill).
    caught_done: Duration,
    /// When the first save begun after the kill was acknowledged.
    first_new: Duration,
    /// The latest of those two, the last error and the end of the last save slower than
    /// [`STALL`]: saves flow normally again.
    recovered: Duration,
    last_error_after_kill: Duration,
    /// Longest save begun before and after the kill.
    slowest_save: [Duration; 2],
    volumes: usize,
    volumes_on_victim: usize,
    /// Volumes left with one copy at the end.
    volumes_single: usize,
    master_noticed: Option<Duration>,
    /// Warnings and errors in the gateway's, the filer's and the master's logs.
    server_warnings: usize,
    /// Objects sampled, their copies read from live volume servers, and how many of them had
    /// their other copy on the killed server.
    sampled: usize,
    copies_checked: u64,
    sampled_on_victim: u64,
    violations: Vec<String>,
}

/// A short name for an error: its variant, and the S3 error code when the server gave one.
fn kind_of(e: &Error) -> String {
    match e {
        Error::Backend { message, .. } => {
            let code = message.split_once(" answered ").and_then(|(_, rest)| rest.split(':').next());
            match code {
                Some(code) => format!("Backend/{code}"),
                None if message.contains("within") => "Backend/timeout".into(),
                None => "Backend/request".into(),
            }
        }
        Error::NotFound { .. } => "NotFound".into(),
        Error::Io { .. } => "Io".into(),
        other => format!("{other:?}").split([' ', '{', '(']).next().unwrap_or("other").to_string(),
    }
}

/// What the tasks share.
struct Shared {
    store: ObjectStore,
    /// Acknowledged sequence number of each key (readers check against it).
    acked: Mutex<BTreeMap<String, u64>>,
    errors: Mutex<Vec<(Instant, &'static str, Error)>>,
    /// Saves acknowledged after the kill: when, how long they took, and whether they began after it.
    saves_after_kill: Mutex<Vec<(Instant, Duration, bool)>>,
    violations: Mutex<Vec<String>>,
    killed_at: Mutex<Option<Instant>>,
    stop: AtomicBool,
    saves: AtomicU64,
    reads: AtomicU64,
    /// Longest save in microseconds, begun before and after the kill.
    slowest: [AtomicU64; 2],
}

async fn run(cluster: &Cluster) -> Report {
    let url = cluster.url("cluster");
    // The first save also creates the bucket (the gateway does for an admin identity); retried
    // until the volume servers have joined the master.
    let store = ObjectStore::builder(&url).build().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match store.save("ready", "yes").await {
            Ok(()) => break,
            Err(e) => {
                cluster.check_alive();
                assert!(Instant::now() < deadline, "the cluster did not take a save within 30 s: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    // Objects saved once before the workload and never again: about half of them will have a
    // copy on the server that is killed, and must be served from the other.
    let archive: Vec<(String, Expect)> = futures::stream::iter(0..ARCHIVE)
        .map(|i| {
            let store = store.clone();
            async move {
                let key = format!("archive/{i}");
                let value = support::value(&key, 1, 1024 + i * 97 % 32_768);
                let checksum = support::checksum_of(&value);
                store.save_bytes(&key, value).await.unwrap();
                let mut expect = Expect::default();
                expect.saved(1, checksum);
                (key, expect)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let shared = Arc::new(Shared {
        store,
        acked: Mutex::new(BTreeMap::new()),
        errors: Mutex::new(Vec::new()),
        saves_after_kill: Mutex::new(Vec::new()),
        violations: Mutex::new(Vec::new()),
        killed_at: Mutex::new(None),
        stop: AtomicBool::new(false),
        saves: AtomicU64::new(0),
        reads: AtomicU64::new(0),
        slowest: [AtomicU64::new(0), AtomicU64::new(0)],
    });
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let shared = shared.clone();
        writers.push(tokio::spawn(writer(shared, w)));
    }
    let mut readers = Vec::new();
    for r in 0..READERS {
        let shared = shared.clone();
        readers.push(tokio::spawn(reader(shared, r)));
    }

    let scale = support::env_count(SCALE_ENV, 1).clamp(1, 1000) as u32;
    let (before_kill, after_kill) = (BEFORE_KILL * scale, AFTER_KILL * scale);
    tokio::time::sleep(before_kill).await;
    let mut violations = Vec::new();
    // Before the kill: every volume has its two copies on two different servers.
    let volumes = cluster.volumes();
    if volumes.is_empty() {
        violations.push("the master lists no volumes (GET /vol/status)".to_string());
    }
    for (id, servers) in &volumes {
        let distinct: std::collections::BTreeSet<_> = servers.iter().collect();
        if servers.len() != 2 || distinct.len() != 2 {
            violations.push(format!("volume {id} is on {servers:?}, not on two servers (replication 001)"));
        }
    }
    let victim = 0;
    let victim_name = cluster.volume_servers[victim].clone();
    let on_victim = volumes.values().filter(|servers| servers.contains(&victim_name)).count();
    cluster.kill_volume(victim);
    let killed = Instant::now();
    *shared.killed_at.lock().unwrap() = Some(killed);
    // Watch the master drop the dead server while the workload goes on.
    let mut master_noticed = None;
    while killed.elapsed() < after_kill {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if master_noticed.is_none() {
            let now = cluster.volumes();
            if !now.is_empty() && !now.values().any(|servers| servers.contains(&victim_name)) {
                master_noticed = Some(killed.elapsed());
            }
        }
    }
    let after = cluster.volumes();
    let single = after.values().filter(|servers| servers.len() < 2).count();
    shared.stop.store(true, Ordering::Release);
    let mut acks: BTreeMap<String, Expect> = archive.into_iter().collect();
    for w in writers {
        acks.extend(w.await.unwrap());
    }
    for r in readers {
        r.await.unwrap();
    }
    cluster.check_alive_except(victim);
    let server_warnings = cluster.server_warnings();

    // Every acknowledged object reads back intact, through a store with no cache.
    let fresh = ObjectStore::builder(&url).cache(CacheOptions::DISABLED).build().await.unwrap();
    let reads: Vec<(String, Result<Option<bytes::Bytes>, Error>)> = futures::stream::iter(acks.keys().cloned())
        .map(|key| {
            let fresh = fresh.clone();
            async move {
                let found = match fresh.read_bytes(&key).await {
                    Ok(bytes) => Ok(Some(bytes)),
                    Err(Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e),
                };
                (key, found)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut verified = 0;
    let mut sample = Vec::new();
    for (key, found) in reads {
        let expect = acks.get_mut(&key).unwrap();
        let found = match found {
            Ok(found) => found,
            Err(e) => {
                violations.push(format!("{key}: cannot read it back after the cluster healed: {e}"));
                continue;
            }
        };
        let was_acked = expect.must_exist;
        match expect.verify(&key, found.as_deref(), false) {
            Some(problem) => violations.push(format!("{key}: {problem}")),
            None if was_acked => {
                verified += 1;
                if key.starts_with("archive/") || (verified % 10 == 0 && sample.len() < ARCHIVE + SAMPLE) {
                    sample.push((key, found.unwrap()));
                }
            }
            None => {}
        }
    }

    // Each sampled object, read straight from every live volume server that should hold a copy:
    // two copies for objects in volumes the killed server had no part in, the surviving one for
    // the others.
    let (mut copies_checked, mut sampled_on_victim) = (0u64, 0u64);
    for (key, bytes) in &sample {
        let Some(chunks) = cluster.chunks(key) else {
            violations.push(format!("{key}: the filer has no metadata for it"));
            continue;
        };
        let [fid] = &chunks[..] else { continue };
        let vid: u64 = fid.split(',').next().unwrap().parse().unwrap();
        let Some(servers) = volumes.get(&vid).or(after.get(&vid)) else {
            violations.push(format!("{key}: its volume {vid} is unknown to the master"));
            continue;
        };
        if servers.len() != 2 {
            violations.push(format!("{key}: its volume {vid} is on {servers:?}, not on two servers"));
        }
        for server in servers {
            if *server == victim_name {
                sampled_on_victim += 1;
                continue;
            }
            match http_get(server, &format!("/{fid}")) {
                Some((200, body)) if body == bytes[..] => copies_checked += 1,
                Some((status, body)) => violations.push(format!(
                    "{key}: the copy on {server} ({fid}) answers {status} with {} bytes, not the {} acknowledged",
                    body.len(),
                    bytes.len()
                )),
                None => violations.push(format!("{key}: cannot ask {server} for its copy ({fid})")),
            }
        }
    }
    let objects = acks.values().filter(|e| e.must_exist).count() as u64;

    let errors = std::mem::take(&mut *shared.errors.lock().unwrap());
    let mut last_error_after_kill = Duration::ZERO;
    let mut failures = Vec::new();
    for (at, op, e) in errors {
        let from_kill = at.saturating_duration_since(killed);
        let before = at < killed;
        if before {
            violations.push(format!("{op} failed before the kill: {e}"));
        } else {
            last_error_after_kill = last_error_after_kill.max(from_kill);
            if !matches!(e, Error::Backend { .. }) {
                violations.push(format!("{op} failed during the outage with a non-retryable error: {e}"));
            }
            if from_kill > MAX_RECOVERY {
                violations.push(format!("{op} still failed {from_kill:.1?} after the kill: {e}"));
            }
        }
        let at_from_kill = if before { -(killed - at).as_secs_f64() } else { from_kill.as_secs_f64() };
        failures.push(Failure { at_from_kill, op, kind: kind_of(&e), message: e.to_string() });
    }
    let saves_after = shared.saves_after_kill.lock().unwrap().clone();
    let since_kill = |t: &Instant| t.duration_since(killed);
    // Saves caught in flight by the kill are done by then; saves begun after it first succeed then;
    // the last save slowed down by the outage (STALL or more) is done by then.
    let caught_done = saves_after.iter().filter(|(_, _, new)| !new).map(|(t, _, _)| since_kill(t)).max();
    let first_new = saves_after.iter().filter(|(_, _, new)| *new).map(|(t, _, _)| since_kill(t)).min();
    let last_stall = saves_after.iter().filter(|(_, took, _)| *took >= STALL).map(|(t, _, _)| since_kill(t)).max();
    let recovered = [caught_done, first_new.or(Some(after_kill)), last_stall, Some(last_error_after_kill)]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or_default();
    // How long recovery took is a figure, not a check: on a shared machine a slow save can come
    // from the load as much as from the cluster (no timing assertions in tests).
    // The workload goes on: saves succeed after the last error.
    let last_error_at = killed + last_error_after_kill;
    if !saves_after.iter().any(|(t, _, _)| *t > last_error_at) {
        violations.push("no save succeeded after the last error: the workload did not go on".into());
    }
    violations.extend(std::mem::take(&mut *shared.violations.lock().unwrap()));

    Report {
        saves: shared.saves.load(Ordering::Relaxed),
        reads: shared.reads.load(Ordering::Relaxed),
        objects,
        verified,
        errors: failures,
        caught_done: caught_done.unwrap_or_default(),
        first_new: first_new.unwrap_or(after_kill),
        recovered,
        last_error_after_kill,
        slowest_save: [0, 1].map(|i| Duration::from_micros(shared.slowest[i].load(Ordering::Relaxed))),
        volumes: volumes.len(),
        volumes_on_victim: on_victim,
        volumes_single: single,
        master_noticed,
        server_warnings,
        sampled: sample.len(),
        copies_checked,
        sampled_on_victim,
        violations,
    }
}

impl Cluster {
    fn check_alive_except(&self, victim: usize) {
        for p in self.processes.lock().unwrap().iter_mut() {
            if p.name == format!("volume{victim}") {
                continue;
            }
            if let Ok(Some(status)) = p.child.try_wait() {
                panic!("weed {} exited during the run ({status}); its log ends with:\n{}", p.name, tail(&p.log));
            }
        }
    }
}

/// Saves new keys and overwrites its own, until told to stop; returns what it expects of each.
async fn writer(shared: Arc<Shared>, w: usize) -> BTreeMap<String, Expect> {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(w as u64);
    let mut keys: BTreeMap<String, (Expect, u64)> = BTreeMap::new();
    let mut next = 0;
    while !shared.stop.load(Ordering::Acquire) {
        let key = if keys.len() < 20 || rng.random_bool(0.5) {
            next += 1;
            format!("w{w}/k{next}")
        } else {
            keys.keys().nth(rng.random_range(0..keys.len())).unwrap().clone()
        };
        let (expect, seq) = keys.entry(key.clone()).or_default();
        *seq += 1;
        let len = if rng.random_range(0..10) == 0 {
            rng.random_range(64 * 1024..512 * 1024)
        } else {
            rng.random_range(16..8 * 1024)
        };
        let value = support::value(&key, *seq, len);
        let checksum = support::checksum_of(&value);
        expect.begin_save();
        let (began, after_kill) = (Instant::now(), shared.killed_at.lock().unwrap().is_some());
        let result = shared.store.save_bytes(&key, value).await;
        shared.slowest[usize::from(after_kill)].fetch_max(began.elapsed().as_micros() as u64, Ordering::Relaxed);
        match result {
            Ok(()) => {
                expect.saved(*seq, checksum);
                shared.acked.lock().unwrap().insert(key, *seq);
                shared.saves.fetch_add(1, Ordering::Relaxed);
                if shared.killed_at.lock().unwrap().is_some() {
                    shared.saves_after_kill.lock().unwrap().push((Instant::now(), began.elapsed(), after_kill));
                }
            }
            Err(e) => {
                shared.errors.lock().unwrap().push((Instant::now(), "save", e));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    keys.into_iter().map(|(k, (e, _))| (k, e)).collect()
}

/// Reads acknowledged keys, checking each value is whole and not older than the acknowledged
/// save at the time the read began.
async fn reader(shared: Arc<Shared>, r: usize) {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(1000 + r as u64);
    while !shared.stop.load(Ordering::Acquire) {
        let picked = {
            let acked = shared.acked.lock().unwrap();
            (!acked.is_empty()).then(|| {
                let (k, s) = acked.iter().nth(rng.random_range(0..acked.len())).unwrap();
                (k.clone(), *s)
            })
        };
        let Some((key, acked)) = picked else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        match shared.store.read_bytes(&key).await {
            Ok(bytes) => {
                shared.reads.fetch_add(1, Ordering::Relaxed);
                match support::check(&key, &bytes) {
                    Ok((seq, _)) if seq < acked => shared.violations.lock().unwrap().push(format!(
                        "stale read: {key} gave save {seq}, save {acked} was acknowledged before the read began"
                    )),
                    Ok(_) => {}
                    Err(e) => shared.violations.lock().unwrap().push(format!("{key}: {e}")),
                }
            }
            Err(e) => {
                shared.errors.lock().unwrap().push((Instant::now(), "read", e));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
