"""The fsspec filesystem ``objstore://`` with pandas and pyarrow, on local disk, SeaweedFS and
moto: reads and writes go through the store (its limits and permissions apply)."""

from __future__ import annotations

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import objstore
from objstore.fsspec import ObjstoreFileSystem, filesystem


def frame(rows: int = 1000) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({
        "symbol": rng.choice(["SPY", "QQQ", "IWM"], rows),
        "close": rng.normal(400, 5, rows),
        "volume": rng.integers(1, 10_000, rows),
    })


def test_registered_with_fsspec():
    assert fsspec.get_filesystem_class("objstore") is ObjstoreFileSystem


def test_store_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("OBJSTORE_URL", f"file://{tmp_path}/env-store")
    with fsspec.open("objstore://from/env.txt", "w", skip_instance_cache=True) as f:
        f.write("env")
    assert objstore.ObjectStore(f"file://{tmp_path}/env-store").read("from/env.txt") == "env"


def test_pandas_parquet_and_csv_through_the_store(url):
    opts = {"url": url}
    df = frame()
    # pandas' parquet functions call fsspec.core.url_to_fs(url, **storage_options): "store_url".
    df.to_parquet("objstore://frames/spy.parquet", storage_options={"store_url": url})
    back = pd.read_parquet("objstore://frames/spy.parquet", storage_options={"store_url": url})
    pd.testing.assert_frame_equal(back, df)
    df.to_csv("objstore://frames/spy.csv", index=False, storage_options=opts)
    pd.testing.assert_frame_equal(pd.read_csv("objstore://frames/spy.csv", storage_options=opts), df)
    # The objects are plain store objects.
    store = objstore.ObjectStore(url)
    assert store.keys() == ["frames/spy.csv", "frames/spy.parquet"]
    assert store.read_bytes("frames/spy.parquet")[:4] == b"PAR1"


def test_pyarrow_partitioned_dataset(url):
    fs = ObjstoreFileSystem(url=url, skip_instance_cache=True)
    table = pa.Table.from_pandas(frame(600))
    pq.write_to_dataset(table, "ds", partition_cols=["symbol"], filesystem=fs)
    keys = fs.store.keys()
    assert any(k.startswith("ds/symbol=SPY/") for k in keys), keys
    dataset = ds.dataset("ds", filesystem=fs, format="parquet", partitioning="hive")
    assert dataset.count_rows() == 600
    spy = dataset.to_table(filter=ds.field("symbol") == "SPY").to_pandas()
    assert len(spy) == (frame(600)["symbol"] == "SPY").sum()


def test_fsspec_open_ls_info_find_rm(url):
    with fsspec.open("objstore://notes/today.txt", "w", url=url) as f:
        f.write("bought SPY")
    with fsspec.open("objstore://notes/today.txt", "r", url=url) as f:
        assert f.read() == "bought SPY"
    fs = fsspec.filesystem("objstore", url=url)
    fs.pipe_file("notes/sub/deep.txt", b"deep")
    assert fs.ls("notes", detail=False) == ["notes/sub", "notes/today.txt"]
    assert fs.info("notes")["type"] == "directory"
    info = fs.info("notes/today.txt")
    assert info["type"] == "file" and info["size"] == 10
    assert fs.find("notes") == ["notes/sub/deep.txt", "notes/today.txt"]
    assert fs.exists("notes/sub") and not fs.exists("nothing")
    assert fs.cat_file("notes/today.txt", 7) == b"SPY"
    assert fs.cat_file("notes/today.txt", 0, 6) == b"bought"
    assert fs.cat_ranges(["notes/today.txt", "notes/today.txt", "notes/sub/deep.txt"], [0, -3, 1], [6, None, 3]) == [
        b"bought", b"SPY", b"ee"]
    fs.cp_file("notes/today.txt", "notes/copy.txt")
    assert fs.cat_file("notes/copy.txt") == b"bought SPY"
    assert fs.modified("notes/copy.txt").tzinfo is not None
    fs.rm("notes", recursive=True)
    assert fs.store.keys() == []
    with pytest.raises(FileNotFoundError):
        fs.cat_file("notes/today.txt")
    with pytest.raises(FileNotFoundError):
        fs.info("notes/today.txt")
    with pytest.raises(NotImplementedError):
        fs.open("x", "ab")


