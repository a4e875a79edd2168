//! Permissions under hostile use: every operation of the facade (async and blocking, plain and in
//! a project view) under each of the eight `Access` combinations, on memory and on local disk.
//!
//! An operation is allowed exactly when its permission is there (read: reads, checks, listings,
//! file paths; write: saves; delete: deletes; `save_from_file` and `persist` need read for the
//! path and write for the save; usage is always readable). A refused one answers
//! `PermissionDenied` naming the missing permission, also for keys that do not exist (a refusal
//! never tells whether a key exists), and changes nothing: the data read afterwards through an
//! unrestricted handle, and on disk every file and folder under the root, are as before.
//!
//! Prints one line per backend and `permissions: ...` when both have run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use backend_local as _;
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use store_core::{Access, Error, GetOptions, ObjectStore, Operation, PutMode, Result, Version};

const FILE: &str = "permissions";
const CHECKS: usize = 2;
static TALLY: store_core::testkit::Tally = store_core::testkit::Tally::new(FILE, CHECKS);

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Doc {
    a: u32,
}

/// What an operation needs.
#[derive(Debug, Clone, Copy)]
enum Need {
    Nothing,
    Read,
    Write,
    Delete,
    /// Read (for the path) and then write (for the save).
    ReadWrite,
}

impl Need {
    /// The permission whose absence refuses the operation, if any is missing.
    fn missing(self, a: Access) -> Option<Operation> {
        match self {
            Need::Nothing => None,
            Need::Read => (!a.read).then_some(Operation::Read),
            Need::Write => (!a.write).then_some(Operation::Write),
            Need::Delete => (!a.delete).then_some(Operation::Delete),
            Need::ReadWrite if !a.read => Some(Operation::Read),
            Need::ReadWrite => (!a.write).then_some(Operation::Write),
        }
    }
}

/// The storage under test, and how to open handles on it.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Memory,
    Disk,
}

struct Target {
    url: String,
    root: Option<PathBuf>,
    _dir: Option<tempfile::TempDir>,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

impl Target {
    fn new(kind: Kind) -> Target {
        match kind {
            Kind::Memory => Target {
                url: format!("memory://permissions-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed)),
                root: None,
                _dir: None,
            },
            Kind::Disk => {
                let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
                let root = dir.path().canonicalize().unwrap_or_else(|e| panic!("{e}"));
                Target { url: format!("file://{}", root.display()), root: Some(root), _dir: Some(dir) }
            }
        }
    }
}

/// What an unrestricted handle sees: every key and its bytes; on disk also every entry under the
/// root (files with their content, folders), the store's own `.objstore` folder aside.
async fn snapshot(owner: &ObjectStore, root: Option<&Path>) -> (BTreeMap<String, Vec<u8>>, BTreeMap<PathBuf, String>) {
    let mut data = BTreeMap::new();
    for key in owner.keys().await.unwrap_or_else(|e| panic!("keys: {e}")) {
        let bytes = owner.read_bytes(&key).await.unwrap_or_else(|e| panic!("read {key}: {e}"));
        data.insert(key, bytes.to_vec());
    }
    let mut disk = BTreeMap::new();
    if let Some(root) = root {
        walk(root, root, &mut disk);
    }
    (data, disk)
}

fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let rel = path.strip_prefix(base).map(Path::to_path_buf).unwrap_or_default();
        if rel.starts_with(".objstore") {
            continue;
        }
        if path.is_dir() {
            out.insert(rel, "folder".into());
            walk(base, &path, out);
        } else {
            out.insert(rel, format!("file {:?}", std::fs::read(&path).unwrap_or_default()));
        }
    }
}

/// The context an operation runs in.
#[derive(Clone)]
struct Ctx {
    kind: Kind,
    /// The current version of "existing" (for compare-and-swap).
    version: Version,
}

type Op = fn(ObjectStore, Ctx) -> BoxFuture<'static, Result<()>>;

/// A caller's allocator that declines every buffer (the read then uses its own).
struct Declines;

