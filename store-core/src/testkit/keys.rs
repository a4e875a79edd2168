//! Key strategies for property tests: adversarial keys (every trick a caller or an attacker puts
//! in a key: `..`, control characters, look-alike slashes, reserved names in any case, huge
//! segments), plausible keys (valid but confusable segments in the forms normalisation removes),
//! and colliding keys (few, short segments, so that saves of one case share folders). The
//! property tests of the key rules, of the local backend's confinement and the fuzz target use
//! them, so a trick added here is tried everywhere.

use proptest::prelude::*;

/// Pieces an attacker (or a careless caller) puts in keys.
pub const VOCABULARY: &[&str] = &[
    "..",
    ".",
    "",
    "a",
    "A",
    "b",
    "%2e%2e",
    "%2f",
    "..%2f",
    "\\",
    "/",
    "./",
    "//",
    "../",
    "..\\",
    "\u{0}",
    "\u{1}",
    "\n",
    "\r",
    "\t",
    "\u{1b}",
    "\u{7f}",
    "\u{85}",
    "\u{9f}",
    "é",
    "e\u{301}",
    "\u{212b}",
    "\u{c5}",
    "ß",
    "SS",
    "\u{ff0f}",
    "\u{2215}",
    "\u{2044}",
    "\u{ff0e}\u{ff0e}",
    "\u{2024}\u{2024}",
    "\u{202e}",
    "\u{200b}",
    "\u{feff}",
    "\u{fffd}",
    "\u{10ffff}",
    "😀",
    " ",
    "a.",
    "a ",
    "a. ",
    "...",
    "..a",
    "a..",
    ".hidden",
    ".objstore",
    ".objstore-tmp-1",
    ".objstor",
    ".OBJSTORE",
    ".ObjStore-tmp-",
    ".objſtore",
    ".obj\u{200b}store",
    "ſ",
    "~",
    "$HOME",
    "*",
    "?",
    ":",
    "C:",
    "C:\\",
    "con",
    "NUL",
    "file:",
    "//?/",
];

/// One piece: from the vocabulary, a long run, or a few arbitrary characters.
pub fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(VOCABULARY).prop_map(str::to_string),
        1 => (prop::sample::select(&["x", "é", "/", ".", "ab/"][..]), 1usize..1100).prop_map(|(s, n)| s.repeat(n)),
        2 => prop::collection::vec(any::<char>(), 0..6).prop_map(String::from_iter),
    ]
}

/// An adversarial key: pieces, glued directly or by `/` or `\`.
pub fn hostile() -> impl Strategy<Value = String> {
    prop::collection::vec((piece(), prop::sample::select(&["", "/", "\\", "//"][..])), 0..10)
        .prop_map(|parts| parts.into_iter().map(|(p, sep)| format!("{p}{sep}")).collect())
}

/// Segment material that is valid but easy to confuse: case, trailing dots and spaces, NFC and
/// NFD, look-alike slashes and dots, invisible characters, names that mean something elsewhere.
pub const CONFUSABLE: &[&str] = &[
    "a",
    "A",
    "b",
    "é",
    "e\u{301}",
    "\u{212b}",
    "\u{c5}",
    "ß",
    "SS",
    "\u{ff0f}",
    "\u{2215}",
    "\u{ff0e}\u{ff0e}",
    "\u{2024}",
    " ",
    "a.",
    "a ",
    "...",
    "..a",
    "a..",
    ".hidden",
    ".objstor",
    ".OBJSTORE",
    ".ObjStore-tmp-",
    ".objſtore",
    ".obj\u{200b}store",
    "ſ",
    "%2e%2e",
    "%2f",
    "😀",
    "\u{202e}",
    "\u{200b}",
    "\u{feff}",
    "~",
    "C:",
    "con",
    "*?",
    "v1.0",
    "file.tar.gz",
    "a b=1",
    "#x$",
];

/// A mostly valid key: segments of confusable material, separated by `/`, `\` or `//`, with an
/// optional leading `/` or `./` (the forms normalisation removes).
pub fn plausible() -> impl Strategy<Value = String> {
    let segment = prop::collection::vec(
        prop_oneof![
            8 => prop::sample::select(CONFUSABLE).prop_map(str::to_string),
            1 => (1usize..300).prop_map(|n| "x".repeat(n)),
            1 => prop::sample::select(VOCABULARY).prop_map(str::to_string),
        ],
        1..4,
    )
    .prop_map(|parts| parts.concat());
    let separator = prop::sample::select(&["/", "/", "/", "\\", "//"][..]);
    (prop::sample::select(&["", "", "", "/", "./", "\\", "/./"][..]), prop::collection::vec((segment, separator), 1..6))
        .prop_map(|(lead, parts)| {
            let mut key = lead.to_string();
            for (i, (seg, sep)) in parts.iter().enumerate() {
                if i > 0 {
                    key.push_str(sep);
                }
                key.push_str(seg);
            }
            key
        })
}

/// Any string at all, an adversarial one, or a plausible one.
pub fn any_key() -> impl Strategy<Value = String> {
    prop_oneof![3 => hostile(), 3 => plausible(), 1 => any::<String>()]
}

/// Mostly valid keys, few segments, so that saves in one case share folders and collide.
pub fn colliding() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        6 => prop::sample::select(CONFUSABLE).prop_map(str::to_string),
        2 => (prop::sample::select(CONFUSABLE), prop::sample::select(CONFUSABLE)).prop_map(|(a, b)| format!("{a}{b}")),
        1 => (250usize..262).prop_map(|n| "y".repeat(n)),
    ];
    (
        prop::sample::select(&["", "", "", "/", "./", "\\"][..]),
        prop::collection::vec((segment, prop::sample::select(&["/", "/", "\\", "//"][..])), 1..4),
    )
        .prop_map(|(lead, parts)| {
            let mut key = lead.to_string();
            for (i, (seg, sep)) in parts.iter().enumerate() {
                if i > 0 {
                    key.push_str(sep);
                }
                key.push_str(seg);
            }
            key
        })
}
