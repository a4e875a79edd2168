"""Errors and their types: bad keys, missing keys, limits, permissions, conflicts, bad values,
bad input of every kind, a closed store. Nothing crashes the interpreter."""

from __future__ import annotations

import math

import pytest

import objstore
from objstore import errors


def test_the_hierarchy_matches_the_builtins():
    assert issubclass(errors.NotFoundError, KeyError)
    assert issubclass(errors.InvalidKeyError, ValueError)
    assert issubclass(errors.SerializationError, ValueError)
    assert issubclass(errors.UnserializableError, TypeError) and issubclass(errors.UnserializableError, ValueError)
    assert issubclass(errors.PermissionDeniedError, PermissionError)
    assert issubclass(errors.StorageError, OSError)
    assert issubclass(errors.QuotaExceededError, errors.LimitExceededError)
    assert issubclass(errors.AlreadyExistsError, errors.ConflictError)
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.ObjstoreError) and cls.__doc__, name
        assert getattr(objstore, name) is cls


@pytest.mark.parametrize("read", ["read", "Read", "read_bytes", "ReadBytes", "read_json", "ReadJson", "head", "read_range"])
def test_missing_key_is_a_key_error_naming_it(store, read):
    with pytest.raises(KeyError) as e:
        getattr(store, read)("nowhere/to/be/found")
    assert isinstance(e.value, objstore.NotFoundError)
    assert "nowhere/to/be/found" in str(e.value) and "contains_key" in str(e.value)
    assert not str(e.value).startswith("'")  # not KeyError's quoted repr


@pytest.mark.parametrize("key", ["", "../escape", "a/../../x", "a/./b", "bad\x00key", "trailing/", "x" * 2000, ".objstore-ledger"])
def test_bad_keys_are_value_errors(store, key):
    for call in (lambda: store.save(key, "v"), lambda: store.read(key), lambda: store.contains_key(key),
                 lambda: store.delete(key), lambda: store.get_file_path(key)):
        with pytest.raises(ValueError) as e:
            call()
        assert isinstance(e.value, objstore.InvalidKeyError), e.value
        assert "invalid key" in str(e.value)


@pytest.mark.parametrize("key", [1, 2.5, None, b"bytes-key", ["list"], object()])
def test_non_str_keys_are_type_errors(store, key):
    for call in (lambda: store.save(key, "v"), lambda: store.read(key), lambda: store.save_bytes(key, b""),
                 lambda: store.save_json(key, 1), lambda: store.contains_key(key), lambda: store.delete(key),
                 lambda: store.ReadBytes(key), lambda: store.project(key)):
        with pytest.raises(TypeError, match="a key must be a str"):
            call()


def test_lone_surrogates_in_keys(store):
    with pytest.raises(ValueError):
        store.save("bad\udcff", "v")


def test_limits(tmp_path, backend, url):
    s = objstore.ObjectStore(url, max_objects=2, max_bytes=10, max_object_bytes=8)
    s.save("a", "1234")
    s.save("b", "1234")
    with pytest.raises(objstore.LimitExceededError, match="2/2") as e:
        s.save("c", "1")
    assert "max_objects" in str(e.value)
    s.save("a", "123456")  # an overwrite counts at its new size: 6 + 4 = 10, exactly the limit
    with pytest.raises(objstore.LimitExceededError, match="max_bytes"):
        s.save("a", "1234567")
    with pytest.raises(objstore.LimitExceededError, match="max_object_bytes"):
        s.save_bytes("b", b"123456789")
    assert s.read("b") == "1234"  # nothing changed
    assert s.limits == {"max_bytes": 10, "max_objects": 2, "max_object_bytes": 8}


def test_permissions(url):
    objstore.ObjectStore(url).save("k", "v")
    read_only = objstore.ObjectStore(url, write=False, delete=False)
    assert read_only.read("k") == "v"
    with pytest.raises(PermissionError) as e:
        read_only.save("k", "changed")
    assert isinstance(e.value, objstore.PermissionDeniedError) and "write" in str(e.value)
    with pytest.raises(objstore.PermissionDeniedError, match="delete"):
        read_only.delete("k")
    no_read = objstore.ObjectStore(url, read=False)
    with pytest.raises(objstore.PermissionDeniedError, match="read"):
        no_read.read("k")
    with pytest.raises(objstore.PermissionDeniedError):
        no_read.keys()
    # A read-only handle's file path is a copy: writing it cannot change the value.
    path = read_only.get_file_path("k")
    with open(path, "w") as f:
        f.write("scribbled")
    assert objstore.ObjectStore(url).read("k") == "v"


def test_conflict_on_disk(file_store):
    file_store.save("a", "object")
    with pytest.raises(objstore.ConflictError, match="a/b"):
        file_store.save("a/b", "under an object")


