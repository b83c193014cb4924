"""Prometheus metrics of a service, served at `/metrics` (the official `prometheus-client`).

Each runtime has its own `CollectorRegistry`, not the process-wide one: tests run several services in
one process, and each must export only its own numbers. Hot paths (a request, a consumed batch, an
append) touch a counter or a histogram child cached here; everything that needs the database or the
broker (relay lag, consumer lag, dead letters waiting, the business gauges) is refreshed by a periodic
task and served from that cache, so a scrape never waits on I/O and costs the same however often it
comes. Names follow the Prometheus conventions: base units in the name (`_seconds`, `_bytes`),
`_total` counters, and label values from closed sets only (route templates, event types, consumers,
topics, partitions, outcomes) — never an integrator or event id.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.events import REGISTRY

if TYPE_CHECKING:
    from chassis.runtime import ServiceRuntime

log = structlog.get_logger()

# No `_created` series beside each counter and histogram: they doubled the exposition, and Prometheus
# 2.x ignores them in the text format anyway.
disable_created_metrics()  # type: ignore[no-untyped-call]  # (untyped in prometheus-client)

#: An async source of gauges, run by the refresh task: e.g. a service's business figures.
GaugeSource = Callable[["ServiceRuntime"], Awaitable[Iterable[Metric]]]

#: Request latencies: a command is a few ms, an upload or a PDF a second or more.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: A consumed batch: one message (a few ms) to 500 in one transaction.
BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: The relay's backlog is counted up to this (a count past it is "a lot", and costs a scan).
RELAY_LAG_COUNT_CAP = 100_000
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: Consumer outcomes, all exported from the start (a counter that appears at 1 hides its first rise
#: from `increase()`).
OUTCOMES = ("handled", "duplicate", "dead_lettered", "ignored")


class ServiceMetrics:
    """The metrics of one service runtime: the chassis's own, plus what the service registers."""

    def __init__(self, service: str, *, enabled: bool = True, refresh_seconds: float = 10.0) -> None:
        self.service = service
        self.enabled = enabled
        self.refresh_seconds = refresh_seconds
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, process_cpu_seconds_total
        self.http_duration = Histogram(
            "http_server_request_duration_seconds",
            "HTTP requests served, by method, route template and status code (RED).",
            ["method", "route", "status"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        self.appended = Counter(
            "platform_events_appended_total",
            "Events appended to this service's event store, by type.",
            ["event_type"],
            registry=self.registry,
        )
        # Every event type the service produces, at 0 from the start: the first of a kind is a rise
        # `increase()` sees, and a dashboard's per-type panel has its series before any happens.
        for event_type, model in REGISTRY.all().items():
            if model.producer == service:
                self.appended.labels(event_type)
        self.consumed = Counter(
            "platform_consumer_messages_total",
            "Messages a consumer went through, by topic and outcome "
            "(handled, duplicate: already in the inbox, dead_lettered, ignored: not for this consumer).",
            ["consumer", "topic", "outcome"],
            registry=self.registry,
        )
        self.batch_duration = Histogram(
            "platform_consumer_batch_duration_seconds",
            "Time to handle one fetched batch in its transaction, by consumer.",
            ["consumer"],
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.parked = Counter(
            "platform_consumer_messages_parked_total",
            "Messages dead-lettered because their batch failed again and again from the same offset "
            "(CONSUMER_RESTARTS_BEFORE_PARKING): a poison nobody foresaw, or a bug; also counted as "
            "dead_lettered in platform_consumer_messages_total.",
            ["consumer", "topic"],
            registry=self.registry,
        )
        self._children: dict[tuple[Any, ...], Any] = {}
        self._sources: list[GaugeSource] = []
        #: What the refresh task computed last: served as is by the collector.
        self._cached: list[Metric] = []
        self._runtime: ServiceRuntime | None = None
        self.registry.register(_RuntimeCollector(self))

    # --- wiring ------------------------------------------------------------------------------------

    def bind(self, runtime: ServiceRuntime) -> None:
        self._runtime = runtime

    def add_gauges(self, source: GaugeSource) -> None:
        """Register an async source of gauges (cheap queries), refreshed every `refresh_seconds`."""
        self._sources.append(source)

    def consumer_started(self, consumer: str, topics: Iterable[str]) -> None:
        """Export every outcome of a consumer at 0 from its start."""
        for topic in topics:
            for outcome in OUTCOMES:
                self.consumed.labels(consumer, topic, outcome)
            self.parked.labels(consumer, topic)
        self.batch_duration.labels(consumer)

    # --- hot paths ----------------------------------------------------------------------------------

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def events_appended(self, event_types: Iterable[str]) -> None:
        if self.enabled:
            for event_type in event_types:
                self._child(self.appended, event_type).inc()

    def batch_consumed(self, consumer: str, outcomes: dict[tuple[str, str], int], seconds: float) -> None:
        """One batch's outcomes, keyed by (topic as in contracts, outcome), and its duration."""
        if self.enabled:
            for (topic, outcome), count in outcomes.items():
                if count:
                    self._child(self.consumed, consumer, topic, outcome).inc(count)
            self._child(self.batch_duration, consumer).observe(seconds)

    def message_parked(self, consumer: str, topic: str) -> None:
        """A message parked after its batch kept failing (topic as in contracts)."""
        if self.enabled:
            self._child(self.parked, consumer, topic).inc()
            self._child(self.consumed, consumer, topic, "dead_lettered").inc()

    def request_served(self, method: str, route: str, status: int, seconds: float) -> None:
        if self.enabled:
            method = method if method in HTTP_METHODS else "other"  # a client may send any word
            self._child(self.http_duration, method, route, str(status)).observe(seconds)

    # --- the refresh task ---------------------------------------------------------------------------

    async def refresh(self) -> None:
        """Recompute the cached gauges (each source on its own: one failing keeps the others)."""
        runtime = self._runtime
        if runtime is None:
            return
        families: list[Metric] = []
        for source in (_relay_lag, _dead_letters, _consumer_lag, *self._sources):
            try:
                families.extend(await asyncio.wait_for(source(runtime), max(self.refresh_seconds, 5.0)))
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("metrics_refresh_failed", source=source.__name__, error=repr(error)[:200])
        self._cached = families

    async def refresh_forever(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self.refresh_seconds)


class _RuntimeCollector(Collector):
    """At scrape time: what the runtime knows in memory, plus the refresh task's last figures."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        runtime = self.metrics._runtime
        leader = GaugeMetricFamily(
            "platform_relay_leader", "1 when this process's relay holds the leader lock and publishes."
        )
        published = CounterMetricFamily(
            "platform_relay_events_published", "Events this process's relay has put on the topic."
        )
        in_use = GaugeMetricFamily(
            "platform_db_pool_connections_in_use", "Database connections of the pool lent out now."
        )
        pool_size = GaugeMetricFamily(
            "platform_db_pool_connections_max", "The most connections the pool may open."
        )
        relay = runtime.relay if runtime is not None else None
        leader.add_metric([], 1.0 if relay is not None and relay.is_leader else 0.0)
        published.add_metric([], float(relay.published_total if relay is not None else 0))
        pool = runtime._pool if runtime is not None else None
        in_use.add_metric([], float(pool.get_size() - pool.get_idle_size()) if pool is not None else 0.0)
        pool_size.add_metric([], float(pool.get_max_size()) if pool is not None else 0.0)
        # A consumer failing in a loop (restarting on the same offset) shows as a rising count.
        restarts = CounterMetricFamily(
            "platform_consumer_restarts",
            "Restarts of a consumer's loop after an error (the last one is in /ops/status).",
            labels=["consumer"],
        )
        for runner in runtime.runners if runtime is not None else ():
            restarts.add_metric([runner.consumer_name], float(runner.restarts))
        # Every request to PostgreSQL that waited for its answer (chassis.db): the figure a command's
        # cost in the database follows, and `make bench` divides by commands.
        round_trips = CounterMetricFamily(
            "db_round_trips",
            "Round trips to PostgreSQL made by this process's connections (statements, prepares, "
            "BEGIN/COMMIT/SAVEPOINT, the pool's reset on release).",
            labels=["service"],
        )
        if runtime is not None:
            round_trips.add_metric([runtime.name], float(runtime.round_trips.total))
        yield from (leader, published, in_use, pool_size, restarts, round_trips)
        yield from self.metrics._cached


# --- the chassis's own gauge sources --------------------------------------------------------------------


async def _relay_lag(runtime: ServiceRuntime) -> list[Metric]:
    """Committed events not yet on the topic: how many (capped) and the age of the oldest."""
    topic = runtime.settings.topic(runtime.topic)
    row = await runtime.pool.fetchrow(
        """
        WITH checkpoint AS (
            SELECT coalesce((SELECT tx_id FROM relay_checkpoint WHERE name = $1), '0'::xid8) AS tx_id,
                   coalesce((SELECT position FROM relay_checkpoint WHERE name = $1), 0) AS position
        ), waiting AS (
            SELECT e.recorded_at FROM events e, checkpoint c
            WHERE (e.tx_id, e.position) > (c.tx_id, c.position)
            ORDER BY e.tx_id, e.position LIMIT $2
        )
        SELECT count(*) AS events,
               coalesce(extract(epoch FROM clock_timestamp() - min(recorded_at)), 0)::float8 AS seconds
        FROM waiting
        """,
        topic,
        RELAY_LAG_COUNT_CAP,
    )
    assert row is not None  # an aggregate without GROUP BY: always one row
    count = GaugeMetricFamily(
        "platform_relay_lag_events",
        f"Committed events not yet published to the topic (counted up to {RELAY_LAG_COUNT_CAP}).",
    )
    count.add_metric([], float(row["events"]))
    age = GaugeMetricFamily(
        "platform_relay_lag_seconds", "Age of the oldest committed event not yet published (0: none)."
    )
    age.add_metric([], max(0.0, float(row["seconds"])))
    return [count, age]


async def _dead_letters(runtime: ServiceRuntime) -> list[Metric]:
    """Dead letters not replayed yet, by consumer: each waits for ops (P6)."""
    rows = await runtime.pool.fetch(
        "SELECT consumer, count(*) AS waiting FROM dead_letters WHERE replayed_at IS NULL GROUP BY consumer"
    )
    family = GaugeMetricFamily(
        "platform_dead_letters_waiting",
        "Poison messages in the dead-letter table not replayed yet, by consumer.",
        labels=["consumer"],
    )
    waiting = {f"{runtime.name}.{r.name}": 0 for r in runtime.reactions}
    waiting.update({row["consumer"]: row["waiting"] for row in rows})
    for consumer, count in sorted(waiting.items()):
        family.add_metric([consumer], float(count))
    return [family]


async def _consumer_lag(runtime: ServiceRuntime) -> list[Metric]:
    """Messages not yet handled (end offset - committed offset), per consumer and partition."""
    family = GaugeMetricFamily(
        "platform_consumer_lag_messages",
        "Messages on a partition not yet handled by a consumer (end offset - committed offset).",
        labels=["consumer", "topic", "partition"],
    )
    prefix = runtime.settings.kafka_topic_prefix
    for runner in runtime.runners:
        for where, lag in (await runner.lag()).items():
            topic, _, partition = where.rpartition("[")
            family.add_metric(
                [runner.consumer_name, topic.removeprefix(prefix), partition.rstrip("]")], float(lag)
            )
    return [family]


# --- HTTP ---------------------------------------------------------------------------------------------


class MeasureRequests:
    """Observe every request's duration by route template (never the raw path: it holds ids)."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.request_served(scope["method"], route, status, time.perf_counter() - started)


def metrics_response(metrics: ServiceMetrics) -> tuple[bytes, str]:
    """The Prometheus text exposition of the service's registry, and its content type."""
    from prometheus_client import generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

    # 0.0.4, not the client's latest (1.0.0): the text format every Prometheus 2.x reads (Debian's is 2.42).
    return generate_latest(metrics.registry), CONTENT_TYPE_PLAIN_0_0_4


__all__ = ["GaugeSource", "MeasureRequests", "ServiceMetrics", "metrics_response"]
