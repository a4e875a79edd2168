"""An fsspec filesystem over an ObjectStore: ``objstore://KEY``.

pandas, pyarrow, dask and anything else that speaks fsspec read and write the store's objects
through it, so every byte goes through the store's cache, limits and permissions::

    import pandas as pd
    opts = {"url": "s3://bucket/prefix?endpoint=http://127.0.0.1:8333&region=us-east-1"}
    df.to_parquet("objstore://frames/spy.parquet", storage_options={"store_url": opts["url"]})
    df = pd.read_parquet("objstore://frames/spy.parquet", storage_options={"store_url": opts["url"]})
    df.to_csv("objstore://frames/spy.csv", storage_options=opts)

    import fsspec
    with fsspec.open("objstore://notes/today.txt", "w", url="memory://") as f:
        f.write("bought SPY")

The filesystem is registered with fsspec under the protocol ``objstore`` (an entry point of
the package), so no import is needed. ``storage_options`` are ``ObjectStore``'s: ``url`` and
the keyword options (``max_bytes``, ``cache_policy``, ...); without a URL, the store is
``$OBJSTORE_URL`` (as for the ``objstore`` command), else ``file://./storage``. To use a store
you already have, ``objstore.fsspec.filesystem(store)``.

pandas' parquet functions hand ``storage_options`` to ``fsspec.core.url_to_fs(url, **options)``,
whose own first parameter is named ``url``: for ``pd.read_parquet`` and ``df.to_parquet`` spell
the option ``store_url`` (it means the same everywhere).

Paths are keys; folders are key prefixes (``a/b`` is a folder when ``a/b/...`` keys exist).
``mkdir`` creates nothing, since a prefix exists once a key under it does.

Reads: byte ranges (``cat_file(path, start, end)``, ``cat_ranges``, and the blocks an open
file reads ahead) go through ``store.read_range``/``read_ranges``, which fetch only those
bytes from storage (a ``pread`` on disk, one ``Range`` GET on S3, each conditional on the
version the read started from), so a parquet footer read does not download the file.
Writes are buffered in memory and saved as one value when the file is closed (or the
transaction commits).
"""

from __future__ import annotations

import datetime as _dt
import io
import os
from typing import Any

from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from objstore._objstore import ObjectStore
from objstore.errors import NotFoundError

__all__ = ["ObjstoreFileSystem", "ObjstoreFile", "filesystem"]


def filesystem(store: ObjectStore) -> "ObjstoreFileSystem":
    """An fsspec filesystem over ``store`` (not shared with fsspec's instance cache)."""
    return ObjstoreFileSystem(store=store, skip_instance_cache=True)


