//! `objstore`: the Object Store from a shell (docs/CLI.md is its manual).
//!
//! ```text
//! objstore [--store URL] [--settings FILE] [--managed] [--json] [--quiet] <command>
//!   put KEY [FILE|-]      save a file (or stdin) under KEY   [--category C --expire-days N --meta k=v --compress]
//!   get KEY [-o FILE]     raw bytes to stdout (or FILE)
//!   cat KEY               the value as text
//!   exists KEY            exit 0 when present, 1 when absent
//!   rm KEY...             delete keys
//!   ls [PREFIX]           list keys [--long] [--category C]
//!   path KEY              a local file path for KEY (get_file_path)
//!   usage                 bytes and objects stored
//!   meta KEY              a managed object's category, sizes, times, metadata
//!   stats | report        usage by category, growth, days until full
//!   health                exit 0 healthy, 20 warning, 21 critical, 22 full
//!   cleanup [--dry-run]   remove expired objects and archived copies past retention
//!   suggest               cleanup actions with reasons
//!   monitor --listen ADDR periodic checks and GET /metrics
//!   completions SHELL     shell completions
//!   import | export | copy   bulk copies (bulk.rs)
//! ```
//!
//! The store is `--store`, else `$OBJSTORE_URL`, else `file://./storage` (LEAN's folder).
//! Modules: `args` (clap), `commands` (dispatch), `plain` and `managed` (key commands in each
//! mode), `cleanup`, `monitor_cmd`, `bulk` (import, export, copy), `output` (tables, sizes, JSON,
//! stdout), `exit` (codes, hints), `invocation` (the store and settings given, and the command
//! lines printed for the user), `store_url` (paths as folders, where a URL leads), `staging`
//! (the private staging folder of `path`).
//!
//! No credential is printed: store URLs are shown through `objstore::url::redact`, in errors,
//! hints, `--json` output and the `RUST_LOG` log.

mod args;
mod bulk;
mod cleanup;
mod commands;
mod exit;
mod invocation;
mod managed;
mod monitor_cmd;
mod output;
mod plain;
mod staging;
mod store_url;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    bound_allocator();
    let args = args::Cli::parse();
    init_tracing(args.secrets());
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("objstore: error: cannot start: {e}");
            return ExitCode::from(exit::IO);
        }
    };
    match runtime.block_on(commands::run(args)) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            report(&failure);
            ExitCode::from(failure.code)
        }
    }
}

/// Memory a large-value transfer leaves behind goes back to the system (glibc).
///
/// glibc serves blocks of 128 KiB and more by `mmap` until the process frees one, then raises
/// that threshold to the size of the block freed (up to 32 MiB). A streamed transfer frees 5 MiB
/// multipart parts by the dozen, on whatever thread ran them: after the first, parts come from
/// the threads' heaps, which keep the freed memory, and an import to S3 of a 192 MiB file peaked
/// at 110 MiB instead of 73 MiB. A fixed threshold of 4 MiB keeps parts in `mmap` (returned when
/// freed) and the 1 MiB chunks in the heap (reused). Other allocators have no such call.
fn bound_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets an allocator parameter; it is called before any thread starts.
        #[allow(unsafe_code)]
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        }
    }
}

/// Prints a failure on standard error: one line, and the hint on a second one.
pub fn report(failure: &exit::Failure) {
    if failure.silent {
        return;
    }
    // A closed standard error is no reason to panic.
    // Control characters (from a file name, a key) are escaped: they must not drive the terminal.
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "objstore: error: {}", output::escaped(&failure.message));
    if let Some(hint) = &failure.hint {
        let _ = writeln!(err, "hint: {}", output::escaped(hint));
    }
}

/// Tracing on standard error when `RUST_LOG` is set (e.g. `RUST_LOG=debug`, `RUST_LOG=objstore=trace`).
/// Every line is scrubbed of `secrets` (the credentials this run was given): the libraries below
/// log what they are handed (an HTTP client logs the URLs it connects to).
fn init_tracing(secrets: Vec<String>) {
    let Some(filter) = std::env::var_os("RUST_LOG").filter(|v| !v.is_empty()) else { return };
    let filter = tracing_subscriber::EnvFilter::builder().parse_lossy(filter.to_string_lossy());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Scrubbing { secrets: std::sync::Arc::new(secrets) })
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Makes a [`ScrubbedLine`] for each log event.
struct Scrubbing {
    secrets: std::sync::Arc<Vec<String>>,
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Scrubbing {
    type Writer = ScrubbedLine;

    fn make_writer(&'a self) -> ScrubbedLine {
        ScrubbedLine { secrets: self.secrets.clone(), buf: Vec::new() }
    }
}

/// One log event, written to standard error without its secrets when it is dropped.
struct ScrubbedLine {
    secrets: std::sync::Arc<Vec<String>>,
    buf: Vec<u8>,
}

impl Write for ScrubbedLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for ScrubbedLine {
    fn drop(&mut self) {
        let line = objstore::url::scrub(&String::from_utf8_lossy(&self.buf), &self.secrets);
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}
