//! Hostile keys: property tests of key normalisation (README "No escapes").
//!
//! Inputs are built from an adversarial vocabulary (`..`, `.`, empty segments, `%2e%2e`, `\`,
//! `/`, `./`, `//`, NUL and other control characters, look-alike Unicode dots and slashes, NFC
//! and NFD forms, case variants, trailing dots and spaces, reserved names, very long runs) mixed
//! with arbitrary characters. The properties:
//!
//! - parsing agrees with a reference model of the documented rules, written here independently
//!   (including the fast path that borrows already-normal input);
//! - an accepted key joined to any root stays beneath it (only normal path components);
//! - normalisation is idempotent: `parse(parse(x)) == parse(x)`, and the second parse borrows;
//! - distinct accepted keys are distinct paths, and the only inputs that alias are the documented
//!   ones (`\` vs `/`, leading `/` and `./`, `//`): no case folding, no Unicode normalisation,
//!   trailing dots and spaces kept;
//! - listing prefixes follow the same rules;
//! - a project view cannot put a key outside its project.
//!
//! Case counts are CI-sized; `PROPTEST_CASES` raises them (the soak sets it). The file prints one
//! line per property and, when all have run, one summary line (`prop_keys: ...`).

use std::borrow::Cow;
use std::fmt::Debug;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use store_core::key::{MAX_KEY_BYTES, normalise_prefix};
use store_core::{Error, Key};

// ----- the runner and the summary line ----------------------------------------------------

const FILE: &str = "prop_keys";
/// How many checks below call `finish` (the summary line prints when all have).
const CHECKS: usize = 8;
static TALLY: store_core::testkit::Tally = store_core::testkit::Tally::new(FILE, CHECKS);

/// Counts the cases that reached the interesting part of a property (an accepted key, ...), so
/// the report shows the property is not vacuous.
static HITS: [AtomicU64; CHECKS] = [const { AtomicU64::new(0) }; CHECKS];

fn hit(slot: usize) {
    HITS[slot].fetch_add(1, Ordering::Relaxed);
}

