//! One runner for the property tests of every crate: a proptest strategy run for a number of
//! cases (`PROPTEST_CASES` when set, as `cargo xtask soak` sets it), without regression files,
//! reported to the file's [`Tally`] with a detail line (how many cases reached the interesting
//! part, what was damaged, ...), and failed with the property's name.

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::{Tally, proptest_cases};

/// Runs `test` on `proptest_cases(default)` values of `strategy`, then reports the check `name`
/// to `tally` (cases run, violations, `detail()` after the figures) and panics on a violation.
pub fn property<S>(
    tally: &Tally,
    name: &str,
    default: u32,
    strategy: S,
    detail: impl Fn() -> String,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S: Strategy,
    S::Value: Debug,
{
    let config = Config { cases: proptest_cases(default), failure_persistence: None, ..Config::default() };
    let ran = AtomicU64::new(0);
    let result = TestRunner::new(config).run(&strategy, |value| {
        ran.fetch_add(1, Ordering::Relaxed);
        test(value)
    });
    tally.finish(name, ran.load(Ordering::Relaxed), u64::from(result.is_err()), &detail());
    if let Err(e) = result {
        panic!("{}::{name}: {e}", tally.file());
    }
}
