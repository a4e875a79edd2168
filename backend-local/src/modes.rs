//! The permissions files and folders of a store get.
//!
//! - **Objects and folders** follow the process's umask, as files any program makes do
//!   (`0666`/`0777` less the umask: `0644`/`0755` with the usual `022`), so the store can be
//!   shared by whoever may read the folder. `file://dir?mode=private` makes them `0600`/`0700`
//!   whatever the umask, for stores that hold secrets.
//! - **The store's own folder and files** (`.objstore/`: the usage ledger and the lock files)
//!   are never readable by anyone who may not write them, whatever the umask: locks work on a
//!   file opened for reading, so a user who could only read them could still block every save.
//!   A class of users (group, others) without write permission gets no permission at all on them
//!   (`0700`/`0600` with the umask `022`, `0770`/`0660` with `002` for a store a group shares).
//!   Opening a store tightens them when an older version made them readable by others.

use std::os::fd::AsFd;

use rustix::fs::Mode;

/// What the URL's `mode` option asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FileModes {
    /// Objects and folders follow the umask (the default).
    #[default]
    Umask,
    /// Objects `0600`, folders `0700`, whatever the umask.
    Private,
}

/// The modes to create things with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Modes {
    pub(crate) file: u32,
    pub(crate) folder: u32,
    pub(crate) internal_file: u32,
    pub(crate) internal_folder: u32,
}

impl Modes {
    pub(crate) fn new(choice: FileModes) -> Modes {
        let umask = umask();
        let (file, folder) = match choice {
            FileModes::Umask => (0o666, 0o777),
            FileModes::Private => (0o600, 0o700),
        };
        Modes {
            file,
            folder,
            internal_file: writers_only(0o666 & !umask & file) | 0o600,
            internal_folder: writers_only(0o777 & !umask & folder) | 0o700,
        }
    }
}

/// `mode` with every class of users (owner, group, others) that may not write left with no
/// permission at all.
pub(crate) fn writers_only(mode: u32) -> u32 {
    let mut out = mode & 0o777;
    for shift in [0, 3, 6] {
        if out & (0o2 << shift) == 0 {
            out &= !(0o7 << shift);
        }
    }
    out
}

/// The process's umask, as `/proc/self/status` gives it (`022` when it cannot be read: the
/// umask cannot be read without changing it otherwise, which would race with other threads).
fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Umask:"))?;
            u32::from_str_radix(line.split_whitespace().nth(1)?, 8).ok()
        })
        .unwrap_or(0o022)
}

/// Takes permissions away from classes that may read `fd` but not write it (a store made by an
/// older version, or by hand). Only the owner may; others get a warning saying what to do.
pub(crate) fn tighten(fd: impl AsFd, what: &str) {
    let Ok(st) = rustix::fs::fstat(&fd) else { return };
    let mode = st.st_mode & 0o7777;
    let wanted = (mode & !0o777) | writers_only(mode);
    if wanted == mode {
        return;
    }
    if let Err(e) = rustix::fs::fchmod(&fd, Mode::from_raw_mode(wanted)) {
        tracing::warn!(
            file = what,
            mode = format!("{mode:o}"),
            error = %e,
            "users who may not write the store can read its lock files, and so block its saves; its owner should \
             run `chmod go-rwx` on them (or give those users write permission)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_that_cannot_write_get_nothing() {
        assert_eq!(writers_only(0o644), 0o600);
        assert_eq!(writers_only(0o664), 0o660);
        assert_eq!(writers_only(0o755), 0o700);
        assert_eq!(writers_only(0o775), 0o770);
        assert_eq!(writers_only(0o666), 0o666);
        assert_eq!(writers_only(0o600), 0o600);
    }
}
