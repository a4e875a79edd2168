//! Backends are plugins: each registers a URL scheme, and one `open(url)` builds the right one.
//!
//! A backend crate adds a [`BackendFactory`] to [`BACKENDS`] with `linkme` (registered at link
//! time: depending on the crate is enough), or a program calls [`register_backend`] at run time.
//! `memory://` is built in.
//!
//! URLs are `scheme://location?option=value&...`. The location is everything between `://` and
//! `?`, percent-decoded (`file:///abs/dir`, `file://relative/dir`, `s3://bucket/prefix`). Options
//! from the query and from [`crate::StoreBuilder::option`] reach the factory together; a factory
//! refuses options it does not know, naming them.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use futures::future::BoxFuture;
use linkme::distributed_slice;

use crate::backend::Backend;
use crate::error::{Error, Result, redact_url};
use crate::memory::MemoryBackend;

/// A parsed store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreUrl {
    /// The URL as the user wrote it.
    pub original: String,
    /// The scheme, lowercase (`file`, `s3`, `memory`).
    pub scheme: String,
    /// What follows `scheme://`, up to `?`, percent-decoded.
    pub location: String,
}

impl StoreUrl {
    /// Splits `url` into scheme, location and query options.
    pub fn parse(url: &str) -> Result<(StoreUrl, Vec<(String, String)>)> {
        let bad = |message: String| Error::Config { url: redact_url(url), message };
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(bad(format!(
                "a store URL looks like scheme://location, for example file:///data/store, file://./storage, \
                 memory:// or s3://bucket/prefix (known schemes: {})",
                schemes().join(", ")
            )));
        };
        if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
            return Err(bad(format!("'{scheme}' is not a URL scheme")));
        }
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| bad(format!("'{s}' is not valid UTF-8 once percent-decoded")))
        };
        let mut options = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, "true"));
            options.push((decode(k)?, decode(v)?));
        }
        let parsed =
            StoreUrl { original: url.to_string(), scheme: scheme.to_ascii_lowercase(), location: decode(location)? };
        Ok((parsed, options))
    }
}

/// Options handed to a backend factory. The factory takes what it knows and calls
/// [`BackendOptions::finish`], which refuses the rest by name.
#[derive(Debug, Clone, Default)]
pub struct BackendOptions {
    url: String,
    entries: BTreeMap<String, String>,
}

impl BackendOptions {
    /// Options for `url` (used in messages).
    pub fn new(url: &str, entries: impl IntoIterator<Item = (String, String)>) -> BackendOptions {
        BackendOptions { url: redact_url(url), entries: entries.into_iter().collect() }
    }

    /// Removes and returns an option.
    pub fn take(&mut self, name: &str) -> Option<String> {
        self.entries.remove(name)
    }

    /// Removes a boolean option (`true`/`false`/`1`/`0`/`yes`/`no`).
    pub fn take_bool(&mut self, name: &str) -> Result<Option<bool>> {
        let Some(v) = self.take(name) else { return Ok(None) };
        match v.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Some(true)),
            "false" | "0" | "no" | "off" => Ok(Some(false)),
            _ => Err(self.error(format!("option '{name}' must be true or false, not '{v}'"))),
        }
    }

    /// An error about these options.
    pub fn error(&self, message: String) -> Error {
        Error::Config { url: self.url.clone(), message }
    }

    /// The options not taken yet, for a factory that hands them to another library.
    pub fn into_remaining(self) -> BTreeMap<String, String> {
        self.entries
    }

    /// Fails when options are left that the factory did not take, listing them and the known ones.
    pub fn finish(self, known: &[&str]) -> Result<()> {
        if self.entries.is_empty() {
            return Ok(());
        }
        let unknown: Vec<&str> = self.entries.keys().map(String::as_str).collect();
        Err(self.error(format!(
            "unknown option(s) {}; this backend knows {}",
            unknown.join(", "),
            if known.is_empty() { "none".to_string() } else { known.join(", ") }
        )))
    }
}

/// Opens a backend for a URL whose scheme it registered.
pub type OpenFn = fn(StoreUrl, BackendOptions) -> BoxFuture<'static, Result<Arc<dyn Backend>>>;

