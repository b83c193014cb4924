"""Test support on the real stack: start services in-process against the session's PostgreSQL and broker."""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from chassis.auth import mint_token
from chassis.clock import Clock
from chassis.devstack import EmbeddedKafka, EmbeddedPostgres, free_port
from chassis.runtime import ServiceRuntime

_counter = itertools.count(1)


@dataclass
class Stack:
    """The session's PostgreSQL and broker."""

    postgres: EmbeddedPostgres
    kafka: EmbeddedKafka
    root: Path
    clients: list[Any] = field(default_factory=list)

    @classmethod
    def start(cls) -> Stack:
        root = Path(tempfile.mkdtemp(prefix="platform-tests-"))
        os.chmod(root, 0o755)
        pg = EmbeddedPostgres(root / "pg", free_port(), durable=False)
        pg.start()
        kafka = EmbeddedKafka(free_port(), root / "tansu.log")
        kafka.start()
        return cls(postgres=pg, kafka=kafka, root=root)

    def stop(self) -> None:
        self.kafka.stop()
        self.postgres.stop()
        import shutil

        shutil.rmtree(self.root, ignore_errors=True)

    def unique(self, label: str) -> str:
        return f"t{os.getpid()}_{next(_counter)}_{label}".replace("-", "_")


@dataclass
class RunningService:
    runtime: ServiceRuntime
    http: httpx.AsyncClient

    def token(self, role: str, integrator_id: str | None = None, subject: str | None = None) -> str:
        return mint_token(
            self.runtime.settings.auth_secret.get_secret_value(),
            role=role,
            subject=subject or f"{role}-user",
            integrator_id=integrator_id,
        )

    def auth(self, role: str, integrator_id: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, integrator_id)}"}


def settings_for(
    stack: Stack, app_module: ModuleType, *, database: str, prefix: str, **overrides: Any
) -> Any:
    values: dict[str, Any] = {
        "database_url": stack.postgres.url_for(database),
        "kafka_bootstrap_servers": stack.kafka.bootstrap,
        "kafka_topic_prefix": prefix,
        "kafka_topic_partitions": 3,
        "traces_dir": stack.root / prefix / "traces",
        "data_dir": stack.root / prefix / database / "files",
        # The built-in secrets (tests mint tokens with them): only a dev-mode service starts on them.
        "dev_mode": True,
    }
    values.update(overrides)
    return app_module.Settings(**values)


@contextlib.asynccontextmanager
async def running_service(
    stack: Stack,
    app_module: ModuleType,
    *,
    clock: Clock | None = None,
    prefix: str | None = None,
    database: str | None = None,
    **overrides: Any,
) -> AsyncIterator[RunningService]:
    """Start one service in-process on a fresh database (or `database`, to restart on the same data)."""
    prefix = prefix or stack.unique("p") + "."
    name = app_module.__name__.split(".")[0]
    database = database or stack.unique(name)
    await stack.postgres.create_database(database)
    settings = settings_for(stack, app_module, database=database, prefix=prefix, **overrides)
    runtime: ServiceRuntime = app_module.build_runtime(settings, clock=clock)
    await runtime.start()
    transport = httpx.ASGITransport(app=runtime.http_app)
    client = httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30)
    try:
        yield RunningService(runtime=runtime, http=client)
    finally:
        await client.aclose()
        await runtime.stop()


class ServiceOverHttp:
    """A service running in a background thread's event loop, served by uvicorn on a free port —
    for synchronous clients (schemathesis) that cannot share the test's event loop."""

    def __init__(self, stack: Stack, app_module: ModuleType, **overrides: Any) -> None:
        import asyncio
        import threading

        from chassis.devstack import free_port

        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._stack = stack
        self._module = app_module
        self._overrides = overrides
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: Any = None
        self.runtime: ServiceRuntime | None = None

    def start(self) -> ServiceOverHttp:
        import asyncio

        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(60)
        from chassis.devstack import wait_for_port

        wait_for_port(self.port, 30)
        return self

    async def _start(self) -> None:
        import asyncio

        import uvicorn

        from chassis.serving import uvicorn_config

        name = self._module.__name__.split(".")[0]
        database = self._stack.unique(name)
        await self._stack.postgres.create_database(database)
        # Services sharing a `prefix` override talk to each other through their topics.
        prefix = self._overrides.pop("prefix", None) or self._stack.unique("http") + "."
        settings = settings_for(
            self._stack, self._module, database=database, prefix=prefix, **self._overrides
        )
        self.runtime = self._module.build_runtime(settings)
        await self.runtime.start()
        # Served as `serve` serves it (chassis.serving: httptools, deadlines, connection limit).
        config = uvicorn_config(self.runtime.http_app, settings, host="127.0.0.1", port=self.port)
        self._server = uvicorn.Server(config)
        self._serving = asyncio.ensure_future(self._server.serve())

    def stop(self) -> None:
        import asyncio

        async def _stop() -> None:
            if self._server is not None:
                self._server.should_exit = True
                await self._serving
            if self.runtime is not None:
                await self.runtime.stop()
            # aiokafka leaves background tasks behind its clients' close; end them before the loop,
            # or each is reported as "destroyed but pending" at exit.
            leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in leftovers:
                task.cancel()
            await asyncio.gather(*leftovers, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(_stop(), self._loop).result(60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def token(self, role: str, integrator_id: str | None = None) -> str:
        assert self.runtime is not None
        return mint_token(
            self.runtime.settings.auth_secret.get_secret_value(),
            role=role,
            subject=f"{role}-fuzzer",
            integrator_id=integrator_id,
        )
