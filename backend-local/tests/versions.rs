//! A version changes with every save, on every file system, and with every change another
//! program makes by replacing a file: revalidation never serves a stale value and a
//! compare-and-swap never accepts a swap against a version that is gone.
//!
//! The hard case is a file system that keeps whole seconds (ext4 with 128-byte inodes, ext2/3,
//! FAT) and reuses inodes at once: two same-size saves of one key within a second can otherwise
//! land on the same inode number with the same stored modification time. The test of that case
//! mounts such an ext4 on a loop device (it needs root, `mkfs.ext4` and a free loop device), or
//! uses the folder named by `OBJSTORE_COARSE_FS` (a folder on such a file system); it is ignored
//! by default and run with `--ignored`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

use backend_local::{Durability, LocalBackend};
use bytes::Bytes;
use store_core::raw::Backend;
use store_core::{Error, GetOptions, GetResult, KeyBuf, PutMode, Version};

fn key(name: &str) -> KeyBuf {
    KeyBuf::parse(name).unwrap()
}

async fn head_version(store: &LocalBackend, name: &str) -> Version {
    store.head(&key(name)).await.unwrap().version
}

/// Saves `k` with same-size values many times within the same second and checks that every
/// version differs from every earlier one, that a compare-and-swap against an earlier version is
/// refused and that revalidating an earlier version returns the value. Returns the inode numbers
/// seen (the first field of each version), to tell whether inodes were reused.
async fn every_save_changes_the_version(root: &Path) -> Vec<String> {
    let store = LocalBackend::open(root, Durability::Durable).await.unwrap();
    let k = key("k");
    let mut seen: Vec<Version> = Vec::new();
    for i in 0..8u8 {
        let value = Bytes::from(vec![b'a' + i; 16]);
        let meta = store.put(&k, value.clone(), &PutMode::Overwrite).await.unwrap();
        assert_eq!(meta.version, head_version(&store, "k").await, "the version a save returns is not the file's");
        if let Some(j) = seen.iter().position(|v| *v == meta.version) {
            panic!("save {i} got the version of save {j}: {} (all: {seen:?})", meta.version);
        }
        for old in &seen {
            // A swap against a version that is gone is refused.
            let swap = store.put(&k, Bytes::from_static(b"must not land...."), &PutMode::Update(old.clone())).await;
            assert!(matches!(swap, Err(Error::Precondition { .. })), "a swap against gone version {old} was accepted");
            // Revalidating a version that is gone returns the current value.
            let opts = GetOptions { if_none_match: Some(old.clone()) };
            match store.get(&k, &opts).await.unwrap() {
                GetResult::Found(object) => assert_eq!(object.bytes, value),
                GetResult::NotModified => panic!("revalidating gone version {old} was answered NotModified"),
            }
        }
        seen.push(meta.version);
    }
    seen.iter().map(|v| v.as_str().split('-').next().unwrap_or_default().to_string()).collect()
}

/// Another program replacing the file (temp file and rename, same size) or rewriting it in place
/// (same size) changes the version.
async fn other_programs_change_the_version(root: &Path) {
    let store = LocalBackend::open(root, Durability::Durable).await.unwrap();
    let k = key("edited");
    let saved = store.put(&k, Bytes::from_static(b"0123456789"), &PutMode::Overwrite).await.unwrap().version;
    let path = root.join("edited");
    let temp = root.join("by-hand.tmp");
    std::fs::write(&temp, b"abcdefghij").unwrap();
    std::fs::rename(&temp, &path).unwrap();
    let replaced = head_version(&store, "edited").await;
    assert_ne!(replaced, saved, "a file another program renamed into place kept the version");
    let swap = store.put(&k, Bytes::from_static(b"xxxxxxxxxx"), &PutMode::Update(saved.clone())).await;
    assert!(matches!(swap, Err(Error::Precondition { .. })), "a swap against a version replaced by hand landed");
    // Our next save after a replacement by hand gets a version of its own, too.
    let ours = store.put(&k, Bytes::from_static(b"ABCDEFGHIJ"), &PutMode::Overwrite).await.unwrap().version;
    assert!(ours != replaced && ours != saved, "a save after an edit by hand reused a version");
}

#[tokio::test]
async fn versions_change_with_every_save_and_every_edit() {
    let dir = tempfile::tempdir().unwrap();
    every_save_changes_the_version(dir.path()).await;
    other_programs_change_the_version(dir.path()).await;
}

/// A loop-mounted ext4 with 128-byte inodes (whole-second timestamps), unmounted when dropped.
struct CoarseFs {
    mount: PathBuf,
    _dir: tempfile::TempDir,
    mounted: bool,
}

impl CoarseFs {
    fn new() -> CoarseFs {
        if let Some(path) = std::env::var_os("OBJSTORE_COARSE_FS") {
            let dir = tempfile::tempdir_in(path).unwrap();
            return CoarseFs { mount: dir.path().to_path_buf(), _dir: dir, mounted: false };
        }
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("ext4-128.img");
        let mount = dir.path().join("mnt");
        std::fs::create_dir(&mount).unwrap();
        std::fs::File::create(&image).unwrap().set_len(32 << 20).unwrap();
        run(Command::new("mkfs.ext4").args(["-q", "-F", "-I", "128"]).arg(&image));
        run(Command::new("mount").args(["-o", "loop"]).arg(&image).arg(&mount));
        CoarseFs { mount, _dir: dir, mounted: true }
    }
}

impl Drop for CoarseFs {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg(&self.mount).status();
        }
    }
}

fn run(command: &mut Command) {
    let output = command.output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed (this test needs root, mkfs.ext4 and a loop device, or OBJSTORE_COARSE_FS): {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
#[ignore = "mounts an ext4 made with -I 128 on a loop device (needs root), or uses OBJSTORE_COARSE_FS; run with \
            --ignored"]
async fn versions_change_with_every_save_on_whole_second_file_systems() {
    let fs = CoarseFs::new();
    let root = fs.mount.join("store");
    // The file system keeps whole seconds: a nanosecond stamp does not survive.
    std::fs::write(fs.mount.join("probe"), b"x").unwrap();
    let probe = std::fs::File::options().write(true).open(fs.mount.join("probe")).unwrap();
    probe.set_modified(std::time::UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 123_456_789)).unwrap();
    let kept = probe.metadata().unwrap().modified().unwrap();
    assert_eq!(
        kept.duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos(),
        0,
        "the test file system keeps sub-second times"
    );
    let inodes = every_save_changes_the_version(&root).await;
    let distinct: std::collections::BTreeSet<&String> = inodes.iter().collect();
    println!("inodes of 8 saves: {inodes:?} ({} distinct)", distinct.len());
    assert!(distinct.len() < inodes.len(), "the file system reused no inode: the test proves nothing");
    other_programs_change_the_version(&root).await;
}