/// A backend's registration: the scheme it answers to and how to open it.
#[derive(Clone, Copy)]
pub struct BackendFactory {
    /// The URL scheme, lowercase, without `://`.
    pub scheme: &'static str,
    /// One line for help texts: what this backend is.
    pub summary: &'static str,
    /// Opens a backend.
    pub open: OpenFn,
}

/// Factories registered at link time by backend crates.
// linkme places the entries in a link section, which the `unsafe_code` lint flags.
#[allow(unsafe_code)]
#[distributed_slice]
pub static BACKENDS: [BackendFactory];

#[allow(unsafe_code)]
#[distributed_slice(BACKENDS)]
static MEMORY: BackendFactory = BackendFactory {
    scheme: "memory",
    summary: "in-process memory (memory:// fresh, memory://NAME shared)",
    open: open_memory,
};

fn open_memory(url: StoreUrl, options: BackendOptions) -> BoxFuture<'static, Result<Arc<dyn Backend>>> {
    Box::pin(async move {
        options.finish(&[])?;
        let backend: Arc<dyn Backend> =
            if url.location.is_empty() { Arc::new(MemoryBackend::new()) } else { MemoryBackend::shared(&url.location) };
        Ok(backend)
    })
}

static RUNTIME_FACTORIES: RwLock<Vec<BackendFactory>> = RwLock::new(Vec::new());

/// Registers a backend at run time. A later registration of the same scheme wins over earlier
/// ones and over link-time registrations.
pub fn register_backend(factory: BackendFactory) {
    RUNTIME_FACTORIES.write().unwrap_or_else(|p| p.into_inner()).push(factory);
}

fn find(scheme: &str) -> Option<BackendFactory> {
    let runtime = RUNTIME_FACTORIES.read().unwrap_or_else(|p| p.into_inner());
    runtime.iter().rev().chain(BACKENDS.iter()).find(|f| f.scheme == scheme).copied()
}

/// The schemes that can be opened, sorted.
pub fn schemes() -> Vec<&'static str> {
    let runtime = RUNTIME_FACTORIES.read().unwrap_or_else(|p| p.into_inner());
    let mut all: Vec<&'static str> = runtime.iter().chain(BACKENDS.iter()).map(|f| f.scheme).collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// Opens the backend for `url`, with `extra` options beside those in its query.
pub async fn open_backend(url: &str, extra: Vec<(String, String)>) -> Result<Arc<dyn Backend>> {
    let (parsed, mut options) = StoreUrl::parse(url)?;
    options.extend(extra);
    let Some(factory) = find(&parsed.scheme) else {
        return Err(Error::Config {
            url: redact_url(url),
            message: format!(
                "no backend is registered for '{}://' (known: {}); enable the objstore feature that provides it \
                 (local for file://, s3 for s3://)",
                parsed.scheme,
                schemes().join(", ")
            ),
        });
    };
    (factory.open)(parsed, BackendOptions::new(url, options)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let (u, o) = StoreUrl::parse("file:///abs/my%20dir?durability=buffered&x").unwrap();
        assert_eq!((u.scheme.as_str(), u.location.as_str()), ("file", "/abs/my dir"));
        assert_eq!(o, vec![("durability".into(), "buffered".into()), ("x".into(), "true".into())]);
        let (u, _) = StoreUrl::parse("FILE://rel/dir").unwrap();
        assert_eq!((u.scheme.as_str(), u.location.as_str()), ("file", "rel/dir"));
        assert!(StoreUrl::parse("/just/a/path").is_err());
        assert!(StoreUrl::parse("://x").is_err());
    }

    #[tokio::test]
    async fn memory_is_built_in_and_unknown_schemes_say_what_exists() {
        assert!(schemes().contains(&"memory"));
        open_backend("memory://", vec![]).await.unwrap();
        let e = open_backend("nope://x", vec![]).await.unwrap_err().to_string();
        assert!(e.contains("memory"), "{e}");
        let e = open_backend("memory://?bogus=1", vec![]).await.unwrap_err().to_string();
        assert!(e.contains("bogus"), "{e}");
    }
}
