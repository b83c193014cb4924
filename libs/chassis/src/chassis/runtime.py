"""A service's runtime: its pool, event store, projections, relay, reactions, schedules and HTTP app."""

from __future__ import annotations

import asyncio
import contextlib
import resource
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Tracer

from chassis import kafka
from chassis.clock import Clock, clock_for
from chassis.consumer import Reaction, ReactionContext, ReactionRunner
from chassis.db import Conn
from chassis.eventstore import ConcurrencyConflict, EventStore, Recorded
from chassis.http import build_app
from chassis.metrics import ServiceMetrics
from chassis.projections import Projection, Projections
from chassis.ratelimit import RateLimits
from chassis.relay import Relay
from chassis.schema import CHASSIS_SCHEMA
from chassis.settings import ServiceSettings
from chassis.subscriber import ReactionsSubscriber
from chassis.telemetry import make_tracer_provider
from contracts import topics
from contracts.events import DomainEvent

log = structlog.get_logger()
#: How long one step of stopping may take (consumers, relay, producer) before the service goes on.
STOP_STEP_SECONDS = 10.0

Decide = Callable[[list[Recorded]], Sequence[DomainEvent]]


@dataclass(frozen=True)
class Schedule:
    """A periodic task of the service (deadline checks, reminders, retries)."""

    name: str
    every_seconds: float
    run: Callable[[ServiceRuntime], Awaitable[None]]


