//! System errors as the store's errors, with the context a user needs.

use rustix::io::Errno;
use store_core::Error;

/// An [`Error::Io`] for a failed system call, naming what was being done. A full disk says so
/// plainly, with what to do.
pub(crate) fn os_error(context: impl Into<String>, errno: Errno) -> Error {
    let context = context.into();
    let context = match errno {
        Errno::NOSPC | Errno::DQUOT => {
            format!("{context}: no space left on the device; delete objects or free disk space")
        }
        _ => context,
    };
    Error::io(context, std::io::Error::from(errno))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_full_says_so() {
        let e = os_error("cannot save 'k'", Errno::NOSPC).to_string();
        assert!(e.contains("no space left") && e.contains("cannot save 'k'"), "{e}");
    }
}
