"""Every ObjectStore method, in both spellings, on local disk, SeaweedFS and moto."""

from __future__ import annotations

import asyncio
import pickle

import pytest

import objstore

# (snake_case, LEAN's PascalCase) pairs that must be the same method.
ALIASES = [
    ("save", "Save"),
    ("save", "SaveString"),
    ("save_bytes", "SaveBytes"),
    ("save_json", "SaveJson"),
    ("read", "Read"),
    ("read", "ReadString"),
    ("read_bytes", "ReadBytes"),
    ("read_json", "ReadJson"),
    ("contains_key", "ContainsKey"),
    ("delete", "Delete"),
    ("get_file_path", "GetFilePath"),
    ("clear", "Clear"),
]


def test_every_lean_name_exists_with_a_docstring():
    for snake, pascal in ALIASES:
        for name in (snake, pascal):
            method = getattr(objstore.ObjectStore, name)
            assert method.__doc__ and len(method.__doc__) > 10, name
    assert objstore.ObjectStore.Keys.__doc__
    assert objstore.KeyValuePair.Key.__doc__ and objstore.KeyValuePair.Value.__doc__
    assert "LEAN" in objstore.ObjectStore.__doc__


@pytest.mark.parametrize("lean", [False, True], ids=["snake_case", "PascalCase"])
def test_text_bytes_json_round_trip(store, lean):
    save = store.Save if lean else store.save
    save_bytes = store.SaveBytes if lean else store.save_bytes
    save_json = store.SaveJson if lean else store.save_json
    read = store.Read if lean else store.read
    read_bytes = store.ReadBytes if lean else store.read_bytes
    read_json = store.ReadJson if lean else store.read_json

    assert save("12345/string_key", "text ✓") is True
    assert read("12345/string_key") == "text ✓"
    assert (store.ReadString if lean else store.read)("12345/string_key") == "text ✓"
    if lean:
        assert store.SaveString("12345/other", "more") is True
        assert store.ReadString("12345/other") == "more"
    assert save_bytes("k.bin", b"\x00\x01\xff") is True
    assert read_bytes("k.bin") == b"\x00\x01\xff"
    assert save_bytes("k2.bin", bytearray(b"ab")) is True
    assert save_bytes("k3.bin", memoryview(b"xyz")[1:]) is True
    assert read_bytes("k2.bin") == b"ab" and read_bytes("k3.bin") == b"yz"
    params = {"lookback": 20, "threshold": 1.5, "symbols": ["SPY", "QQQ"], "live": True, "note": None}
    assert save_json("params", params) is True
    back = read_json("params")
    assert back == params and list(back) == list(params)  # key order kept
    assert read_bytes("params").startswith(b'{"lookback":20')


@pytest.mark.parametrize("lean", [False, True], ids=["snake_case", "PascalCase"])
def test_contains_delete_keys(store, lean):
    contains = store.ContainsKey if lean else store.contains_key
    delete = store.Delete if lean else store.delete
    store.save("b/2", "x")
    store.save("a/1", "y")
    assert contains("a/1") is True and contains("nope") is False
    assert "a/1" in store and "nope" not in store
    keys = store.Keys if lean else store.keys()
    assert keys == ["a/1", "b/2"]
    assert store.list_keys("a/") == ["a/1"]
    assert delete("a/1") is True
    assert contains("a/1") is False
    with pytest.raises(KeyError):
        delete("a/1")
    with pytest.raises(objstore.NotFoundError, match="a/1"):
        delete("a/1")


@pytest.mark.parametrize("lean", [False, True], ids=["snake_case", "PascalCase"])
def test_iteration_yields_key_value_pairs(store, lean):
    expected = {f"k{i:02}": f"v{i}".encode() for i in range(12)}
    for k, v in expected.items():
        store.save_bytes(k, v)
    seen = {}
    for kvp in store:
        key, value = (kvp.Key, kvp.Value) if lean else (kvp.key, kvp.value)
        seen[key] = value
        k2, v2 = kvp  # unpacks
        assert (k2, v2) == (key, value)
    assert seen == expected
    assert list(seen) == sorted(expected)
    assert "KeyValuePair(key=" in repr(next(iter(store)))


