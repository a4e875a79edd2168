//! Reads: whole values, ranges (one `Range` GET, conditional on the version when asked), and
//! streams of large values.
//!
//! A stream is one GET (ranged when a range is asked) whose body arrives in chunks: memory holds
//! one chunk at a time, and the whole body comes from the one version that GET answered, so a
//! stream never mixes two values. A body cut short (a reset connection) ends the stream with an
//! error: the bytes are counted against the answer's length, never passed off as the whole.
//! Range rules are the store's ([`ByteRange`]): a reversed or empty range
//! is refused before any request; a range past the end is answered from the object's size.

use std::ops::Range;
use std::sync::Arc;

use futures::stream::{self, StreamExt, TryStreamExt};
use object_store::{GetRange, ObjectStore as _};
use store_core::raw::ByteStream;
use store_core::raw::backend::resolve_range;
use store_core::{
    ByteRange, Error, GetOptions, GetResult, Key, KeyBuf, Object, ObjectMeta, ObjectStream, RangeRead, Result, Version,
};

use crate::Inner;

impl Inner {
    pub(crate) async fn get(&self, key: &Key, opts: &GetOptions) -> Result<GetResult> {
        let path = self.path(key)?;
        let options = object_store::GetOptions {
            if_none_match: opts.if_none_match.as_ref().map(|v| v.to_string()),
            ..Default::default()
        };
        let response = match self.store.get_opts(&path, options).await {
            Err(object_store::Error::NotModified { .. }) => return Ok(GetResult::NotModified),
            Err(e) => return Err(self.context(Some(key), None).map(e)),
            Ok(response) => response,
        };
        let meta = self.meta_of(key, &response.meta);
        // The body arrives as a stream; collected into one buffer of the announced size.
        let bytes = response.bytes().await.map_err(|e| self.context(Some(key), None).map(e))?;
        Ok(GetResult::Found(Object { meta: ObjectMeta { size: bytes.len() as u64, ..meta }, bytes }))
    }

    pub(crate) async fn get_range(
        &self,
        key: &Key,
        range: &ByteRange,
        if_match: Option<&Version>,
    ) -> Result<RangeRead> {
        let response = self.ranged_get(key, range, if_match).await?;
        let Some((meta, served, response)) = response else {
            // The range covers nothing of this value (an empty one asked for its last bytes).
            let meta = self.head_if(key, if_match).await?;
            let range = resolve_range(key, range, meta.size)?;
            return Ok(RangeRead { bytes: bytes::Bytes::new(), range, meta });
        };
        let bytes = response.bytes().await.map_err(|e| self.context(Some(key), None).map(e))?;
        if bytes.len() as u64 != served.end - served.start {
            return Err(self.changed(key));
        }
        Ok(RangeRead { bytes, range: served, meta })
    }

    pub(crate) async fn get_stream(
        self: &Arc<Self>,
        key: &Key,
        range: Option<&ByteRange>,
        if_match: Option<&Version>,
    ) -> Result<ObjectStream> {
        let answered = match range {
            Some(range) => self.ranged_get(key, range, if_match).await?,
            None => Some(self.whole_get(key, if_match).await?),
        };
        let Some((meta, served, response)) = answered else {
            // None of the value asked for (an empty value's last bytes): nothing to stream.
            let meta = self.head_if(key, if_match).await?;
            let range = match range {
                Some(range) => resolve_range(key, range, meta.size)?,
                None => 0..0,
            };
            return Ok(ObjectStream { meta, range, body: stream::empty().boxed() });
        };
        let len = served.end - served.start;
        let body = response.into_stream().map_err({
            let (this, key) = (self.clone(), KeyBuf::from(key));
            move |e| this.context(Some(&key), None).map(e)
        });
        Ok(ObjectStream { meta, range: served, body: counted(body.boxed(), len, self.changed(key)) })
    }

