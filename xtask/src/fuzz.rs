//! `cargo xtask fuzz [--minutes N] [TARGET...]`: runs the cargo-fuzz targets of `fuzz/`.
//! `cargo xtask fuzz --write-corpus`: rewrites the seed corpus (`fuzz/corpus/`) from the key rules
//! and the frame encoder, by running the two ignored generator tests (`write_fuzz_seed_corpus` in
//! store-core's `prop_keys` and store-manager's `prop_format`); do it after changing either.
//!
//! Each target (`key_parse`, `frame_decode`, or every one in `fuzz/fuzz_targets/` when none is
//! named) runs for N minutes (default 2) with libFuzzer, starting from its seed corpus
//! `fuzz/corpus/TARGET/` (read only: new inputs go to `target/fuzz-corpus/TARGET/`, so the
//! committed seeds stay small). A crash, panic, timeout or out-of-memory leaves the input in
//! `fuzz/artifacts/TARGET/` and fails the task, naming the file and the command that replays it.
//!
//! Needs a nightly toolchain (`rustup toolchain install nightly`) and cargo-fuzz, which is
//! installed with `cargo install cargo-fuzz --locked` when it is missing. Fuzzing is not a CI
//! gate; run it before a release or after touching key parsing or the stored format.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

/// Options of `cargo xtask fuzz`.
struct Options {
    minutes: f64,
    targets: Vec<String>,
}

const USAGE: &str = "usage: cargo xtask fuzz [--minutes N] [TARGET...] | cargo xtask fuzz --write-corpus";

/// The ignored tests that write the seed corpus: (package, test target).
const CORPUS_WRITERS: [(&str, &str); 2] = [("store-core", "prop_keys"), ("store-manager", "prop_format")];

/// Runs `cargo xtask fuzz` with `args` (what follows `fuzz`).
pub fn run(args: &[String]) -> Result<(), String> {
    let root = crate::root();
    if args.iter().any(|a| a == "--write-corpus") {
        return write_corpus();
    }
    let fuzz_dir = root.join("fuzz");
    let known = known_targets(&fuzz_dir)?;
    let options = parse(args, &known)?;
    let nightly = nightly_toolchain()?;
    ensure_cargo_fuzz()?;
    let seconds = (options.minutes * 60.0).round().max(1.0) as u64;
    let mut reports = Vec::new();
    for target in &options.targets {
        reports.push(fuzz_one(&root, &nightly, target, seconds)?);
    }
    eprintln!("xtask: fuzz summary ({seconds} s per target)");
    let mut failed = Vec::new();
    for r in &reports {
        eprintln!(
            "xtask:   {:<14} {:>12} execs  {:>8} exec/s  corpus {:>5}  {}",
            r.target,
            r.execs.map_or("?".to_string(), |n| n.to_string()),
            r.execs_per_sec.map_or("?".to_string(), |n| n.to_string()),
            r.corpus.map_or("?".to_string(), |n| n.to_string()),
            if r.ok { "no crash".to_string() } else { format!("FOUND: {}", r.finding) }
        );
        if !r.ok {
            failed.push(r.target.clone());
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the fuzzer found a problem in {} (inputs in fuzz/artifacts/; replay one with \
             `cargo +{nightly} fuzz run TARGET fuzz/artifacts/TARGET/FILE`)",
            failed.join(", ")
        ))
    }
}

/// Runs the generator tests that write `fuzz/corpus/` (stable toolchain, no fuzzer needed).
fn write_corpus() -> Result<(), String> {
    for (package, test) in CORPUS_WRITERS {
        let args = ["test", "--locked", "-p", package, "--test", test, "--", "--ignored", "--exact"];
        crate::cargo(&[&args[..], &["write_fuzz_seed_corpus"]].concat(), &[])?;
    }
    Ok(())
}

fn parse(args: &[String], known: &[String]) -> Result<Options, String> {
    let mut options = Options { minutes: 2.0, targets: Vec::new() };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--minutes" | "-m" => {
                let value = args.next().ok_or_else(|| format!("--minutes needs a number; {USAGE}"))?;
                options.minutes = value
                    .parse::<f64>()
                    .ok()
                    .filter(|m| m.is_finite() && *m > 0.0)
                    .ok_or_else(|| format!("--minutes wants a positive number, not '{value}'"))?;
            }
            "-h" | "--help" => {
                return Err(format!("{USAGE}\n  targets: {}", known.join(", ")));
            }
            flag if flag.starts_with('-') => return Err(format!("unknown option '{flag}'; {USAGE}")),
            target => {
                if !known.iter().any(|k| k == target) {
                    return Err(format!("no fuzz target '{target}'; the targets are {}", known.join(", ")));
                }
                options.targets.push(target.to_string());
            }
        }
    }
    if options.targets.is_empty() {
        options.targets = known.to_vec();
    }
    Ok(options)
}

/// The targets: the files in `fuzz/fuzz_targets/`, sorted.
fn known_targets(fuzz_dir: &Path) -> Result<Vec<String>, String> {
    let dir = fuzz_dir.join("fuzz_targets");
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut targets: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|name| name.strip_suffix(".rs").map(str::to_string))
        .collect();
    targets.sort();
    if targets.is_empty() {
        return Err(format!("no fuzz targets in {}", dir.display()));
    }
    Ok(targets)
}

/// The name of an installed nightly toolchain (cargo-fuzz needs `-Z` flags).
fn nightly_toolchain() -> Result<String, String> {
    let out = Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .map_err(|e| format!("cannot run rustup (fuzzing needs a nightly toolchain through rustup): {e}"))?;
    let list = String::from_utf8_lossy(&out.stdout);
    if list.lines().any(|l| l.starts_with("nightly")) {
        return Ok("nightly".to_string());
    }
    Err("fuzzing needs a nightly toolchain, and none is installed; run `rustup toolchain install nightly`".into())
}