impl store_core::raw::ValueAllocator for Declines {
    fn allocate(&self, _: usize) -> Option<Box<dyn store_core::raw::ValueBuffer>> {
        None
    }
}

fn ignore<T>(r: Result<T>) -> Result<()> {
    r.map(|_| ())
}

/// Every operation, with what it needs. Keys: "existing", "dir/inside", "num", "doc.xml" exist;
/// "missing" and "new/..." do not.
fn operations(kind: Kind) -> Vec<(&'static str, Need, Op)> {
    // Only memory stages copies: on disk persist() uploads nothing, so it needs no write.
    let staged = if kind == Kind::Memory { Need::ReadWrite } else { Need::Read };
    vec![
        ("read", Need::Read, |s, _| Box::pin(async move { ignore(s.read("existing").await) })),
        ("read_bytes", Need::Read, |s, _| Box::pin(async move { ignore(s.read_bytes("existing").await) })),
        ("read_object", Need::Read, |s, _| Box::pin(async move { ignore(s.read_object("existing").await) })),
        ("read_bytes_into", Need::Read, |s, _| {
            Box::pin(async move { ignore(s.read_bytes_into("existing", &Declines).await) })
        }),
        ("read_to_file", Need::Read, |s, _| {
            Box::pin(async move {
                let file = tempfile::tempfile().map_err(|e| Error::io("cannot make a temp file", e))?;
                ignore(s.read_to_file("existing", &file).await)
            })
        }),
        ("read_object_with", Need::Read, |s, c| {
            Box::pin(async move {
                ignore(s.read_object_with("existing", &GetOptions { if_none_match: Some(c.version) }).await)
            })
        }),
        ("read_json", Need::Read, |s, _| Box::pin(async move { ignore(s.read_json::<u32>("num").await) })),
        ("read_xml", Need::Read, |s, _| Box::pin(async move { ignore(s.read_xml::<Doc>("doc.xml").await) })),
        ("head", Need::Read, |s, _| Box::pin(async move { ignore(s.head("existing").await) })),
        ("contains_key existing", Need::Read, |s, _| Box::pin(async move { ignore(s.contains_key("existing").await) })),
        ("contains_key missing", Need::Read, |s, _| Box::pin(async move { ignore(s.contains_key("missing").await) })),
        ("read missing", Need::Read, |s, _| {
            Box::pin(async move {
                match s.read("missing").await {
                    Err(Error::NotFound { .. }) => Ok(()),
                    other => ignore(other),
                }
            })
        }),
        ("keys", Need::Read, |s, _| Box::pin(async move { ignore(s.keys().await) })),
        ("list_keys dir/", Need::Read, |s, _| {
            Box::pin(async move { ignore(s.list_keys("dir/").try_collect::<Vec<_>>().await) })
        }),
        ("list", Need::Read, |s, _| Box::pin(async move { ignore(s.list("").try_collect::<Vec<_>>().await) })),
        ("entries", Need::Read, |s, _| {
            Box::pin(async move { s.entries().next().await.map_or(Ok(()), |r| r.map(|_| ())) })
        }),
        ("get_file_path existing", Need::Read, |s, _| {
            Box::pin(async move { ignore(s.get_file_path("existing").await) })
        }),
        ("get_file_path new", Need::Read, |s, _| {
            Box::pin(async move { ignore(s.get_file_path("new/deep/file").await) })
        }),
        ("local_file", Need::Read, |s, _| Box::pin(async move { ignore(s.local_file("existing").await) })),
        ("usage", Need::Nothing, |s, _| Box::pin(async move { ignore(s.usage().await) })),
        ("clear", Need::Nothing, |s, _| {
            Box::pin(async move {
                s.clear();
                Ok(())
            })
        }),
        ("save overwrite", Need::Write, |s, _| Box::pin(async move { s.save("existing", "changed").await })),
        ("save new", Need::Write, |s, _| Box::pin(async move { s.save("new/key", "v").await })),
        ("save_bytes", Need::Write, |s, _| Box::pin(async move { s.save_bytes("existing", vec![0u8, 1, 2]).await })),
        ("save_bytes_with create", Need::Write, |s, _| {
            Box::pin(async move { ignore(s.save_bytes_with("created", vec![1u8], PutMode::Create).await) })
        }),
        ("save_bytes_with update", Need::Write, |s, c| {
            Box::pin(async move { ignore(s.save_bytes_with("existing", vec![2u8], PutMode::Update(c.version)).await) })
        }),
        ("save_json", Need::Write, |s, _| Box::pin(async move { s.save_json("num", &7u32).await })),
        ("save_xml", Need::Write, |s, _| Box::pin(async move { s.save_xml("doc.xml", &Doc { a: 9 }).await })),
        ("delete existing", Need::Delete, |s, _| Box::pin(async move { s.delete("existing").await })),
        ("delete missing", Need::Delete, |s, _| {
            Box::pin(async move {
                match s.delete("missing").await {
                    // Allowed, and there is nothing to delete.
                    Err(Error::NotFound { .. }) => Ok(()),
                    other => other,
                }
            })
        }),
        ("delete in folder", Need::Delete, |s, _| Box::pin(async move { s.delete("dir/inside").await })),
        ("save_from_file", Need::ReadWrite, |s, _| {
            Box::pin(async move {
                // The path first (staged on memory), then the save of what it holds.
                s.get_file_path("existing").await?;
                s.save_from_file("existing").await
            })
        }),
        ("persist after editing a staged copy", staged, |s, c| {
            Box::pin(async move {
                let path = s.get_file_path("existing").await?;
                if c.kind == Kind::Memory {
                    // A staged copy: editing it changes nothing until persist().
                    std::fs::write(&path, "edited").map_err(|e| Error::io("edit the staged copy", e))?;
                    s.persist().await
                } else {
                    // On disk the path is the object itself (see `read_only_file_path_...` below):
                    // persist() has nothing to upload.
                    s.persist().await
                }
            })
        }),
        ("project save", Need::Write, |s, _| Box::pin(async move { s.project("proj").save("k", "v2").await })),
        ("project read", Need::Read, |s, _| Box::pin(async move { ignore(s.project("proj").read("k").await) })),
        ("project keys", Need::Read, |s, _| Box::pin(async move { ignore(s.project("proj").keys().await) })),
        ("project delete", Need::Delete, |s, _| Box::pin(async move { s.project("proj").delete("k").await })),
        ("blocking save", Need::Write, |s, _| {
            Box::pin(async move { blocking(s, |b| b.save("existing", "blocking")).await })
        }),
        ("blocking read", Need::Read, |s, _| {
            Box::pin(async move { blocking(s, |b| ignore(b.read("existing"))).await })
        }),
        ("blocking contains_key", Need::Read, |s, _| {
            Box::pin(async move { blocking(s, |b| ignore(b.contains_key("missing"))).await })
        }),
        ("blocking keys", Need::Read, |s, _| Box::pin(async move { blocking(s, |b| ignore(b.keys())).await })),
        ("blocking get_file_path", Need::Read, |s, _| {
            Box::pin(async move { blocking(s, |b| ignore(b.get_file_path("new2/x"))).await })
        }),
        ("blocking delete", Need::Delete, |s, _| Box::pin(async move { blocking(s, |b| b.delete("existing")).await })),
    ]
}

