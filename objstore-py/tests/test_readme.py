"""The README's Python examples run as written (in a fresh folder, one namespace, in order), on
local disk, with the S3 URL of the pandas example pointed at a test server and the metrics
port at a free one."""

from __future__ import annotations

import pathlib
import re

from conftest import s3_base, with_prefix

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"
EXAMPLE_S3_URL = "s3://bucket/prefix?endpoint=http://127.0.0.1:8333&region=us-east-1"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_examples_run(tmp_path, monkeypatch):
    blocks = python_blocks()
    assert len(blocks) >= 3, "the README's Python section lost its examples"
    monkeypatch.chdir(tmp_path)
    s3 = with_prefix(s3_base("moto"), f"readme-{tmp_path.name}")
    namespace: dict = {}
    for block in blocks:
        code = block.replace(EXAMPLE_S3_URL, s3).replace("127.0.0.1:9184", "127.0.0.1:0")
        exec(compile(code, str(README), "exec"), namespace)  # noqa: S102 - the README's own code
    assert namespace["store"].read_json("params") == {"lookback": 20}
    assert len(namespace["df"]) == 2
