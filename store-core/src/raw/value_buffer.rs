//! Memory a caller provides for a whole value, so that a read lands where the value is going.
//!
//! A caller that must hand a value on in a buffer of its own kind (the Python module returns a
//! `bytes` object, which cannot wrap Rust memory) would otherwise read into a Rust buffer and
//! copy it: at 1 MiB the copy costs as much as the read. With [`Backend::get_into`] the backend
//! asks the caller's [`ValueAllocator`] for a buffer of the value's size and reads into it.
//!
//! Invariants:
//! - A buffer is asked for only once the value's size is known, and of exactly that size; the
//!   allocator may decline (`None`), and the backend then reads as [`Backend::get`] does.
//! - A backend writes bytes only at the start of a buffer's room, and hands on exactly the
//!   number it wrote ([`ValueBuffer::into_bytes`]), never more than the room holds.
//! - A backend that cannot read into given memory (a remote one, a layer that answers from a
//!   cache) answers with bytes of its own; the caller then copies. The answer is the same value
//!   either way: only where its bytes live differs.
//!
//! [`Backend::get_into`]: crate::raw::Backend::get_into
//! [`Backend::get`]: crate::raw::Backend::get

use std::mem::MaybeUninit;

use bytes::Bytes;

/// Gives buffers for whole values (see the module docs).
pub trait ValueAllocator: Send + Sync {
    /// A buffer with room for exactly `len` bytes, or `None` to let the backend use its own.
    fn allocate(&self, len: usize) -> Option<Box<dyn ValueBuffer>>;
}

/// A buffer from a [`ValueAllocator`]: room the backend reads into, then the bytes it read.
pub trait ValueBuffer: Send {
    /// The room: exactly the length asked for, not initialised.
    fn room(&mut self) -> &mut [MaybeUninit<u8>];

    /// The first `filled` bytes of the room, as [`Bytes`].
    ///
    /// # Safety
    ///
    /// The first `filled` bytes of [`ValueBuffer::room`] must have been written, and `filled`
    /// must be at most the room's length.
    #[allow(unsafe_code)]
    unsafe fn into_bytes(self: Box<Self>, filled: usize) -> Bytes;
}
