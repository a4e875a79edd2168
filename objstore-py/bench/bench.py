"""The Python bench: each objstore figure beside its floor and its peers, measured in the same run.

Run by ``cargo xtask bench --only python`` (in the package's virtual environment, with SeaweedFS
started and named in OBJSTORE_TEST_S3_SEAWEEDFS). Each row runs its variants interleaved, round
after round, and reports medians; the ratio is objstore's time over the floor's.

    python bench.py [--quick] [--rows local,cached,save,large,s3,pandas]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import statistics
import sys
import tempfile
import time
import uuid
from typing import Callable

import objstore
from objstore import _objstore

KIB = 1024
MIB = 1024 * KIB


def timed(fn: Callable[[], object], n: int) -> float:
    """Seconds per call of ``fn``, over ``n`` calls."""
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def rounds(variants: dict[str, Callable[[], float]], count: int) -> dict[str, float]:
    """Medians of ``count`` interleaved rounds; each variant returns seconds per operation."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(count):
        for name, run in variants.items():
            samples[name].append(run())
    return {name: statistics.median(s) for name, s in samples.items()}


def fmt(seconds: float) -> str:
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


ROWS: list[tuple[str, str, str, str, str, str, str]] = []


def row(operation: str, ours: float, floor: float | None, floor_name: str, peers: dict[str, float],
        target: str, met: bool | None) -> None:
    ratio = f"{ours / floor:.2f}×" if floor else "-"
    floor_text = f"{fmt(floor)} ({floor_name})" if floor else floor_name
    peer_text = "; ".join(f"{name} {fmt(t)} ({t / ours:.1f}× ours)" for name, t in peers.items()) or "-"
    ROWS.append((operation, fmt(ours), floor_text, peer_text, ratio, target, "-" if met is None else ("yes" if met else "NO")))
    print(f"  {operation}: objstore {fmt(ours)}, floor {floor_text}, peers {peer_text}", flush=True)


# ----- local disk ----------------------------------------------------------------------------------


def bench_local_small(tmp: str, n: int, count: int) -> None:
    import obstore
    from obstore.store import LocalStore

    root = os.path.join(tmp, "small")
    store = objstore.ObjectStore(f"file://{root}", cache_bytes=0)
    value = os.urandom(KIB)
    keys = [f"k/{i:05}" for i in range(200)]
    for k in keys:
        store.save_bytes(k, value)
    paths = [os.path.join(root, k) for k in keys]
    local = LocalStore(root)
    it = {"i": 0}

    def nxt() -> int:
        it["i"] = (it["i"] + 1) % len(keys)
        return it["i"]

    def ours() -> float:
        return timed(lambda: store.read_bytes(keys[nxt()]), n)

    def floor() -> float:
        def read() -> bytes:
            with open(paths[nxt()], "rb") as f:
                return f.read()
        return timed(read, n)

    def peer() -> float:
        return timed(lambda: obstore.get(local, keys[nxt()]).bytes(), n)

    m = rounds({"ours": ours, "floor": floor, "obstore": peer}, count)
    met = m["ours"] <= 1.5 * m["floor"] and m["obstore"] / m["ours"] >= 5
    row("read_bytes 1 KiB, uncached, local", m["ours"], m["floor"], 'open(p, "rb").read()',
        {"obstore LocalStore get": m["obstore"]}, "≤ 1.5× floor; ≥ 5× obstore's rate", met)


def bench_cached(tmp: str, n: int, count: int) -> None:
    store = objstore.ObjectStore(f"file://{tmp}/cached", cache_policy="trust")
    value = os.urandom(KIB)
    keys = [f"c/{i}" for i in range(100)]
    for k in keys:
        store.save_bytes(k, value)
        store.read_bytes(k)
    table = {k: bytearray(value) for k in keys}
    it = {"i": 0}

    def nxt() -> int:
        it["i"] = (it["i"] + 1) % len(keys)
        return it["i"]

    m = rounds({
        "ours": lambda: timed(lambda: store.read_bytes(keys[nxt()]), n),
        "floor": lambda: timed(lambda: bytes(table[keys[nxt()]]), n),
    }, count)
    row("read_bytes 1 KiB, cached (trust)", m["ours"], m["floor"], "a dict lookup + bytes", {},
        "≤ 1 µs per read", m["ours"] <= 1e-6)