/// Runs a property (store_core::testkit::property), reporting the count of interesting cases in
/// `HITS[slot]`.
fn property<S>(name: &str, slot: usize, default: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S: Strategy,
    S::Value: Debug,
{
    let detail = || format!(" interesting={}", HITS[slot].load(Ordering::Relaxed));
    store_core::testkit::property(&TALLY, name, default, strategy, detail, test);
}

// ----- adversarial inputs -----------------------------------------------------------------

// ----- the reference model (store_core::testkit::key_model) -----------------------------------

use key_model::{model_key, model_normalise, model_segment};
use store_core::testkit::key_model;
use store_core::testkit::keys::{any_key, hostile, plausible};

fn parse(input: &str) -> Option<String> {
    Key::parse(input).ok().map(|k| k.as_str().to_string())
}

/// Where a key lands under `root`, as a backend mapping keys to paths builds it.
fn path_of(root: &Path, key: &Key) -> PathBuf {
    let mut path = root.to_path_buf();
    path.extend(key.segments());
    path
}

// ----- the properties ---------------------------------------------------------------------

#[test]
fn parsing_agrees_with_the_documented_rules() {
    property("parsing_agrees_with_the_documented_rules", 0, 2000, any_key(), |input| {
        match (Key::parse(&input), model_key(&input)) {
            (Ok(k), Some(m)) => {
                hit(0);
                prop_assert_eq!(k.as_str(), m.as_str(), "normal form of {:?}", input)
            }
            (Ok(k), None) => prop_assert!(false, "{:?} accepted as {:?}; the rules refuse it", input, k.as_str()),
            (Err(e), Some(m)) => prop_assert!(false, "{:?} refused ({}); the rules accept it as {:?}", input, e, m),
            (Err(Error::InvalidKey { key, reason }), None) => {
                prop_assert!(!reason.is_empty());
                // The message names the key (shortened when very long, control characters escaped).
                let escaped = |c: char| if c.is_control() { c.escape_debug().collect() } else { c.to_string() };
                let shown: String = input.chars().take(20).map(escaped).collect();
                prop_assert!(key.starts_with(&shown) || input.len() > 200, "{:?} named as {:?}", input, key);
            }
            (Err(e), None) => prop_assert!(false, "{:?} refused with {:?}, not InvalidKey", input, e),
        }
        Ok(())
    });
}

#[test]
fn accepted_keys_stay_beneath_any_root() {
    property("accepted_keys_stay_beneath_any_root", 1, 2000, any_key(), |input| {
        let Ok(key) = Key::parse(&input) else { return Ok(()) };
        hit(1);
        // As a relative path on its own: only normal components.
        let relative = Path::new(key.as_str());
        prop_assert!(relative.is_relative(), "{:?} is absolute", key.as_str());
        prop_assert!(
            relative.components().all(|c| matches!(c, Component::Normal(_))),
            "{:?} has a special component",
            key.as_str()
        );
        for root in [Path::new("/srv/store"), Path::new("relative/store"), Path::new("/")] {
            let path = path_of(root, &key);
            prop_assert!(path.starts_with(root), "{:?} leaves {}: {}", key.as_str(), root.display(), path.display());
            let below = path.strip_prefix(root).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(below.components().count(), key.segments().count(), "{:?}", key.as_str());
            prop_assert!(below.components().all(|c| matches!(c, Component::Normal(_))));
        }
        for seg in key.segments() {
            prop_assert!(!seg.is_empty() && seg != "." && seg != ".." && !seg.contains(['/', '\\', '\0']));
        }
        Ok(())
    });
}

#[test]
fn normalisation_is_idempotent() {
    property("normalisation_is_idempotent", 2, 2000, any_key(), |input| {
        let Ok(once) = Key::parse(&input) else { return Ok(()) };
        hit(2);
        match Key::parse(once.as_str()) {
            Ok(Cow::Borrowed(twice)) => prop_assert_eq!(twice.as_str(), once.as_str()),
            Ok(Cow::Owned(twice)) => {
                prop_assert!(false, "{:?} changed again, to {:?}", once.as_str(), twice.as_str())
            }
            Err(e) => prop_assert!(false, "{:?} (from {:?}) refused when parsed again: {}", once.as_str(), input, e),
        }
        // The owned form parses to itself too.
        let owned = store_core::KeyBuf::parse(&input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(owned.as_str(), once.as_str());
        Ok(())
    });
}

/// How a variant was made from an input: does the store treat them as one key?
#[derive(Debug, Clone, Copy)]
enum Variant {
    /// `\` ↔ `/`, a leading `/` or `./`, a doubled `/`: the documented aliases.
    Alias,
    /// Case, trailing dot or space, NFC ↔ NFD, look-alike slashes and dots: distinct keys.
    Distinct,
}

fn variant(input: &str, how: u8) -> (String, Variant) {
    match how % 10 {
        0 => (input.replace('/', "\\"), Variant::Alias),
        1 => (format!("/{input}"), Variant::Alias),
        2 => (format!("./{input}"), Variant::Alias),
        3 => (input.replacen('/', "//", 1), Variant::Alias),
        4 => {
            let flipped: String = input
                .chars()
                .map(|c| if c.is_lowercase() { c.to_uppercase().next().unwrap_or(c) } else { c.to_ascii_lowercase() })
                .collect();
            (flipped, Variant::Distinct)
        }
        5 => (format!("{input}."), Variant::Distinct),
        6 => (format!("{input} "), Variant::Distinct),
        7 => (input.replace('é', "e\u{301}"), Variant::Distinct),
        8 => (input.replacen('/', "\u{2215}", 1), Variant::Distinct),
        _ => (format!("{input}\u{200b}"), Variant::Distinct),
    }
}

#[test]
fn distinct_keys_are_distinct_paths_and_only_documented_forms_alias() {
    let strategy = (prop_oneof![1 => hostile(), 3 => plausible()], any::<u8>());
    property("distinct_keys_are_distinct_paths", 3, 2000, strategy, |(input, how)| {
        let (other, kind) = variant(&input, how);
        let (Ok(a), Ok(b)) = (Key::parse(&input), Key::parse(&other)) else { return Ok(()) };
        if input != other {
            hit(3);
        }
        let root = Path::new("/srv/store");
        // One key, one path; two keys, two paths.
        prop_assert_eq!(a == b, path_of(root, &a) == path_of(root, &b), "{:?} / {:?}", a.as_str(), b.as_str());
        // Keys are equal exactly when their bytes are: no case folding, no Unicode normalisation.
        prop_assert_eq!(a == b, a.as_str().as_bytes() == b.as_str().as_bytes());
        match kind {
            Variant::Alias => {
                prop_assert_eq!(a.as_str(), b.as_str(), "{:?} and {:?} should be one key", input, other)
            }
            Variant::Distinct if input != other => {
                prop_assert_ne!(a.as_str(), b.as_str(), "{:?} and {:?} should be two keys", input, other)
            }
            Variant::Distinct => {}
        }
        Ok(())
    });
}

#[test]
fn prefixes_follow_the_key_rules() {
    property("prefixes_follow_the_key_rules", 4, 2000, any_key(), |input| {
        match normalise_prefix(&input) {
            Ok(p) => {
                hit(4);
                prop_assert_eq!(&p, &model_normalise(&input));
                let body = p.strip_suffix('/').unwrap_or(&p);
                prop_assert!(body.is_empty() || body.split('/').all(model_segment), "prefix {:?}", p);
                prop_assert_eq!(normalise_prefix(&p).ok(), Some(p.clone()), "not idempotent: {:?}", input);
                if let Some(k) = parse(&input) {
                    prop_assert_eq!(&p, &k);
                }
            }
            Err(Error::InvalidKey { .. }) => {
                prop_assert!(parse(&input).is_none(), "{:?} is a key, not a prefix", input)
            }
            Err(e) => prop_assert!(false, "normalise_prefix({:?}) gave {:?}", input, e),
        }
        Ok(())
    });
}

#[test]
fn a_project_view_keeps_keys_inside_its_project() {
    let project = prop_oneof![2 => plausible(), 1 => hostile(), 1 => Just("proj".to_string())];
    let strategy = (project, any_key());
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap_or_else(|e| panic!("runtime: {e}"));
    property("a_project_view_keeps_keys_inside_its_project", 5, 300, strategy, |(project, key)| {
        runtime.block_on(async {
            let store = store_core::open("memory://").await.map_err(|e| TestCaseError::fail(e.to_string()))?;
            let view = store.project(&project);
            let saved = view.save(&key, "v").await;
            let (Some(p), Some(k)) = (parse(&project), parse(&key)) else {
                prop_assert!(
                    matches!(saved, Err(Error::InvalidKey { .. })),
                    "project {:?} key {:?}: {:?}",
                    project,
                    key,
                    saved
                );
                prop_assert!(store.keys().await.map_err(|e| TestCaseError::fail(e.to_string()))?.is_empty());
                return Ok(());
            };
            let everything = store.keys().await.map_err(|e| TestCaseError::fail(e.to_string()))?;
            match saved {
                Ok(()) => {
                    hit(5);
                    prop_assert_eq!(everything, vec![format!("{p}/{k}")]);
                    prop_assert_eq!(view.keys().await.map_err(|e| TestCaseError::fail(e.to_string()))?, vec![k]);
                }
                // Too long once under the project.
                Err(Error::InvalidKey { .. }) => {
                    prop_assert!(p.len() + 1 + k.len() > MAX_KEY_BYTES);
                    prop_assert!(everything.is_empty());
                }
                Err(e) => prop_assert!(false, "project {:?} key {:?}: {}", project, key, e),
            }
            Ok(())
        })
    });
}

/// Known tricks, each refused or taken literally (and then harmless).
#[test]
fn known_tricks() {
    let refused = [
        "..",
        "../etc/passwd",
        "..\\..\\windows\\system32",
        "/../x",
        "a/../../b",
        "a/..",
        "a\\..\\..",
        "./../x",
        ".\\..\\x",
        "a/./b",
        "a/.",
        "a/",
        "a\\",
        "/",
        "\\",
        "",
        "./",
        "//",
        "a\u{0}/b",
        "a\u{0}",
        "\u{0}",
        "a\nb",
        "a\rb",
        "a\u{1b}[31m",
        "a\u{85}",
        "a\u{9f}",
        ".objstore",
        ".objstore/usage",
        "a/.objstore-tmp-1-2",
        "\\.objstore\\locks",
        ".OBJSTORE",
        ".OBJSTORE/usage",
        "a/.ObjStore-tmp-1-2",
        ".objſtore/usage",
        "\u{200b}.objstore/usage",
        "\u{202e}.OBJSTORE",
    ];
    let literal = [
        ("%2e%2e/x", "%2e%2e/x"),
        ("..%2f..%2fetc", "..%2f..%2fetc"),
        ("\u{ff0e}\u{ff0e}/x", "\u{ff0e}\u{ff0e}/x"),
        ("a\u{2215}..\u{2215}b", "a\u{2215}..\u{2215}b"),
        ("...", "..."),
        ("..a/b..", "..a/b.."),
        ("a./b ", "a./b "),
        ("C:\\x", "C:/x"),
        ("//?/C:/x", "?/C:/x"),
        ("~/x", "~/x"),
        ("\u{202e}txt.exe", "\u{202e}txt.exe"),
        ("e\u{301}", "e\u{301}"),
        ("é", "é"),
        (".objstor", ".objstor"),
        ("é.txt", "é.txt"),
    ];
    let mut violations = Vec::new();
    for input in refused {
        if let Ok(k) = Key::parse(input) {
            violations.push(format!("{input:?} accepted as {:?}", k.as_str()));
        }
    }
    for (input, expected) in literal {
        match parse(input) {
            Some(k) if k == expected => {}
            other => violations.push(format!("{input:?} gave {other:?}, expected {expected:?}")),
        }
    }
    TALLY.finish("known_tricks", (refused.len() + literal.len()) as u64, violations.len() as u64, "");
    assert!(violations.is_empty(), "{violations:#?}");
}

/// Arbitrary bytes as text (lossy) never panic anywhere in the key API.
#[test]
fn arbitrary_bytes_never_panic() {
    let strategy = prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..64),
        4 => prop::collection::vec(prop_oneof![0x20u8..0x7f, Just(b'/'), Just(b'.'), Just(b'\\')], 0..64),
        1 => prop::collection::vec(any::<u8>(), 0..2100),
    ];
    property("arbitrary_bytes_never_panic", 6, 1000, strategy, |bytes| {
        let text = String::from_utf8_lossy(&bytes);
        let _ = Key::parse(&text);
        let _ = normalise_prefix(&text);
        let _ = store_core::key::is_segment(&text);
        if let Ok(k) = Key::parse(&text) {
            hit(6);
            let _ = (k.parent(), k.file_name(), k.segments().count());
            if let Ok(p) = Key::parse("p") {
                let _ = k.under(&p);
            }
        }
        Ok(())
    });
}

