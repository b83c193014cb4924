"""A service's runtime: its pool, event store, projections, relay, reactions, schedules and HTTP app."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import resource
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Tracer

from chassis import kafka, known_integrators
from chassis.clock import Clock, clock_for
from chassis.consumer import Reaction, ReactionContext, ReactionRunner
from chassis.db import (
    Conn,
    RoundTrips,
    counting_connection_class,
    needs_reset,
    reset_on_release,
    round_trips_of,
)
from chassis.eventstore import ConcurrencyConflict, EventStore, Recorded
from chassis.http import build_app
from chassis.metrics import ServiceMetrics
from chassis.projections import Projection, Projections
from chassis.ratelimit import RateLimits
from chassis.reachability import BrokerWatch, CachedCheck
from chassis.relay import Relay
from chassis.schema import CHASSIS_SCHEMA
from chassis.settings import ServiceSettings, WeakSecret
from chassis.signing import Verifier
from chassis.subscriber import ReactionsSubscriber
from chassis.telemetry import make_tracer_provider, trace_database_queries
from chassis.unit_of_work import UnitOfWork
from contracts import topics
from contracts.events import DomainEvent

log = structlog.get_logger()
#: How long one step of stopping may take (consumers, relay, producer) before the service goes on.
STOP_STEP_SECONDS = 10.0

Decide = Callable[[list[Recorded]], Sequence[DomainEvent]]
T = TypeVar("T")


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
        if settings.trace_database:
            trace_database_queries(self.tracer_provider)
        self._pool: asyncpg.Pool | None = None
        #: Round trips to PostgreSQL of this runtime's pool (chassis.db), exported as db_round_trips_total.
        self.round_trips = RoundTrips()
        self._connection_class = counting_connection_class(self.round_trips)
        self.relay: Relay | None = None
        self.runners: list[ReactionRunner] = []
        #: The service's one Kafka subscriber feeding every reaction (FastStream).
        self.subscriber: ReactionsSubscriber | None = None
        #: The broker looked at every second: readiness, and a restart that lost everything (Tansu).
        self.broker_watch: BrokerWatch | None = None
        self._database_answers = CachedCheck(self._select_one, ttl=1.0, timeout=2.0)
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
        self._after_commit: set[asyncio.Task[None]] = set()
        #: Resources the service's wiring opened (HTTP clients...), closed when the service stops.
        self.on_stop: list[Callable[[], Awaitable[None]]] = []
        #: The service's own parts of /ops/status, by key (the notifier's email figures...).
        self.status_parts: dict[str, Callable[[ServiceRuntime], Awaitable[Any]]] = {}

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
                    reset=reset_on_release,
                    connection_class=self._connection_class,
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
            needs_reset(conn)
            # One migrator at a time when replicas start together.
            await conn.execute("SELECT pg_advisory_lock(hashtext('migrations'))")
            try:
                await conn.execute(CHASSIS_SCHEMA)
                await conn.execute(known_integrators.SCHEMA)
                await self.projections.create_tables(conn)
                for sql in self.migrations:
                    await conn.execute(sql)
            finally:
                await conn.execute("SELECT pg_advisory_unlock(hashtext('migrations'))")

    @functools.cached_property
    def event_signatures(self) -> Verifier:
        """The keys its consumers verify events with (chassis.signing), built on first use: outside
        DEV_MODE the service has refused to start before then if they are missing or weak."""
        return Verifier.from_settings(self.settings, self.name)

    def refuse_unverifiable_topics(self) -> None:
        """Raise WeakSecret when its reactions read a topic whose owner it has no key of: every event
        there would be dead-lettered (EVENT_VERIFICATION_KEYS incomplete)."""
        consumed = {t for r in self.reactions for t in r.topics}
        if self.run_reactions and (unverifiable := self.event_signatures.missing_owners(consumed)):
            raise WeakSecret(
                f"EVENT_VERIFICATION_KEYS has no key of {', '.join(unverifiable)}, whose topics "
                f"{self.name} reads: every event there would be dead-lettered"
            )

    async def start(self) -> None:
        self.settings.refuse_weak_secrets()  # before anything: a public secret must not serve at all
        self.refuse_unverifiable_topics()
        consumed = {t for r in self.reactions for t in r.topics}
        await self.connect()
        declared = {self.topic, topics.DEAD_LETTERS, *consumed}
        await kafka.ensure_topics(self.settings, declared)
        if self.run_relay or (self.run_reactions and self.reactions):
            # Declares the same topics again after a broker wipe (chassis.reachability).
            self.broker_watch = BrokerWatch(self.settings, self.topic, declared)
            await self.broker_watch.check()
            self.broker_watch.start()
        if self.run_relay:
            self.relay = Relay(
                self.name, self.topic, self.settings, self.pool, self.tracer, broker=self.broker_watch
            )
            self.relay.start()
        if self.run_reactions and self.reactions:
            for reaction in self.reactions:
                runner = ReactionRunner(self, reaction)
                self.metrics.consumer_started(runner.consumer_name, reaction.topics)
                self.runners.append(runner)
            self.subscriber = ReactionsSubscriber(self, self.runners)
            self.subscriber.start()
            if any(runner.believer is not None for runner in self.runners):
                self.metrics.add_gauges(known_integrators.held_gauges)
                self._tasks.append(
                    asyncio.create_task(known_integrators.check_forever(self), name="held-events:check")
                )
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
        if self._after_commit:
            await self._bounded(asyncio.wait(list(self._after_commit)), "after-commit actions", 5.0)
        self.runners.clear()
        if self.relay is not None:
            await self._bounded(self.relay.stop(), "relay")
            self.relay = None
        if self.broker_watch is not None:
            await self._bounded(self.broker_watch.stop(), "broker watch")
            self.broker_watch = None
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

    @contextlib.asynccontextmanager
    async def unit_of_work(self, *, transaction: bool = False) -> AsyncIterator[UnitOfWork]:
        """A unit of work for a command or a schedule: what it appends is written when the block
        ends (one statement; `transaction=True` when the handler also takes a lock), then its
        after-commit actions start."""
        async with self.pool.acquire() as conn:
            uow = UnitOfWork(self, conn)
            if transaction:
                async with conn.transaction():
                    yield uow
                    await uow.flush()
            else:
                yield uow
                await uow.flush()
        for action in uow.take_after_commit():
            self.run_after_commit(action)

    async def command(
        self,
        handler: Callable[[UnitOfWork], Awaitable[T]],
        *,
        retries: int = 0,
        transaction: bool = False,
    ) -> T:
        """Run `handler` in a unit of work; on a conflict (a stream moved since it was read), decide
        again on what is there now, up to `retries` times, then let the 409 through."""
        for attempt in range(retries + 1):
            try:
                async with self.unit_of_work(transaction=transaction) as uow:
                    result = await handler(uow)
                return result
            except ConcurrencyConflict:
                if attempt == retries:
                    raise
        raise AssertionError("unreachable")

    def run_after_commit(self, action: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """An after-commit action of a command, off the request: kept until done (stop waits)."""
        task = asyncio.create_task(action())
        self._after_commit.add(task)
        task.add_done_callback(self._after_commit.discard)

    async def execute(self, *, stream_id: str, integrator_id: str, decide: Decide) -> list[Recorded]:
        """Load the stream, decide on its history, append (the first edition's command; a unit of
        work's `decide` is the better way)."""
        with self.tracer.start_as_current_span(
            "execute", attributes={"stream.id": stream_id, "integrator.id": integrator_id}
        ) as span:
            async with self.unit_of_work() as uow:
                before = round_trips_of(uow.conn)
                recorded = await uow.execute(stream_id=stream_id, integrator_id=integrator_id, decide=decide)
                span.set_attribute("db.round_trips", round_trips_of(uow.conn) - before)
                return recorded

    async def execute_in(
        self, conn: Conn, *, stream_id: str, integrator_id: str, decide: Decide
    ) -> list[Recorded]:
        return await UnitOfWork(self, conn).execute(
            stream_id=stream_id, integrator_id=integrator_id, decide=decide
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
        return await UnitOfWork(self, conn).append_at(
            stream_id, expected_version, events, integrator_id=integrator_id
        )

    async def read_stream(self, stream_id: str) -> list[Recorded]:
        async with self.pool.acquire() as conn:
            return await self.store.read_stream(conn, stream_id)

    # --- health ------------------------------------------------------------------------------

    async def readiness(self) -> dict[str, bool]:
        """Started, the database answers (asked at most once a second) and, for a service with a relay
        or reactions, the broker answered its watch's last look (no call to the broker here)."""
        checks = {"started": self.started, "database": await self._database_answers()}
        if self.broker_watch is not None:
            checks["broker"] = self.broker_watch.reachable
        return checks

    async def _select_one(self) -> bool:
        return bool(await self.pool.fetchval("SELECT 1") == 1)

    async def status(self) -> dict[str, Any]:
        lag = {}
        for runner in self.runners:
            try:
                lag[runner.consumer_name] = await asyncio.wait_for(runner.lag(), 3)
            except Exception:
                lag[runner.consumer_name] = {}
        events = await self.pool.fetchval("SELECT count(*) FROM events")
        dead = await self.pool.fetchval("SELECT count(*) FROM dead_letters WHERE replayed_at IS NULL")
        parts = {key: await part(self) for key, part in self.status_parts.items()}
        return {
            **parts,
            "service": self.name,
            "events": events,
            "relay_leader": bool(self.relay and self.relay.is_leader),
            "consumer_lag": lag,
            # Restarts and the last error per consumer: one failing in a loop is seen here.
            "consumers": {runner.consumer_name: runner.health() for runner in self.runners},
            "dead_letters": dead,
            # Events waiting for their integrator's registration (chassis.known_integrators).
            "held_events": await known_integrators.held_status(self),
            "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }


__all__ = ["Reaction", "ReactionContext", "Schedule", "ServiceRuntime"]
