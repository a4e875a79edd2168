"""objstore: a key-value Object Store in the spirit of QuantConnect LEAN's, with a Rust core.

LEAN's API, in both spellings (``save``/``Save``, ``read``/``Read``, ...)::

    import objstore
    store = objstore.ObjectStore("file://./storage")   # the default; s3://bucket/prefix, memory://
    store.save("12345/string_key", "text")              # -> True
    store.save_bytes("k.bin", b"\\x00\\x01")
    store.save_json("params", {"lookback": 20})
    store.read("12345/string_key"); store.read_bytes("k.bin"); store.read_json("params")
    store.contains_key("k.bin")                         # True
    for kvp in store:                                   # LEAN's iteration, values read lazily
        print(kvp.Key, len(kvp.Value))
    path = store.get_file_path("df_to_parquet")         # pandas writes there ...
    store.save("df_to_parquet")                         # ... and this saves the file

The manager and monitor (categories, quotas, expiry, compression, metadata, statistics)::

    from objstore import ObjectStoreManager, StorageCategory, StorageMonitor, Settings
    manager = ObjectStoreManager(store, Settings.tier("5GB"))
    manager.save(key="state_2025-01-15", data={"equity": 1e5},
                 category=StorageCategory.TRADING_STATE, expire_days=90)
    stats = StorageMonitor(manager).get_statistics()

pandas and pyarrow read and write through the store with the fsspec filesystem ``objstore://``
(``pip install fsspec``)::

    df.to_parquet("objstore://frames/spy.parquet", storage_options={"url": "s3://bucket/prefix"})

Errors are the classes of :mod:`objstore.errors` (``NotFoundError`` is a ``KeyError``, ...).
Every I/O call releases the GIL; ``*_async`` methods return awaitables. A store used in a child
process after ``os.fork()`` reopens itself there.
"""

from __future__ import annotations

from objstore import errors
from objstore._objstore import (
    DEFAULT_URL,
    BackgroundTask,
    KeyValuePair,
    ObjectStore,
    ObjectStoreManager,
    Settings,
    StorageCategory,
    StorageMonitor,
    StoredObject,
)
from objstore.errors import (
    AlreadyExistsError,
    ClosedError,
    ConfigError,
    ConflictError,
    CorruptError,
    DisabledError,
    InvalidCategoryError,
    InvalidKeyError,
    LimitExceededError,
    NotFoundError,
    NotManagedError,
    ObjectTooLargeError,
    ObjstoreError,
    PermissionDeniedError,
    PreconditionError,
    QuotaExceededError,
    SavesRefusedError,
    SerializationError,
    StorageError,
    UnserializableError,
)

__all__ = [
    "DEFAULT_URL",
    "BackgroundTask",
    "KeyValuePair",
    "ObjectStore",
    "ObjectStoreManager",
    "Settings",
    "StorageCategory",
    "StorageMonitor",
    "StoredObject",
    "errors",
    "open",
    "AlreadyExistsError",
    "ClosedError",
    "ConfigError",
    "ConflictError",
    "CorruptError",
    "DisabledError",
    "InvalidCategoryError",
    "InvalidKeyError",
    "LimitExceededError",
    "NotFoundError",
    "NotManagedError",
    "ObjectTooLargeError",
    "ObjstoreError",
    "PermissionDeniedError",
    "PreconditionError",
    "QuotaExceededError",
    "SavesRefusedError",
    "SerializationError",
    "StorageError",
    "UnserializableError",
]


def open(url: str | None = None, **options: object) -> ObjectStore:  # noqa: A001 - like io.open
    """Opens the store at ``url`` (default ``file://./storage``); the same as ``ObjectStore(url, **options)``."""
    return ObjectStore(url, **options)  # type: ignore[arg-type]
