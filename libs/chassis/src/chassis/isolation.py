"""Run untrusted work (parsing an uploaded file) in a throw-away process with memory, CPU and wall-clock
limits, at most `max_workers` at a time, so a hostile file costs a bounded amount and the service's
event loop keeps answering (issue 16: a 1.6 KB spreadsheet took a service to 1.4 GB).

One process per call, forked from multiprocessing's fork server (started once, single-threaded, with
the parsing libraries preloaded so a call costs a fork, not an import): a limit hit kills only that
call, the next one starts clean, and nothing of the file's parsing stays in the service's memory.

- memory: `RLIMIT_AS` = the process's size at start + `memory_bytes` (Python raises MemoryError, or a
  C library aborts: both end as `LimitExceeded`);
- CPU: `RLIMIT_CPU` (the kernel sends SIGXCPU, then SIGKILL);
- wall clock: the parent kills the process after `wall_seconds` (a parser blocked, not spinning).

The function and its arguments and result must pickle; the function is named by module, so it must be
importable from the fork server (a module-level function of an installed package, not of `__main__`).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import signal
import sys
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, TypeVar

T = TypeVar("T")

_MAIN_PATH_VARIABLE = "CHASSIS_ISOLATION_MAIN_PATH"


def _skip_rerunning_main() -> None:
    """In the fork server (which imports this module): say its `__main__` is the service's entry script.

    multiprocessing sends each new process the parent's entry script, and the process re-runs it
    unless its `__main__` already has that file: for a service that is every import again (~1-2 s per
    upload). Python 3.11's fork server never preloads it (it filters the wrong key), so each worker
    would. Workers run functions of installed modules, never of `__main__`, so nothing is lost."""
    path = os.environ.get(_MAIN_PATH_VARIABLE)
    main = sys.modules.get("__main__")
    if (
        path
        and main is not None
        and "multiprocessing.forkserver" in sys.modules
        and not hasattr(main, "__file__")
    ):
        main.__file__ = path


_skip_rerunning_main()


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 320 * 1024 * 1024
    cpu_seconds: int = 20
    wall_seconds: float = 30.0


class LimitExceeded(Exception):
    """The work needed more than its limits allow; `reason` says which, in the user's words."""

    def __init__(self, reason: str, *, peak_rss_bytes: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.peak_rss_bytes = peak_rss_bytes


@dataclass(frozen=True)
class Outcome:
    """What came back, with the worker's peak resident memory (for logs, metrics and tests)."""

    value: Any
    peak_rss_bytes: int


def _process_size() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux counts KiB


def _work(pipe: Connection, limits: Limits, func: Callable[..., Any], args: tuple[Any, ...]) -> None:
    # The limit is counted from what the fork server already mapped (libraries, preloaded modules):
    # `memory_bytes` is what the file may cost, whatever the interpreter's own size on this machine.
    ceiling = _process_size() + limits.memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    try:
        value = func(*args)
    except MemoryError:
        message: tuple[str, Any, int] = ("memory", None, _peak_rss())
    except Exception as error:
        message = ("raised", error, _peak_rss())
    else:
        message = ("ok", value, _peak_rss())
    try:
        pipe.send(message)
    except MemoryError:
        pipe.send(("memory", None, _peak_rss()))
    except Exception as unpicklable:  # an exception that does not pickle: its text still goes back
        pipe.send(("raised", RuntimeError(f"{type(message[1]).__name__}: {unpicklable}"), _peak_rss()))
    pipe.close()


class Isolated:
    """`await Isolated(limits=..., preload=[...]).run(func, *args)` → func's value, or its exception
    re-raised here, or `LimitExceeded`."""

    def __init__(
        self, *, limits: Limits | None = None, max_workers: int = 2, preload: Sequence[str] = ()
    ) -> None:
        self.limits = limits or Limits()
        self.max_workers = max_workers
        self._context = multiprocessing.get_context("forkserver")
        from multiprocessing import spawn

        main_path = spawn.get_preparation_data("isolated").get("init_main_from_path")
        if main_path:
            os.environ[_MAIN_PATH_VARIABLE] = main_path  # read by the fork server it starts
        # Heeded only before the fork server first starts (one per service process).
        self._context.set_forkserver_preload(["chassis.isolation", *preload])
        # One semaphore per event loop (a service has one; a test may run services on several loops, and
        # an asyncio.Semaphore belongs to the loop it first waited on).
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        outcome = await self.run_measured(func, *args)
        return outcome.value  # type: ignore[no-any-return]

    async def run_measured(self, func: Callable[..., Any], *args: Any) -> Outcome:
        loop = asyncio.get_running_loop()
        slots = self._slots.setdefault(loop, asyncio.Semaphore(self.max_workers))
        # The cap: more uploads at once wait here (cheaply, on the loop), not in forked processes.
        async with slots:
            return await asyncio.to_thread(self._run_blocking, func, args)

    def _run_blocking(self, func: Callable[..., Any], args: tuple[Any, ...]) -> Outcome:
        receiver, sender = self._context.Pipe(duplex=False)
        process = self._context.Process(target=_work, args=(sender, self.limits, func, args), daemon=True)
        process.start()
        sender.close()
        try:
            if not receiver.poll(self.limits.wall_seconds):
                process.kill()
                raise LimitExceeded(f"reading it took more than {self.limits.wall_seconds:g} s")
            try:
                status, value, peak = receiver.recv()
            except EOFError:  # died without a word: killed by a limit (or crashed)
                process.join(5)
                raise LimitExceeded(self._death(process.exitcode)) from None
        finally:
            receiver.close()
            if process.is_alive():
                process.join(5)
                if process.is_alive():
                    process.kill()
                    process.join()
            process.close()
        if status == "memory":
            raise LimitExceeded(self._memory_reason(), peak_rss_bytes=peak)
        if status == "raised":
            raise value
        return Outcome(value=value, peak_rss_bytes=peak)

    def _memory_reason(self) -> str:
        return f"reading it needs more than {self.limits.memory_bytes // (1024 * 1024)} MB of memory"

    def _death(self, exitcode: int | None) -> str:
        if exitcode == -signal.SIGXCPU:
            return f"reading it took more than {self.limits.cpu_seconds} s of CPU"
        if exitcode == -signal.SIGKILL:  # the CPU hard limit, or the kernel's out-of-memory killer
            return (
                f"reading it took more than {self.limits.cpu_seconds} s of CPU "
                f"or {self.limits.memory_bytes // (1024 * 1024)} MB of memory"
            )
        if exitcode in (-signal.SIGSEGV, -signal.SIGABRT, -signal.SIGBUS):
            # A C library that could not allocate under RLIMIT_AS aborts rather than raise.
            return self._memory_reason()
        return f"the reader stopped unexpectedly (exit code {exitcode})"
