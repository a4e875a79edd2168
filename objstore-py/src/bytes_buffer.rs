//! Large values read straight into the `bytes` object Python gets, instead of into a Rust buffer
//! that is then copied (at 1 MiB the copy cost as much as the read).
//!
//! Invariants:
//! - [`PyBytesAllocator`] makes an uninitialised `bytes` of the value's exact size (taking the
//!   GIL for that moment only, from the GIL-released read) and lends the backend its memory. The
//!   object is referenced by nothing Python can reach until [`PyBytesAllocator::take`] hands it
//!   out, so writing into it is writing into memory we own.
//! - `take` hands the object out only when the answer's bytes are exactly the whole object's
//!   memory (the backend filled it all); any other answer (a cache hit, a file that shrank while
//!   read, a remote backend) is copied as before, and the unfilled object is dropped unseen.
//! - Values under [`MIN_DIRECT_BYTES`] are not worth the extra GIL round trip: declined.

use std::mem::MaybeUninit;
use std::sync::Mutex;

use bytes::Bytes;
use objstore::raw::{ValueAllocator, ValueBuffer};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// The smallest value read into a `bytes` object directly.
pub const MIN_DIRECT_BYTES: usize = 64 * 1024;

/// Gives `bytes` objects as read buffers, and remembers the last one (see the module docs).
#[derive(Default)]
pub struct PyBytesAllocator {
    last: Mutex<Option<Given>>,
}

/// A `bytes` object lent to a backend, and where its memory lies.
struct Given {
    object: Py<PyBytes>,
    at: usize,
    len: usize,
}

impl PyBytesAllocator {
    /// The `bytes` object `read` lives in, when `read` is the whole of the last one given.
    pub fn take<'py>(&self, py: Python<'py>, read: &Bytes) -> Option<Bound<'py, PyBytes>> {
        let given = self.last.lock().ok()?.take()?;
        (given.at == read.as_ptr() as usize && given.len == read.len()).then(|| given.object.into_bound(py))
    }
}

impl ValueAllocator for PyBytesAllocator {
    fn allocate(&self, len: usize) -> Option<Box<dyn ValueBuffer>> {
        if len < MIN_DIRECT_BYTES {
            return None;
        }
        let size = pyo3::ffi::Py_ssize_t::try_from(len).ok()?;
        Python::attach(|py| {
            // SAFETY: with the GIL held, `PyBytes_FromStringAndSize(NULL, n)` returns a new
            // reference to a `bytes` of `n` uninitialised bytes, or NULL with an exception set.
            #[allow(unsafe_code)]
            let raw = unsafe { pyo3::ffi::PyBytes_FromStringAndSize(std::ptr::null(), size) };
            if raw.is_null() {
                // Out of memory: clear the exception and let the backend use its own buffer
                // (which then reports the failure as a store error, or succeeds).
                drop(PyErr::take(py));
                return None;
            }
            // SAFETY: `raw` is a new, owned reference to an object of type `bytes`.
            #[allow(unsafe_code)]
            let object: Py<PyBytes> =
                unsafe { Bound::from_owned_ptr(py, raw).cast_into_unchecked::<PyBytes>() }.unbind();
            // SAFETY: `raw` is a live `bytes`; its buffer holds `len` bytes (plus a NUL) and stays
            // where it is for the object's life.
            #[allow(unsafe_code)]
            let at = unsafe { pyo3::ffi::PyBytes_AsString(raw) }.cast::<u8>();
            if at.is_null() {
                drop(PyErr::take(py));
                return None;
            }
            let buffer = BytesBuffer { object: object.clone_ref(py), at: SendPtr(at), len };
            if let Ok(mut last) = self.last.lock() {
                *last = Some(Given { object, at: at as usize, len });
            }
            Some(Box::new(buffer) as Box<dyn ValueBuffer>)
        })
    }
}

/// The memory of a `bytes` object nobody else references yet.
struct BytesBuffer {
    /// Keeps the memory alive.
    object: Py<PyBytes>,
    at: SendPtr,
    len: usize,
}

/// A pointer into a `bytes` object's memory, which a GIL-released thread may write (see the
/// module docs) and which lives as long as the object held beside it.
struct SendPtr(*mut u8);

// SAFETY: the pointer is only dereferenced by the one owner of the buffer (room) or, after
// `into_bytes`, read through `Bytes`, while the `bytes` object it points into is kept alive.
#[allow(unsafe_code)]
unsafe impl Send for SendPtr {}
// SAFETY: shared access only reads (after `into_bytes` the memory is never written again).
#[allow(unsafe_code)]
unsafe impl Sync for SendPtr {}

impl ValueBuffer for BytesBuffer {
    fn room(&mut self) -> &mut [MaybeUninit<u8>] {
        // SAFETY: `at` points at `len` bytes of a live `bytes` object referenced by nothing else
        // that reads or writes them, and `&mut self` makes this borrow the only one.
        #[allow(unsafe_code)]
        unsafe {
            std::slice::from_raw_parts_mut(self.at.0.cast::<MaybeUninit<u8>>(), self.len)
        }
    }

    #[allow(unsafe_code)]
    unsafe fn into_bytes(self: Box<Self>, filled: usize) -> Bytes {
        let filled = filled.min(self.len);
        Bytes::from_owner(FilledBytes { _object: self.object, at: self.at, len: filled })
    }
}

/// The filled start of a `bytes` object's memory, kept alive by the object.
struct FilledBytes {
    _object: Py<PyBytes>,
    at: SendPtr,
    len: usize,
}

impl AsRef<[u8]> for FilledBytes {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: the first `len` bytes were written before `into_bytes` (its contract), and the
        // object holding them lives as long as `self`.
        #[allow(unsafe_code)]
        unsafe {
            std::slice::from_raw_parts(self.at.0, self.len)
        }
    }
}
