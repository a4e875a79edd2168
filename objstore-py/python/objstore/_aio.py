"""Helpers of the ``*_async`` methods: a Rust task finishes on the module's runtime and hands
its outcome to the asyncio loop that awaits it, unless the awaiting future was cancelled."""

from __future__ import annotations

import asyncio


def resolve(future: asyncio.Future, ok: bool, value: object) -> None:
    """Sets the future's result (or exception); a cancelled future is left alone."""
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)  # type: ignore[arg-type]