/// Installs cargo-fuzz when `cargo fuzz` does not run, saying so.
fn ensure_cargo_fuzz() -> Result<(), String> {
    let installed = cargo()
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if installed {
        return Ok(());
    }
    eprintln!("xtask: cargo-fuzz is not installed; installing it with `cargo install cargo-fuzz --locked` (crates.io)");
    let status = cargo()
        .args(["install", "cargo-fuzz", "--locked"])
        .status()
        .map_err(|e| format!("cannot run cargo install: {e}"))?;
    if !status.success() {
        return Err(format!("`cargo install cargo-fuzz --locked` failed ({status})"));
    }
    Ok(())
}

/// `cargo` through rustup's proxy, without the toolchain `cargo xtask` itself runs on (so that
/// `+nightly` and cargo-fuzz's own cargo calls pick nightly).
fn cargo() -> Command {
    let mut command = Command::new("cargo");
    command.env_remove("RUSTUP_TOOLCHAIN").env_remove("CARGO");
    command
}

/// What one target's run found.
struct Report {
    target: String,
    execs: Option<u64>,
    execs_per_sec: Option<u64>,
    corpus: Option<u64>,
    ok: bool,
    finding: String,
}

/// Builds and runs one target for `seconds`, echoing libFuzzer's output and reading its figures.
fn fuzz_one(root: &Path, nightly: &str, target: &str, seconds: u64) -> Result<Report, String> {
    let seeds = root.join("fuzz").join("corpus").join(target);
    let work = root.join("target").join("fuzz-corpus").join(target);
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let toolchain = format!("+{nightly}");
    let max_time = format!("-max_total_time={seconds}");
    let mut args: Vec<String> = vec![toolchain, "fuzz".into(), "run".into(), target.into()];
    args.push(work.display().to_string());
    if seeds.is_dir() {
        args.push(seeds.display().to_string());
    }
    // libFuzzer's default -rss_limit_mb=2048 (also its malloc limit) stays: an input that makes
    // a decoder ask for more than 2 GiB at once is worth a report. -timeout: a hang is a finding.
    args.extend(["--".into(), max_time, "-print_final_stats=1".into(), "-timeout=10".into()]);
    eprintln!("xtask: cargo {} (for {seconds} s)", args.join(" "));
    let mut child = cargo()
        .args(&args)
        .current_dir(root)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cargo fuzz: {e}"))?;
    let mut report = Report {
        target: target.to_string(),
        execs: None,
        execs_per_sec: None,
        corpus: None,
        ok: true,
        finding: String::new(),
    };
    if let Some(stderr) = child.stderr.take() {
        let mut echo = std::io::stderr();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = writeln!(echo, "{line}");
            read_figures(&line, &mut report);
        }
    }
    let status = child.wait().map_err(|e| format!("cannot wait for cargo fuzz: {e}"))?;
    if !status.success() {
        report.ok = false;
        if report.finding.is_empty() {
            report.finding = format!("cargo fuzz failed ({status}); see its output above");
        }
    }
    Ok(report)
}

/// Reads the figures libFuzzer prints (`stat::number_of_executed_units: N`, the last status line's
/// `corp: N/…`, `exec/s: N`) and any artifact it wrote.
fn read_figures(line: &str, report: &mut Report) {
    let number_after = |marker: &str| -> Option<u64> {
        let rest = &line[line.find(marker)? + marker.len()..];
        let digits: String = rest.trim_start().chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    if let Some(n) = number_after("stat::number_of_executed_units:") {
        report.execs = Some(n);
    } else if let Some(status) = line.strip_prefix('#') {
        if let Some(n) = status.split_whitespace().next().and_then(|n| n.parse().ok()) {
            report.execs = Some(n);
        }
        if let Some(n) = number_after("corp:") {
            report.corpus = Some(n);
        }
        if let Some(n) = number_after("exec/s:") {
            report.execs_per_sec = Some(n);
        }
    } else if let Some(n) = number_after("stat::average_exec_per_sec:") {
        report.execs_per_sec = Some(n);
    }
    if line.contains("Test unit written to") {
        report.ok = false;
        report.finding = line.trim().to_string();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libfuzzer_figures() {
        let mut r = Report {
            target: "t".into(),
            execs: None,
            execs_per_sec: None,
            corpus: None,
            ok: true,
            finding: String::new(),
        };
        read_figures("#1048576\tpulse  cov: 312 ft: 1200 corp: 240/11Kb lim: 4096 exec/s: 87381 rss: 60Mb", &mut r);
        assert_eq!((r.execs, r.corpus, r.execs_per_sec), (Some(1048576), Some(240), Some(87381)));
        read_figures("stat::number_of_executed_units: 10485760", &mut r);
        assert_eq!(r.execs, Some(10485760));
        assert!(r.ok);
        read_figures("artifact_prefix='fuzz/artifacts/t/'; Test unit written to fuzz/artifacts/t/crash-1", &mut r);
        assert!(!r.ok && r.finding.contains("crash-1"));
    }

    #[test]
    fn parses_options() {
        let known = vec!["frame_decode".to_string(), "key_parse".to_string()];
        let o = parse(&[], &known).unwrap();
        assert_eq!((o.minutes, o.targets.len()), (2.0, 2));
        let o = parse(&["--minutes".into(), "0.5".into(), "key_parse".into()], &known).unwrap();
        assert_eq!((o.minutes, o.targets), (0.5, vec!["key_parse".to_string()]));
        assert!(parse(&["nope".into()], &known).is_err());
        assert!(parse(&["--minutes".into(), "-1".into()], &known).is_err());
    }
}
