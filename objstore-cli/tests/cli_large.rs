//! Large values through the command stream: `put FILE`, `put -` (standard input), `get -o FILE`,
//! `get` to standard output, `import`, `export` and `copy` of a 192 MiB value each keep the
//! command's peak memory (its maximum resident set, from `wait4`) far below the value's size,
//! on local disk and on S3 (SeaweedFS), and the value comes back byte for byte.
//!
//! Before streaming, each of these read the whole value into memory: `put` of 192 MiB peaked
//! above 192 MiB.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[macro_use]
mod cli_support;

use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};

use cli_support::{Backend, Env};

const SIZE: u64 = 192 * 1024 * 1024;
/// The most a streaming command may hold at its peak (runtime, client, chunks and parts in
/// flight): far below the value's size.
const MAX_RSS: u64 = 96 * 1024 * 1024;

/// Writes a file of `SIZE` varied bytes (so compression or sparse tricks cannot hide anything).
fn big_file(path: &Path) {
    let mut file = std::fs::File::create(path).unwrap();
    let mut chunk = vec![0u8; 1 << 20];
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..SIZE >> 20 {
        for b in &mut chunk {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        file.write_all(&chunk).unwrap();
    }
}

/// The xxh3 of a file, read in chunks.
fn hash_file(path: &Path) -> (u64, u64) {
    let mut file = std::fs::File::open(path).unwrap();
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0;
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            return (len, hasher.digest());
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
}

/// Runs the command (as `env.cmd()` would) and returns its peak resident set, in bytes.
fn peak_rss(env: &Env, args: &[&str], stdin: Option<&Path>, stdout: Option<&Path>) -> u64 {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("objstore"));
    cmd.env("OBJSTORE_URL", &env.url).env_remove("OBJSTORE_SETTINGS").env_remove("RUST_LOG");
    cmd.env("XDG_CACHE_HOME", env.dir.path().join("cache")).current_dir(env.dir.path()).args(args);
    cmd.stdin(match stdin {
        Some(path) => Stdio::from(std::fs::File::open(path).unwrap()),
        None => Stdio::null(),
    });
    cmd.stdout(match stdout {
        Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
        None => Stdio::null(),
    });
    cmd.stderr(Stdio::piped());
    // Reaped by the wait4 below, which also gives its resource usage.
    #[allow(clippy::zombie_processes)]
    let child = cmd.spawn().unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: wait4 on our own child, with valid pointers to a status and a zeroed rusage.
    #[allow(unsafe_code)]
    let (waited, usage) = unsafe {
        let waited = libc::wait4(pid, &mut status, 0, usage.as_mut_ptr());
        (waited, usage.assume_init())
    };
    assert_eq!(waited, pid, "wait4");
    let exit = std::process::ExitStatus::from_raw(status);
    let mut stderr = String::new();
    child.stderr.unwrap().read_to_string(&mut stderr).unwrap();
    assert!(exit.success(), "objstore {args:?} failed ({exit}): {stderr}");
    // ru_maxrss is in KiB on Linux.
    usage.ru_maxrss as u64 * 1024
}

fn check(what: &str, rss: u64) {
    println!("{what}: peak RSS {} MiB for a {} MiB value", rss >> 20, SIZE >> 20);
    assert!(
        rss < MAX_RSS,
        "{what} held {} MiB at its peak for a {} MiB value: it does not stream",
        rss >> 20,
        SIZE >> 20
    );
}

fn large_values_stream(backend: Backend) {
    let env = Env::new(backend);
    let dir = env.dir.path();
    let source = dir.join("model.bin");
    big_file(&source);
    let expected = hash_file(&source);

    check("put FILE", peak_rss(&env, &["put", "models/model.bin", source.to_str().unwrap()], None, None));
    check("put - (standard input)", peak_rss(&env, &["put", "models/piped.bin", "-"], Some(&source), None));
    let out = dir.join("out.bin");
    check("get -o FILE", peak_rss(&env, &["get", "models/model.bin", "-o", out.to_str().unwrap()], None, None));
    assert_eq!(hash_file(&out), expected, "get -o wrote other bytes");
    let piped = dir.join("piped.bin");
    check("get (standard output)", peak_rss(&env, &["get", "models/piped.bin"], None, Some(&piped)));
    assert_eq!(hash_file(&piped), expected, "put - / get to standard output changed the bytes");

    let exported = dir.join("exported");
    check("export", peak_rss(&env, &["export", exported.to_str().unwrap(), "--prefix", "models"], None, None));
    assert_eq!(hash_file(&exported.join("model.bin")), expected, "export wrote other bytes");
    let folder = dir.join("folder");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::rename(&source, folder.join("imported.bin")).unwrap();
    check("import", peak_rss(&env, &["import", folder.to_str().unwrap(), "--prefix", "in"], None, None));
    let copy_to = format!("file://{}", dir.join("copy").display());
    check("copy", peak_rss(&env, &["copy", &env.url, &copy_to, "--prefix", "in"], None, None));
    let back = dir.join("back.bin");
    let mut get_back = Command::new(assert_cmd::cargo::cargo_bin("objstore"));
    let status = get_back
        .env("OBJSTORE_URL", &copy_to)
        .args(["get", "in/imported.bin", "-o", back.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(hash_file(&back), expected, "import then copy changed the bytes");
}

both!(large_values_stream);
