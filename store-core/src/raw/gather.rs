//! Pieces of a chunk stream sized for writing: a backend that writes a stream out with one
//! hand-off to the blocking pool per write (a temp file, a file being exported) gathers small
//! chunks (an HTTP body arrives in frames of a few KiB) into pieces of at least a set size, so
//! that a hand-off is paid per MiB, not per frame.
//!
//! Invariants: bytes come out in the order they went in, none lost or repeated; a chunk of the
//! set size or more, arriving when nothing is gathered, passes as it is (no copy); only the last
//! piece (at the end of the stream) may be smaller.

use bytes::{Bytes, BytesMut};

/// Gathers chunks into pieces of at least `size` bytes (see the module docs).
#[derive(Debug)]
pub struct Gather {
    size: usize,
    gathered: BytesMut,
}

impl Gather {
    /// Gathers into pieces of at least `size` bytes.
    pub fn new(size: usize) -> Gather {
        Gather { size, gathered: BytesMut::new() }
    }

    /// Takes the stream's next chunk (`None` at its end) and gives the piece now ready to write,
    /// if one is.
    pub fn push(&mut self, chunk: Option<Bytes>) -> Option<Bytes> {
        match chunk {
            Some(chunk) if self.gathered.is_empty() && chunk.len() >= self.size => Some(chunk),
            Some(chunk) => {
                self.gathered.extend_from_slice(&chunk);
                (self.gathered.len() >= self.size).then(|| self.gathered.split().freeze())
            }
            None => (!self.gathered.is_empty()).then(|| self.gathered.split().freeze()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_keep_every_byte_in_order_and_large_chunks_pass_as_they_are() {
        let mut gather = Gather::new(10);
        let mut out: Vec<Bytes> = Vec::new();
        let input: Vec<Bytes> = [&b"abc"[..], b"defg", b"hij", b"0123456789ABCDEF", b"k", b"lmnopqrstuvw", b"xy"]
            .map(Bytes::from_static)
            .into();
        let large_at = input[3].as_ptr();
        for chunk in input.iter().cloned() {
            out.extend(gather.push(Some(chunk)));
        }
        out.extend(gather.push(None));
        let joined: Vec<u8> = out.iter().flat_map(|b| b.iter().copied()).collect();
        assert_eq!(joined, b"abcdefghij0123456789ABCDEFklmnopqrstuvwxy");
        assert!(out[..out.len() - 1].iter().all(|p| p.len() >= 10), "{out:?}");
        assert!(out.iter().any(|p| p.as_ptr() == large_at), "the large chunk was copied");
        assert_eq!(gather.push(None), None);
    }
}