class ObjstoreFileSystem(AbstractFileSystem):
    """fsspec's filesystem interface over an :class:`objstore.ObjectStore`.

    ``ObjstoreFileSystem(url=None, store=None, **options)``: the store at ``url`` opened with
    ``options`` (``ObjectStore``'s keyword options), or ``store`` itself.
    """

    protocol = ("objstore",)
    root_marker = ""

    def __init__(
        self,
        url: str | None = None,
        store: ObjectStore | None = None,
        store_url: str | None = None,
        **options: Any,
    ) -> None:
        fs_options = {k: options.pop(k) for k in list(options) if k in _FSSPEC_OPTIONS}
        # pandas retries a read refused with PermissionError with anon=True: meaningless here.
        options.pop("anon", None)
        super().__init__(**fs_options)
        if store is None:
            store = ObjectStore(url or store_url or os.environ.get("OBJSTORE_URL"), **options)
        self.store = store
        # The last whole value read for a file, by key: (version, bytes). Readers such as
        # pyarrow open a file more than once (schema, then data); while the store reads whole
        # values only, this saves a second download of an unchanged object.
        self._whole: dict[str, tuple[str, bytes]] = {}

    # ----- paths ------------------------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = str(path)
        for proto in cls.protocol:
            if path.startswith(proto + "://"):
                path = path[len(proto) + 3 :]
        return path.strip("/")

    def _key(self, path: str) -> str:
        return self._strip_protocol(path)

    # ----- listing ----------------------------------------------------------------------------

    def _file_info(self, meta: dict) -> dict:
        return {
            "name": meta["key"],
            "size": meta["size"],
            "type": "file",
            "version": meta["version"],
            "mtime": meta["modified"],
        }

    @staticmethod
    def _dir_info(name: str) -> dict:
        return {"name": name, "size": 0, "type": "directory"}

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list:
        key = self._key(path)
        prefix = key + "/" if key else ""
        entries: dict[str, dict] = {}
        for meta in self.store.list(prefix):
            rest = meta["key"][len(prefix) :]
            head, sep, _ = rest.partition("/")
            if sep:
                name = prefix + head
                entries.setdefault(name, self._dir_info(name))
            else:
                entries[meta["key"]] = self._file_info(meta)
        if not entries and key:
            # `ls` of a file is the file; of nothing, an error.
            info = self.info(key)
            return [info] if detail else [info["name"]]
        out = sorted(entries.values(), key=lambda e: e["name"])
        return out if detail else [e["name"] for e in out]

    def info(self, path: str, **kwargs: Any) -> dict:
        key = self._key(path)
        if not key:
            return self._dir_info("")
        try:
            return self._file_info(self.store.head(key))
        except NotFoundError:
            pass
        if self.store.list_keys(key + "/"):
            return self._dir_info(key)
        raise FileNotFoundError(f"no object or folder '{key}' in {self.store!r}")

    def find(self, path: str, maxdepth: int | None = None, withdirs: bool = False, detail: bool = False, **kwargs: Any):
        key = self._key(path)
        prefix = key + "/" if key else ""
        out: dict[str, dict] = {}
        try:
            meta = self.store.head(key) if key else None
        except NotFoundError:
            meta = None
        if meta is not None:
            out[key] = self._file_info(meta)
        for meta in self.store.list(prefix):
            rest = meta["key"][len(prefix) :]
            parts = rest.split("/")
            if maxdepth is not None and len(parts) > maxdepth:
                if withdirs:
                    name = prefix + "/".join(parts[:maxdepth])
                    out.setdefault(name, self._dir_info(name))
                continue
            if withdirs:
                for i in range(1, len(parts)):
                    name = prefix + "/".join(parts[:i])
                    out.setdefault(name, self._dir_info(name))
            out[meta["key"]] = self._file_info(meta)
        if withdirs and key and out and meta is None:
            out.setdefault(key, self._dir_info(key))
        names = sorted(out)
        return {n: out[n] for n in names} if detail else names

    def exists(self, path: str, **kwargs: Any) -> bool:
        try:
            self.info(path)
            return True
        except FileNotFoundError:
            return False

    def modified(self, path: str) -> _dt.datetime:
        info = self.info(path)
        if info["type"] != "file" or info.get("mtime") is None:
            raise FileNotFoundError(f"'{path}' has no modification time (not an object)")
        return _dt.datetime.fromtimestamp(info["mtime"], tz=_dt.timezone.utc)

    def ukey(self, path: str) -> str:
        return self.info(path).get("version") or super().ukey(path)

    # ----- folders (prefixes) -----------------------------------------------------------------

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        """Nothing to create: a folder exists once a key under it does."""

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        """Nothing to create: a folder exists once a key under it does."""

    def rmdir(self, path: str) -> None:
        """Nothing to remove: a folder disappears with its last key."""

    # ----- reading ----------------------------------------------------------------------------

    def _read_range(self, key: str, start: int | None, end: int | None) -> bytes:
        """Bytes ``start`` to ``end`` of ``key``'s value: the store's ``read_range``."""
        try:
            if start is None and end is None:
                return self.store.read_bytes(key)
            return self.store.read_range(key, start or 0, end)
        except NotFoundError as e:
            raise FileNotFoundError(str(e)) from e

    def _read_whole(self, key: str, version: str | None) -> bytes:
        """The whole value of ``key``; served from the last one read when its version is still
        ``version`` (the version the file's ``info`` saw)."""
        hit = self._whole.get(key)
        if hit is not None and version is not None and hit[0] == version:
            return hit[1]
        try:
            data, meta = self.store.read_object(key)
        except NotFoundError as e:
            raise FileNotFoundError(str(e)) from e
        self._whole = {key: (meta["version"], data)} if len(data) <= _WHOLE_MEMO_BYTES else {}
        return data

    def invalidate_cache(self, path: str | None = None) -> None:
        self._whole = {}
        super().invalidate_cache(path)

    def cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any) -> bytes:
        return self._read_range(self._key(path), start, end)

    def cat_ranges(self, paths: list, starts: Any, ends: Any, max_gap: Any = None, on_error: str = "return", **kwargs: Any) -> list:
        if not isinstance(starts, list):
            starts = [starts] * len(paths)
        if not isinstance(ends, list):
            ends = [ends] * len(paths)
        if len(starts) != len(paths) or len(ends) != len(paths):
            raise ValueError("cat_ranges needs as many starts and ends as paths")
        # One read of each object for all its ranges.
        by_key: dict[str, list[int]] = {}
        for i, p in enumerate(paths):
            by_key.setdefault(self._key(p), []).append(i)
        out: list = [None] * len(paths)
        for key, indexes in by_key.items():
            try:
                parts = self.store.read_ranges(key, [(starts[i], ends[i]) for i in indexes])
            except Exception as e:  # noqa: BLE001 - fsspec's on_error contract
                if isinstance(e, NotFoundError):
                    e = FileNotFoundError(str(e))
                if on_error == "raise":
                    raise e
                parts = [e] * len(indexes)
            for i, part in zip(indexes, parts):
                out[i] = part
        return out

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict | None = None,
        **kwargs: Any,
    ) -> "ObjstoreFile":
        if "a" in mode:
            raise NotImplementedError("objstore files cannot be appended to; read, then write the whole value")
        cache_type = kwargs.pop("cache_type", None) or ("readahead" if self.store.ranged_reads else "all")
        return ObjstoreFile(
            self,
            self._key(path),
            mode=mode,
            block_size=block_size or self.blocksize,
            autocommit=autocommit,
            cache_type=cache_type,
            cache_options=cache_options,
            **kwargs,
        )

    # ----- writing ----------------------------------------------------------------------------

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        self.store.save_bytes(self._key(path), value)

    def rm_file(self, path: str) -> None:
        try:
            self.store.delete(self._key(path))
        except NotFoundError as e:
            raise FileNotFoundError(str(e)) from e

    def _rm(self, path: str) -> None:
        self.rm_file(path)

    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> None:
        paths = self.expand_path(path, recursive=recursive, maxdepth=maxdepth)
        for p in reversed(paths):
            if self.isfile(p):
                self.rm_file(p)

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        src, dst = self._key(path1), self._key(path2)
        try:
            data = self.store.read_bytes(src)
        except NotFoundError as e:
            raise FileNotFoundError(str(e)) from e
        self.store.save_bytes(dst, data)


