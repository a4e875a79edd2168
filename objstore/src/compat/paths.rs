//! Names: object_store `Path`s as objstore keys and listing prefixes, and keys back as `Path`s.
//!
//! A `Path`'s string form is the key, verbatim: `a/b%2Fc/d` (a segment holding `/`, which
//! `Path::from_iter` percent-encodes) is the key `a/b%2Fc/d`, and a key listed from the store is
//! the `Path` that parses from it. Every valid key is a valid `Path` (keys refuse more: `.objstore`
//! names, control characters beyond ASCII, more than 1024 bytes); a `Path` that is not a valid key
//! fails with the store's `InvalidKey` advice (as a `Generic` error), and a `Path` holding `\`
//! (which objstore reads as a separator) is refused rather than stored under another name.
//!
//! Prefixes follow object_store: `foo` lists `foo/x` but neither `foo` itself nor `foo.bar/y`.

use object_store::Error as OsError;
use object_store::path::Path;

use super::error::generic;

/// The key that `location` names.
pub(crate) fn key(location: &Path) -> Result<&str, OsError> {
    let key = location.as_ref();
    if key.contains('\\') {
        return Err(generic(format!(
            "invalid key '{key}': objstore reads '\\' as a folder separator, so this path would name another \
             object; percent-encode the '\\' (Path::from and Path::from_iter do)"
        )));
    }
    Ok(key)
}

/// The objstore listing prefix of an object_store prefix: `""` for everything, else the path
/// and a `/` (prefixes match whole segments). `None` when no key can start with it.
pub(crate) fn prefix(prefix: Option<&Path>) -> Option<String> {
    match prefix.map(Path::as_ref) {
        None | Some("") => Some(String::new()),
        Some(p) if p.contains('\\') => None,
        Some(p) => Some(format!("{p}/")),
    }
}

/// The `Path` of a key the store listed.
pub(crate) fn path(key: &str) -> Result<Path, OsError> {
    Path::parse(key).map_err(OsError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_keys_verbatim() {
        let p = Path::from_iter(["a", "b/c", "d.parquet"]);
        assert_eq!(key(&p).unwrap(), "a/b%2Fc/d.parquet");
        assert_eq!(path("a/b%2Fc/d.parquet").unwrap(), p);
        let p = Path::parse("🇦🇺/$shenanigans@@~.txt").unwrap();
        assert_eq!(path(key(&p).unwrap()).unwrap(), p);
    }

    #[test]
    fn backslashes_are_refused_not_aliased() {
        let p = Path::parse(r"a\b").unwrap();
        let e = key(&p).unwrap_err();
        assert!(matches!(e, OsError::Generic { .. }) && e.to_string().contains("percent-encode"), "{e}");
        // Path::from encodes it, and that is a fine key.
        assert_eq!(key(&Path::from(r"a\b")).unwrap(), "a%5Cb");
    }

    #[test]
    fn prefixes_match_whole_segments() {
        assert_eq!(prefix(None).unwrap(), "");
        assert_eq!(prefix(Some(&Path::from("/"))).unwrap(), "");
        assert_eq!(prefix(Some(&Path::from("foo"))).unwrap(), "foo/");
        assert_eq!(prefix(Some(&Path::parse(r"a\b").unwrap())), None);
    }
}
