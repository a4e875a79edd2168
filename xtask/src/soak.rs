//! The reliability runs: crash consistency (SIGKILL), fault injection (fsync, rename), a full
//! disk, concurrency at the limits (local disk and SeaweedFS), exact limits whoever writes
//! (recounts racing other processes' commits), a SeaweedFS cluster losing a volume server, and
//! the property tests on keys, escapes and the stored format.
//!
//! - `cargo xtask soak [--kills N] [--fault-ops N] [--scale N] [--cases N] [--only NAME]` runs the
//!   long versions (see [`RUNS`]: 2,000 kills, 10,000 operations under faults, the concurrency,
//!   exact-limits, cluster and manager race workloads 5 times as long, 10,000 cases per property)
//!   and prints
//!   the summary table.
//!   It starts the SeaweedFS the S3 parts need, as `cargo xtask test` does.
//! - `cargo xtask test` runs the CI-sized versions with the rest of the workspace; the tests
//!   append their `SUMMARY ...` lines to `$OBJSTORE_SUMMARY_FILE` (see [`summary_file`]) and
//!   [`report`] prints the same table from it.
//!
//! Each test prints one line such as `SUMMARY crash kills=200 acked_verified=12345 violations=0
//! secs=61.2` (`store_core::testkit::summary`); [`summary`] turns those lines into a markdown
//! table.

use crate::{cargo, root};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One long run: a test target, and the variable that sizes it.
struct Run {
    /// The test target (what `--only` names).
    test: &'static str,
    /// Its package.
    package: &'static str,
    /// The variable that sizes it (none: it has one size).
    var: Option<&'static str>,
}

/// The long runs, in order.
const RUNS: [Run; 11] = [
    Run { test: "crash", package: "objstore", var: Some(KILLS) },
    Run { test: "faults", package: "objstore", var: Some(FAULT_OPS) },
    Run { test: "disk_full", package: "objstore", var: None },
    Run { test: "concurrency", package: "objstore", var: Some(CONCURRENCY_SCALE) },
    Run { test: "limits_exact", package: "objstore", var: Some(CONCURRENCY_SCALE) },
    Run { test: "seaweedfs_cluster", package: "objstore", var: Some(CLUSTER_SCALE) },
    Run { test: "prop_keys", package: "store-core", var: Some(CASES) },
    Run { test: "escape", package: "backend-local", var: Some(CASES) },
    Run { test: "permissions", package: "backend-local", var: None },
    Run { test: "prop_format", package: "store-manager", var: Some(CASES) },
    Run { test: "races", package: "store-manager", var: Some(RACE_SCALE) },
];

const KILLS: &str = "OBJSTORE_CRASH_KILLS";
const FAULT_OPS: &str = "OBJSTORE_FAULT_OPS";
const CONCURRENCY_SCALE: &str = "OBJSTORE_CONCURRENCY_SCALE";
const CLUSTER_SCALE: &str = "OBJSTORE_CLUSTER_SCALE";
const CASES: &str = "PROPTEST_CASES";
const RACE_SCALE: &str = "OBJSTORE_RACE_SCALE";

/// The options of `soak`: (option, the variables it sets, their long value).
const OPTIONS: [(&str, &[&str], usize); 4] = [
    ("--kills", &[KILLS], 2000),
    ("--fault-ops", &[FAULT_OPS], 10_000),
    ("--scale", &[CONCURRENCY_SCALE, CLUSTER_SCALE, RACE_SCALE], 5),
    ("--cases", &[CASES], 10_000),
];

/// The file the tests append their summary lines to during `cargo xtask test` and `soak`.
pub fn summary_file() -> PathBuf {
    root().join("target").join("objstore-reliability-summary.txt")
}

/// The variable that tells the tests where to append their summary lines, pointing at a fresh
/// [`summary_file`] (removed first).
pub fn summary_env() -> (String, String) {
    let path = summary_file();
    let _ = std::fs::remove_file(&path);
    ("OBJSTORE_SUMMARY_FILE".to_string(), path.display().to_string())
}

/// Prints the table of `path`'s summary lines; fails when a line reports violations, and, with
/// `require`, when there is none (the reliability tests did not run). `cargo xtask test` passes
/// `false` (its ARGS may select other tests), `soak` passes `true`.
pub fn report(path: &Path, require: bool) -> Result<(), String> {
    let lines = std::fs::read_to_string(path).unwrap_or_default();
    let found = lines.lines().any(|l| l.starts_with("SUMMARY "));
    if found || require {
        println!("\n{}", summary(&lines));
    }
    if !found {
        let message = format!("no reliability summary in {}: the reliability tests did not run", path.display());
        if require {
            return Err(message);
        }
        eprintln!("xtask: {message}");
    }
    let violations: u64 =
        lines.lines().filter_map(|l| field(l, "violations")).filter_map(|v| v.parse::<u64>().ok()).sum();
    if violations > 0 { Err(format!("the reliability tests report {violations} violations")) } else { Ok(()) }
}

