//! Key parsing on arbitrary bytes: never a panic; an accepted key is in normal form, stays
//! beneath any root it is joined to, is a fixed point of parsing, and agrees with a reference
//! model of the documented rules (README "No escapes"); listing prefixes likewise.

#![no_main]

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

use libfuzzer_sys::fuzz_target;

use store_core::testkit::key_model::{model_key, model_segment as model_segment_ok};
use store_core::key::{MAX_KEY_BYTES, is_segment, normalise_prefix};
use store_core::{Error, Key};

fuzz_target!(|data: &[u8]| {
    match std::str::from_utf8(data) {
        Ok(s) => check(s),
        Err(_) => check(&String::from_utf8_lossy(data)),
    }
});

fn check(input: &str) {
    let parsed = Key::parse(input);
    let model = model_key(input);
    match (&parsed, &model) {
        (Ok(k), Some(m)) => assert_eq!(k.as_str(), m, "normal form differs from the rules for {input:?}"),
        (Ok(k), None) => panic!("{input:?} accepted as {:?}, the rules refuse it", k.as_str()),
        (Err(e), Some(m)) => panic!("{input:?} refused ({e}), the rules accept it as {m:?}"),
        (Err(Error::InvalidKey { reason, .. }), None) => assert!(!reason.is_empty()),
        (Err(e), None) => panic!("{input:?} refused with a non-InvalidKey error: {e:?}"),
    }
    if let Ok(key) = &parsed {
        check_accepted(input, key);
    }

    match normalise_prefix(input) {
        Ok(p) => {
            assert!(!p.starts_with('/') && !p.contains('\\') && !p.contains("//"), "prefix {p:?} of {input:?}");
            let body = p.strip_suffix('/').unwrap_or(&p);
            if !body.is_empty() {
                assert!(body.split('/').all(model_segment_ok), "prefix {p:?} of {input:?} has a bad segment");
            }
            assert_eq!(normalise_prefix(&p).ok().as_deref(), Some(p.as_str()), "prefix not idempotent: {input:?}");
            if let Ok(k) = &parsed {
                assert_eq!(p, k.as_str(), "a key and its prefix form differ for {input:?}");
            }
        }
        Err(Error::InvalidKey { .. }) => assert!(parsed.is_err(), "{input:?} is a key but not a prefix"),
        Err(e) => panic!("normalise_prefix({input:?}) gave a non-InvalidKey error: {e:?}"),
    }
}

fn check_accepted(input: &str, key: &Key) {
    let s = key.as_str();
    assert!(!s.is_empty() && s.len() <= MAX_KEY_BYTES, "{input:?}");
    assert!(!s.starts_with('/') && !s.ends_with('/') && !s.contains('\\') && !s.contains("//"), "{input:?}");
    for seg in key.segments() {
        assert!(is_segment(seg), "segment {seg:?} of {input:?} is not a valid segment");
    }
    // A fixed point, recognised as already normal (borrowed).
    match Key::parse(s) {
        Ok(Cow::Borrowed(again)) => assert_eq!(again.as_str(), s),
        Ok(Cow::Owned(again)) => panic!("{s:?} re-normalised to {:?}", again.as_str()),
        Err(e) => panic!("{s:?} (from {input:?}) is refused when parsed again: {e}"),
    }
    assert_eq!(
        if key.parent().is_empty() {
            key.file_name().to_string()
        } else {
            format!("{}/{}", key.parent(), key.file_name())
        },
        s
    );
    // Joined to a root, it stays beneath it: only normal components.
    let root = Path::new("/srv/objstore-root");
    let mut path = PathBuf::from(root);
    path.extend(key.segments());
    assert!(path.starts_with(root), "{s:?} leaves the root: {}", path.display());
    let below: Vec<Component<'_>> = path.strip_prefix(root).map(|p| p.components().collect()).unwrap_or_default();
    assert_eq!(below.len(), key.segments().count(), "{s:?} maps to {}", path.display());
    assert!(below.iter().all(|c| matches!(c, Component::Normal(_))), "{s:?} maps to {}", path.display());
    // Under a project it stays a valid key (or is refused as too long).
    if let Ok(project) = Key::parse("proj") {
        match key.under(&project) {
            Ok(joined) => assert!(matches!(Key::parse(joined.as_str()), Ok(Cow::Borrowed(_)))),
            Err(Error::InvalidKey { .. }) => assert!(s.len() + 5 > MAX_KEY_BYTES),
            Err(e) => panic!("under() gave {e:?}"),
        }
    }
}
