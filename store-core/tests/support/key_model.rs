//! A reference model of the documented key rules (README "No escapes"), written independently of
//! the crate's parser: the property tests (`prop_keys.rs`) and the `key_parse` fuzz target
//! (`fuzz/fuzz_targets/key_parse.rs`, which includes this file by path) check `Key::parse`
//! against it.

use store_core::key::{MAX_KEY_BYTES, RESERVED_PREFIX};

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
    !seg.is_empty()
        && seg != "."
        && seg != ".."
        && !seg.starts_with(RESERVED_PREFIX)
        && !seg.chars().any(char::is_control)
}

/// The key the documented rules make of `input`, or `None` when they refuse it.
pub fn model_key(input: &str) -> Option<String> {
    let n = model_normalise(input);
    let ok = !n.is_empty() && n.len() <= MAX_KEY_BYTES && !n.ends_with('/') && n.split('/').all(model_segment);
    ok.then_some(n)
}
