//! Keys: what a user may name an object, normalised once, checked on every operation.
//!
//! A key is UTF-8. Normalisation turns `\` into `/`, drops leading `/` and `./`, and collapses
//! runs of `/`. The result is refused when it is empty, longer than [`MAX_KEY_BYTES`], has a `.`
//! or `..` segment, ends with `/`, holds a control character, or has a segment starting with
//! [`RESERVED_PREFIX`] (the store's own temp files and folders) in any case: on a case-folding
//! file system `.OBJSTORE/usage` is the store's own ledger (see [`is_reserved`]). Everything else
//! is accepted: `v1.0/model`, `file.tar.gz`, `.hidden`, `a b=1/#x$`.
//!
//! [`Key`] is the borrowed, already-valid form (like `str`), [`KeyBuf`] the owned one (like
//! `String`, but cheap to clone). [`Key::parse`] borrows when its input is already normal, so the
//! common case allocates nothing.

use std::borrow::{Borrow, Cow};
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use ref_cast::RefCast;

use crate::error::{Error, Result};

/// The longest key, in bytes, after normalisation.
pub const MAX_KEY_BYTES: usize = 1024;

/// Segments starting with this are the store's own (temp files, lock files, internal folders),
/// in any case (see [`is_reserved`]).
pub const RESERVED_PREFIX: &str = ".objstore";

/// A valid, normalised key, borrowed. Obtain one with [`Key::parse`].
///
/// ```
/// use store_core::Key;
/// let key = Key::parse(r"/a\b//c.json").unwrap();
/// assert_eq!(key.as_str(), "a/b/c.json");
/// assert!(Key::parse("a/../../etc/passwd").is_err());
/// ```
#[derive(RefCast, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct Key(str);

/// An owned [`Key`]. Cloning it is a reference-count increment.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyBuf(Arc<str>);

impl Key {
    /// Normalises and checks `input`. Borrows `input` when it is already in normal form.
    pub fn parse(input: &str) -> Result<Cow<'_, Key>> {
        if quick_check(input.as_bytes()) {
            return Ok(Cow::Borrowed(Key::ref_cast(input)));
        }
        if is_normal_form(input) {
            validate(input, input)?;
            return Ok(Cow::Borrowed(Key::ref_cast(input)));
        }
        let normal = normalise(input);
        validate(input, &normal)?;
        Ok(Cow::Owned(KeyBuf(Arc::from(normal))))
    }

    /// The key as a string, with `/` separators.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the last `/` (empty for a top-level key).
    pub fn parent(&self) -> &str {
        self.0.rsplit_once('/').map_or("", |(p, _)| p)
    }

    /// The last segment.
    pub fn file_name(&self) -> &str {
        self.0.rsplit_once('/').map_or(&self.0, |(_, n)| n)
    }

    /// The segments, in order.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// This key under `prefix/`. `prefix` must itself be a valid key.
    pub fn under(&self, prefix: &Key) -> Result<KeyBuf> {
        let joined = format!("{}/{}", prefix.as_str(), self.as_str());
        if joined.len() > MAX_KEY_BYTES {
            return Err(invalid(&joined, too_long_reason()));
        }
        Ok(KeyBuf(Arc::from(joined)))
    }
}

impl KeyBuf {
    /// Parses and owns a key.
    pub fn parse(input: &str) -> Result<KeyBuf> {
        Key::parse(input).map(Cow::into_owned)
    }

    /// Wraps a string known to be valid (used by backends for names they listed and checked).
    pub fn from_valid(s: impl Into<Arc<str>>) -> KeyBuf {
        let s = s.into();
        debug_assert!(is_normal_form(&s) && validate(&s, &s).is_ok(), "not a valid key: {s:?}");
        KeyBuf(s)
    }

    /// The key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for KeyBuf {
    type Target = Key;
    fn deref(&self) -> &Key {
        Key::ref_cast(&self.0)
    }
}

impl Borrow<Key> for KeyBuf {
    fn borrow(&self) -> &Key {
        self
    }
}

