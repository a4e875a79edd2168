//! Whole values written into files (`read_to_file`, what `objstore get -o` and `export` do):
//! exactly the bytes saved at every size, appended at the file's position, fresh after another
//! handle's overwrite, from a cached and an uncached handle; a missing key writes nothing.

use std::io::{Read as _, Seek as _, SeekFrom, Write as _};

use super::{ok, pattern};
use crate::testkit::Kit;
use crate::{CacheOptions, Error, ObjectStore, assert_err};

/// The whole content of `file`.
fn content(file: &mut std::fs::File) -> Vec<u8> {
    let mut all = Vec::new();
    file.seek(SeekFrom::Start(0)).unwrap_or_else(|e| panic!("{e}"));
    file.read_to_end(&mut all).unwrap_or_else(|e| panic!("{e}"));
    all
}

/// `read_to_file` writes the value saved, whole, after what the file held; with and without a
/// cache; fresh after an overwrite; `NotFound` for a missing key, writing nothing.
pub async fn reads_to_files(kit: Kit) {
    let url = kit.url();
    let cached = kit.open(&url).await;
    let uncached = kit.build(ObjectStore::builder(&url).cache(CacheOptions::DISABLED)).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (i, size) in [0usize, 1, 70_000, 3 * 1024 * 1024 + 5].into_iter().enumerate() {
        let key = format!("files/{size}.bin");
        let value = pattern(i as u64 + 40, size);
        ok(uncached.save_bytes(&key, value.clone()).await, "save");
        for (which, s) in [("uncached", &uncached), ("cached", &cached), ("cached, again", &cached)] {
            let path = dir.path().join(format!("{size}-{}", which.len()));
            let mut file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .unwrap_or_else(|e| panic!("{e}"));
            file.write_all(b"head:").unwrap_or_else(|e| panic!("{e}"));
            let meta = ok(s.read_to_file(&key, &file).await, &format!("read_to_file {key} ({which})"));
            assert_eq!(meta.size, size as u64, "{key} ({which}): the size answered");
            assert_eq!(meta.key.as_str(), key, "{key} ({which}): the key answered");
            let all = content(&mut file);
            assert!(all.starts_with(b"head:"), "{key} ({which}): what the file held was overwritten");
            assert!(all[5..] == value[..], "{key} ({which}): other bytes than saved ({} of {size})", all.len() - 5);
        }
        let newer = pattern(i as u64 + 80, size + 9);
        ok(uncached.save_bytes(&key, newer.clone()).await, "overwrite");
        let mut file = tempfile::tempfile().unwrap_or_else(|e| panic!("{e}"));
        ok(cached.read_to_file(&key, &file).await, "read_to_file after overwrite");
        assert!(content(&mut file) == newer[..], "{key}: read_to_file wrote the value from before an overwrite");
    }
    let mut file = tempfile::tempfile().unwrap_or_else(|e| panic!("{e}"));
    assert_err!(uncached.read_to_file("files/absent", &file).await, Error::NotFound { ref key } if key == "files/absent");
    assert!(content(&mut file).is_empty(), "a missing key wrote into the file");
    assert_err!(uncached.read_to_file("../escape", &file).await, Error::InvalidKey { .. });
}
