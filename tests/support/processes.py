"""Nothing left running: the processes a test started are gone (or only zombies awaiting their parent)."""

from __future__ import annotations

import time

import psutil

from tests.support.load import budget


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def left_running(pids: list[int], within: float = 1.0) -> list[int]:
    """The processes of `pids` still running after at most `within` seconds (scaled to the machine's
    load): returns as soon as they are all gone, instead of sleeping a fixed grace period."""
    deadline = time.monotonic() + budget(within)
    while True:
        alive = [pid for pid in pids if _running(pid)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)