impl Borrow<str> for KeyBuf {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl ToOwned for Key {
    type Owned = KeyBuf;
    fn to_owned(&self) -> KeyBuf {
        KeyBuf(Arc::from(&self.0))
    }
}

impl AsRef<str> for Key {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<Key> for KeyBuf {
    fn as_ref(&self) -> &Key {
        self
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for KeyBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<&Key> for KeyBuf {
    fn from(k: &Key) -> KeyBuf {
        k.to_owned()
    }
}

impl From<KeyBuf> for String {
    fn from(k: KeyBuf) -> String {
        k.0.to_string()
    }
}

impl PartialEq<str> for KeyBuf {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for KeyBuf {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

/// Normalises a listing prefix: like a key, but it may be empty or end with `/`.
///
/// Returns the normal form (`""` lists everything). `.`/`..` segments, control characters and
/// reserved names are refused like in keys.
pub fn normalise_prefix(input: &str) -> Result<String> {
    let normal = normalise(input);
    if normal.len() > MAX_KEY_BYTES {
        return Err(invalid(input, too_long_reason()));
    }
    let body = normal.strip_suffix('/').unwrap_or(&normal);
    if !body.is_empty() {
        for segment in body.split('/') {
            check_segment(input, segment)?;
        }
    }
    Ok(normal)
}

/// True when `name` can be one segment of a key: what a file or folder name must be for a
/// backend that maps keys to paths to treat it as part of a key.
pub fn is_segment(name: &str) -> bool {
    !name.contains('/') && !name.contains('\\') && name.len() <= MAX_KEY_BYTES && segment_is_valid(name)
}

/// The rules of one segment (no separators in it): not empty, `.` or `..`, no control
/// characters, not reserved.
fn segment_is_valid(segment: &str) -> bool {
    !segment.is_empty()
        && segment != "."
        && segment != ".."
        && !is_reserved(segment)
        && !segment.chars().any(char::is_control)
}

/// True when `segment` starts with [`RESERVED_PREFIX`] as a case-folding file system compares
/// names: without case (ASCII letters, and the long s `ſ`, which Unicode folds to `s`), and
/// skipping the invisible code points (Unicode's default ignorables, such as U+200B and U+00AD)
/// that some of them leave out of a comparison. `.OBJSTORE`, `.ObjStore-tmp-1`, `.objſtore` and
/// `.obj\u{200b}store` are reserved; `.objstor` and `x.objstore` are not.
pub fn is_reserved(segment: &str) -> bool {
    let mut folded = segment
        .chars()
        .filter(|&c| !is_default_ignorable(c))
        .map(|c| if c == '\u{17f}' { 's' } else { c.to_ascii_lowercase() });
    RESERVED_PREFIX.chars().all(|expected| folded.next() == Some(expected))
}

/// Unicode's `Default_Ignorable_Code_Point` (DerivedCoreProperties.txt, Unicode 15).
fn is_default_ignorable(c: char) -> bool {
    matches!(
        c as u32,
        0x00AD
            | 0x034F
            | 0x061C
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x206F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0xFFF0..=0xFFF8
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    )
}

/// True when `b` is certainly a valid key in normal form: the common shape, proved with two
/// branch-free passes (which compile to vector instructions). False means "take the slow path",
/// which normalises, accepts or explains what is wrong; keys starting with '.' (`.hidden`),
/// segments starting with '.' and a '.' after a non-ASCII character always go there, as do the
/// store's reserved names in any case or spelling.
fn quick_check(b: &[u8]) -> bool {
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else { return false };
    if b.len() > MAX_KEY_BYTES || first == b'/' || first == b'.' || last == b'/' {
        return false;
    }
    // C0 controls, DEL, '\\', and 0xC2: the lead byte of C1 controls (and of harmless
    // characters such as '£', which the slow path accepts).
    let unusual = b.iter().fold(false, |seen, &c| seen | (c < 0x20) | (c == 0x7f) | (c == b'\\') | (c == 0xc2));
    // An empty segment ("//"), one starting with '.' ("/.", "/..", "/.objstore"), or a '.' right
    // after a non-ASCII character (an invisible one may hide a reserved name: "\u{200b}.objstore").
    let odd_segment = b[..b.len() - 1].iter().zip(&b[1..]).fold(false, |seen, (&c, &next)| {
        seen | ((c == b'/') & ((next == b'/') | (next == b'.'))) | ((c >= 0x80) & (next == b'.'))
    });
    !unusual && !odd_segment
}

/// True when `s` would come out of [`normalise`] unchanged.
fn is_normal_form(s: &str) -> bool {
    let b = s.as_bytes();
    if b.first() == Some(&b'/') || s.starts_with("./") {
        return false;
    }
    let mut prev_slash = false;
    for &c in b {
        match c {
            b'\\' => return false,
            b'/' if prev_slash => return false,
            _ => {}
        }
        prev_slash = c == b'/';
    }
    true
}

fn normalise(input: &str) -> String {
    let mut s = input.replace('\\', "/");
    // Drop leading "/" and "./" (in any mix), then collapse runs of '/'.
    let start = {
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
        s.len() - rest.len()
    };
    s.drain(..start);
    let mut out = String::with_capacity(s.len());
    let mut prev_slash = false;
    for c in s.chars() {
        if c == '/' && prev_slash {
            continue;
        }
        prev_slash = c == '/';
        out.push(c);
    }
    out
}

fn validate(input: &str, normal: &str) -> Result<()> {
    if normal.is_empty() {
        return Err(invalid(input, "the key is empty; give the object a name such as \"prices/spy.csv\"".into()));
    }
    if normal.len() > MAX_KEY_BYTES {
        return Err(invalid(input, too_long_reason()));
    }
    if normal.ends_with('/') {
        return Err(invalid(
            input,
            "the key ends with '/', which names a folder, not an object; add a file name".into(),
        ));
    }
    for segment in normal.split('/') {
        check_segment(input, segment)?;
    }
    Ok(())
}

fn check_segment(input: &str, segment: &str) -> Result<()> {
    if segment == "." || segment == ".." {
        return Err(invalid(
            input,
            format!("'{segment}' segments are not allowed: a key cannot point outside its folder"),
        ));
    }
    if let Some(c) = segment.chars().find(|c| c.is_control()) {
        return Err(invalid(
            input,
            format!("the key holds the control character U+{:04X}; use printable characters", c as u32),
        ));
    }
    if is_reserved(segment) {
        return Err(invalid(
            input,
            format!("names starting with '{RESERVED_PREFIX}' (in any case) are reserved for the store's own files"),
        ));
    }
    Ok(())
}

fn too_long_reason() -> String {
    format!("the key is longer than {MAX_KEY_BYTES} bytes; use a shorter key")
}

fn invalid(input: &str, reason: String) -> Error {
    Error::InvalidKey { key: crate::error::shorten(input), reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        Key::parse(s).map(|k| k.as_str().to_string()).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn refused(s: &str) -> bool {
        matches!(Key::parse(s), Err(Error::InvalidKey { .. }))
    }

    #[test]
    fn lean_examples_are_accepted() {
        assert_eq!(norm("jose-something/pepe/ILove"), "jose-something/pepe/ILove");
        assert_eq!(norm("prefix/ILove"), "prefix/ILove");
        assert_eq!(norm("/prefix/ILove"), "prefix/ILove");
        assert_eq!(norm("a/super/prefix/ILove"), "a/super/prefix/ILove");
        assert_eq!(norm(r"./a/su-p_er\pr##efi$x/ILove"), "a/su-p_er/pr##efi$x/ILove");
        assert_eq!(norm(r"./a/su-p_er\pr x=/ILove"), "a/su-p_er/pr x=/ILove");
        assert_eq!(norm("my_key.json"), "my_key.json");
        assert_eq!(norm("x=1"), "x=1");
        assert_eq!(norm("test/123"), "test/123");
    }

    #[test]
    fn ordinary_names_lean_refused_are_accepted() {
        for k in ["v1.0/model", "file.tar.gz", ".hidden", "a b=1/#x$", "..x", "x..", "a/...", "ünï/κ"] {
            assert_eq!(norm(k), k);
        }
    }

    #[test]
    fn normalisation() {
        assert_eq!(norm(r"\a\b"), "a/b");
        assert_eq!(norm("//a///b"), "a/b");
        assert_eq!(norm("././a"), "a");
        assert_eq!(norm("/./a"), "a");
        assert_eq!(norm(".//a"), "a");
        assert!(matches!(Key::parse("a/b").unwrap(), Cow::Borrowed(_)));
        assert!(quick_check(b"a/b.json") && quick_check(b"v1.0/model") && quick_check("ü/κ".as_bytes()));
        // Valid, but left to the slow path.
        assert!(!quick_check(b".hidden/x") && !quick_check(b"a/.hidden"));
        assert!(matches!(Key::parse(".hidden/x").unwrap(), Cow::Borrowed(_)));
        for name in [".hidden", "a b", "x..", "ü", "£"] {
            assert!(is_segment(name), "{name:?}");
        }
        for name in ["", ".", "..", "a/b", r"a\b", "a\u{0}", "a\u{85}", ".objstore", ".objstore-tmp-1"] {
            assert!(!is_segment(name), "{name:?}");
        }
        for slow in ["", "/a", "./a", "a//b", "a/", "a/./b", "a/../b", r"a\b", "a\u{85}", ".objstore-x", "a\nb"] {
            assert!(!quick_check(slow.as_bytes()), "{slow:?}");
        }
        assert!(matches!(Key::parse("/a/b").unwrap(), Cow::Owned(_)));
    }

    #[test]
    fn bad_keys_are_refused() {
        for k in [
            "",
            "/",
            "./",
            "a/",
            "a/b/",
            "..",
            ".",
            "../x",
            "a/../../x",
            "a/./b",
            "a/..",
            r"..\x",
            "a\u{0}b",
            "a\nb",
            "a\u{7f}",
            "a\u{85}",
            ".objstore",
            ".objstore-tmp-1",
            "a/.objstore/x",
        ] {
            assert!(refused(k), "{k:?} should be refused");
        }
        assert!(refused(&"x".repeat(MAX_KEY_BYTES + 1)));
        assert_eq!(norm(&"x".repeat(MAX_KEY_BYTES)).len(), MAX_KEY_BYTES);
    }

    /// On a case-folding file system `.OBJSTORE/usage` is the store's own ledger: reserved names
    /// are refused in any case, with the long s that Unicode folds to 's', and with the invisible
    /// code points some case-folding file systems skip when they compare names.
    #[test]
    fn reserved_names_are_refused_in_any_case() {
        for k in [
            ".OBJSTORE",
            ".OBJSTORE/usage",
            ".ObjStore-tmp-1",
            "a/.OBJSTORE/x",
            ".objſtore/usage",
            ".OBJ\u{17f}TORE",
            ".obj\u{200b}store",
            ".\u{ad}objstore",
            "\\.OBJSTORE\\locks",
        ] {
            assert!(refused(k), "{k:?} should be refused");
            assert!(normalise_prefix(&format!("{k}/")).is_err(), "{k:?} as a prefix should be refused");
        }
        for k in [".objstor", ".objects", "objstore", "x.objstore", ".obj-store", "a/.objstor/b"] {
            assert_eq!(norm(k), k);
        }
        for name in [".OBJSTORE", ".Objstore-tmp-1", ".objſtore"] {
            assert!(!is_segment(name), "{name:?}");
        }
    }

    #[test]
    fn error_names_the_key_and_says_why() {
        let e = Key::parse("a/../../x").unwrap_err().to_string();
        assert!(e.contains("a/../../x") && e.contains("outside"), "{e}");
    }

    #[test]
    fn prefixes() {
        assert_eq!(normalise_prefix("").unwrap(), "");
        assert_eq!(normalise_prefix("/a/").unwrap(), "a/");
        assert_eq!(normalise_prefix(r"a\b").unwrap(), "a/b");
        assert!(normalise_prefix("../").is_err());
        assert!(normalise_prefix("a/../").is_err());
    }

    #[test]
    fn under_joins() {
        let k = Key::parse("x/y").unwrap();
        let p = Key::parse("proj").unwrap();
        assert_eq!(k.under(&p).unwrap().as_str(), "proj/x/y");
        assert_eq!(k.parent(), "x");
        assert_eq!(k.file_name(), "y");
    }

    proptest::proptest! {
        #[test]
        fn quick_check_agrees_with_the_full_rules(s in "[a-z./\\\\ \u{0}\u{7f}\u{85}é]{0,20}") {
            if quick_check(s.as_bytes()) {
                proptest::prop_assert!(is_normal_form(&s) && validate(&s, &s).is_ok(), "{:?}", s);
            }
        }

        #[test]
        fn is_segment_agrees_with_key_parsing(s in "[a-z.\\\\ \u{0}\u{85}é]{0,12}") {
            let as_key = Key::parse(&s).map(|k| k.as_str() == s).unwrap_or(false);
            proptest::prop_assert_eq!(is_segment(&s), as_key, "{:?}", s);
        }

        #[test]
        fn normalisation_is_idempotent_and_never_escapes(s in "[a-z./\\\\ ]{0,40}") {
            if let Ok(k) = Key::parse(&s) {
                let again = Key::parse(k.as_str()).unwrap();
                proptest::prop_assert_eq!(again.as_str(), k.as_str());
                proptest::prop_assert!(!k.segments().any(|seg| seg == ".." || seg == "." || seg.is_empty()));
                proptest::prop_assert!(!k.as_str().starts_with('/'));
            }
        }
    }
}
