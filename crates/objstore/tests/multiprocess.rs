//! Two processes × 16 tasks on one local store:
//! - compare-and-swap increments of one counter lose no update (the total is exact);
//! - saves racing to fill a store limited to 60 objects fill it exactly and never past it,
//!   checked by a recount with `std::fs` while they run and at the end.
//!
//! One binary plays all parts: re-executed with `OBJSTORE_MP_WRITER` set, it is a writer.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use objstore::{Error, Limits, ObjectStore, PutMode};

const WRITER_ENV: &str = "OBJSTORE_MP_WRITER";
const PROCESSES: usize = 2;
const TASKS: usize = 16;
const INCREMENTS: usize = 25;
const NEW_KEYS_PER_TASK: usize = 4;
const MAX_OBJECTS: u64 = 60;

fn main() {
    if let Ok(dir) = std::env::var(WRITER_ENV) {
        let id: usize = std::env::var("OBJSTORE_MP_ID").unwrap().parse().unwrap();
        writer(Path::new(&dir), id);
        return;
    }
    parent();
}

fn limits() -> Limits {
    Limits { max_objects: Some(MAX_OBJECTS), ..Limits::default() }
}

fn writer(dir: &Path, id: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let saved = runtime.block_on(async {
        let url = format!("file://{}", dir.display());
        let store = ObjectStore::builder(&url).limits(limits()).build().await.unwrap();
        let mut tasks = Vec::new();
        for task in 0..TASKS {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut saved = 0;
                for i in 0..INCREMENTS {
                    loop {
                        let object = store.read_object("counter").await.unwrap();
                        let n: u64 = std::str::from_utf8(&object.bytes).unwrap().parse().unwrap();
                        let next = (n + 1).to_string();
                        match store.save_bytes_with("counter", next, PutMode::Update(object.meta.version)).await {
                            Ok(_) => break,
                            Err(Error::Precondition { .. }) => continue,
                            Err(e) => panic!("increment failed: {e}"),
                        }
                    }
                    if i % (INCREMENTS / NEW_KEYS_PER_TASK) == 0
                        && i / (INCREMENTS / NEW_KEYS_PER_TASK) < NEW_KEYS_PER_TASK
                    {
                        match store.save(&format!("fill/{id}-{task}-{i}"), "x").await {
                            Ok(()) => saved += 1,
                            Err(Error::LimitExceeded { .. }) => {}
                            Err(e) => panic!("save failed: {e}"),
                        }
                    }
                }
                saved
            }));
        }
        let mut saved = 0;
        for t in tasks {
            saved += t.await.unwrap();
        }
        saved
    });
    println!("{saved}");
}

fn count_objects(dir: &Path) -> u64 {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let name = entry.file_name().into_string().unwrap();
        if name.starts_with(".objstore") {
            continue;
        }
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            n += count_objects(&entry.path());
        } else {
            n += 1;
        }
    }
    n
}

fn parent() {
    let dir = tempfile::tempdir().unwrap();
    let seed = objstore::blocking::open(&format!("file://{}", dir.path().display())).unwrap();
    seed.save("counter", "0").unwrap();
    drop(seed);

    // Watch the folder while the writers run: the object count must never pass the limit.
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (done, path) = (done.clone(), dir.path().to_path_buf());
        std::thread::spawn(move || {
            let (mut looks, mut most) = (0u64, 0u64);
            while !done.load(Ordering::Acquire) {
                let n = count_objects(&path);
                assert!(n <= MAX_OBJECTS, "{n} objects stored, past the limit of {MAX_OBJECTS}");
                most = most.max(n);
                looks += 1;
            }
            (looks, most)
        })
    };
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|id| {
            Command::new(&exe)
                .env(WRITER_ENV, dir.path())
                .env("OBJSTORE_MP_ID", id.to_string())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut saved = 0u64;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "a writer failed: {}", out.status);
        saved += String::from_utf8(out.stdout).unwrap().trim().parse::<u64>().unwrap();
    }
    done.store(true, Ordering::Release);
    let (looks, most) = watcher.join().unwrap();

    let store = objstore::blocking::open(&format!("file://{}", dir.path().display())).unwrap();
    let total = (PROCESSES * TASKS * INCREMENTS) as u64;
    assert_eq!(store.read("counter").unwrap(), total.to_string(), "a compare-and-swap update was lost");
    let attempts = (PROCESSES * TASKS * NEW_KEYS_PER_TASK) as u64;
    let objects = store.usage().unwrap().objects;
    assert_eq!(objects, MAX_OBJECTS, "the limit was not reached exactly ({attempts} saves tried)");
    assert_eq!(saved, MAX_OBJECTS - 1, "the writers' successes disagree with what is stored");
    println!(
        "multiprocess: {PROCESSES} processes x {TASKS} tasks: counter = {total} (exact), {saved} of {attempts} saves \
         admitted under max_objects = {MAX_OBJECTS}, at most {most} objects seen in {looks} recounts while running"
    );
}
