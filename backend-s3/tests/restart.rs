//! The S3 server dies in the middle of a workload and comes back: operations in flight fail with
//! clear errors (or succeed after a retry), nothing acknowledged is lost, and the same store
//! handle works again without being reopened.
//!
//! The test runs its own SeaweedFS (`OBJSTORE_TEST_WEED`, set by `cargo xtask test`) and stops
//! it whatever happens.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use store_core::Error;

/// A SeaweedFS process on fixed ports and folder, so that it can be restarted in place.
struct Weed {
    binary: PathBuf,
    dir: PathBuf,
    ports: Vec<u16>,
    child: Option<Child>,
}

impl Weed {
    fn new(dir: &Path) -> Weed {
        let binary = PathBuf::from(std::env::var("OBJSTORE_TEST_WEED").unwrap_or_else(|_| {
            panic!(
                "this test runs its own SeaweedFS: run `cargo xtask test`, or set OBJSTORE_TEST_WEED to a weed binary"
            )
        }));
        let ports = (0..10).map(|_| TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()).collect();
        Weed { binary, dir: dir.to_path_buf(), ports, child: None }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports[6])
    }

    fn start(&mut self) {
        let p = &self.ports;
        let d = self.dir.display();
        let child = Command::new(&self.binary)
            .env("AWS_ACCESS_KEY_ID", common::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", common::SECRET_KEY)
            .arg("mini")
            .arg(format!("-dir={d}"))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-s3.port.iceberg=0", "-s3.port.lance=0"])
            .args(["-webdav=false", "-admin.ui=false", "-master.telemetry=false", "-bucket=test"])
            .arg(format!("-master.port={}", p[0]))
            .arg(format!("-master.port.grpc={}", p[1]))
            .arg(format!("-volume.port={}", p[2]))
            .arg(format!("-volume.port.grpc={}", p[3]))
            .arg(format!("-filer.port={}", p[4]))
            .arg(format!("-filer.port.grpc={}", p[5]))
            .arg(format!("-s3.port={}", p[6]))
            .arg(format!("-s3.port.grpc={}", p[7]))
            .arg(format!("-admin.port={}", p[8]))
            .arg(format!("-admin.port.grpc={}", p[9]))
            .arg(format!("-filer.localSocket={d}/filer.sock"))
            .arg(format!("-s3.localSocket={d}/s3.sock"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary.display()));
        self.child = Some(child);
    }

    /// Kills the server (SIGKILL: a crash, not a shutdown).
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Weed {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until the store answers, up to a minute.
async fn wait_until_up(store: &store_core::ObjectStore) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match store.keys().await {
            Ok(_) => return,
            Err(e) if Instant::now() > deadline => panic!("SeaweedFS did not come up: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_server_stops_and_comes_back_mid_workload() {
    let dir = tempfile::tempdir().unwrap();
    let mut weed = Weed::new(dir.path());
    weed.start();
    let url = format!(
        "s3://test/restart?endpoint={}&allow_http=true&region=us-east-1&access_key_id={}&secret_access_key={}\
         &connect_timeout=1s&timeout=3s&retry_timeout=2s&max_retries=3&operation_timeout=8s",
        weed.endpoint(),
        common::ACCESS_KEY,
        common::SECRET_KEY
    );
    let store = store_core::open(&url).await.unwrap();
    wait_until_up(&store).await;

    // Four writers save numbered values until told to stop, recording what was acknowledged.
    let acknowledged = Arc::new(Mutex::new(BTreeMap::<String, String>::new()));
    let failures = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let endpoint = weed.endpoint();
    let mut writers = Vec::new();
    for w in 0..4 {
        let (store, acknowledged, failures, stop, endpoint) =
            (store.clone(), acknowledged.clone(), failures.clone(), stop.clone(), endpoint.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Acquire) {
                let (key, value) = (format!("w{w}/{}", n % 50), format!("writer {w} value {n}"));
                match store.save(&key, &value).await {
                    Ok(()) => {
                        acknowledged.lock().unwrap().insert(key, value);
                    }
                    Err(e @ Error::Backend { .. }) => {
                        assert!(e.to_string().contains(&endpoint), "an error that does not name the endpoint: {e}");
                        failures.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => panic!("an unexpected kind of error while the server was away: {e:?}"),
                }
                n += 1;
            }
        }));
    }
    let count = |m: &Arc<Mutex<BTreeMap<String, String>>>| m.lock().unwrap().len();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before_crash = failures.load(Ordering::Relaxed);
    weed.kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let while_down = failures.load(Ordering::Relaxed) - before_crash;
    weed.start();
    wait_until_up(&store).await;
    let saved_before_recovery = acknowledged.lock().unwrap().clone();
    // Listing works as soon as the server answers; saves need a writable volume, which a
    // restarted SeaweedFS takes a moment (longer on a loaded machine) to register. Wait for
    // saves to succeed again, up to a minute, then for two more seconds of them.
    let new_saves = |acknowledged: &Arc<Mutex<BTreeMap<String, String>>>| {
        acknowledged.lock().unwrap().iter().filter(|(k, v)| saved_before_recovery.get(*k) != Some(v)).count()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while new_saves(&acknowledged) == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Release);
    for w in writers {
        w.await.unwrap();
    }

    assert!(while_down > 0, "no operation failed while the server was down: was it?");
    let after = new_saves(&acknowledged);
    assert!(after > 0, "the store did not work again after the server came back (without reopening)");
    // Nothing acknowledged is lost: every last acknowledged value is there, exactly.
    store.clear();
    let last = acknowledged.lock().unwrap().clone();
    for (key, value) in &last {
        assert_eq!(&store.read(key).await.unwrap(), value, "{key}: an acknowledged save was lost");
    }
    println!(
        "restart: {} keys acknowledged, {while_down} operations failed while SeaweedFS was down (all naming it), \
         {after} saves acknowledged after it came back, every acknowledged value intact",
        count(&acknowledged)
    );
}
