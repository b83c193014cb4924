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

#: Tests that run one after the other on one pytest-xdist worker (`make test`: `-n N --dist loadgroup`),
#: by where they are: the browser tests share one session-wide embedded platform (eight processes,
#: started once rather than once per worker); the `make run` tests each start a whole platform, and two
#: cold starts at once on two cores would measure the machine, not the platform.
SERIAL_GROUPS = {"tests/browser/": "browser", "tests/test_make_run": "make_run"}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadgroup`, grouping by SERIAL_GROUPS. Not by `xdist_group` marks: pytest-xdist 3.8 groups
    them by rewriting the test's node id, which pytest 9.2's structured node ids ignore — the marks are
    silently dropped (pytest-dev/pytest-xdist#1386). Marks still group once that is fixed."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class ByPlace(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            for prefix, group in SERIAL_GROUPS.items():
                if nodeid.startswith(prefix):
                    return group
            return str(super()._split_scope(nodeid))

    return ByPlace(config, log)


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