/// Runs `f` on the blocking facade of `store`, on a thread of its own.
async fn blocking(
    store: ObjectStore,
    f: impl FnOnce(&store_core::blocking::ObjectStore) -> Result<()> + Send + 'static,
) -> Result<()> {
    let handle = std::thread::spawn(move || f(&store_core::blocking::ObjectStore::from_async(store)));
    tokio::task::spawn_blocking(move || handle.join())
        .await
        .map_err(|e| Error::io("join", std::io::Error::other(e.to_string())))?
        .unwrap_or_else(|_| panic!("the blocking call panicked"))
}

async fn seed(owner: &ObjectStore) -> Version {
    let meta = owner.save_bytes_with("existing", b"value".to_vec(), PutMode::Overwrite).await;
    let meta = meta.unwrap_or_else(|e| panic!("seed: {e}"));
    for (key, value) in [("dir/inside", "in a folder"), ("num", "42"), ("proj/k", "in the project")] {
        owner.save(key, value).await.unwrap_or_else(|e| panic!("seed {key}: {e}"));
    }
    owner.save_xml("doc.xml", &Doc { a: 1 }).await.unwrap_or_else(|e| panic!("seed xml: {e}"));
    meta.version
}

async fn matrix(kind: Kind, name: &str) {
    let mut cases = 0u64;
    let mut violations = Vec::new();
    let (mut allowed, mut refused) = (0u64, 0u64);
    for bits in 0..8u8 {
        let access = Access { read: bits & 1 != 0, write: bits & 2 != 0, delete: bits & 4 != 0 };
        for (op, need, run) in operations(kind) {
            cases += 1;
            let target = Target::new(kind);
            let owner = store_core::open(&target.url).await.unwrap_or_else(|e| panic!("open {}: {e}", target.url));
            let version = seed(&owner).await;
            let restricted = ObjectStore::builder(&target.url)
                .access(access)
                .build()
                .await
                .unwrap_or_else(|e| panic!("open {} with {access:?}: {e}", target.url));
            let before = snapshot(&owner, target.root.as_deref()).await;
            let result = run(restricted, Ctx { kind, version }).await;
            let after = snapshot(&owner, target.root.as_deref()).await;
            let what = format!("{op} with {access:?}");
            match (need.missing(access), result) {
                (None, Ok(())) => allowed += 1,
                (None, Err(e)) => violations.push(format!("{what}: refused though allowed: {e:?}")),
                (Some(missing), Err(Error::PermissionDenied { operation, reason })) => {
                    refused += 1;
                    if operation != missing {
                        violations.push(format!("{what}: refused for {operation:?}, expected {missing:?}"));
                    }
                    let message = Error::PermissionDenied { operation, reason }.to_string();
                    if !message.contains("permission") {
                        violations.push(format!("{what}: unclear message {message:?}"));
                    }
                    if after != before {
                        violations.push(format!("{what}: refused, yet changed the store: {before:?} -> {after:?}"));
                    }
                }
                (Some(missing), Err(e)) => {
                    violations.push(format!("{what}: expected PermissionDenied({missing:?}), got {e:?}"))
                }
                (Some(missing), Ok(())) => violations.push(format!("{what}: allowed without {missing:?} permission")),
            }
        }
    }
    let detail = format!(" combinations=8 operations={} allowed={allowed} refused={refused}", operations(kind).len());
    TALLY.finish(name, cases, violations.len() as u64, &detail);
    assert!(violations.is_empty(), "{} violations:\n{}", violations.len(), violations.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_under_every_access_on_memory() {
    matrix(Kind::Memory, "memory").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_under_every_access_on_disk() {
    matrix(Kind::Disk, "disk").await;
}

/// On local disk `get_file_path` hands out the object's own file to a handle that may write;
/// a handle with read but not write permission gets a staged copy (as on S3), so writing that
/// file cannot change the value, and `persist()` is refused.
#[tokio::test]
async fn read_only_file_path_on_disk_cannot_change_the_value() {
    let target = Target::new(Kind::Disk);
    let owner = store_core::open(&target.url).await.unwrap_or_else(|e| panic!("{e}"));
    seed(&owner).await;
    let read_only =
        ObjectStore::builder(&target.url).access(Access::READ_ONLY).build().await.unwrap_or_else(|e| panic!("{e}"));
    let path = read_only.get_file_path("existing").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}")), "value", "a copy of the value");
    let root = target.root.as_deref().unwrap_or_else(|| panic!("a disk target has a root"));
    assert!(!path.starts_with(root), "{} is not the object's own file", path.display());
    std::fs::write(&path, "written through a read-only handle").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(owner.read("existing").await.unwrap_or_else(|e| panic!("{e}")), "value");
    assert!(matches!(read_only.persist().await, Err(store_core::Error::PermissionDenied { .. })));
    assert_eq!(owner.read("existing").await.unwrap_or_else(|e| panic!("{e}")), "value");
}