class ServiceRuntime:
    def __init__(
        self,
        *,
        name: str,
        settings: ServiceSettings,
        clock: Clock | None = None,
        routers: Sequence[APIRouter] = (),
        projections: Sequence[Projection] = (),
        reactions: Sequence[Reaction] = (),
        schedules: Sequence[Schedule] = (),
        migrations: Sequence[str] = (),
        description: str = "",
        run_relay: bool | None = None,
        run_reactions: bool | None = None,
        run_schedules: bool | None = None,
    ) -> None:
        if name not in topics.BY_SERVICE:
            raise ValueError(f"unknown service {name}")
        self.name = name
        self.settings = settings
        self.clock: Clock = clock or clock_for(settings.dev_clock_offset_seconds)
        self.topic = topics.BY_SERVICE[name]
        self.store = EventStore(producer=name)
        self.projections = Projections(projections, lambda: self.pool)
        self.reactions = list(reactions)
        self.schedules = list(schedules)
        self.migrations = list(migrations)
        # Explicit arguments win over the settings (RUN_RELAY, RUN_REACTIONS, RUN_SCHEDULES).
        self.run_relay = settings.run_relay if run_relay is None else run_relay
        self.run_reactions = settings.run_reactions if run_reactions is None else run_reactions
        self.run_schedules = settings.run_schedules if run_schedules is None else run_schedules
        self.tracer_provider: TracerProvider = make_tracer_provider(
            name, settings.otel_exporter_otlp_endpoint, settings.traces_dir
        )
        self.tracer: Tracer = self.tracer_provider.get_tracer(f"integrator-platform.{name}")
        self._pool: asyncpg.Pool | None = None
        self.relay: Relay | None = None
        self.runners: list[ReactionRunner] = []
        #: The service's one Kafka subscriber feeding every reaction (FastStream).
        self.subscriber: ReactionsSubscriber | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._dlq_producer: AIOKafkaProducer | None = None
        self._dlq_started = False
        self._dlq_lock = asyncio.Lock()
        self.started = False
        self.metrics = ServiceMetrics(
            name, enabled=settings.metrics_enabled, refresh_seconds=settings.metrics_refresh_seconds
        )
        self.metrics.bind(self)
        self.http_app: FastAPI = build_app(
            self, list(routers), title=f"{name} service", description=description or f"The {name} service."
        )
        self.extras: dict[str, Any] = {}
        self.rate_limits = RateLimits(settings.rate_limits_enabled)
        #: Resources the service's wiring opened (HTTP clients...), closed when the service stops.
        self.on_stop: list[Callable[[], Awaitable[None]]] = []

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._pool

    async def connect(self) -> None:
        """Open the pool (retrying while the database comes up) and create the tables."""
        delay = 0.1
        for attempt in range(60):
            try:
                self._pool = await asyncpg.create_pool(
                    self.settings.database_url,
                    min_size=1,
                    max_size=self.settings.db_pool_max_size,
                    command_timeout=30,
                )
                break
            except (OSError, asyncpg.CannotConnectNowError, asyncpg.PostgresConnectionError):
                if attempt == 59:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
        await self.migrate()

    async def migrate(self) -> None:
        async with self.pool.acquire() as conn:
            # One migrator at a time when replicas start together.
            await conn.execute("SELECT pg_advisory_lock(hashtext('migrations'))")
            try:
                await conn.execute(CHASSIS_SCHEMA)
                await self.projections.create_tables(conn)
                for sql in self.migrations:
                    await conn.execute(sql)
            finally:
                await conn.execute("SELECT pg_advisory_unlock(hashtext('migrations'))")

    async def start(self) -> None:
        self.settings.refuse_weak_secrets()  # before anything: a public secret must not serve at all
        await self.connect()
        consumed = {t for r in self.reactions for t in r.topics}
        await kafka.ensure_topics(self.settings, {self.topic, topics.DEAD_LETTERS, *consumed})
        if self.run_relay:
            self.relay = Relay(self.name, self.topic, self.settings, self.pool, self.tracer)
            self.relay.start()
        if self.run_reactions and self.reactions:
            for reaction in self.reactions:
                runner = ReactionRunner(self, reaction)
                self.metrics.consumer_started(runner.consumer_name, reaction.topics)
                self.runners.append(runner)
            self.subscriber = ReactionsSubscriber(self, self.runners)
            self.subscriber.start()
        if self.run_schedules:
            for schedule in self.schedules:
                self._tasks.append(
                    asyncio.create_task(self._every(schedule), name=f"schedule:{schedule.name}")
                )
        if self.metrics.enabled:
            self._tasks.append(asyncio.create_task(self.metrics.refresh_forever(), name="metrics:refresh"))
        self.started = True
        log.info("service_started", service=self.name)

    async def stop(self) -> None:
        self.started = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            await self._bounded(task, "schedule")
        self._tasks.clear()
        if self.subscriber is not None:
            await self._bounded(self.subscriber.stop(), "consumers")
            self.subscriber = None
        self.runners.clear()
        if self.relay is not None:
            await self._bounded(self.relay.stop(), "relay")
            self.relay = None
        if self._dlq_producer is not None:
            await self._bounded(self._dlq_producer.stop(), "dead-letter producer")
            self._dlq_producer = None
            self._dlq_started = False
        if self._pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._pool.close(), 5)
            self._pool = None
        for close in self.on_stop:
            with contextlib.suppress(Exception):
                await close()
        self.tracer_provider.force_flush()
        self.tracer_provider.shutdown()

    async def _bounded(self, step: Awaitable[Any], what: str, seconds: float = STOP_STEP_SECONDS) -> None:
        """One step of stopping, bounded: a Kafka client that does not answer its leave-group or close
        (seen now and then on the embedded broker) must not hold the process past its grace period.
        Committed work is safe either way: offsets are committed after each batch's transaction."""
        try:
            await asyncio.wait_for(step, seconds)
        except TimeoutError:
            log.warning("stop_step_timed_out", service=self.name, step=what, seconds=seconds)
        except (asyncio.CancelledError, Exception):  # noqa: S110 — stopping: a failed step is not news
            pass

    async def _every(self, schedule: Schedule) -> None:
        while True:
            try:
                await schedule.run(self)
            except asyncio.CancelledError:
                raise
            except ConcurrencyConflict:
                pass  # another replica did it first
            except Exception as error:
                log.warning("schedule_failed", schedule=schedule.name, error=repr(error)[:300])
            await asyncio.sleep(schedule.every_seconds)

    def dead_letter_producer(self) -> AIOKafkaProducer:
        if self._dlq_producer is None:
            self._dlq_producer = kafka.producer(self.settings)
        return self._dlq_producer

    async def started_dead_letter_producer(self) -> AIOKafkaProducer:
        """The dead-letter producer, started on first use: an aiokafka producer that was never
        started waits forever in `send`, which would stop the consumer at its first poison message."""
        producer = self.dead_letter_producer()
        if not self._dlq_started:
            async with self._dlq_lock:
                if not self._dlq_started:
                    await producer.start()
                    self._dlq_started = True
        return producer

    def runner_for(self, consumer_name: str) -> ReactionRunner:
        for runner in self.runners:
            if runner.consumer_name == consumer_name:
                return runner
        raise LookupError(consumer_name)

    # --- commands ----------------------------------------------------------------------------

    async def execute(self, *, stream_id: str, integrator_id: str, decide: Decide) -> list[Recorded]:
        """Load the stream, decide, append with optimistic concurrency, update projections — one transaction."""
        with self.tracer.start_as_current_span(
            "execute", attributes={"stream.id": stream_id, "integrator.id": integrator_id}
        ):
            async with self.pool.acquire() as conn, conn.transaction():
                return await self.execute_in(
                    conn, stream_id=stream_id, integrator_id=integrator_id, decide=decide
                )

    async def execute_in(
        self, conn: Conn, *, stream_id: str, integrator_id: str, decide: Decide
    ) -> list[Recorded]:
        history = await self.store.read_stream(conn, stream_id)
        new_events = list(decide(history))
        return await self.append_in(
            conn,
            stream_id=stream_id,
            integrator_id=integrator_id,
            expected_version=len(history),
            events=new_events,
        )

    async def append_in(
        self,
        conn: Conn,
        *,
        stream_id: str,
        integrator_id: str,
        expected_version: int,
        events: Sequence[DomainEvent],
    ) -> list[Recorded]:
        if not events:
            return []
        with self.tracer.start_as_current_span(
            "append",
            attributes={
                "stream.id": stream_id,
                "integrator.id": integrator_id,
                "event.types": ",".join(e.event_type for e in events),
            },
        ) as span:
            recorded = await self.store.append(
                conn,
                stream_id,
                expected_version,
                events,
                integrator_id=integrator_id,
                occurred_at=self.clock.now(),
            )
            span.set_attribute("event.ids", ",".join(str(r.envelope.event_id) for r in recorded))
            await self.projections.apply_live(conn, recorded)
            self.metrics.events_appended(e.event_type for e in events)
        return recorded

    async def read_stream(self, stream_id: str) -> list[Recorded]:
        async with self.pool.acquire() as conn:
            return await self.store.read_stream(conn, stream_id)

    # --- health ------------------------------------------------------------------------------

    async def readiness(self) -> dict[str, bool]:
        checks = {"started": self.started}
        try:
            checks["database"] = (await asyncio.wait_for(self.pool.fetchval("SELECT 1"), 2)) == 1
        except Exception:
            checks["database"] = False
        return checks

    async def status(self) -> dict[str, Any]:
        lag = {}
        for runner in self.runners:
            try:
                lag[runner.consumer_name] = await asyncio.wait_for(runner.lag(), 3)
            except Exception:
                lag[runner.consumer_name] = {}
        events = await self.pool.fetchval("SELECT count(*) FROM events")
        dead = await self.pool.fetchval("SELECT count(*) FROM dead_letters WHERE replayed_at IS NULL")
        return {
            "service": self.name,
            "events": events,
            "relay_leader": bool(self.relay and self.relay.is_leader),
            "consumer_lag": lag,
            # Restarts and the last error per consumer: one failing in a loop is seen here.
            "consumers": {runner.consumer_name: runner.health() for runner in self.runners},
            "dead_letters": dead,
            "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }


__all__ = ["Reaction", "ReactionContext", "Schedule", "ServiceRuntime"]
