"""An independent reader of store-manager objects, written from docs/FORMAT.md only.

Usage: read_objects.py ROOT
Walks the store folder ROOT and prints one JSON line per file in a category folder or in
_archive/: where it is, what its header says, and either its value (hex) or why it cannot be
read. Needs the PyPI packages zstandard and xxhash (`cargo xtask test` installs them).
"""

import json
import os
import struct
import sys

import xxhash
import zstandard

MAGIC = b"\x89OSM\r\n\x1a\n"


def read_object(data):
    if data[:8] != MAGIC:
        raise ValueError("not a managed object")
    if len(data) < 16:
        raise ValueError("truncated prefix")
    version, codec, flags, header_len = struct.unpack_from("<BBHI", data, 8)
    if version != 1:
        raise ValueError("unknown version %d" % version)
    if codec not in (0, 1):
        raise ValueError("unknown codec %d" % codec)
    if flags != 0:
        raise ValueError("unknown flags")
    if 16 + header_len > len(data):
        raise ValueError("truncated header")
    header = json.loads(data[16:16 + header_len].decode("utf-8"))
    payload = data[16 + header_len:]
    if codec == 1:
        params = zstandard.get_frame_parameters(payload)
        if params.content_size != header["size"]:
            raise ValueError("frame content size differs from the header")
        value = zstandard.ZstdDecompressor().decompress(payload, max_output_size=header["size"])
    else:
        value = payload
    if len(value) != header["size"]:
        raise ValueError("truncated payload")
    if "xxh3-64:%016x" % xxhash.xxh3_64_intdigest(value) != header["checksum"]:
        raise ValueError("checksum mismatch")
    return header, codec, value


def main(root):
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != ".objstore")
        for name in sorted(files):
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            parts = rel.split("/")
            if parts[0] == "_archive":
                if len(parts) < 3:
                    continue
                place, category, key = "archive", parts[1], "/".join(parts[2:])
            else:
                # Category names start with a lowercase letter or a digit; `_manager/` and
                # `_monitor/` hold the tools' own files.
                if len(parts) < 2 or parts[0].startswith("_"):
                    continue
                place, category, key = "live", parts[0], "/".join(parts[1:])
            with open(path, "rb") as f:
                data = f.read()
            out = {"path": rel, "place": place, "category": category, "key": key}
            try:
                header, codec, value = read_object(data)
                out.update(header=header, compressed=codec == 1, value_hex=value.hex())
                if header["encoding"] == "json":
                    out["value_json"] = json.loads(value.decode("utf-8"))
            except Exception as e:  # the line says what went wrong; the test checks it
                out["error"] = str(e) or type(e).__name__
            print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1])
