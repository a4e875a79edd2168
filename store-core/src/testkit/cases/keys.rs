//! Keys: listing, iteration, normalisation, refusal of bad keys, objects that are also prefixes.

use bytes::Bytes;
use futures::StreamExt;

use super::{ok, pattern, snapshot};
use crate::testkit::Kit;
use crate::{Error, assert_err};

/// `keys()` lists every key once, sorted by bytes, with `/` separators.
pub async fn keys_are_sorted_and_complete(kit: Kit) {
    let s = kit.store().await;
    let mut keys = vec!["b", "a-c", "a/b", "a/c/d", "a.b", "z", "A", "é/x", "a0", "a/b0", "aa/b"];
    for k in &keys {
        ok(s.save(k, k).await, "save");
    }
    keys.sort_unstable();
    assert_eq!(ok(s.keys().await, "keys"), keys);
    let listed: Vec<String> = s.list_keys("a/").map(|k| ok(k, "list_keys").to_string()).collect().await;
    assert_eq!(listed, vec!["a/b", "a/b0", "a/c/d"]);
    // A prefix is a string prefix, not only a folder.
    let listed: Vec<String> = s.list_keys("a/b").map(|k| ok(k, "list_keys").to_string()).collect().await;
    assert_eq!(listed, vec!["a/b", "a/b0"]);
    let metas: Vec<(String, u64)> =
        s.list("a").map(|m| ok(m, "list")).map(|m| (m.key.to_string(), m.size)).collect().await;
    let expected: Vec<(String, u64)> =
        keys.iter().filter(|k| k.starts_with('a')).map(|k| (k.to_string(), k.len() as u64)).collect();
    assert_eq!(metas, expected);
}

/// `entries()` yields every (key, value) pair, in key order.
pub async fn entries_stream_every_pair(kit: Kit) {
    let s = kit.store().await;
    let mut expected = Vec::new();
    for i in 0..300u64 {
        let key = format!("e/{:03}/{}", i % 7, i);
        let value = pattern(i, (i as usize * 13) % 700);
        ok(s.save_bytes(&key, value.clone()).await, "save");
        expected.push((key, value));
    }
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(snapshot(&s).await, expected);
}

/// Objects deleted while `entries()` runs are skipped, not errors.
pub async fn entries_skip_objects_deleted_meanwhile(kit: Kit) {
    let s = kit.store().await;
    for i in 0..50 {
        ok(s.save(&format!("k{i:02}"), "v").await, "save");
    }
    let mut stream = s.entries();
    let first = ok(stream.next().await.unwrap_or_else(|| panic!("no first entry")), "first entry");
    assert_eq!(first.0, "k00");
    for i in (10..50).step_by(2) {
        ok(s.delete(&format!("k{i:02}")).await, "delete");
    }
    let mut rest = Vec::new();
    while let Some(entry) = stream.next().await {
        rest.push(ok(entry, "entry").0);
    }
    // k01..k09 and the odd keys from k11 on; reads ahead only reach the first few keys, which
    // were not deleted.
    let expected: Vec<String> = (1..10).chain((11..50).step_by(2)).map(|i| format!("k{i:02}")).collect();
    assert_eq!(rest, expected);
}

/// The same normalisation applies to save, read, contains_key, delete, head and keys.
pub async fn normalisation_applies_to_every_operation(kit: Kit) {
    let s = kit.store().await;
    ok(s.save("/prefix/ILove", "v1").await, "save");
    assert_eq!(ok(s.read("prefix/ILove").await, "read"), "v1");
    assert_eq!(ok(s.read(r"\prefix\ILove").await, "read backslashes"), "v1");
    assert!(ok(s.contains_key("./prefix//ILove").await, "contains_key"));
    assert_eq!(ok(s.head("//prefix/ILove").await, "head").key.as_str(), "prefix/ILove");
    assert_eq!(ok(s.keys().await, "keys"), vec!["prefix/ILove"]);
    ok(s.delete(r".\prefix\\ILove").await, "delete");
    assert!(ok(s.keys().await, "keys").is_empty());
}

