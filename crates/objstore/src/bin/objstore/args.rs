//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// The Object Store from a shell: save, read, list and delete objects on local disk or S3.
#[derive(Debug, Parser)]
#[command(name = "objstore", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// The store's URL (file:///abs/dir, file://rel/dir, memory://).
    #[arg(long, global = true, env = "OBJSTORE_URL", default_value = objstore::DEFAULT_URL)]
    pub store: String,

    /// Print data as JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

const EXIT_CODES: &str = "Exit codes: 0 ok; 1 absent (exists); 2 bad usage; 3 not found; 4 invalid key or value; \
5 limit exceeded; 6 permission denied; 7 conflict (already exists, changed meanwhile, file/folder clash); \
8 storage unavailable or I/O error; 9 bad store URL or options.";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Save a file, or standard input, under KEY.
    Put {
        /// The key, e.g. prices/spy.csv.
        key: String,
        /// The file to save; '-' or nothing reads standard input.
        file: Option<PathBuf>,
    },
    /// Write KEY's value to standard output (raw bytes), or to a file.
    Get {
        /// The key.
        key: String,
        /// Write to this file instead.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Print KEY's value as text (fails when it is not UTF-8).
    Cat {
        /// The key.
        key: String,
    },
    /// Exit 0 when KEY exists, 1 when it does not.
    Exists {
        /// The key.
        key: String,
    },
    /// Delete keys.
    Rm {
        /// The keys.
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// List keys, sorted.
    Ls {
        /// Only keys starting with this.
        prefix: Option<String>,
        /// Show size and modification time.
        #[arg(short, long)]
        long: bool,
    },
    /// Print a local file path for KEY (its folder is created; the file holds the value if any).
    Path {
        /// The key.
        key: String,
    },
    /// Print how many bytes and objects the store holds.
    Usage,
    /// Copy a folder's files into the store (resumable).
    Import(crate::bulk::ImportArgs),
    /// Copy objects into a folder (resumable).
    Export(crate::bulk::ExportArgs),
    /// Copy a whole store to another one, e.g. local disk to S3 (resumable).
    Copy(crate::bulk::CopyArgs),
}
