"""Session fixtures: the real PostgreSQL and Tansu broker, started once; services run in-process on them."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from chassis.clock import Clock
from chassis.testing import RunningService, Stack, running_service


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    s = Stack.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def postgres_tmp_path() -> Iterator[Path]:
    """A temporary folder for a test's own PostgreSQL (or `make run`'s data dir), outside pytest's
    `tmp_path`: PostgreSQL runs as its own system user when the tests run as root, and every pytest that
    starts — each xdist worker, any other session on the machine — resets /tmp/pytest-of-<user> to 0700,
    so a data dir under `tmp_path` can become unreachable to it mid-start (initdb exits 1)."""
    root = Path(tempfile.mkdtemp(prefix="platform-test-pg-"))
    os.chmod(root, 0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def service(stack: Stack) -> Callable[..., contextlib.AbstractAsyncContextManager[RunningService]]:
    """`async with service(onboarding.app, clock=ManualClock()) as svc:` — a fresh database and topic prefix.

    Pass `prefix=` to put several services on the same topics, `database=` to restart on the same data.
    """

    def start(app_module: ModuleType, *, clock: Clock | None = None, **kwargs: Any) -> Any:
        return running_service(stack, app_module, clock=clock, **kwargs)

    return start


@pytest.fixture
def platform(
    stack: Stack,
) -> Callable[..., contextlib.AbstractAsyncContextManager[dict[str, RunningService]]]:
    """`async with platform([onboarding.app, sim_logistics.app], clock=clock) as svcs:` — several services
    on one topic prefix (one isolated platform), keyed by service name."""

    @contextlib.asynccontextmanager
    async def start(
        app_modules: list[ModuleType], *, clock: Clock | None = None, **overrides: Any
    ) -> AsyncIterator[dict[str, RunningService]]:
        prefix = stack.unique("platform") + "."
        async with contextlib.AsyncExitStack() as exits:
            running: dict[str, RunningService] = {}
            for module in app_modules:
                svc = await exits.enter_async_context(
                    running_service(stack, module, clock=clock, prefix=prefix, **overrides)
                )
                running[svc.runtime.name] = svc
            yield running

    return start
