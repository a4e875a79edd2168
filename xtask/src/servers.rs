//! Starting and stopping the S3 servers, on loopback ports chosen here.
//!
//! Each server runs in its own process group and is killed when xtask dies (`PR_SET_PDEATHSIG`,
//! SIGKILL), so it stops whatever ends xtask. Dropping a [`Server`] stops it gracefully (SIGTERM,
//! then SIGKILL after 5 s) and removes its data; data left by a killed run is removed at the
//! next start.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::tools::Tools;

/// The credentials the test servers require.
pub const ACCESS_KEY: &str = "objstore-test";
/// See [`ACCESS_KEY`].
pub const SECRET_KEY: &str = "objstore-test-secret";
/// The bucket made on each server.
pub const BUCKET: &str = "test";

/// A running server.
pub struct Server {
    /// Its name, for messages.
    pub name: &'static str,
    /// Its S3 endpoint, `http://127.0.0.1:PORT`.
    pub endpoint: String,
    child: Child,
    data: PathBuf,
}

impl Server {
    /// The URL of the test bucket, with endpoint and credentials, as the tests expect it.
    pub fn bucket_url(&self) -> String {
        format!(
            "s3://{BUCKET}?endpoint={}&allow_http=true&region=us-east-1&access_key_id={ACCESS_KEY}&secret_access_key={SECRET_KEY}",
            self.endpoint
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let group = self.child.id() as i32;
        // SAFETY: kill(2) with a process group id this process created; no memory involved.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(-group, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: as above.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
        eprintln!("xtask: stopped {}", self.name);
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot find a free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Spawns `command` as a server: own process group, dies with xtask, output to `log`.
fn spawn(mut command: Command, log: &Path) -> Result<Child, String> {
    let out = std::fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    command.stdin(Stdio::null()).stdout(out).stderr(err).process_group(0);
    // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and touches no memory of the parent.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.spawn().map_err(|e| format!("cannot start {:?}: {e}", command.get_program()))
}

/// Waits until the bucket answers a signed request (creating it first when `create`).
fn wait_ready(tools: &Tools, server: &Server, create: bool, log: &Path) -> Result<(), String> {
    let script = r#"
import sys, time, boto3, botocore.config
endpoint, bucket, key, secret, create = sys.argv[1:6]
s3 = boto3.client('s3', endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
                  region_name='us-east-1',
                  config=botocore.config.Config(retries={'max_attempts': 1}, connect_timeout=1, read_timeout=5))
deadline = time.time() + 60
while True:
    try:
        if create == '1':
            try:
                s3.create_bucket(Bucket=bucket)
            except s3.exceptions.BucketAlreadyOwnedByYou:
                pass
        s3.head_bucket(Bucket=bucket)
        break
    except Exception as e:
        if time.time() > deadline:
            sys.exit(f'not ready after 60 s: {e}')
        time.sleep(0.2)
"#;
    let status = Command::new(&tools.python)
        .args(["-c", script, &server.endpoint, BUCKET, ACCESS_KEY, SECRET_KEY, if create { "1" } else { "0" }])
        .status()
        .map_err(|e| format!("cannot run {}: {e}", tools.python.display()))?;
    if status.success() {
        eprintln!("xtask: {} ready at {}", server.name, server.endpoint);
        Ok(())
    } else {
        let tail = std::fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = tail.lines().rev().take(15).collect();
        Err(format!(
            "{} did not become ready; its log ends with:\n{}",
            server.name,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ))
    }
}

/// Removes the data of servers whose xtask is gone (folders are named `NAME-PID`).
pub fn clean_stale(run: &Path) {
    let Ok(entries) = std::fs::read_dir(run) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name.rsplit('-').next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Starts a one-process SeaweedFS cluster (master, volume, filer, S3) that refuses anonymous
/// requests, with bucket `test`.
pub fn seaweedfs(tools: &Tools, run: &Path) -> Result<Server, String> {
    let data = run.join(format!("seaweedfs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).map_err(|e| format!("cannot create {}: {e}", data.display()))?;
    let mut ports = Vec::new();
    for _ in 0..10 {
        ports.push(free_port()?);
    }
    let d = data.display();
    let mut command = Command::new(&tools.weed);
    command
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .arg("mini")
        .arg(format!("-dir={d}"))
        .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
        .arg(format!("-master.port={}", ports[0]))
        .arg(format!("-master.port.grpc={}", ports[1]))
        .arg(format!("-volume.port={}", ports[2]))
        .arg(format!("-volume.port.grpc={}", ports[3]))
        .arg(format!("-filer.port={}", ports[4]))
        .arg(format!("-filer.port.grpc={}", ports[5]))
        .arg(format!("-s3.port={}", ports[6]))
        .arg(format!("-s3.port.grpc={}", ports[7]))
        .arg(format!("-admin.port={}", ports[8]))
        .arg(format!("-admin.port.grpc={}", ports[9]))
        .args(["-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false", "-master.telemetry=false"])
        .arg(format!("-filer.localSocket={d}/filer.sock"))
        .arg(format!("-s3.localSocket={d}/s3.sock"))
        .arg(format!("-bucket={BUCKET}"));
    let log = data.join("log.txt");
    let child = spawn(command, &log)?;
    let server = Server { name: "SeaweedFS", endpoint: format!("http://127.0.0.1:{}", ports[6]), child, data };
    wait_ready(tools, &server, false, &log)?;
    Ok(server)
}

/// moto's server with its writes applied one at a time, so that its conditional writes are
/// atomic as on S3 (see the script).
const MOTO_SERIAL: &str = include_str!("moto_serial.py");

/// Starts moto's S3 server, with bucket `test`. It runs through `moto_serial.py`: moto checks a
/// write's `If-Match` and then writes, on many threads, so two compare-and-swaps could both win.
pub fn moto(tools: &Tools, run: &Path) -> Result<Server, String> {
    let data = run.join(format!("moto-{}", std::process::id()));
    std::fs::create_dir_all(&data).map_err(|e| format!("cannot create {}: {e}", data.display()))?;
    let port = free_port()?;
    let mut command = Command::new(&tools.python);
    command.args(["-c", MOTO_SERIAL, "-H", "127.0.0.1", "-p", &port.to_string()]);
    let log = data.join("log.txt");
    let child = spawn(command, &log)?;
    let server = Server { name: "moto", endpoint: format!("http://127.0.0.1:{port}"), child, data };
    wait_ready(tools, &server, true, &log)?;
    Ok(server)
}