# The largest whole value kept for a second open of the same unchanged object.
_WHOLE_MEMO_BYTES = 512 * 1024 * 1024

_FSSPEC_OPTIONS = {"use_listings_cache", "listings_expiry_time", "max_paths", "asynchronous", "loop"}


class ObjstoreFile(AbstractBufferedFile):
    """A file of :class:`ObjstoreFileSystem`: reads through the store's ranges, writes one value
    on close (or when the transaction commits)."""

    def __init__(self, fs: ObjstoreFileSystem, path: str, mode: str = "rb", **kwargs: Any) -> None:
        self._pending: bytes | None = None
        super().__init__(fs, path, mode=mode, **kwargs)

    def _fetch_range(self, start: int, end: int) -> bytes:
        if not self.fs.store.ranged_reads and start == 0 and end >= self.size:
            # The "all" cache fetches the whole value once: maybe already read by another open.
            return self.fs._read_whole(self.path, self.details.get("version"))
        return self.fs._read_range(self.path, start, end)

    def _initiate_upload(self) -> None:
        """Nothing to start: the value is saved whole when the file closes."""

    def _upload_chunk(self, final: bool = False) -> bool:
        if not final:
            return False  # keep buffering: the store saves whole values
        data = self.buffer.getvalue() if isinstance(self.buffer, io.BytesIO) else bytes(self.buffer)
        if self.autocommit:
            self.fs.store.save_bytes(self.path, data)
        else:
            self._pending = data
        return True

    def commit(self) -> None:
        if self._pending is not None:
            self.fs.store.save_bytes(self.path, self._pending)
            self._pending = None

    def discard(self) -> None:
        self._pending = None