    /// One GET of the whole value (conditional on `if_match` when given).
    async fn whole_get(
        &self,
        key: &Key,
        if_match: Option<&Version>,
    ) -> Result<(ObjectMeta, Range<u64>, object_store::GetResult)> {
        let path = self.path(key)?;
        let options = object_store::GetOptions { if_match: if_match.map(|v| v.to_string()), ..Default::default() };
        let expected = if_match.map(Version::as_str);
        match self.store.get_opts(&path, options).await {
            Ok(response) => {
                let meta = self.meta_of(key, &response.meta);
                let served = response.range.clone();
                Ok((meta, served, response))
            }
            Err(object_store::Error::Precondition { .. }) => {
                Err(Error::Precondition { key: key.to_string(), expected: expected.unwrap_or_default().to_string() })
            }
            Err(e) => Err(self.context(Some(key), expected).map(e)),
        }
    }

    /// One `Range` GET. `None` when the range covers no byte of the value (S3 answers 416).
    async fn ranged_get(
        &self,
        key: &Key,
        range: &ByteRange,
        if_match: Option<&Version>,
    ) -> Result<Option<(ObjectMeta, Range<u64>, object_store::GetResult)>> {
        // Refused as written, before any request.
        if let ByteRange::Bounded { start, end } = range {
            if start >= end {
                return Err(resolve_range(key, range, u64::MAX).err().unwrap_or_else(|| self.changed(key)));
            }
        }
        if *range == ByteRange::Last(0) {
            return Err(resolve_range(key, range, 0).err().unwrap_or_else(|| self.changed(key)));
        }
        let path = self.path(key)?;
        let options = object_store::GetOptions {
            if_match: if_match.map(|v| v.to_string()),
            range: Some(match *range {
                ByteRange::Bounded { start, end } => GetRange::Bounded(start..end),
                ByteRange::From(start) => GetRange::Offset(start),
                ByteRange::Last(n) => GetRange::Suffix(n),
            }),
            ..Default::default()
        };
        let expected = if_match.map(Version::as_str);
        match self.store.get_opts(&path, options).await {
            Ok(response) => {
                let meta = self.meta_of(key, &response.meta);
                let served = response.range.clone();
                Ok(Some((meta, served, response)))
            }
            Err(object_store::Error::Precondition { .. }) => {
                Err(Error::Precondition { key: key.to_string(), expected: expected.unwrap_or_default().to_string() })
            }
            Err(e) if is_unsatisfiable(&e) => {
                // Past the end: the size tells whether that is the empty answer or an error.
                let meta = self.head_if(key, if_match).await?;
                let resolved = resolve_range(key, range, meta.size)?;
                if resolved.is_empty() { Ok(None) } else { Err(self.changed(key)) }
            }
            Err(e) => Err(self.context(Some(key), expected).map(e)),
        }
    }

    /// The object's metadata, checked against `if_match`.
    async fn head_if(&self, key: &Key, if_match: Option<&Version>) -> Result<ObjectMeta> {
        let meta = self.head(key).await?;
        match if_match {
            Some(expected) if *expected != meta.version => {
                Err(Error::Precondition { key: key.to_string(), expected: expected.to_string() })
            }
            _ => Ok(meta),
        }
    }

    pub(crate) fn meta_of(&self, key: &Key, meta: &object_store::ObjectMeta) -> ObjectMeta {
        ObjectMeta {
            key: KeyBuf::from(key),
            size: meta.size,
            version: Version::new(meta.e_tag.clone().unwrap_or_default()),
            modified: Some(meta.last_modified.into()),
        }
    }

    fn changed(&self, key: &Key) -> Error {
        Error::Conflict {
            key: key.to_string(),
            reason: "it was replaced by another writer while it was being read; read it again".to_string(),
        }
    }
}

/// True for a `416 Range Not Satisfiable` answer (or object_store's own range check).
fn is_unsatisfiable(e: &object_store::Error) -> bool {
    let text = e.to_string();
    text.contains("416") || text.contains("InvalidRange") || text.contains("Range Not Satisfiable")
}

/// `body`, checked to add up to `len` bytes: a body cut short ends with `short` as its error.
fn counted(body: ByteStream, len: u64, short: Error) -> ByteStream {
    stream::unfold((body, 0u64, Some(short)), move |(mut body, seen, short)| async move {
        let short = short?;
        match body.next().await {
            Some(Ok(chunk)) => {
                let seen = seen + chunk.len() as u64;
                Some((Ok(chunk), (body, seen, Some(short))))
            }
            Some(Err(e)) => Some((Err(e), (body, seen, None))),
            None if seen != len => Some((Err(short), (body, seen, None))),
            None => None,
        }
    })
    .boxed()
}