def bench_save(tmp: str, n: int, count: int) -> None:
    store = objstore.ObjectStore(f"file://{tmp}/save")
    raw = os.path.join(tmp, "raw")
    os.makedirs(raw, exist_ok=True)
    value = os.urandom(KIB)
    seq = {"i": 0}

    def fresh() -> str:
        seq["i"] += 1
        return f"s{seq['i']:07}"

    def floor_save() -> None:
        name = fresh()
        tmp_path = os.path.join(raw, f".{name}.tmp")
        fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, value)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp_path, os.path.join(raw, name))
        dfd = os.open(raw, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    m = rounds({
        "ours": lambda: timed(lambda: store.save_bytes(fresh(), value), n),
        "floor": lambda: timed(floor_save, n),
    }, count)
    row("save 1 KiB durable, local", m["ours"], m["floor"], "temp + fsync + os.replace + fsync(dir)", {},
        "≤ 1.10×", m["ours"] <= 1.10 * m["floor"])


def bench_large(tmp: str, count: int) -> None:
    import obstore
    from obstore.store import LocalStore

    root = os.path.join(tmp, "large")
    store = objstore.ObjectStore(f"file://{root}", cache_bytes=0)
    local = LocalStore(root)
    for size, label, n in ((MIB, "1 MiB", 50), (64 * MIB, "64 MiB", 3)):
        key = f"large/{label.replace(' ', '')}"
        store.save_bytes(key, os.urandom(size))
        path = os.path.join(root, key)

        def floor() -> bytes:
            with open(path, "rb") as f:
                return f.read()

        m = rounds({
            "ours": lambda: timed(lambda: store.read_bytes(key), n),
            "floor": lambda: timed(floor, n),
            "obstore": lambda: timed(lambda: bytes(obstore.get(local, key).bytes()), n),
        }, count)
        row(f"read {label}, local", m["ours"], m["floor"], "open().read()", {"obstore (get + bytes())": m["obstore"]},
            "≤ 1.2× the floor", m["ours"] <= 1.2 * m["floor"])


# ----- S3 ------------------------------------------------------------------------------------------


def s3_parts(url: str) -> tuple[str, dict[str, str]]:
    base, _, query = url.partition("?")
    opts = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
    return base[len("s3://"):].split("/")[0], opts


def bench_s3(url: str, n: int, count: int) -> None:
    import boto3
    import botocore.config
    import s3fs
    from obstore.store import S3Store
    import obstore

    bucket, opts = s3_parts(url)
    prefix = f"pybench-{uuid.uuid4().hex[:8]}"
    store_url = url.replace(f"s3://{bucket}", f"s3://{bucket}/{prefix}", 1)
    ours = objstore.ObjectStore(store_url, cache_bytes=0)
    endpoint = opts["endpoint"]
    key_id, secret = opts["access_key_id"], opts["secret_access_key"]
    obs = S3Store(bucket, prefix=prefix, endpoint=endpoint, access_key_id=key_id, secret_access_key=secret,
                  region="us-east-1", client_options={"allow_http": True})
    boto = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key_id, aws_secret_access_key=secret,
                        region_name="us-east-1", config=botocore.config.Config(max_pool_connections=64))
    fs = s3fs.S3FileSystem(key=key_id, secret=secret, endpoint_url=endpoint, client_kwargs={"region_name": "us-east-1"},
                           skip_instance_cache=True)
    value = os.urandom(KIB)
    keys = [f"g/{i:05}" for i in range(n)]
    for k in keys:
        ours.save_bytes(k, value)
    seq = {"i": 0}

    def put_keys() -> list[str]:
        seq["i"] += 1
        return [f"p{seq['i']}/{i:05}" for i in range(n)]

    def pool(fn: Callable[[str], object], ks: list[str], threads: int) -> float:
        start = time.perf_counter()
        if threads == 1:
            for k in ks:
                fn(k)
        else:
            with concurrent.futures.ThreadPoolExecutor(threads) as ex:
                list(ex.map(fn, ks))
        return (time.perf_counter() - start) / len(ks)

    for threads in (1, 32):
        label = "sequential" if threads == 1 else f"{threads} threads"
        gets = {
            "ours": lambda: pool(ours.read_bytes, keys, threads),
            "floor": lambda: _objstore._bench_rust(store_url, "get", keys, threads) / len(keys),
            "obstore": lambda: pool(lambda k: obstore.get(obs, k).bytes(), keys, threads),
            "s3fs": lambda: pool(lambda k: fs.cat_file(f"{bucket}/{prefix}/{k}"), keys, threads),
            "boto3": lambda: pool(lambda k: boto.get_object(Bucket=bucket, Key=f"{prefix}/{k}")["Body"].read(), keys, threads),
        }
        m = rounds(gets, count)
        met = m["obstore"] >= m["ours"] and m["s3fs"] >= 3 * m["ours"] and m["boto3"] >= 3 * m["ours"]
        row(f"S3 get 1 KiB, {label} (SeaweedFS)", m["ours"], m["floor"], "the Rust facade, same run",
            {k: m[k] for k in ("obstore", "s3fs", "boto3")}, "≥ obstore's rate; ≥ 3× s3fs and boto3", met)
        puts = {
            "ours": lambda: pool(lambda k: ours.save_bytes(k, value), put_keys(), threads),
            "floor": lambda: _objstore._bench_rust(store_url, "put", put_keys(), threads) / n,
            "obstore": lambda: pool(lambda k: obstore.put(obs, k, value), put_keys(), threads),
            "s3fs": lambda: pool(lambda k: fs.pipe_file(f"{bucket}/{prefix}/{k}", value), put_keys(), threads),
            "boto3": lambda: pool(lambda k: boto.put_object(Bucket=bucket, Key=f"{prefix}/{k}", Body=value), put_keys(), threads),
        }
        m = rounds(puts, count)
        met = m["obstore"] >= m["ours"] and m["s3fs"] >= 3 * m["ours"] and m["boto3"] >= 3 * m["ours"]
        row(f"S3 put 1 KiB, {label} (SeaweedFS)", m["ours"], m["floor"], "the Rust facade, same run",
            {k: m[k] for k in ("obstore", "s3fs", "boto3")}, "≥ obstore's rate; ≥ 3× s3fs and boto3", met)


