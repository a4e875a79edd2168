//! The behaviour test kit: one suite of cases that every backend runs (feature `testkit`).
//!
//! A backend's integration test names a [`Fixture`] (something that hands out URLs of fresh,
//! empty stores) and calls [`behaviour_suite!`](crate::behaviour_suite), which expands to one
//! `#[test]` per case:
//!
//! ```text
//! store_core::behaviour_suite!(|| format!("memory://kit-{}", store_core::testkit::unique()));
//! ```
//!
//! Two stores opened from the same URL must share storage (that is how cases play "another
//! process"). Cases that need a capability the backend lacks print `SKIPPED <case>: <reason>`
//! and pass; every other case asserts behaviour and the data left behind.

// Test helpers: a failed expectation is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod cases;
pub mod key_model;
pub mod keys;
mod property;
pub mod trading;

pub use property::property;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{ObjectStore, StoreBuilder};

/// Hands out URLs of fresh, empty stores. Two opens of one URL must share storage.
pub trait Fixture: Send + Sync + 'static {
    /// A URL no other call returned.
    fn fresh_url(&self) -> String;
}

impl<F: Fn() -> String + Send + Sync + 'static> Fixture for F {
    fn fresh_url(&self) -> String {
        self()
    }
}

/// A number unique in this process (for fresh names).
pub fn unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed) + u64::from(std::process::id()) * 1_000_000
}

/// What a case gets: the fixture and helpers around it.
#[derive(Clone)]
pub struct Kit {
    fixture: Arc<dyn Fixture>,
    case: &'static str,
}

impl Kit {
    /// A URL for a fresh store.
    pub fn url(&self) -> String {
        self.fixture.fresh_url()
    }

    /// Opens a fresh store with defaults.
    pub async fn store(&self) -> ObjectStore {
        self.open(&self.url()).await
    }

    /// Opens `url` with defaults.
    pub async fn open(&self, url: &str) -> ObjectStore {
        self.build(ObjectStore::builder(url)).await
    }

    /// Builds a store, failing the case with the error's message.
    pub async fn build(&self, builder: StoreBuilder) -> ObjectStore {
        match builder.build().await {
            Ok(store) => store,
            Err(e) => panic!("{}: cannot open the store: {e}", self.case),
        }
    }

    /// Says that (part of) the case does not apply to this backend.
    pub fn skip(&self, reason: &str) {
        eprintln!("SKIPPED {}: {reason}", self.case);
    }
}

/// Runs one case on a fresh multi-threaded runtime.
pub fn run<F: Fixture>(case: &'static str, fixture: F, body: fn(Kit) -> Pin<Box<dyn Future<Output = ()> + Send>>) {
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => panic!("cannot start a runtime for {case}: {e}"),
    };
    runtime.block_on(body(Kit { fixture: Arc::new(fixture), case }));
}

/// Asserts that `result` is an error matching `pattern`, with a useful message otherwise.
#[macro_export]
macro_rules! assert_err {
    ($result:expr, $pattern:pat $(if $guard:expr)?) => {
        match $result {
            Err($pattern) $(if $guard)? => {}
            Err(other) => panic!("expected {}, got the error: {other:?}", stringify!($pattern)),
            Ok(_) => panic!("expected {}, got Ok", stringify!($pattern)),
        }
    };
}

/// Generates one `#[test]` per behaviour case, each with a fresh runtime and `$fixture`.
/// (The list of cases lives here, once; [`cases()`] builds its table from it.)
#[macro_export]
macro_rules! behaviour_suite {
    ($fixture:expr) => {
        $crate::behaviour_suite!(@list tests ($fixture));
    };
    (@list $mode:ident $context:tt) => {
        $crate::behaviour_suite! {@ $mode $context;
            round_trips_text_bytes_json_xml,
            overwrite_replaces,
            large_values,
            missing_keys,
            keys_are_sorted_and_complete,
            entries_stream_every_pair,
            entries_skip_objects_deleted_meanwhile,
            normalisation_applies_to_every_operation,
            lean_and_ordinary_keys_are_accepted,
            bad_keys_are_refused_everywhere,
            corrupt_values_are_typed_errors,
            unencodable_values_store_nothing,
            limit_on_objects,
            limit_on_bytes,
            limit_on_object_size,
            limits_hold_under_concurrency,
            limits_count_existing_objects,
            limits_see_other_writers_near_limit,
            abandoned_saves_release_their_room,
            permissions,
            cache_revalidate_sees_other_writers,
            cache_trust_serves_until_clear,
            cache_ttl,
            cached_values_cannot_be_changed,
            conditional_puts,
            compare_and_swap_counter,
            conditional_deletes,
            conditional_deletes_race_saves,
            ranged_reads,
            reads_into_caller_memory,
            reads_to_files,
            ranged_reads_through_the_cache,
            streamed_round_trips,
            failed_streamed_saves_leave_nothing,
            streamed_reads_never_mix,
            streamed_saves_respect_limits,
            file_paths,
            persist_uploads_only_changes,
            project_views,
            usage_counts,
            object_and_prefix,
            readers_never_see_torn_values,
            blocking_facade,
            reopen_keeps_data,
        }
    };
    (@tests ($fixture:expr); $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::testkit::run(stringify!($case), $fixture, |kit| {
                    ::std::boxed::Box::pin($crate::testkit::cases::$case(kit))
                });
            }
        )*
    };
    (@table (); $($case:ident),* $(,)?) => {
        ::std::vec![$(
            (stringify!($case), (|kit| ::std::boxed::Box::pin($crate::testkit::cases::$case(kit)) as $crate::testkit::CaseFuture) as $crate::testkit::CaseFn)
        ),*]
    };
}

