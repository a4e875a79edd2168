"""Fixtures: a fresh store on each backend the suite runs on.

``backend`` is ``file`` (a temporary folder), ``seaweedfs`` or ``moto`` (the S3 servers that
``cargo xtask test`` starts and names in OBJSTORE_TEST_S3_SEAWEEDFS / OBJSTORE_TEST_S3_MOTO).
Each S3 test gets its own prefix in the bucket. Without the variables the S3 tests fail with a
message saying how to get the servers: they never pass without having run.
"""

from __future__ import annotations

import os
import uuid

import pytest

import objstore

BACKENDS = ["file", "seaweedfs", "moto"]
S3_ENV = {"seaweedfs": "OBJSTORE_TEST_S3_SEAWEEDFS", "moto": "OBJSTORE_TEST_S3_MOTO"}


def s3_base(backend: str) -> str:
    """The bucket URL of an S3 test server (with endpoint and credentials)."""
    var = S3_ENV[backend]
    url = os.environ.get(var)
    if not url:
        pytest.fail(
            f"{var} is not set: run the suite with `cargo xtask test`, or start the servers with "
            f"`cargo xtask servers` and export what it prints"
        )
    return url


def with_prefix(url: str, prefix: str) -> str:
    """``s3://bucket?query`` -> ``s3://bucket/prefix?query``."""
    base, sep, query = url.partition("?")
    return f"{base.rstrip('/')}/{prefix}{sep}{query}"


def store_url(backend: str, tmp_path) -> str:
    if backend == "file":
        return f"file://{tmp_path}/storage"
    if backend == "memory":
        return "memory://"
    return with_prefix(s3_base(backend), f"py-{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def url(backend, tmp_path) -> str:
    return store_url(backend, tmp_path)


@pytest.fixture
def store(url, tmp_path):
    s = objstore.ObjectStore(url, staging_dir=str(tmp_path / "staging"))
    yield s
    s.close()


@pytest.fixture
def file_store(tmp_path):
    s = objstore.ObjectStore(f"file://{tmp_path}/storage")
    yield s
    s.close()
