"""Type stubs of the native module (import everything from ``objstore``)."""

from __future__ import annotations

import datetime
import os
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, Literal, TypedDict, final

DEFAULT_URL: str
"""LEAN's default store: ``file://./storage``."""

Json = Any
BytesLike = bytes | bytearray | memoryview

class ObjectInfo(TypedDict):
    """What ``head`` and ``list`` return for one object."""

    key: str
    size: int
    version: str
    modified: float | None

class Usage(TypedDict):
    bytes: int
    objects: int

class LimitsInfo(TypedDict):
    max_bytes: int | None
    max_objects: int | None
    max_object_bytes: int | None

@final
class KeyValuePair:
    """One (key, value) pair of an iteration over a store. Unpacks as ``key, value = kvp``."""

    @property
    def key(self) -> str:
        """The key."""
    @property
    def Key(self) -> str:
        """LEAN's spelling of :attr:`key`."""
    @property
    def value(self) -> bytes:
        """The value."""
    @property
    def Value(self) -> bytes:
        """LEAN's spelling of :attr:`value`."""
    def __iter__(self) -> Iterator[str | bytes]: ...

@final
class Entries:
    """The iterator of ``iter(store)``: ``KeyValuePair`` objects sorted by key, read lazily."""

    def __iter__(self) -> Entries: ...
    def __next__(self) -> KeyValuePair: ...