/// What a case returns.
pub type CaseFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A case: takes a kit, panics on a violation.
pub type CaseFn = fn(Kit) -> CaseFuture;

/// Every case, by name, in the suite's order.
pub fn cases() -> Vec<(&'static str, CaseFn)> {
    crate::behaviour_suite!(@list table ())
}

/// The outcome of [`run_all`].
#[derive(Debug, Default)]
pub struct Report {
    /// Cases that passed.
    pub passed: Vec<&'static str>,
    /// Cases that failed, with their panic message.
    pub failed: Vec<(&'static str, String)>,
}

impl Report {
    /// Panics, listing every failed case, unless all passed.
    pub fn assert_all_passed(&self, server: &str) {
        println!("behaviour suite on {server}: {} passed, {} failed", self.passed.len(), self.failed.len());
        if !self.failed.is_empty() {
            let list: Vec<String> = self.failed.iter().map(|(case, why)| format!("  {case}: {why}")).collect();
            panic!("{} behaviour case(s) failed on {server}:\n{}", self.failed.len(), list.join("\n"));
        }
    }
}

/// Runs every case against `fixture`, one after the other, on the current runtime: for a server
/// that lives as long as one test (a container). A failing case does not stop the others.
pub async fn run_all<F: Fixture>(fixture: F) -> Report {
    let fixture: Arc<dyn Fixture> = Arc::new(fixture);
    let mut report = Report::default();
    for (case, body) in cases() {
        let kit = Kit { fixture: fixture.clone(), case };
        match tokio::spawn(body(kit)).await {
            Ok(()) => report.passed.push(case),
            Err(e) => {
                let why = match e.try_into_panic() {
                    Ok(panic) => panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "panicked".to_string()),
                    Err(e) => e.to_string(),
                };
                report.failed.push((case, why));
            }
        }
    }
    report
}

/// Prints `SUMMARY {name} k=v ...` and appends it to `$OBJSTORE_SUMMARY_FILE` when that is set:
/// how the reliability and property tests hand their figures (kills, acknowledged writes
/// verified, faults injected, property cases, violations) to the table `cargo xtask test` and
/// `cargo xtask soak` print.
pub fn summary(name: &str, fields: &[(&str, String)]) {
    use std::io::Write as _;
    let mut line = format!("SUMMARY {name}");
    for (k, v) in fields {
        line.push_str(&format!(" {k}={v}"));
    }
    println!("{line}");
    if let Some(path) = std::env::var_os("OBJSTORE_SUMMARY_FILE") {
        let appended =
            std::fs::OpenOptions::new().create(true).append(true).open(&path).and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = appended {
            eprintln!("cannot append the summary to {}: {e}", std::path::Path::new(&path).display());
        }
    }
}

/// `len` bytes that do not compress (a xorshift stream), different for each `seed`: test values
/// whose stored size is their size.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = 0x2545_F491_4F6C_DD1D ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// How many cases a property runs: `PROPTEST_CASES` when set (`cargo xtask soak` sets it), else
/// `default` (the CI size).
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The figures of a test file whose checks each run many cases (property tests): every check
/// reports its own line when it ends, and the file's [`summary`] line (checks, cases,
/// violations) is printed when the last one has.
///
/// ```no_run
/// // (not run here: it would append its line to the summary `cargo xtask test` collects)
/// static TALLY: store_core::testkit::Tally = store_core::testkit::Tally::new("my_props", 1);
/// TALLY.finish("round_trips", 256, 0, " interesting=40");
/// ```
pub struct Tally {
    file: &'static str,
    checks: usize,
    cases: std::sync::atomic::AtomicU64,
    violations: std::sync::atomic::AtomicU64,
    done: std::sync::atomic::AtomicUsize,
}

impl Tally {
    /// A tally for `file` (the summary's name), which has `checks` checks.
    pub const fn new(file: &'static str, checks: usize) -> Tally {
        Tally {
            file,
            checks,
            cases: std::sync::atomic::AtomicU64::new(0),
            violations: std::sync::atomic::AtomicU64::new(0),
            done: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// The file's name (the summary's).
    pub fn file(&self) -> &'static str {
        self.file
    }

    /// Records that the check `name` ran `cases` cases and found `violations` (with `detail`
    /// printed after the figures); prints the file's summary line after the last check.
    pub fn finish(&self, name: &str, cases: u64, violations: u64, detail: &str) {
        use std::sync::atomic::Ordering;
        self.cases.fetch_add(cases, Ordering::Relaxed);
        self.violations.fetch_add(violations, Ordering::Relaxed);
        eprintln!("{}::{name}: cases={cases} violations={violations}{detail}", self.file);
        if self.done.fetch_add(1, Ordering::AcqRel) + 1 == self.checks {
            let (cases, violations) = (self.cases.load(Ordering::Relaxed), self.violations.load(Ordering::Relaxed));
            summary(
                self.file,
                &[
                    ("checks", self.checks.to_string()),
                    ("cases", cases.to_string()),
                    ("violations", violations.to_string()),
                ],
            );
        }
    }
}