/// `cargo xtask soak`: the long runs, one after the other, then the table.
pub fn run(args: &[String]) -> Result<(), String> {
    // Each variable's value: the environment's, else the long default; the options override.
    let mut sizes: BTreeMap<&str, String> = BTreeMap::new();
    for (_, vars, long) in OPTIONS {
        for var in vars {
            sizes.insert(var, std::env::var(var).unwrap_or_else(|_| long.to_string()));
        }
    }
    let mut only: Option<String> = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().cloned().ok_or_else(|| format!("{arg} needs a value"));
        if arg == "--only" {
            only = Some(value()?);
        } else if let Some((_, vars, _)) = OPTIONS.iter().find(|(option, ..)| option == arg) {
            let n = count(&value()?)?;
            for var in *vars {
                sizes.insert(var, n.clone());
            }
        } else {
            let options: Vec<&str> = OPTIONS.iter().map(|(o, ..)| *o).collect();
            return Err(format!(
                "unknown soak option '{arg}'; the options are {} N and --only NAME",
                options.join(" N, ")
            ));
        }
    }
    let names: Vec<&str> = RUNS.iter().map(|r| r.test).collect();
    if let Some(name) = &only
        && !names.contains(&name.as_str())
    {
        return Err(format!("no reliability test '{name}'; they are {}", names.join(", ")));
    }
    let selected: Vec<&Run> = RUNS.iter().filter(|r| only.as_ref().is_none_or(|o| o == r.test)).collect();
    // The concurrency test's S3 part, the cluster and the manager's races need the S3 servers.
    let needs_s3 = selected.iter().any(|r| matches!(r.test, "concurrency" | "seaweedfs_cluster" | "races"));
    let servers = if needs_s3 { Some(crate::start_s3_servers(false)?) } else { None };
    let summary_env = summary_env();
    let mut failed = Vec::new();
    for run in selected {
        let mut env = vec![summary_env.clone()];
        env.extend(servers.iter().flat_map(|s| s.env.iter().cloned()));
        if let Some(var) = run.var {
            env.push((var.to_string(), sizes[var].clone()));
        }
        // Each test runs even when an earlier one failed; the table shows them all.
        if let Err(e) = cargo(&["test", "--locked", "-p", run.package, "--test", run.test], &env) {
            eprintln!("xtask: {e}");
            failed.push(run.test);
        }
    }
    drop(servers);
    let reported = report(&summary_file(), true);
    if !failed.is_empty() {
        return Err(format!("reliability tests failed: {}", failed.join(", ")));
    }
    reported
}

fn count(s: &str) -> Result<String, String> {
    s.parse::<usize>().map(|n| n.to_string()).map_err(|_| format!("'{s}' is not a count"))
}

/// The markdown table of the `SUMMARY name key=value ...` lines in `lines` (other lines are
/// ignored): one row per line, in order.
pub fn summary(lines: &str) -> String {
    const COLUMNS: [(&str, &str); 6] = [
        ("kills", "kills"),
        ("acked_verified", "acknowledged writes verified"),
        ("faults", "faults injected"),
        ("cases", "property cases"),
        ("violations", "violations"),
        ("secs", "seconds"),
    ];
    let mut out = String::from("| test |");
    for (_, title) in COLUMNS {
        out.push_str(&format!(" {title} |"));
    }
    out.push_str(" notes |\n|---|");
    for _ in COLUMNS {
        out.push_str("---:|");
    }
    out.push_str("---|\n");
    let mut rows = 0;
    for line in lines.lines().filter(|l| l.starts_with("SUMMARY ")) {
        let mut words = line.split_whitespace().skip(1);
        let name = words.next().unwrap_or("?");
        let pairs: Vec<(&str, &str)> = words.filter_map(|w| w.split_once('=')).collect();
        out.push_str(&format!("| {name} |"));
        for (key, _) in COLUMNS {
            let value = pairs.iter().find(|(k, _)| *k == key).map_or("–", |(_, v)| v);
            out.push_str(&format!(" {value} |"));
        }
        let notes: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| !COLUMNS.iter().any(|(c, _)| c == k))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        out.push_str(&format!(" {} |\n", notes.join(" ")));
        rows += 1;
    }
    if rows == 0 {
        out.push_str("| (no summary lines) |");
        for _ in COLUMNS {
            out.push_str(" |");
        }
        out.push_str(" |\n");
    }
    out
}

/// The value of `key=` in a summary line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.strip_prefix("SUMMARY ")?.split_whitespace().find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_a_row_per_summary_line() {
        let lines = "noise\nSUMMARY crash kills=200 acked_verified=9000 violations=0 secs=61.5 acked_ops=4000\n\
                     SUMMARY faults faults=90 acked_verified=328 violations=0 findings=1\n\
                     SUMMARY proptest cases=256 violations=0\n";
        let table = summary(lines);
        let rows: Vec<&str> = table.lines().collect();
        assert_eq!(rows.len(), 5, "{table}");
        assert!(rows[0].starts_with("| test | kills | acknowledged writes verified | faults injected |"), "{table}");
        assert_eq!(rows[2], "| crash | 200 | 9000 | – | – | 0 | 61.5 | acked_ops=4000 |");
        assert_eq!(rows[3], "| faults | – | 328 | 90 | – | 0 | – | findings=1 |");
        assert_eq!(rows[4], "| proptest | – | – | – | 256 | 0 | – |  |");
        assert_eq!(field(rows[0], "kills"), None);
        assert_eq!(field("SUMMARY crash kills=3 violations=2", "violations"), Some("2"));
    }

    #[test]
    fn no_lines_no_rows() {
        assert!(summary("").contains("(no summary lines)"));
    }
}