/// LEAN's documented keys and ordinary names LEAN refused all work.
pub async fn lean_and_ordinary_keys_are_accepted(kit: Kit) {
    let s = kit.store().await;
    let cases = [
        ("jose-something/pepe/ILove", "jose-something/pepe/ILove"),
        ("prefix/ILove", "prefix/ILove"),
        ("/prefix/ILove2", "prefix/ILove2"),
        ("a/super/prefix/ILove", "a/super/prefix/ILove"),
        (r"./a/su-p_er\pr##efi$x/ILove", "a/su-p_er/pr##efi$x/ILove"),
        (r"./a/su-p_er\pr x=/ILove", "a/su-p_er/pr x=/ILove"),
        ("my_key.json", "my_key.json"),
        ("x=1", "x=1"),
        ("test/123", "test/123"),
        ("v1.0/model", "v1.0/model"),
        ("file.tar.gz", "file.tar.gz"),
        (".hidden", ".hidden"),
        ("a b=1/#x$", "a b=1/#x$"),
        ("ünï/κλειδί", "ünï/κλειδί"),
        ("q?x=1&y=%20", "q?x=1&y=%20"),
    ];
    for (i, (given, _)) in cases.iter().enumerate() {
        ok(s.save(given, &i.to_string()).await, &format!("save {given:?}"));
    }
    for (i, (given, normal)) in cases.iter().enumerate() {
        assert_eq!(ok(s.read(normal).await, &format!("read {normal:?}")), i.to_string(), "{given:?}");
    }
    let mut expected: Vec<&str> = cases.iter().map(|(_, n)| *n).collect();
    expected.sort_unstable();
    assert_eq!(ok(s.keys().await, "keys"), expected);
}

/// Bad keys are `InvalidKey` on every operation, and nothing changes.
pub async fn bad_keys_are_refused_everywhere(kit: Kit) {
    let s = kit.store().await;
    ok(s.save("x", "outside?").await, "save");
    ok(s.save("a/x", "inside").await, "save");
    let before = snapshot(&s).await;
    let long = "k".repeat(1025);
    let bad = [
        "",
        "/",
        "./",
        "a/",
        "..",
        ".",
        "../x",
        "a/../x",
        "a/../../x",
        "../../../../etc/passwd",
        r"..\x",
        r"a\..\..\x",
        "a/./x",
        "a\u{0}b",
        "a\nb",
        "\u{7}",
        ".objstore",
        ".objstore-tmp-1-2-3",
        "a/.objstore/locks",
        long.as_str(),
    ];
    for key in bad {
        let is_invalid = |r: &crate::Result<()>| matches!(r, Err(Error::InvalidKey { .. }));
        let results: Vec<(&str, crate::Result<()>)> = vec![
            ("save", s.save(key, "v").await),
            ("save_bytes", s.save_bytes(key, Bytes::from_static(b"v")).await),
            ("save_json", s.save_json(key, &1).await),
            ("read", s.read(key).await.map(|_| ())),
            ("read_bytes", s.read_bytes(key).await.map(|_| ())),
            ("read_json", s.read_json::<i32>(key).await.map(|_| ())),
            ("head", s.head(key).await.map(|_| ())),
            ("contains_key", s.contains_key(key).await.map(|_| ())),
            ("delete", s.delete(key).await),
            ("get_file_path", s.get_file_path(key).await.map(|_| ())),
            ("save_from_file", s.save_from_file(key).await),
        ];
        for (op, r) in results {
            assert!(is_invalid(&r), "{op}({key:?}) should be InvalidKey, got {r:?}");
        }
    }
    assert_eq!(snapshot(&s).await, before, "a refused key changed the store");
}

/// A key that is also the prefix of others: both on object stores; a typed `Conflict` on a file
/// system, with nothing changed, and the name usable again once the other key is gone.
pub async fn object_and_prefix(kit: Kit) {
    let s = kit.store().await;
    ok(s.save("a", "object a").await, "save a");
    if s.capabilities().object_and_prefix {
        ok(s.save("a/b", "object a/b").await, "save a/b");
        assert_eq!(ok(s.keys().await, "keys"), vec!["a", "a/b"]);
        assert_eq!(ok(s.read("a").await, "read"), "object a");
        return;
    }
    let before = snapshot(&s).await;
    assert_err!(s.save("a/b", "x").await, Error::Conflict { ref key, .. } if key == "a/b");
    assert_err!(s.save("a/b/c", "x").await, Error::Conflict { .. });
    assert_eq!(snapshot(&s).await, before);
    ok(s.delete("a").await, "delete a");
    ok(s.save("a/b", "now a folder").await, "save a/b after deleting a");
    assert_err!(s.save("a", "x").await, Error::Conflict { ref key, .. } if key == "a");
    assert_eq!(ok(s.read("a/b").await, "read a/b"), "now a folder");
    // Once the folder holds no object, the name is free for an object again.
    ok(s.delete("a/b").await, "delete a/b");
    ok(s.save("a", "object again").await, "save a after its folder emptied");
    assert_eq!(ok(s.keys().await, "keys"), vec!["a"]);
}
