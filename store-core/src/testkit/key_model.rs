//! A reference model of the documented key rules (README "No escapes"), written independently of
//! the crate's parser (it shares no code with `key.rs`, on purpose: a model that calls what it
//! checks cannot find its bugs): the property tests (`prop_keys.rs`) and the `key_parse` fuzz
//! target check `Key::parse` against it.

use crate::key::{MAX_KEY_BYTES, RESERVED_PREFIX};

/// The documented normalisation: `\` → `/`, leading `/` and `./` dropped in any mix, runs of `/`
/// collapsed.
pub fn model_normalise(input: &str) -> String {
    let s = input.replace('\\', "/");
    let mut rest = s.as_str();
    loop {
        if let Some(r) = rest.strip_prefix('/') {
            rest = r;
        } else if let Some(r) = rest.strip_prefix("./") {
            rest = r;
        } else {
            break;
        }
    }
    let mut out = String::new();
    for c in rest.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    out
}

/// Whether `seg` may be one segment of a key: not empty, `.` or `..`, no control character, not
/// reserved.
pub fn model_segment(seg: &str) -> bool {
    !seg.is_empty() && seg != "." && seg != ".." && !model_reserved(seg) && !seg.chars().any(char::is_control)
}

/// Whether `seg` names the store's own files as a case-folding file system sees it: the reserved
/// prefix without case (ASCII letters; the long s folds to 's'), Unicode's default-ignorable code
/// points left out.
pub fn model_reserved(seg: &str) -> bool {
    const IGNORABLE: &[(u32, u32)] = &[
        (0xAD, 0xAD),
        (0x34F, 0x34F),
        (0x61C, 0x61C),
        (0x115F, 0x1160),
        (0x17B4, 0x17B5),
        (0x180B, 0x180F),
        (0x200B, 0x200F),
        (0x202A, 0x202E),
        (0x2060, 0x206F),
        (0x3164, 0x3164),
        (0xFE00, 0xFE0F),
        (0xFEFF, 0xFEFF),
        (0xFFA0, 0xFFA0),
        (0xFFF0, 0xFFF8),
        (0x1BCA0, 0x1BCA3),
        (0x1D173, 0x1D17A),
        (0xE0000, 0xE0FFF),
    ];
    let visible: String = seg
        .chars()
        .filter(|c| !IGNORABLE.iter().any(|(lo, hi)| (*lo..=*hi).contains(&(*c as u32))))
        .map(|c| if c == 'ſ' { 's' } else { c })
        .collect();
    visible.len() >= RESERVED_PREFIX.len()
        && visible.is_char_boundary(RESERVED_PREFIX.len())
        && visible[..RESERVED_PREFIX.len()].eq_ignore_ascii_case(RESERVED_PREFIX)
}

/// The key the documented rules make of `input`, or `None` when they refuse it.
pub fn model_key(input: &str) -> Option<String> {
    let n = model_normalise(input);
    let ok = !n.is_empty() && n.len() <= MAX_KEY_BYTES && !n.ends_with('/') && n.split('/').all(model_segment);
    ok.then_some(n)
}