@final
class ObjectStore:
    """A key-value Object Store (LEAN's API) on local disk, S3-compatible storage or memory.

    See ``help(objstore.ObjectStore)`` for the options. LEAN's PascalCase names are aliases.
    """

    def __init__(
        self,
        url: str | os.PathLike[str] | None = None,
        *,
        max_bytes: int | None = None,
        max_objects: int | None = None,
        max_object_bytes: int | None = None,
        read: bool = True,
        write: bool = True,
        delete: bool = True,
        cache_bytes: int | None = None,
        cache_max_entry_bytes: int | None = None,
        cache_policy: Literal["revalidate", "trust"] | float | None = None,
        options: dict[str, Any] | None = None,
        staging_dir: str | None = None,
    ) -> None: ...
    def save(self, key: str, value: str | BytesLike | None = None) -> bool:
        """Saves text (UTF-8) or bytes under ``key``; without a value, the file at ``get_file_path(key)``."""
    def Save(self, key: str, value: str | BytesLike | None = None) -> bool:
        """LEAN's spelling of :meth:`save`."""
    def SaveString(self, key: str, value: str) -> bool:
        """LEAN's ``SaveString``: saves text."""
    def save_bytes(self, key: str, value: BytesLike) -> bool:
        """Saves bytes under ``key``."""
    def SaveBytes(self, key: str, value: BytesLike) -> bool:
        """LEAN's spelling of :meth:`save_bytes`."""
    def save_json(self, key: str, value: Json) -> bool:
        """Saves ``value`` as JSON."""
    def SaveJson(self, key: str, value: Json) -> bool:
        """LEAN's spelling of :meth:`save_json`."""
    def read(self, key: str) -> str:
        """The text under ``key``; ``NotFoundError`` (a ``KeyError``) when absent."""
    def Read(self, key: str) -> str:
        """LEAN's spelling of :meth:`read`."""
    def ReadString(self, key: str) -> str:
        """LEAN's ``ReadString``."""
    def read_bytes(self, key: str) -> bytes:
        """The bytes under ``key``."""
    def ReadBytes(self, key: str) -> bytes:
        """LEAN's spelling of :meth:`read_bytes`."""
    def read_json(self, key: str) -> Json:
        """The JSON value under ``key``."""
    def ReadJson(self, key: str) -> Json:
        """LEAN's spelling of :meth:`read_json`."""
    def read_object(self, key: str) -> tuple[bytes, ObjectInfo]:
        """The value with its metadata, read together (the version is that of these bytes)."""
    def read_range(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``start`` to ``end`` of the value (Python slice rules)."""
    def read_ranges(self, key: str, ranges: Iterable[tuple[int | None, int | None]]) -> list[bytes]:
        """Several ranges of one value, fetched once."""
    @property
    def ranged_reads(self) -> bool:
        """True when ranges are fetched as ranges from storage."""
    def contains_key(self, key: str) -> bool:
        """True when an object exists under ``key``."""
    def ContainsKey(self, key: str) -> bool:
        """LEAN's spelling of :meth:`contains_key`."""
    def __contains__(self, key: str) -> bool: ...
    def delete(self, key: str) -> bool:
        """Deletes the object; ``NotFoundError`` when absent."""
    def Delete(self, key: str) -> bool:
        """LEAN's spelling of :meth:`delete`."""
    def keys(self) -> list[str]:
        """Every key, sorted."""
    @property
    def Keys(self) -> list[str]:
        """LEAN's ``Keys`` property."""
    def list_keys(self, prefix: str = "") -> list[str]:
        """The keys starting with ``prefix``, sorted."""
    def list(self, prefix: str = "") -> list[ObjectInfo]:
        """The objects whose key starts with ``prefix``, sorted."""
    def head(self, key: str) -> ObjectInfo:
        """The object's metadata without its value."""
    def __iter__(self) -> Entries:
        """(key, value) pairs as ``KeyValuePair`` objects, values read lazily."""
    def get_file_path(self, key: str) -> str:
        """A local file path for ``key`` (LEAN's ``GetFilePath``)."""
    def GetFilePath(self, key: str) -> str:
        """LEAN's spelling of :meth:`get_file_path`."""
    def persist(self) -> None:
        """Uploads staged files that changed."""
    def clear(self) -> None:
        """Empties the read cache."""
    def Clear(self) -> None:
        """LEAN's spelling of :meth:`clear`."""
    def project(self, project_id: str) -> ObjectStore:
        """A view whose keys live under ``project_id/``."""
    def usage(self) -> Usage:
        """Bytes and objects held now."""
    @property
    def limits(self) -> LimitsInfo:
        """The store's limits."""
    @property
    def url(self) -> str:
        """The URL, without credentials."""
    def cache_stats(self) -> dict[str, int] | None:
        """The read cache's counters, or None."""
    @property
    def closed(self) -> bool:
        """True once closed."""
    def close(self) -> None:
        """Uploads staged files and closes the handle."""
    def __enter__(self) -> ObjectStore: ...
    def __exit__(self, *args: object) -> bool: ...
    def save_async(self, key: str, value: str | BytesLike | None = None) -> Awaitable[bool]:
        """Awaitable :meth:`save`."""
    def save_bytes_async(self, key: str, value: BytesLike) -> Awaitable[bool]:
        """Awaitable :meth:`save_bytes`."""
    def save_json_async(self, key: str, value: Json) -> Awaitable[bool]:
        """Awaitable :meth:`save_json`."""
    def read_async(self, key: str) -> Awaitable[str]:
        """Awaitable :meth:`read`."""
    def read_bytes_async(self, key: str) -> Awaitable[bytes]:
        """Awaitable :meth:`read_bytes`."""
    def read_json_async(self, key: str) -> Awaitable[Json]:
        """Awaitable :meth:`read_json`."""
    def contains_key_async(self, key: str) -> Awaitable[bool]:
        """Awaitable :meth:`contains_key`."""
    def delete_async(self, key: str) -> Awaitable[bool]:
        """Awaitable :meth:`delete`."""
    def keys_async(self) -> Awaitable[list[str]]:
        """Awaitable :meth:`keys`."""
    def get_file_path_async(self, key: str) -> Awaitable[str]:
        """Awaitable :meth:`get_file_path`."""

@final
class StorageCategory:
    """A storage category; the seven built-in ones are class attributes."""

    TRADING_STATE: StorageCategory
    OPTIONS_GREEKS: StorageCategory
    LLM_CACHE: StorageCategory
    BACKTEST_RESULTS: StorageCategory
    ML_MODELS: StorageCategory
    MONITORING_DATA: StorageCategory
    RESEARCH_DATA: StorageCategory
    def __init__(self, name: str | StorageCategory) -> None: ...
    @property
    def name(self) -> str:
        """The category's name."""
    @property
    def value(self) -> str:
        """The same as :attr:`name`."""
    @property
    def is_builtin(self) -> bool:
        """True for the seven built-in categories."""
    @staticmethod
    def builtin() -> list[StorageCategory]:
        """The seven built-in categories."""

Category = StorageCategory | str

@final
class Settings:
    """The manager's settings (settings.json's ``object_store`` section)."""

    def __init__(self) -> None: ...
    @staticmethod
    def from_file(path: str | os.PathLike[str]) -> Settings:
        """Reads settings.json."""
    @staticmethod
    def from_dict(settings: dict[str, Any]) -> Settings:
        """Settings from a dict shaped like settings.json."""
    @staticmethod
    def from_json(text: str) -> Settings:
        """Settings from settings.json's text."""
    @staticmethod
    def tier(name: str) -> Settings:
        """A tier's defaults: ``"free"``, ``"2GB"``, ``"5GB"``, ``"10GB"``."""
    @property
    def tier_name(self) -> str: ...
    @property
    def max_storage_gb(self) -> float: ...
    @property
    def max_files(self) -> int: ...
    @property
    def max_file_size_mb(self) -> float: ...
    @property
    def compression_enabled(self) -> bool: ...
    @property
    def storage_allocation(self) -> list[tuple[str, float]]: ...
    def to_dict(self) -> dict[str, Any]:
        """Every setting as a dict."""

@final
class StoredObject:
    """What the manager knows about one stored object."""

    @property
    def key(self) -> str: ...
    @property
    def category(self) -> StorageCategory: ...
    @property
    def size(self) -> int: ...
    @property
    def stored_size(self) -> int: ...
    @property
    def compressed(self) -> bool: ...
    @property
    def created(self) -> datetime.datetime: ...
    @property
    def expires(self) -> datetime.datetime | None: ...
    @property
    def metadata(self) -> dict[str, Any]: ...
    @property
    def checksum(self) -> str: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class ObjectStoreManager:
    """Categories, quotas, expiry, compression and metadata over an ObjectStore."""

    def __init__(self, store: ObjectStore | str, settings: Settings | dict[str, Any] | str | os.PathLike[str] | None = None) -> None: ...
    @property
    def store(self) -> ObjectStore: ...
    @property
    def settings(self) -> Settings: ...
    def save(
        self,
        key: str,
        data: Json | BytesLike,
        category: Category | None = None,
        expire_days: int | None = None,
        metadata: dict[str, Any] | None = None,
        force_compress: bool = False,
    ) -> StoredObject:
        """Saves ``data`` (JSON or bytes) under ``key`` in ``category``."""
    def load(self, key: str) -> Json | bytes | None:
        """The data, or None when absent or expired."""
    def load_bytes(self, key: str) -> bytes | None: ...
    def get_metadata(self, key: str) -> StoredObject | None: ...
    def list_keys(self, category: Category) -> list[str]: ...
    def list_objects(self, category: Category) -> list[StoredObject]: ...
    def find(self, predicate: Callable[[StoredObject], bool]) -> list[StoredObject]: ...
    def delete(self, key: str) -> bool: ...
    def cleanup_expired(self) -> int: ...
    def cleanup(self) -> dict[str, Any]: ...
    def usage_by_category(self) -> dict[str, dict[str, Any]]: ...
    def list_archived(self, category: Category) -> list[dict[str, Any]]: ...
    def load_archived_bytes(self, category: Category, key: str) -> bytes | None: ...
    def save_async(
        self,
        key: str,
        data: Json | BytesLike,
        category: Category | None = None,
        expire_days: int | None = None,
        metadata: dict[str, Any] | None = None,
        force_compress: bool = False,
    ) -> Awaitable[StoredObject]: ...
    def load_async(self, key: str) -> Awaitable[Json | bytes | None]: ...

@final
class BackgroundTask:
    """Background work of a monitor; ``stop()`` ends it."""

    @property
    def address(self) -> str | None: ...
    @property
    def running(self) -> bool: ...
    def stop(self) -> None: ...
    def __enter__(self) -> BackgroundTask: ...
    def __exit__(self, *args: object) -> bool: ...

@final
class StorageMonitor:
    """Statistics, health, actions, suggestions, the report and Prometheus metrics."""

    def __init__(self, manager: ObjectStoreManager) -> None: ...
    @property
    def manager(self) -> ObjectStoreManager: ...
    def get_statistics(self) -> dict[str, Any]:
        """``current_usage_gb``, ``max_storage_gb``, ``usage_pct``, ``files``, ``max_files``,
        ``growth_rate_gb_per_day``, ``days_until_full``, ``by_category``, ..."""
    def health(self) -> Literal["healthy", "warning", "critical", "full"]: ...
    def is_healthy(self) -> bool: ...
    def check(self) -> dict[str, Any]: ...
    def suggest_cleanup(self) -> dict[str, Any]: ...
    def report(self) -> str: ...
    def log_lines(self) -> str: ...
    def metrics_text(self) -> str: ...
    def serve_metrics(self, address: str = "127.0.0.1:9184") -> BackgroundTask: ...
    def start_periodic(self, interval_seconds: float | None = None) -> BackgroundTask: ...

def _reopen(url: str, kwargs: dict[str, Any]) -> ObjectStore: ...
def _view(parent: ObjectStore, project: str) -> ObjectStore: ...
def _after_fork_in_child() -> None: ...
def _in_flight_peak(reset: bool = False) -> int: ...
def _generation() -> int: ...
def _bench_rust(url: str, op: str, keys: list[str], concurrency: int = 1, size: int = 1024) -> float: ...
