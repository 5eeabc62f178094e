"""Waiting for something a test cannot be told about (another process, the emulator)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def wait_until(
    check: Callable[[], Awaitable[bool]],
    timeout: float,  # noqa: ASYNC109 - a safety net, not a measured threshold
    what: str,
    describe: Callable[[], str] = lambda: "",
    every: float = 0.05,
) -> None:
    """Poll ``check`` every ``every`` s until it is true; past ``timeout`` s fail with
    ``what`` and ``describe()`` (e.g. the tail of a child process's log)."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{describe()}")
        await asyncio.sleep(every)
