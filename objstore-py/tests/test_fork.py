"""A child process after os.fork() (joblib, multiprocessing) uses stores, managers and monitors
opened in the parent: each reopens itself in the child, so the child works and the parent's
store is left as it was."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import threading

import pytest

import objstore
from objstore import ObjectStoreManager, StorageCategory, StorageMonitor, _objstore


def run_in_child(fn) -> int:
    """Runs ``fn`` in a forked child; returns its exit code (0 when ``fn`` returned normally)."""
    pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            fn()
            code = 0
        except BaseException as e:  # noqa: BLE001 - reported through the exit code
            print(f"child failed: {e!r}", flush=True)
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_forked_child_uses_the_parents_store(url):
    store = objstore.ObjectStore(url)
    store.save("before", "parent")
    assert store.read("before") == "parent"  # warms the cache and any connection pool
    generation = _objstore._generation()

    def child():
        assert _objstore._generation() == generation + 1
        assert store.read("before") == "parent"
        store.save("from_child", "child")
        assert "from_child" in store.keys()
        view = store.project("p")
        view.save("v", "in a view")
        fresh = objstore.ObjectStore(url)  # opening a new store works too
        assert fresh.read("p/v") == "in a view"

    assert run_in_child(child) == 0
    assert _objstore._generation() == generation
    assert store.read("from_child") == "child"
    assert store.read("p/v") == "in a view"
    assert store.read("before") == "parent"


def test_fork_while_other_threads_do_io(url):
    """A thread of the parent is inside an I/O call at the fork; the child still works."""
    store = objstore.ObjectStore(url, cache_bytes=0)
    store.save_bytes("big", os.urandom(1 << 20))
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            store.read_bytes("big")

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        codes = [run_in_child(lambda: (store.save("c", "ok"), store.read_bytes("big"))) for _ in range(3)]
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert codes == [0, 0, 0]
    assert store.read("c") == "ok"


def test_manager_and_monitor_in_a_forked_child(url):
    store = objstore.ObjectStore(url)
    manager = ObjectStoreManager(store)
    monitor = StorageMonitor(manager)
    manager.save("state", {"equity": 1}, category=StorageCategory.TRADING_STATE)
    assert monitor.get_statistics()["files"] == 1

    def child():
        assert manager.load("state") == {"equity": 1}
        manager.save("child_state", {"equity": 2}, category=StorageCategory.TRADING_STATE)
        assert monitor.get_statistics()["files"] == 2

    assert run_in_child(child) == 0
    assert manager.load("child_state") == {"equity": 2}


def _pool_read(key: str) -> str:
    return POOL_STORE.read(key)


POOL_STORE: objstore.ObjectStore


def test_multiprocessing_fork_pool(url):
    global POOL_STORE
    POOL_STORE = objstore.ObjectStore(url)
    for i in range(8):
        POOL_STORE.save(f"k{i}", f"v{i}")
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        values = pool.map(_pool_read, [f"k{i}" for i in range(8)])
    assert values == [f"v{i}" for i in range(8)]


def _spawned_read(store: objstore.ObjectStore, key: str) -> str:
    return store.read(key)


def test_a_store_pickles_into_a_spawned_process(url):
    store = objstore.ObjectStore(url)
    store.save("spawned", "works")
    pickle.dumps(store)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        assert pool.apply(_spawned_read, (store, "spawned")) == "works"


def test_joblib_parallel_with_fork(url):
    import joblib

    store = objstore.ObjectStore(url)
    for i in range(6):
        store.save_json(f"params/{i}", {"i": i})
    out = joblib.Parallel(n_jobs=2, backend="multiprocessing")(
        joblib.delayed(_read_json)(store, f"params/{i}") for i in range(6)
    )
    assert out == [{"i": i} for i in range(6)]


def _read_json(store, key):
    return store.read_json(key)


def test_an_iteration_started_before_a_fork_says_so(file_store):
    for i in range(10):
        file_store.save(f"k{i}", "v")
    it = iter(file_store)
    next(it)

    def child():
        with pytest.raises(objstore.ClosedError, match="fork"):
            next(it)
        assert len(list(file_store)) == 10  # a new iteration works

    assert run_in_child(child) == 0
    assert len(list(it)) == 9


def test_a_folder_changed_under_a_parent_and_its_forked_child_is_seen_by_both(tmp_path):
    """Both processes revalidate a key in a folder through the same kernel watch (inherited by
    the fork); the folder is then renamed away and made again by hand while both hold it: the
    parent, which looks first, and the child, which looks after it, both read the new value."""
    root = tmp_path / "storage"
    store = objstore.ObjectStore(f"file://{root}")
    store.save("prices/daily/spy", "old")
    for _ in range(3):  # fills the cache, then revalidates through the folder's handle
        assert store.read("prices/daily/spy") == "old"
    to_parent_r, to_parent_w = os.pipe()
    to_child_r, to_child_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            for _ in range(3):
                assert store.read("prices/daily/spy") == "old"
            os.write(to_parent_w, b"r")
            os.read(to_child_r, 1)  # the parent changed the folder and read it
            got = store.read("prices/daily/spy")
            assert got == "new value", got
            code = 0
        except BaseException as e:  # noqa: BLE001 - reported through the exit code
            print(f"child failed: {e!r}", flush=True)
        os._exit(code)
    assert os.read(to_parent_r, 1) == b"r"
    os.rename(root / "prices", root / "prices-old")
    (root / "prices" / "daily").mkdir(parents=True)
    (root / "prices" / "daily" / "spy").write_bytes(b"new value")
    assert store.read("prices/daily/spy") == "new value"
    os.write(to_child_w, b"g")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store.read("prices/daily/spy") == "new value"