def test_bad_values(store):
    store.save_bytes("not-utf8", b"\xff\xfe")
    with pytest.raises(objstore.SerializationError, match="UTF-8"):
        store.read("not-utf8")
    store.save("not-json", "{oops")
    with pytest.raises(ValueError, match="JSON") as e:
        store.read_json("not-json")
    assert isinstance(e.value, objstore.SerializationError)
    cyclic: list = []
    cyclic.append(cyclic)
    for bad in ({1, 2}, object(), float("nan"), math.inf, {"k": {1}}, cyclic, {(1, 2): "tuple key"}, 2**200):
        with pytest.raises(TypeError) as e:
            store.save_json("bad", bad)
        assert isinstance(e.value, objstore.UnserializableError) and "bad" in str(e.value)
    assert not store.contains_key("bad")
    # what json.dumps converts, we convert too
    store.save_json("keys", {1: "int", 2.5: "float", None: "none"})
    assert store.read_json("keys") == {"1": "int", "2.5": "float", "null": "none"}
    store.save_json("bool_key", {True: "bool"})
    assert store.read_json("bool_key") == {"true": "bool"}
    store.save_json("tuple", (1, [2, (3,)]))
    assert store.read_json("tuple") == [1, [2, [3]]]
    store.save_json("big", 2**100)
    assert store.read_json("big") == float(2**100) or store.read_json("big") == 2**100


@pytest.mark.parametrize("value", [None, 12, 1.5, ["x"], {"a": 1}, "text"])
def test_bad_bytes_values_are_type_errors(store, value):
    with pytest.raises(TypeError, match="bytes"):
        store.save_bytes("k", value)


def test_save_of_odd_values(store):
    with pytest.raises(TypeError):
        store.save("k", 12)
    with pytest.raises(TypeError, match="SaveBytes"):
        store.SaveString("k", b"bytes")
    store.save("k", b"bytes are fine for save")
    assert store.read_bytes("k") == b"bytes are fine for save"


def test_closed_store(url):
    s = objstore.ObjectStore(url)
    view = s.project("p")
    s.close()
    for call in (lambda: s.read("k"), lambda: s.save("k", "v"), lambda: s.keys(), lambda: list(s),
                 lambda: view.read("k"), lambda: s.project("x"), lambda: s.Keys):
        with pytest.raises(objstore.ClosedError, match="closed"):
            call()
    assert isinstance(objstore.ClosedError("x"), ValueError)


def test_bad_urls_and_options(tmp_path):
    with pytest.raises(objstore.ConfigError):
        objstore.ObjectStore("nosuchscheme://x")
    with pytest.raises(ValueError, match="cache_policy"):
        objstore.ObjectStore("memory://", cache_policy="sometimes")
    with pytest.raises(ValueError):
        objstore.ObjectStore("memory://", cache_policy=-1)
    with pytest.raises(TypeError):
        objstore.ObjectStore(42)
    with pytest.raises(TypeError):
        objstore.ObjectStore("memory://", max_bytes="lots")
    with pytest.raises(OverflowError):
        objstore.ObjectStore("memory://", max_bytes=-1)
    with pytest.raises(TypeError):
        objstore.ObjectStore("memory://", unknown_option=1)
    with pytest.raises(objstore.ConfigError) as e:
        objstore.ObjectStore("s3://bucket?endpoint=http://127.0.0.1:9&secret_access_key=topsecret&access_key_id=AKIA&nonsense_option=1")
    assert "topsecret" not in str(e.value)


def test_secrets_never_shown():
    s = objstore.ObjectStore("s3://bucket/p?endpoint=http://127.0.0.1:9&allow_http=true&region=us-east-1"
                             "&access_key_id=AKIAEXAMPLE&secret_access_key=topsecret")
    assert "topsecret" not in repr(s) and "topsecret" not in s.url
    with pytest.raises(objstore.StorageError) as e:
        s.read("k")  # nothing listens on port 9
    assert "topsecret" not in str(e.value)


def test_many_odd_calls_never_crash(store):
    """Throws a mix of odd arguments at every method; each must raise a Python exception or work."""
    odd = [None, 0, -1, 2**70, "", "k", "\x00", b"", bytearray(b"x"), [], {}, (), object(), float("nan"), 1j]
    methods = ["save", "Save", "save_bytes", "save_json", "read", "read_bytes", "read_json", "contains_key",
               "delete", "get_file_path", "read_range", "read_ranges", "head", "list", "list_keys", "project"]
    outcomes = 0
    for name in methods:
        m = getattr(store, name)
        for a in odd:
            for args in ((a,), (a, a), ("k", a), ("k", a, a)):
                try:
                    m(*args)
                except (TypeError, ValueError, KeyError, OSError, OverflowError, objstore.ObjstoreError):
                    pass
                outcomes += 1
    assert outcomes == len(methods) * len(odd) * 4