@pytest.mark.parametrize("lean", [False, True], ids=["snake_case", "PascalCase"])
def test_get_file_path_and_save_from_file(store, lean):
    get_path = store.GetFilePath if lean else store.get_file_path
    path = get_path("models/model.bin")
    assert isinstance(path, str)
    with open(path, "wb") as f:
        f.write(b"weights")
    assert (store.Save if lean else store.save)("models/model.bin") is True
    store.clear()
    assert store.read_bytes("models/model.bin") == b"weights"
    # An existing key's path holds its value.
    store.save("notes", "hello")
    with open(get_path("notes"), "rb") as f:
        assert f.read() == b"hello"


def test_save_from_file_without_a_file_says_what_to_do(store):
    with pytest.raises(objstore.StorageError, match="get_file_path"):
        store.save("never-written")


@pytest.mark.parametrize("lean", [False, True], ids=["snake_case", "PascalCase"])
def test_clear_empties_the_cache(url, tmp_path, lean):
    trusting = objstore.ObjectStore(url, cache_policy="trust")
    writer = objstore.ObjectStore(url)
    trusting.cache_stats()  # starts the hit counters
    trusting.save("shared", "one")
    assert trusting.read("shared") == "one"
    writer.save("shared", "two")
    assert trusting.read("shared") == "one"  # LEAN's stale read under "trust"
    (trusting.Clear if lean else trusting.clear)()
    assert trusting.read("shared") == "two"
    stats = trusting.cache_stats()
    assert stats is not None and stats["hits"] >= 1
    # The default policy revalidates: no stale read.
    fresh = objstore.ObjectStore(url)
    fresh.read("shared")
    writer.save("shared", "three")
    assert fresh.read("shared") == "three"


def test_large_values_come_back_whole_fresh_and_as_bytes(url, tmp_path, backend):
    """Values around the size read straight into the returned ``bytes`` (64 KiB and up) come
    back whole, as real ``bytes``, from a cached and an uncached handle, fresh after another
    handle overwrites them and after another program rewrites the file in place."""
    import os

    cached = objstore.ObjectStore(url)
    uncached = objstore.ObjectStore(url, cache_bytes=0)
    sizes = [0, 1, 65535, 65536, 65537, 1 << 20, (3 << 20) + 7]
    for size in sizes:
        key = f"large/{size}.bin"
        value = os.urandom(size)
        uncached.save_bytes(key, value)
        for handle in (uncached, cached, cached):
            got = handle.read_bytes(key)
            assert type(got) is bytes
            assert len(got) == size and got == value
            assert hash(got) == hash(bytes(value))
            assert bytes(memoryview(got)) == value
        newer = os.urandom(size + 3)
        uncached.save_bytes(key, newer)
        assert cached.read_bytes(key) == newer
        assert uncached.read_bytes(key) == newer
    if backend == "file":
        # Another program rewrites a file in place, larger and then smaller than before.
        path = uncached.get_file_path("large/65537.bin")
        for size in ((2 << 20) + 1, 70000):
            rewritten = os.urandom(size)
            with open(path, "wb") as f:
                f.write(rewritten)
            assert uncached.read_bytes("large/65537.bin") == rewritten
            assert cached.read_bytes("large/65537.bin") == rewritten
    with pytest.raises(KeyError):
        uncached.read_bytes("large/absent")


def test_project_views(store):
    project = store.project("12345")
    assert project.save("insights", "[]") is True
    assert store.contains_key("12345/insights")
    assert project.keys() == ["insights"]
    assert project.read("insights") == "[]"
    assert "project='12345'" in repr(project)
    nested = project.project("sub")
    nested.save("x", "1")
    assert store.read("12345/sub/x") == "1"


