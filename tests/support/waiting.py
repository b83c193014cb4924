"""Polling helpers for tests on the real stack: wait for a condition, bounded in time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tests.support.load import budget

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T]],
    *,
    timeout: float = 20.0,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Wait until `check()` returns something truthy; fail with `what` after `timeout` seconds (as on an
    idle machine: scaled by the machine's load, tests.support.load — a bound, not the claim)."""
    timeout = budget(timeout)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: T | None = None
    while loop.time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"{what} not reached in {timeout:.0f}s (last: {last!r})")