// ----- a bug this file found (fixed; kept as a regression) ---------------------

/// A refused key is echoed escaped in the error message: a key holding a newline or an ANSI
/// escape (which the store refuses) must not forge log lines or rewrite a terminal when printed.
#[test]
fn invalid_key_messages_escape_control_characters() {
    for key in ["a\nERROR forged log line", "a\u{1b}[2J\u{1b}[Hcleared", "a\rb", "x\u{85}y", "a/\u{0}"] {
        let message = Key::parse(key).map(|k| k.as_str().to_string()).unwrap_or_else(|e| e.to_string());
        assert!(!message.chars().any(char::is_control), "{key:?} gives the message {message:?}");
        let prefix = normalise_prefix(key).unwrap_or_else(|e| e.to_string());
        assert!(!prefix.chars().any(char::is_control), "{key:?} as a prefix gives {prefix:?}");
    }
}

// ----- the fuzz seed corpus ---------------------------------------------------------------------

/// Writes `fuzz/corpus/key_parse/`: LEAN's example keys, the README's, and known tricks.
/// `cargo test -p store-core --test prop_keys -- --ignored write_fuzz_seed_corpus`
#[test]
#[ignore = "writes the fuzz seed corpus: `cargo xtask fuzz --write-corpus` runs it"]
fn write_fuzz_seed_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/key_parse");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let seeds: Vec<(&str, String)> = vec![
        ("lean-plain", "jose-something/pepe/ILove".into()),
        ("lean-messy", "./a/su-p_er\\pr##efi$x/ILove".into()),
        ("readme-ok", "v1.0/model".into()),
        ("hidden", ".hidden/file.tar.gz".into()),
        ("spaces-symbols", "a b=1/#x$".into()),
        ("unicode", "ünï/κ/e\u{301}/\u{ff0f}".into()),
        ("dotdot", "../etc/passwd".into()),
        ("dot-segment", "a/./b".into()),
        ("slashes", "//a///b\\\\c".into()),
        ("reserved", "a/.objstore-tmp-1-2".into()),
        ("reserved-case", ".OBJSTORE/usage".into()),
        ("reserved-long-s", ".objſtore/usage".into()),
        ("reserved-invisible", ".obj\u{200b}STORE/locks".into()),
        ("control", "a\u{0}b\nc".into()),
        ("percent", "%2e%2e/%2f/x".into()),
        ("max-len", "x".repeat(MAX_KEY_BYTES)),
        ("over-len", format!("{}/y", "x".repeat(MAX_KEY_BYTES))),
    ];
    for (name, key) in &seeds {
        std::fs::write(dir.join(name), key.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    }
    eprintln!("wrote {} seeds to {}", seeds.len(), dir.display());
}
