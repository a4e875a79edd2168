//! `objstore`: the Object Store from a shell.
//!
//! ```text
//! objstore [--store URL] [--json] <command>
//!   put KEY [FILE|-]      save a file (or stdin) under KEY
//!   get KEY [-o FILE]     raw bytes to stdout (or FILE)
//!   cat KEY               the value as text
//!   exists KEY            exit 0 when present, 1 when absent
//!   rm KEY...             delete keys
//!   ls [PREFIX] [--long]  list keys (with size and modification time)
//!   path KEY              a local file path for KEY (get_file_path)
//!   usage                 bytes and objects stored
//! ```
//!
//! The store is `--store`, else `$OBJSTORE_URL`, else `file://./storage` (LEAN's folder).

mod args;
mod bulk;
mod commands;
mod exit;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = args::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("objstore: error: cannot start: {e}");
            return ExitCode::from(exit::IO);
        }
    };
    match runtime.block_on(commands::run(args)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("objstore: error: {e}");
            if let Some(hint) = exit::hint(&e) {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(exit::code(&e))
        }
    }
}