def test_limits_and_permissions_apply(url):
    df = frame(200)
    with pytest.raises(objstore.LimitExceededError):
        df.to_parquet("objstore://big.parquet", storage_options={"store_url": url, "max_bytes": 100})
    with pytest.raises(PermissionError):
        df.to_parquet("objstore://ro.parquet", storage_options={"store_url": url, "write": False})
    with pytest.raises(PermissionError):
        pd.read_csv("objstore://x.csv", storage_options={"url": url, "read": False})


class CountingStore:
    """An ObjectStore that counts whole-value reads and ranged fetches; ``ranged=False`` makes it
    say it has no ranged reads (as a store that can only read whole values would)."""

    def __init__(self, store, ranged=True):
        self.store = store
        self.ranged = ranged
        self.reads = 0
        self.range_bytes = 0

    @property
    def ranged_reads(self):
        return self.ranged and self.store.ranged_reads

    def read_object(self, key):
        self.reads += 1
        return self.store.read_object(key)

    def read_range(self, key, start=0, end=None):
        part = self.store.read_range(key, start, end)
        self.range_bytes += len(part)
        return part

    def read_ranges(self, key, ranges):
        parts = self.store.read_ranges(key, ranges)
        self.range_bytes += sum(len(p) for p in parts)
        return parts

    def __getattr__(self, name):
        return getattr(self.store, name)


def test_the_store_reads_ranges(store):
    assert store.ranged_reads is True


def test_parquet_columns_are_read_as_ranges_not_whole_values(url):
    store = CountingStore(objstore.ObjectStore(url))
    fs = ObjstoreFileSystem(store=store, skip_instance_cache=True)
    # 16 incompressible columns of 1.6 MB, well beyond the files' read-ahead block (5 MiB).
    rng = np.random.default_rng(7)
    wide = pd.DataFrame({f"c{i}": rng.integers(0, 2**62, 200_000) for i in range(16)})
    wide["c3"] = np.arange(200_000, dtype=np.int64) * 3
    wide.to_parquet("w.parquet", filesystem=fs)
    size = fs.size("w.parquet")
    table = pq.read_table("w.parquet", columns=["c3"], filesystem=fs)
    assert table.column("c3").to_pylist()[:3] == [0, 3, 6]
    assert store.reads == 0  # no whole-value read
    assert 0 < store.range_bytes < size // 2, (store.range_bytes, size)
    with fs.open("w.parquet", "rb") as f:
        assert f.cache.name == "readahead"
        f.seek(-4, 2)
        assert f.read() == b"PAR1"
    assert store.reads == 0


def test_whole_reads_once_per_unchanged_object_without_ranged_reads(url):
    store = CountingStore(objstore.ObjectStore(url), ranged=False)
    fs = ObjstoreFileSystem(store=store, skip_instance_cache=True)
    df = frame()
    df.to_parquet("p.parquet", filesystem=fs)
    pq.read_table("p.parquet", filesystem=fs)  # pyarrow opens the file more than once
    pq.read_table("p.parquet", filesystem=fs)
    assert store.reads == 1
    with fs.open("p.parquet", "rb") as f:
        assert f.cache.name == "all"  # whole value read once while the store has no ranged reads
        f.seek(-4, 2)
        assert f.read() == b"PAR1"
    assert store.reads == 1
    # A changed object (another version) is read again.
    frame(10).to_parquet("p.parquet", filesystem=fs)
    assert pq.read_table("p.parquet", filesystem=fs).num_rows == 10
    assert store.reads == 2


def test_transactions_commit_on_exit(url):
    fs = ObjstoreFileSystem(url=url, skip_instance_cache=True)
    with fs.transaction:
        with fs.open("t.bin", "wb") as f:
            f.write(b"committed")
        assert not fs.store.contains_key("t.bin")
    assert fs.store.read_bytes("t.bin") == b"committed"