def bench_pandas(url: str, count: int, megabytes: int) -> None:
    import numpy as np
    import obstore.fsspec
    import pandas as pd

    bucket, opts = s3_parts(url)
    prefix = f"pybench-{uuid.uuid4().hex[:8]}"
    rows = megabytes * MIB // (8 * 10)
    rng = np.random.default_rng(3)
    df = pd.DataFrame({f"c{i}": rng.standard_normal(rows) for i in range(10)})
    store_url = url.replace(f"s3://{bucket}", f"s3://{bucket}/{prefix}", 1)
    # pandas passes storage_options to url_to_fs(url, ...): hence "store_url". Every read is cold:
    # a new filesystem (no memo of the last object) for objstore and for s3fs.
    ours_opts = {"store_url": store_url, "skip_instance_cache": True}
    df.to_parquet("objstore://frame.parquet", storage_options=ours_opts)
    size = objstore.ObjectStore(store_url).head("frame.parquet")["size"]
    s3_opts = {"key": opts["access_key_id"], "secret": opts["secret_access_key"], "endpoint_url": opts["endpoint"],
               "client_kwargs": {"region_name": "us-east-1"}, "skip_instance_cache": True}
    obs_fs = obstore.fsspec.FsspecStore("s3", endpoint=opts["endpoint"], access_key_id=opts["access_key_id"],
                                        secret_access_key=opts["secret_access_key"], region="us-east-1",
                                        client_options={"allow_http": True})

    def read(path: str, **kw) -> float:
        start = time.perf_counter()
        back = pd.read_parquet(path, **kw)
        assert len(back) == rows
        return time.perf_counter() - start

    m = rounds({
        "ours": lambda: read("objstore://frame.parquet", storage_options=ours_opts),
        "floor": lambda: read(f"s3://{bucket}/{prefix}/frame.parquet", storage_options=s3_opts),
        "obstore": lambda: read(f"{bucket}/{prefix}/frame.parquet", filesystem=obs_fs),
    }, count)
    row(f"pandas read_parquet of a {size / 1e6:.0f} MB frame via fsspec (SeaweedFS)", m["ours"], m["floor"], "s3fs",
        {"obstore's fsspec": m["obstore"]}, "≤ 1.0× s3fs's time", m["ours"] <= m["floor"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and operations")
    parser.add_argument("--rows", default="local,cached,save,large,s3,pandas")
    args = parser.parse_args()
    wanted = set(args.rows.split(","))
    count = 3 if args.quick else 7
    n = 200 if args.quick else 1000
    url = os.environ.get("OBJSTORE_TEST_S3_SEAWEEDFS")
    if ({"s3", "pandas"} & wanted) and not url:
        print("OBJSTORE_TEST_S3_SEAWEEDFS is not set: run `cargo xtask bench --only python`", file=sys.stderr)
        return 2
    print(f"objstore Python bench: medians of {count} interleaved rounds", flush=True)
    with tempfile.TemporaryDirectory(dir=os.environ.get("OBJSTORE_BENCH_DIR")) as tmp:
        if "local" in wanted:
            bench_local_small(tmp, n, count)
        if "cached" in wanted:
            bench_cached(tmp, n * 20, count)
        if "save" in wanted:
            bench_save(tmp, n // 2, count)
        if "large" in wanted:
            bench_large(tmp, count)
    if "s3" in wanted:
        bench_s3(url, n // 4 if not args.quick else 100, count)
    if "pandas" in wanted:
        bench_pandas(url, 3 if args.quick else 5, 20 if args.quick else 100)
    print()
    print("| operation | objstore | floor (same run) | peers (same run) | ratio | target | met |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in ROWS:
        print("| " + " | ".join(r) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
