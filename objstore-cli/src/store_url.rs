//! Store URLs as the command takes them, and where they lead.
//!
//! - A bare path (`/data/store`, `./storage`, `storage`) and `file:PATH` (`file:/data/store`,
//!   `file:relative`) name a folder on local disk: they become `file://PATH` (characters a URL
//!   would read as its query or fragment are percent-encoded). Anything with `://` is a URL as
//!   written; `scheme:rest` with another scheme is left to the library, which answers "did you
//!   mean scheme://rest?".
//! - [`Location`] is where a URL leads, resolved (`./`, `..`, symbolic links, a relative folder),
//!   so that `copy` can tell two URLs of one store apart from two stores, and a store inside
//!   another.

use std::path::{Component, Path, PathBuf};

use objstore::raw::registry::StoreUrl;

/// `given` as a URL the library opens.
pub fn normalise(given: &str) -> String {
    if given.contains("://") {
        return given.to_string();
    }
    if let Some(path) = given.strip_prefix("file:") {
        return file_url(path);
    }
    if looks_like_scheme(given) {
        return given.to_string();
    }
    file_url(given)
}

/// True for `scheme:rest` where `scheme` could be a URL scheme (letters first).
fn looks_like_scheme(text: &str) -> bool {
    text.split_once(':').is_some_and(|(scheme, _)| {
        scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    })
}

/// `file://PATH`, with `%`, `?` and `#` percent-encoded.
fn file_url(path: &str) -> String {
    let mut out = String::from("file://");
    for c in path.chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
}

/// The scheme of `url`, lowercase, when it parses.
pub fn scheme(url: &str) -> Option<String> {
    StoreUrl::parse(url).ok().map(|(u, _)| u.scheme)
}

/// Where a store URL leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A folder on local disk, absolute and resolved.
    Folder(PathBuf),
    /// A bucket (on an endpoint) and a prefix (`""` or ending with `/`).
    Bucket { endpoint: String, bucket: String, prefix: String },
    /// A named memory store (`memory://NAME`).
    Memory(String),
    /// A store that is new each time it is opened (`memory://`): apart from every other.
    Fresh,
    /// Something else: compared as written.
    Other(String),
}

impl Location {
    /// Where `url` leads (a URL that does not parse leads to itself).
    pub fn of(url: &str) -> Location {
        let Ok((parsed, options)) = StoreUrl::parse(url) else { return Location::Other(url.to_string()) };
        match parsed.scheme.as_str() {
            "file" => Location::Folder(resolve(Path::new(&parsed.location))),
            "s3" => {
                let (bucket, prefix) = parsed.location.split_once('/').unwrap_or((&parsed.location, ""));
                let prefix = prefix.trim_matches('/');
                let endpoint = options
                    .iter()
                    .find(|(k, _)| k == "endpoint" || k == "aws_endpoint" || k == "endpoint_url")
                    .map(|(_, v)| v.trim_end_matches('/').to_ascii_lowercase())
                    .unwrap_or_default();
                Location::Bucket {
                    endpoint,
                    bucket: bucket.to_string(),
                    prefix: if prefix.is_empty() { String::new() } else { format!("{prefix}/") },
                }
            }
            "memory" if parsed.location.is_empty() => Location::Fresh,
            "memory" => Location::Memory(parsed.location),
            _ => Location::Other(url.to_string()),
        }
    }

    /// How `self` (a copy's destination) overlaps `source`: `None` when they are apart.
    pub fn overlap(&self, source: &Location) -> Option<&'static str> {
        use Location::*;
        let (inner, outer) = match (source, self) {
            (Folder(s), Folder(d)) if s == d => return Some("the same store"),
            (Folder(s), Folder(d)) if d.starts_with(s) => return Some("inside the source"),
            (Folder(s), Folder(d)) if s.starts_with(d) => return Some("the source is inside the destination"),
            (Bucket { endpoint: e1, bucket: b1, prefix: p1 }, Bucket { endpoint: e2, bucket: b2, prefix: p2 })
                if e1 == e2 && b1 == b2 =>
            {
                (p1, p2)
            }
            (Memory(s), Memory(d)) if s == d => return Some("the same store"),
            (Other(s), Other(d)) if s.trim_end_matches('/') == d.trim_end_matches('/') => {
                return Some("the same store");
            }
            _ => return None,
        };
        if inner == outer {
            Some("the same store")
        } else if outer.starts_with(inner.as_str()) {
            Some("inside the source")
        } else if inner.starts_with(outer.as_str()) {
            Some("the source is inside the destination")
        } else {
            None
        }
    }
}

/// `path` made absolute and resolved: the part that exists through `canonicalize` (symbolic
/// links followed), the rest lexically (`.` dropped, `..` taken off).
fn resolve(path: &Path) -> PathBuf {
    let absolute = match std::env::current_dir() {
        Ok(cwd) => cwd.join(path),
        Err(_) => path.to_path_buf(),
    };
    if let Ok(real) = absolute.canonicalize() {
        return real;
    }
    let mut lexical = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                lexical.pop();
            }
            other => lexical.push(other.as_os_str()),
        }
    }
    let mut missing = Vec::new();
    let mut existing = lexical.as_path();
    while let (Some(name), Some(parent)) = (existing.file_name(), existing.parent()) {
        missing.push(name);
        existing = parent;
        if let Ok(mut real) = existing.canonicalize() {
            real.extend(missing.iter().rev());
            return real;
        }
    }
    lexical
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_folder_urls() {
        assert_eq!(normalise("file:///a"), "file:///a");
        assert_eq!(normalise("s3://b/p?x=1"), "s3://b/p?x=1");
        assert_eq!(normalise("/tmp/x"), "file:///tmp/x");
        assert_eq!(normalise("storage"), "file://storage");
        assert_eq!(normalise("./a b/c?d#e%"), "file://./a b/c%3Fd%23e%25");
        assert_eq!(normalise("file:/tmp/x"), "file:///tmp/x");
        assert_eq!(normalise("file:relative"), "file://relative");
        assert_eq!(normalise("s3:bucket"), "s3:bucket");
    }

    #[test]
    fn locations_overlap_when_one_holds_the_other() {
        let dir = std::env::temp_dir();
        let a = Location::of(&format!("file://{}/x", dir.display()));
        assert_eq!(Location::of(&format!("file://{}/./x/", dir.display())).overlap(&a), Some("the same store"));
        assert_eq!(Location::of(&format!("file://{}/x/y/../z", dir.display())).overlap(&a), Some("inside the source"));
        assert_eq!(Location::of(&format!("file://{}/xy", dir.display())).overlap(&a), None);
        let s3 = |u: &str| Location::of(u);
        assert_eq!(
            s3("s3://b/p?endpoint=http://h:1/").overlap(&s3("s3://b/p/?endpoint=http://h:1")),
            Some("the same store")
        );
        assert_eq!(
            s3("s3://b/p/q?endpoint=http://h:1").overlap(&s3("s3://b/p?endpoint=http://h:1")),
            Some("inside the source")
        );
        assert_eq!(s3("s3://b/pq").overlap(&s3("s3://b/p")), None);
        assert_eq!(s3("s3://b/p?endpoint=http://h:2").overlap(&s3("s3://b/p?endpoint=http://h:1")), None);
        assert_eq!(s3("memory://a").overlap(&s3("memory://a")), Some("the same store"));
        assert_eq!(s3("memory://").overlap(&s3("memory://")), None);
    }
}
