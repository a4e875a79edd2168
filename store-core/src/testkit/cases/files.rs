//! Local file paths: get_file_path, save_from_file, persist.

use super::ok;
use crate::testkit::Kit;
use crate::{Error, assert_err};

fn write(path: &std::path::Path, content: &[u8]) {
    if let Err(e) = std::fs::write(path, content) {
        panic!("cannot write {}: {e}", path.display());
    }
}

fn read(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A path for a new key has its folder but no file, and the key is not an object until content
/// is saved (no phantom keys). A path for an existing key holds its value. Writing the file and
/// calling `save_from_file` makes the content the value.
pub async fn file_paths(kit: Kit) {
    let s = kit.store().await;
    let path = ok(s.get_file_path("frames/df_to_csv").await, "get_file_path of a new key");
    assert!(path.is_absolute(), "{} is not absolute", path.display());
    assert!(path.ends_with("frames/df_to_csv"), "{}", path.display());
    assert!(path.parent().is_some_and(|p| p.is_dir()), "the parent folder was not created");
    assert!(!path.exists(), "a new key's path must hold no file");
    assert!(!ok(s.contains_key("frames/df_to_csv").await, "contains_key"), "phantom key");
    assert!(ok(s.keys().await, "keys").is_empty(), "phantom key in keys()");
    assert_err!(s.save_from_file("frames/df_to_csv").await, Error::Io { .. });

    write(&path, b"Time,SPY Close\n2024-01-02,472.65\n");
    ok(s.save_from_file("frames/df_to_csv").await, "save_from_file");
    assert_eq!(ok(s.read("frames/df_to_csv").await, "read"), "Time,SPY Close\n2024-01-02,472.65\n");
    assert_eq!(ok(s.keys().await, "keys"), vec!["frames/df_to_csv"]);

    ok(s.save("model.bin", "weights v1").await, "save");
    let model = ok(s.get_file_path("model.bin").await, "get_file_path of an existing key");
    assert_eq!(read(&model), b"weights v1");
    write(&model, b"weights v2, retrained");
    ok(s.save_from_file("model.bin").await, "save_from_file");
    assert_eq!(ok(s.read("model.bin").await, "read"), "weights v2, retrained");
    // The value saved otherwise is what the next hand-out holds.
    ok(s.save("model.bin", "weights v3").await, "save");
    let model = ok(s.get_file_path("model.bin").await, "get_file_path again");
    assert_eq!(read(&model), b"weights v3");

    // Project views hand out paths inside the project.
    let p = s.project("p1");
    let in_project = ok(p.get_file_path("x.parquet").await, "project get_file_path");
    assert!(in_project.ends_with("p1/x.parquet"), "{}", in_project.display());
}

/// `persist()` makes every handed-out file that was created or changed the key's value, and
/// touches nothing else. On local disk, the file already is the value.
pub async fn persist_uploads_only_changes(kit: Kit) {
    let s = kit.store().await;
    ok(s.save("kept", "unchanged").await, "save");
    ok(s.save("edited", "before").await, "save");
    let kept = ok(s.get_file_path("kept").await, "path");
    let edited = ok(s.get_file_path("edited").await, "path");
    let created = ok(s.get_file_path("created").await, "path");
    let kept_version = ok(s.head("kept").await, "head").version;
    write(&edited, b"after");
    write(&created, b"brand new");
    ok(s.persist().await, "persist");
    assert_eq!(ok(s.read("edited").await, "read"), "after");
    assert_eq!(ok(s.read("created").await, "read"), "brand new");
    assert_eq!(ok(s.read("kept").await, "read"), "unchanged");
    assert_eq!(ok(s.head("kept").await, "head").version, kept_version, "persist rewrote an unchanged file");
    assert_eq!(read(&kept), b"unchanged");
    // A second persist with nothing changed writes nothing.
    let edited_version = ok(s.head("edited").await, "head").version;
    ok(s.persist().await, "persist again");
    assert_eq!(ok(s.head("edited").await, "head").version, edited_version);
    // Handing out a file again does not throw away edits that were not persisted yet.
    write(&edited, b"pending edit");
    let again = ok(s.get_file_path("edited").await, "path again");
    assert_eq!(read(&again), b"pending edit");
    ok(s.persist().await, "persist");
    assert_eq!(ok(s.read("edited").await, "read"), "pending edit");
    if let Err(e) = std::fs::remove_file(&again) {
        panic!("cannot remove {}: {e}", again.display());
    }
    if s.capabilities().local_paths {
        // The file is the object: removing it deletes the key.
        assert!(!ok(s.contains_key("edited").await, "contains_key"));
    } else {
        // A staged copy the user removed comes back with the value on the next hand-out.
        let back = ok(s.get_file_path("edited").await, "path after removing the file");
        assert_eq!(read(&back), b"pending edit");
    }
}
