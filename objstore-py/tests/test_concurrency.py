"""Threads: the GIL is released during I/O, so calls from many threads overlap.

The S3 test proves it by construction: a small S3 server in this process answers a GET only
once 8 GETs are waiting at once (a barrier). If a call held the GIL while waiting for its
answer, no other thread could issue a request (nor could the server's own threads run), the
barrier would time out and the reads would fail. The local-disk test counts how many calls were
inside the GIL-released section at once and reports the speed-up of 8 threads over 1 without
asserting it (timing is not a test).
"""

from __future__ import annotations

import os
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import objstore
from objstore import _objstore

THREADS = 8


class BarrierS3(BaseHTTPRequestHandler):
    """GET/HEAD of any key: answered once THREADS GETs wait together (else after a timeout, 500)."""

    protocol_version = "HTTP/1.1"
    barrier: threading.Barrier
    seen: list

    def log_message(self, *args):  # keep the test output clean
        pass

    def _headers(self, length: int) -> None:
        self.send_header("Content-Length", str(length))
        self.send_header("ETag", '"v1"')
        self.send_header("Last-Modified", formatdate(usegmt=True))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()

    def do_HEAD(self):
        self.send_response(200)
        self._headers(5)

    def do_GET(self):
        if "list-type=2" in self.path:
            body = b'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>'
            self.send_response(200)
            self._headers(len(body))
            self.wfile.write(body)
            return
        self.seen.append(self.path)
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            self.send_response(500)
            self._headers(0)
            return
        self.send_response(200)
        self._headers(5)
        self.wfile.write(b"value")


def test_eight_threads_have_requests_in_flight_at_once():
    handler = type("Handler", (BarrierS3,), {"barrier": threading.Barrier(THREADS, timeout=20), "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = (f"s3://bucket/p?endpoint=http://127.0.0.1:{server.server_port}&allow_http=true&region=us-east-1"
               "&access_key_id=k&secret_access_key=s&max_retries=0")
        store = objstore.ObjectStore(url, cache_bytes=0)
        results: dict[int, object] = {}

        def read(i: int) -> None:
            try:
                results[i] = store.read_bytes(f"key{i}")
            except Exception as e:  # noqa: BLE001 - reported below
                results[i] = e

        _objstore._in_flight_peak(reset=True)
        threads = [threading.Thread(target=read, args=(i,)) for i in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert results == {i: b"value" for i in range(THREADS)}, results
        assert len(handler.seen) == THREADS
        assert _objstore._in_flight_peak() >= THREADS
    finally:
        server.shutdown()


def test_local_reads_overlap_and_the_speedup_is_reported(tmp_path, capsys):
    store = objstore.ObjectStore(f"file://{tmp_path}/s", cache_bytes=0)
    value = os.urandom(256 * 1024)
    keys = [f"k{i}" for i in range(64)]
    for k in keys:
        store.save_bytes(k, value)
    rounds = 4

    def work(n_threads: int) -> float:
        per_thread = len(keys) * rounds // n_threads

        def loop(offset: int) -> None:
            for j in range(per_thread):
                assert len(store.read_bytes(keys[(offset + j) % len(keys)])) == len(value)

        threads = [threading.Thread(target=loop, args=(i,)) for i in range(n_threads)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - start

    one = work(1)
    _objstore._in_flight_peak(reset=True)
    eight = work(THREADS)
    peak = _objstore._in_flight_peak()
    with capsys.disabled():
        print(f"\n  local read_bytes 256 KiB x {len(keys) * rounds}: 1 thread {one * 1e3:.1f} ms, "
              f"{THREADS} threads {eight * 1e3:.1f} ms (speed-up {one / eight:.2f}x), "
              f"at most {peak} calls in flight at once")
    assert peak >= 2, "no two reads ever ran at once: the GIL is not released during I/O"


def test_concurrent_saves_respect_limits(url):
    store = objstore.ObjectStore(url, max_objects=10)
    errors: list = []
    saved: list = []

    def save(i: int) -> None:
        for j in range(5):
            try:
                store.save(f"t{i}/k{j}", "x")
                saved.append((i, j))
            except objstore.LimitExceededError as e:
                errors.append(e)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(saved) == 10 and len(errors) == THREADS * 5 - 10
    assert len(store.keys()) == 10


def test_iterator_shared_between_threads_errors_cleanly(file_store):
    for i in range(50):
        file_store.save(f"k{i:02}", "v")
    it = iter(file_store)
    seen: list = []
    errors: list = []

    def drain() -> None:
        while True:
            try:
                kvp = next(it)
            except StopIteration:
                return
            except RuntimeError as e:
                errors.append(e)
                continue
            seen.append(kvp.key)

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == [f"k{i:02}" for i in range(50)]
    assert all("another thread" in str(e) for e in errors)


@pytest.mark.parametrize("n", [THREADS])
def test_threads_share_one_cache(file_store, n):
    trusting = objstore.ObjectStore(file_store.url, cache_policy="trust")
    trusting.save("hot", "value")
    trusting.cache_stats()  # starts the hit counters

    def loop() -> None:
        for _ in range(2000):
            assert trusting.read("hot") == "value"

    threads = [threading.Thread(target=loop) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert trusting.cache_stats()["hits"] >= n * 2000