def test_ranges_head_list_usage_limits(store):
    store.save_bytes("r", bytes(range(10)))
    assert store.read_range("r", 2, 5) == bytes([2, 3, 4])
    assert store.read_range("r", -3) == bytes([7, 8, 9])
    assert store.read_range("r", 8, 100) == bytes([8, 9])
    assert store.read_range("r", 20, 30) == b""
    assert store.read_ranges("r", [(0, 2), (5, None), (None, 1)]) == [b"\x00\x01", bytes([5, 6, 7, 8, 9]), b"\x00"]
    assert store.ranged_reads is True
    info = store.head("r")
    assert info["key"] == "r" and info["size"] == 10 and info["version"]
    listed = store.list("")
    assert [m["key"] for m in listed] == ["r"]
    assert store.usage() == {"bytes": 10, "objects": 1}
    assert store.limits == {"max_bytes": None, "max_objects": None, "max_object_bytes": None}
    assert "secret" not in store.url or "***" in store.url


def test_persist_close_and_context_manager(url, tmp_path):
    with objstore.ObjectStore(url, staging_dir=str(tmp_path / "st")) as s:
        path = s.get_file_path("staged.txt")
        with open(path, "w") as f:
            f.write("written at the path")
    # close() persisted the staged file (on disk the path is the object itself).
    assert s.closed
    other = objstore.ObjectStore(url)
    assert other.read("staged.txt") == "written at the path"
    with pytest.raises(objstore.ClosedError):
        s.read("staged.txt")
    s.close()  # twice is fine


def test_pickle_reopens_the_same_store(store):
    store.save("p", "pickled")
    clone = pickle.loads(pickle.dumps(store))
    assert clone.read("p") == "pickled"
    view = pickle.loads(pickle.dumps(store.project("77")))
    view.save("v", "1")
    assert store.read("77/v") == "1"


def test_async_twins(store):
    async def main():
        assert await store.save_async("a", "text") is True
        assert await store.save_async("b", b"bytes") is True
        assert await store.save_bytes_async("c", b"\x01") is True
        assert await store.save_json_async("d", {"x": [1, 2]}) is True
        assert await store.read_async("a") == "text"
        assert await store.read_bytes_async("b") == b"bytes"
        assert await store.read_json_async("d") == {"x": [1, 2]}
        assert await store.contains_key_async("c") is True
        assert await store.keys_async() == ["a", "b", "c", "d"]
        assert await store.delete_async("c") is True
        path = await store.get_file_path_async("e")
        with open(path, "w") as f:
            f.write("file")
        assert await store.save_async("e") is True
        with pytest.raises(objstore.NotFoundError):
            await store.read_async("missing")
        # Many at once on one loop.
        await asyncio.gather(*(store.save_async(f"many/{i}", str(i)) for i in range(20)))
        values = await asyncio.gather(*(store.read_async(f"many/{i}") for i in range(20)))
        assert values == [str(i) for i in range(20)]

    asyncio.run(main())
    assert store.read("e") == "file"


def test_default_url_is_leans_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = objstore.ObjectStore()
    s.save("x", "y")
    assert (tmp_path / "storage" / "x").read_text() == "y"
    assert objstore.DEFAULT_URL == "file://./storage"
    # A plain folder path works too.
    p = objstore.ObjectStore(str(tmp_path / "plain"))
    p.save("k", "v")
    assert (tmp_path / "plain" / "k").read_text() == "v"


def test_help_is_a_manual():
    text = objstore.ObjectStore.__doc__
    for word in ("max_bytes", "cache_policy", "Keys", "fork", "KeyValuePair"):
        assert word in text, word
    for cls in (objstore.ObjectStoreManager, objstore.StorageMonitor, objstore.StorageCategory, objstore.Settings, objstore.StoredObject):
        assert cls.__doc__ and len(cls.__doc__) > 40, cls
