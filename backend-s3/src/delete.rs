//! Deletes: `NotFound` for an absent key (S3's own delete is idempotent), and deletes of only a
//! given version.
//!
//! A conditional delete first reads the object's ETag (refusing at once when it differs), then
//! sends `DELETE` with `If-Match`, which AWS S3, SeaweedFS (4.48) and moto (5.2) honour: the
//! server deletes only while the object holds that version, exactly. object_store has no
//! conditional delete, so the request is a presigned `DELETE` URL (signed with the store's
//! credentials, valid for a minute) sent with the `If-Match` header by object_store's own HTTP
//! client. Whether the server honours it is probed once per store, at the first conditional
//! delete, on a reserved key no listing shows (`.objstore-probe/...`): a server that deletes
//! despite a wrong `If-Match` is remembered, and deletes there fall back to the check just before
//! the delete, whose window (a save landing between the check and the delete is lost) the README
//! states. [`Capabilities::conditional_delete`](store_core::Capabilities) reports which.

use std::sync::atomic::Ordering;
use std::time::Duration;

use object_store::ObjectStoreExt as _;
use object_store::path::Path;
use object_store::signer::Signer as _;
use store_core::{Error, Key, Result, Version};

use crate::Inner;

/// What the probe found: not yet probed, honoured, ignored (or not possible here).
pub(crate) const UNKNOWN: u8 = 0;
pub(crate) const HONOURED: u8 = 1;
pub(crate) const IGNORED: u8 = 2;

impl Inner {
    pub(crate) async fn delete(&self, key: &Key, if_match: Option<&Version>) -> Result<()> {
        // S3 deletes are idempotent; the store's contract says NotFound for an absent key.
        let current = self.head(key).await?;
        let Some(expected) = if_match else {
            let path = self.path(key)?;
            return self.store.delete(&path).await.map_err(|e| self.context(Some(key), None).map(e));
        };
        if current.version != *expected {
            return Err(Error::Precondition { key: key.to_string(), expected: expected.to_string() });
        }
        if self.conditional_delete().await {
            let path = self.path(key)?;
            return self.delete_if_match(&path, key.as_str(), expected).await;
        }
        // The server ignores If-Match: the check above is all there is.
        let path = self.path(key)?;
        self.store.delete(&path).await.map_err(|e| self.context(Some(key), Some(expected.as_str())).map(e))
    }

    /// True when the server honours `If-Match` on `DELETE` (probed once).
    pub(crate) async fn conditional_delete(&self) -> bool {
        match self.delete_support.load(Ordering::Relaxed) {
            HONOURED => return true,
            IGNORED => return false,
            _ => {}
        }
        let found = match self.probe_conditional_delete().await {
            Ok(honoured) => honoured,
            Err(e) => {
                tracing::warn!(store = %self.name, error = %e, "cannot probe conditional deletes; checking \
                    versions just before deleting instead");
                // Not remembered: a later delete probes again.
                return false;
            }
        };
        self.delete_support.store(if found { HONOURED } else { IGNORED }, Ordering::Relaxed);
        found
    }

    /// Writes a reserved object, asks to delete it with a wrong `If-Match`, and sees whether it
    /// survived.
    async fn probe_conditional_delete(&self) -> Result<bool> {
        if self.signer.is_none() || self.http.is_none() {
            return Ok(false);
        }
        // A reserved name (never a key, never listed), so no store object is touched.
        let name = format!(".objstore-probe/conditional-delete-{:016x}", rand_suffix());
        let path = Path::parse(format!("{}{name}", self.prefix))
            .map_err(|e| self.request_error(&name, e.to_string(), false))?;
        let put = self
            .store
            .put(&path, object_store::PutPayload::from_static(b"probe"))
            .await
            .map_err(|e| self.context(None, None).map(e))?;
        let wrong = Version::new("\"00000000000000000000000000000000\"");
        let refused = matches!(self.delete_if_match(&path, &name, &wrong).await, Err(Error::Precondition { .. }));
        let survived = self.store.head(&path).await.is_ok();
        let honoured = refused && survived;
        if survived {
            let right = Version::new(put.e_tag.unwrap_or_default());
            if self.delete_if_match(&path, &name, &right).await.is_err() {
                let _ = self.store.delete(&path).await;
            }
        }
        tracing::debug!(store = %self.name, honoured, "probed conditional deletes");
        Ok(honoured)
    }

    /// `DELETE` of `path` (the object of key `key`) with `If-Match`, through a presigned URL.
    async fn delete_if_match(&self, path: &Path, key: &str, expected: &Version) -> Result<()> {
        let (Some(signer), Some(http)) = (&self.signer, &self.http) else {
            return Err(Error::NotSupported {
                backend: self.name.clone(),
                operation: "conditional deletes without a signing S3 client".to_string(),
            });
        };
        let url = signer
            .signed_url(http::Method::DELETE, path, Duration::from_secs(60))
            .await
            .map_err(|e| self.request_error(key, format!("cannot sign the request: {e}"), false))?;
        let request = http::Request::builder()
            .method(http::Method::DELETE)
            .uri(url.as_str())
            .header(http::header::IF_MATCH, expected.as_str())
            .body(object_store::client::HttpRequestBody::empty())
            .map_err(|e| self.request_error(key, e.to_string(), false))?;
        let response = http.execute(request).await.map_err(|e| self.request_error(key, e.to_string(), true))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status == http::StatusCode::PRECONDITION_FAILED {
            Err(Error::Precondition { key: key.to_string(), expected: expected.to_string() })
        } else if status == http::StatusCode::NOT_FOUND {
            Err(Error::not_found(key))
        } else {
            let transient = status.is_server_error() || status == http::StatusCode::TOO_MANY_REQUESTS;
            Err(self.request_error(key, format!("the conditional delete was answered {status}"), transient))
        }
    }

    fn request_error(&self, key: &str, what: String, transient: bool) -> Error {
        // Never the URL: a presigned URL carries a signature.
        Error::Backend {
            backend: self.name.clone(),
            message: format!("cannot delete '{key}' at {}: {what}", self.endpoint),
            transient,
            source: None,
        }
    }
}

/// A suffix that keeps two probes (two processes opening one bucket) apart.
fn rand_suffix() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    (nanos as u64) ^ (u64::from(std::process::id()) << 32)
}
