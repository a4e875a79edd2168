//! What the monitor's commands count and export, on local disk and on S3: every object of the
//! store (plain `objstore put` objects are their own "unmanaged" row, and fill the store like any
//! other), and `objstore monitor` exports its own operation metrics and a series for every
//! category, so that the dashboard and the operation-error alert work with it alone. Listening on
//! every interface (`--listen :PORT`) is said on standard error.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod cli_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use cli_support::{Backend, Env, noise, parse_json};

both!(
    plain_objects_count_in_stats_health_and_report,
    the_command_monitor_exports_operations_and_every_category,
    a_new_monitor_process_starts_from_the_index_snapshot,
);

/// The issue's case: three plain objects of 100 KB and one small managed object.
fn plain_objects_count_in_stats_health_and_report(backend: Backend) {
    let env = Env::new(backend);
    for i in 0..3u64 {
        let file = env.file(&format!("export_{i}.bin"), &noise(100_000, i));
        env.cmd().args(["put", &format!("export_{i}.bin"), file.to_str().unwrap()]).assert().success();
    }
    let settings = env.settings(r#"{"max_files": 4}"#);
    let s = settings.to_str().unwrap();
    env.cmd()
        .args(["--settings", s, "put", "--category", "trading_state", "state"])
        .write_stdin("{}")
        .assert()
        .success();
    let stats = env.json(&["--settings", s, "stats"]);
    assert_eq!(stats["files"], 4, "{stats}");
    assert_eq!(stats["unmanaged"]["files"], 3, "{stats}");
    let managed = stats["by_category"]["trading_state"]["size_bytes"].as_u64().unwrap();
    assert_eq!(stats["current_usage_bytes"], 300_000 + managed, "{stats}");
    let text = env.stdout(&["--settings", s, "stats"]);
    assert!(text.contains("Unmanaged") && text.contains("3 objects"), "{text}");
    env.cmd().args(["--settings", s, "health"]).assert().code(22);
    let report = env.stdout(&["--settings", s, "report"]);
    assert!(report.contains("(unmanaged): 0.3MB (3 files)"), "{report}");
}

/// The monitor process, killed when dropped.
struct Running {
    child: Child,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Running {
    fn start(env: &Env, args: &[&str]) -> Running {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("objstore"))
            .env("OBJSTORE_URL", &env.url)
            .env_remove("OBJSTORE_SETTINGS")
            .env_remove("RUST_LOG")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Running { child, stdout }
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line
    }

    /// SIGTERM, then the standard error once it exited.
    fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the monitor did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut err = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        err
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn get_metrics(addr: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

fn the_command_monitor_exports_operations_and_every_category(backend: Backend) {
    let env = Env::new(backend);
    env.cmd().args(["--managed", "put", "--category", "ml_models", "m"]).write_stdin("{}").assert().success();
    let mut monitor = Running::start(&env, &["--json", "monitor", "--listen", "127.0.0.1:0", "--interval", "1h"]);
    let hello = parse_json(monitor.line().as_bytes());
    let addr =
        hello["metrics_url"].as_str().unwrap().trim_start_matches("http://").trim_end_matches("/metrics").to_string();
    let check = parse_json(monitor.line().as_bytes());
    assert_eq!(check["statistics"]["files"], 1, "{check}");
    let body = get_metrics(&addr);
    assert!(body.contains(r#"objstore_operations_total{operation="list",result="ok"}"#), "{body}");
    assert!(body.contains("objstore_operation_duration_seconds_bucket"), "{body}");
    for category in [
        "trading_state",
        "options_greeks",
        "llm_cache",
        "backtest_results",
        "ml_models",
        "monitoring_data",
        "research_data",
    ] {
        assert!(
            body.contains(&format!("objstore_category_used_bytes{{category=\"{category}\"}} ")),
            "{category}: {body}"
        );
    }
    assert!(body.contains("objstore_unmanaged_files 0"), "{body}");
    assert_eq!(monitor.stop(), "");
}

/// The value of a series (0 when absent: counters without events are still exported, but be
/// lenient).
fn series(body: &str, name: &str) -> f64 {
    body.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok())).unwrap_or(0.0)
}

/// A process that scanned the store left its index snapshot there: a new `objstore monitor`
/// reads it and no object header (its own operation metrics show it).
fn a_new_monitor_process_starts_from_the_index_snapshot(backend: Backend) {
    let env = Env::new(backend);
    for i in 0..12 {
        let file = env.file(&format!("m{i}"), &noise(3000, i));
        env.cmd()
            .args(["--managed", "put", "--category", "ml_models", &format!("m{i}"), file.to_str().unwrap()])
            .assert()
            .success();
    }
    // A scan (here `stats`) writes the snapshot.
    assert_eq!(env.json(&["--managed", "stats"])["files"], 12);
    env.cmd().args(["exists", "_manager/index"]).assert().code(0);
    let mut monitor = Running::start(&env, &["--json", "monitor", "--listen", "127.0.0.1:0", "--interval", "1h"]);
    let hello = parse_json(monitor.line().as_bytes());
    let addr =
        hello["metrics_url"].as_str().unwrap().trim_start_matches("http://").trim_end_matches("/metrics").to_string();
    let check = parse_json(monitor.line().as_bytes());
    assert_eq!(check["statistics"]["files"], 12, "{check}");
    let body = get_metrics(&addr);
    assert_eq!(
        series(&body, r#"objstore_operations_total{operation="get_range",result="ok"} "#),
        0.0,
        "headers were read: {body}"
    );
    assert!(
        series(&body, r#"objstore_operations_total{operation="get",result="ok"} "#) >= 1.0,
        "the snapshot was not read: {body}"
    );
    assert_eq!(monitor.stop(), "");
}

#[test]
fn listening_on_every_interface_is_said() {
    let env = Env::local();
    let mut monitor = Running::start(&env, &["monitor", "--listen", ":0", "--interval", "1h"]);
    let hello = monitor.line();
    assert!(hello.starts_with("serving Prometheus metrics on http://0.0.0.0:"), "{hello}");
    let stderr = monitor.stop();
    assert!(stderr.contains("every interface") && stderr.contains("--listen 127.0.0.1:"), "{stderr}");
}
