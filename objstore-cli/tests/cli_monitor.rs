//! The monitor's commands, on local disk and on S3: `stats`, `report`, `health` (its exit status
//! for each level), `suggest`, and `monitor` serving /metrics, checking, and stopping cleanly on
//! SIGTERM and Ctrl-C.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod cli_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cli_support::{Backend, Env, parse_json};
use predicates::prelude::*;

both!(
    health_exit_status_follows_the_level,
    stats_report_and_suggest_describe_the_store,
    monitor_serves_metrics_checks_and_stops_on_sigterm,
    monitor_speaks_json_and_stops_on_ctrl_c,
);

/// `max_files` 10 makes levels easy to reach: 8 files is 80 % (warning), 9 critical, 10 full.
const TEN_FILES: &str = r#"{"tier": "free", "max_files": 10}"#;

fn health_exit_status_follows_the_level(backend: Backend) {
    let env = Env::new(backend);
    let settings = env.settings(TEN_FILES);
    let s = settings.to_str().unwrap();
    // An empty store is healthy, with or without settings.
    env.cmd().arg("health").assert().code(0).stdout(predicate::str::starts_with("healthy: "));
    for i in 0..7 {
        env.cmd().args(["--settings", s, "put", &format!("k{i}")]).write_stdin("x").assert().success();
    }
    env.cmd().args(["--settings", s, "health"]).assert().code(0);
    env.cmd().args(["--settings", s, "put", "k7"]).write_stdin("x").assert().success();
    env.cmd()
        .args(["--settings", s, "health"])
        .assert()
        .code(20)
        .stdout(predicate::str::starts_with("warning: ").and(predicate::str::contains("8 of 10 files (80.0%)")));
    env.cmd().args(["--settings", s, "put", "k8"]).write_stdin("x").assert().success();
    env.cmd().args(["--settings", s, "health"]).assert().code(21).stdout(predicate::str::starts_with("critical: "));
    env.cmd().args(["--settings", s, "put", "k9"]).write_stdin("x").assert().success();
    env.cmd().args(["--settings", s, "health"]).assert().code(22).stdout(predicate::str::starts_with("full: "));
    // --quiet: the exit status alone; --json: the figures.
    env.cmd().args(["--settings", s, "--quiet", "health"]).assert().code(22).stdout("").stderr("");
    let out = env.cmd().args(["--settings", s, "--json", "health"]).assert().code(22).get_output().stdout.clone();
    let v = parse_json(&out);
    assert_eq!(v["health"], "full");
    assert_eq!(v["level"], 3);
    assert_eq!(v["files"], 10);
    assert_eq!(v["max_files"], 10);
    assert_eq!(v["files_pct"], 100.0);
    assert_eq!(v["alert_threshold_pct"], 80.0);
    assert_eq!(v["critical_threshold_pct"], 90.0);
    // Thresholds come from the settings.
    let lenient = env.settings(r#"{"tier": "free", "max_files": 100, "usage_monitoring": {"alert_threshold_pct": 5}}"#);
    env.cmd().args(["--settings", lenient.to_str().unwrap(), "health"]).assert().code(20);
    // Full by bytes: the same objects against a tiny max_storage_gb.
    let tiny = env.settings(r#"{"max_storage_gb": 0.000001, "max_file_size_mb": 0.0001}"#);
    env.cmd().args(["--settings", tiny.to_str().unwrap(), "health"]).assert().code(22);
    // Errors keep their own codes.
    env.cmd().args(["--store", "nonsense", "health"]).assert().code(9);
}

fn stats_report_and_suggest_describe_the_store(backend: Backend) {
    let env = Env::new(backend);
    let settings = env.settings(r#"{"tier": "free", "max_files": 10, "storage_allocation": {"llm_cache": 0.01}}"#);
    let s = settings.to_str().unwrap();
    for key in ["a", "b", "c", "d", "e"] {
        env.cmd()
            .args(["--settings", s, "put", "--category", "trading_state", &format!("state/{key}")])
            .write_stdin(vec![b'x'; 1000])
            .assert()
            .success();
    }
    env.cmd().args(["--settings", s, "put", "--category", "llm_cache", "news"]).write_stdin("x").assert().success();
    env.cmd()
        .args(["--settings", s, "put", "--category", "llm_cache", "--expire-days", "0", "stale", "-"])
        .write_stdin("old")
        .assert()
        .success();
    env.cmd().args(["--settings", s, "put", "--category", "fx_rates", "eurusd"]).write_stdin("1.08").assert().success();

    let stats = env.json(&["--settings", s, "stats"]);
    assert_eq!(stats["files"], 8);
    assert_eq!(stats["max_files"], 10);
    assert_eq!(stats["health"], "warning");
    assert_eq!(stats["by_category"]["trading_state"]["files"], 5);
    assert_eq!(stats["by_category"]["llm_cache"]["files"], 2);
    assert_eq!(stats["by_category"]["llm_cache"]["expired_files"], 1);
    assert_eq!(stats["by_category"]["llm_cache"]["quota_bytes"], 10_737_418);
    assert_eq!(stats["by_category"]["fx_rates"]["files"], 1);
    assert_eq!(stats["expired_files"], 1);
    assert!(stats["current_usage_bytes"].as_u64().unwrap() > 5000);
    assert_eq!(stats["problems"], serde_json::json!([]));
    let human = env.stdout(&["--settings", s, "stats"]);
    assert!(human.contains("Files         8 of 10 (80.0%)"), "{human}");
    assert!(human.contains("Health        warning"), "{human}");
    let header = human.lines().find(|l| l.starts_with("CATEGORY")).unwrap();
    for column in ["SIZE", "FILES", "QUOTA", "USED", "EXPIRED"] {
        assert!(header.contains(column), "{human}");
    }
    let llm = human.lines().find(|l| l.starts_with("llm_cache")).unwrap();
    assert!(llm.contains("10.2 MiB") && llm.contains('%'), "{human}");

    let report = env.stdout(&["--settings", s, "report"]);
    for needle in
        ["OBJECT STORE STATISTICS", "Files: 8 / 10", "Storage by Category:", "  trading_state: 0.0MB (5 files)"]
    {
        assert!(report.contains(needle), "report lacks {needle:?}:\n{report}");
    }
    let v = env.json(&["--settings", s, "report"]);
    assert!(v["text"].as_str().unwrap().contains("OBJECT STORE STATISTICS"));
    assert_eq!(v["statistics"]["files"], 8);

    // 8 of 10 files; the cleanup of the expired one takes it to 70 %: no live object needs to go.
    let suggestions = env.json(&["--settings", s, "suggest"]);
    let actions = suggestions["actions"].as_array().unwrap();
    let names: Vec<&str> = actions.iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert_eq!(names, ["cleanup_expired", "upgrade_tier"], "{suggestions}");
    let store = if env.url.contains("secret") { "\"$OBJSTORE_URL\"".to_string() } else { env.url.clone() };
    assert_eq!(actions[0]["command"], format!("objstore --store {store} --settings {s} cleanup"));
    // max_files is the settings' own (the tier's is 1,000): raising it is the advice, not a tier.
    let upgrade = actions[1]["reason"].as_str().unwrap();
    assert!(upgrade.contains("raise max_files") && !upgrade.contains("2GB"), "{upgrade}");
    assert_eq!(actions[1]["command"], serde_json::Value::Null);
    let human = env.stdout(&["--settings", s, "suggest"]);
    assert!(human.starts_with("1. cleanup_expired: 1 object has expired"), "{human}");
    assert!(human.contains(&format!("   run: objstore --store {store} --settings {s} cleanup")), "{human}");
    assert!(human.contains("2. upgrade_tier: ") && human.contains("   do: raise the limits"), "{human}");
    // Without settings (5 GB, 50,000 files: far from full) only the expired object is worth
    // acting on (cleanup is a manager command: no --managed needed).
    let plain = env.json(&["suggest"]);
    let actions = plain["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{plain}");
    assert_eq!(actions[0]["action"], "cleanup_expired");
    assert_eq!(actions[0]["command"], format!("objstore --store {store} cleanup"), "{plain}");
    // Following the first suggestion makes it go away.
    env.cmd().args(["--settings", s, "cleanup"]).assert().success();
    let after = env.json(&["--settings", s, "suggest"]);
    assert!(after["actions"].as_array().unwrap().iter().all(|a| a["action"] != "cleanup_expired"), "{after}");
}

/// The monitor process; killed (and reaped) when dropped, so a failing test never leaves it behind.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
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
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running { child, lines }
    }

    /// The next line of standard output (30 s at most).
    fn line(&self) -> String {
        self.lines.recv_timeout(Duration::from_secs(30)).expect("the monitor printed no line within 30 s")
    }

    /// Waits for a line containing `needle` (60 s at most).
    fn line_with(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_secs(1))
                && line.contains(needle)
            {
                return line;
            }
        }
        panic!("the monitor printed no line with {needle:?} within 60 s");
    }

    /// Sends `signal` and waits (20 s at most) for the process to exit; returns its status and
    /// standard error.
    fn stop(mut self, signal: &str) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        assert!(std::process::Command::new("kill").args([signal, &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                self.child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
                return (status, err);
            }
            assert!(Instant::now() < deadline, "the monitor did not stop within 20 s of {signal}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET /metrics` with a minimal HTTP/1.1 client: (status line, body).
fn get_metrics(addr: &str) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The value of an unlabelled metric.
fn metric(body: &str, name: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {name} in:\n{body}"))
        .trim()
        .parse()
        .unwrap()
}

fn monitor_serves_metrics_checks_and_stops_on_sigterm(backend: Backend) {
    let env = Env::new(backend);
    let settings = env.settings(TEN_FILES);
    let s = settings.to_str().unwrap();
    env.cmd().args(["--settings", s, "put", "--category", "trading_state", "k0"]).write_stdin("x").assert().success();
    let addr = format!("127.0.0.1:{}", free_port());
    let monitor = Running::start(&env, &["--settings", s, "monitor", "--listen", &addr, "--interval", "1s"]);
    assert_eq!(
        monitor.line(),
        format!("serving Prometheus metrics on http://{addr}/metrics; checking every 1s (Ctrl-C stops)")
    );
    let first = monitor.line();
    assert!(first.contains(" healthy: ") && first.contains("1 of 10 files"), "{first}");
    let (status, body) = get_metrics(&addr);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(metric(&body, "objstore_files"), 1.0);
    assert_eq!(metric(&body, "objstore_files_limit"), 10.0);
    assert_eq!(metric(&body, "objstore_health_level"), 0.0);
    assert!(body.contains("objstore_category_files{category=\"trading_state\"} 1"), "{body}");
    assert!(body.contains("objstore_storage_used_bytes"));
    // Other processes fill the store; the next checks see it.
    for i in 1..8 {
        env.cmd().args(["--settings", s, "put", &format!("k{i}")]).write_stdin("x").assert().success();
    }
    let warned = monitor.line_with(" warning: ");
    assert!(warned.contains("8 of 10 files") && warned.contains("storage warning at 80.0%"), "{warned}");
    assert_eq!(metric(&get_metrics(&addr).1, "objstore_health_level"), 1.0);
    // The check wrote its usage history into the store.
    env.cmd().args(["exists", "_monitor/usage_history.json"]).assert().code(0);
    let (status, stderr) = monitor.stop("-TERM");
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "note: stopped\n");
    // The port is free again.
    std::net::TcpListener::bind(&addr).unwrap();
}

fn monitor_speaks_json_and_stops_on_ctrl_c(backend: Backend) {
    let env = Env::new(backend);
    // Port 0 picks a free port; the first line says which.
    let monitor = Running::start(&env, &["--json", "monitor", "--listen", "127.0.0.1:0", "--interval", "1h"]);
    let hello = parse_json(monitor.line().as_bytes());
    assert_eq!(hello["event"], "listening");
    assert_eq!(hello["interval_seconds"], 3600.0);
    let url = hello["metrics_url"].as_str().unwrap();
    let addr = url.strip_prefix("http://").unwrap().strip_suffix("/metrics").unwrap();
    assert!(!addr.ends_with(":0"), "{url}");
    let check = parse_json(monitor.line().as_bytes());
    assert_eq!(check["health"], "healthy");
    assert_eq!(check["statistics"]["files"], 0);
    assert!(check["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(get_metrics(addr).0, "HTTP/1.1 200 OK");
    let (status, stderr) = monitor.stop("-INT");
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "");
}

#[test]
fn the_interval_defaults_to_the_settings_and_a_busy_port_is_exit_8() {
    let env = Env::local();
    let settings = env.settings(r#"{"usage_monitoring": {"check_interval_hours": 0.5}}"#);
    let monitor = Running::start(
        &env,
        &["--settings", settings.to_str().unwrap(), "--json", "monitor", "--listen", "127.0.0.1:0"],
    );
    assert_eq!(parse_json(monitor.line().as_bytes())["interval_seconds"], 1800.0);
    drop(monitor);
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    env.cmd().args(["monitor", "--listen", &addr]).assert().code(8).stderr(
        predicate::str::starts_with(format!("objstore: error: cannot listen on {addr}"))
            .and(predicate::str::contains("hint: pick a free port")),
    );
}
