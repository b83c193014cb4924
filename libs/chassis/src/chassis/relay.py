"""The relay (P2): publishes committed events from the event store to the service's topic.

Transactional outbox without a second table: the event store *is* the outbox. Positions come from a
sequence, so they commit out of order; the relay therefore reads only events whose transaction id is
below the oldest transaction still in flight (`pg_snapshot_xmin`), ordered by (tx_id, position) — an
event that commits late is read on a later pass, never skipped. Woken by LISTEN/NOTIFY, with a poll as
a safety net. One replica publishes at a time: the leader holds a PostgreSQL advisory lock (P8).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import zlib
from collections import Counter
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

from chassis import kafka
from chassis.db import Conn
from chassis.eventstore import APPENDED_CHANNEL
from chassis.settings import ServiceSettings

log = structlog.get_logger()

BATCH = 2000


class Relay:
    def __init__(
        self,
        service: str,
        topic: str,
        settings: ServiceSettings,
        pool: asyncpg.Pool,
        tracer: trace.Tracer,
        *,
        poll_seconds: float = 1.0,
    ) -> None:
        self.service = service
        self.topic = settings.topic(topic)
        self.settings = settings
        self.pool = pool
        self.tracer = tracer
        self.poll_seconds = poll_seconds
        self.lock_key = zlib.crc32(f"relay:{service}".encode())
        self.is_leader = False
        self.published_total = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._producer: AIOKafkaProducer | None = None
        self._offsets: AIOKafkaConsumer | None = None
        self._stopping = False
        #: Messages per partition in the last batch that reached each partition (see `_lag_allowed`).
        self._last_slices: dict[int, int] = {}

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"relay:{self.service}")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for client in (self._producer, self._offsets):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.stop()

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        backoff = 0.2
        while not self._stopping:
            try:
                await self._lead_and_publish()
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as error:  # broker or database away: keep trying, visibly
                log.warning("relay_error", error=repr(error)[:300], retry_in=backoff)
                self.is_leader = False
                if self._producer is not None:
                    with contextlib.suppress(Exception):
                        await self._producer.stop()
                    self._producer = None
                if self._offsets is not None:
                    with contextlib.suppress(Exception):
                        await self._offsets.stop()
                    self._offsets = None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _lead_and_publish(self) -> None:
        async with self.pool.acquire() as lock_conn:
            # A session-level advisory lock: released if this process dies (its connection closes).
            while not await lock_conn.fetchval("SELECT pg_try_advisory_lock($1)", self.lock_key):
                self.is_leader = False
                await asyncio.sleep(1.0)
            self.is_leader = True
            log.info("relay_leader", service=self.service)
            try:
                await lock_conn.add_listener(APPENDED_CHANNEL, self._on_notify)
                self._producer = kafka.producer(self.settings)
                await self._producer.start()
                await kafka.ensure_topics(
                    self.settings, [self.topic.removeprefix(self.settings.kafka_topic_prefix)]
                )
                await self._check_broker_kept_our_messages()
                last_check = asyncio.get_running_loop().time()
                while not self._stopping:
                    more = await self.publish_once()
                    now = asyncio.get_running_loop().time()
                    if now - last_check > 2.0:
                        await self._check_broker_kept_our_messages()
                        last_check = now
                    if more:
                        continue
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            finally:
                with contextlib.suppress(Exception):
                    await lock_conn.remove_listener(APPENDED_CHANNEL, self._on_notify)
                with contextlib.suppress(Exception):
                    await lock_conn.execute("SELECT pg_advisory_unlock($1)", self.lock_key)
                self.is_leader = False

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _checkpoint(self, conn: Conn) -> tuple[str, int, int]:
        row = await conn.fetchrow(
            "SELECT tx_id::text AS tx_id, position, published FROM relay_checkpoint WHERE name = $1",
            self.topic,
        )
        if row is None:
            return ("0", 0, 0)
        return (row["tx_id"], row["position"], row["published"])

    async def publish_once(self) -> bool:
        """Publish the next batch of committed events. Returns True when there may be more right away
        (a full batch, or events hidden behind a transaction still in flight)."""
        assert self._producer is not None
        async with self.pool.acquire() as conn:
            tx_id, position, published = await self._checkpoint(conn)
            rows = await conn.fetch(
                """
                SELECT tx_id::text AS tx_id, position, event_id, stream_id, stream_version, event_type,
                       schema_version, integrator_id, occurred_at, correlation_id, causation_id,
                       payload, trace_context
                FROM events
                WHERE (tx_id, position) > ($1::text::xid8, $2::bigint)
                  AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
                ORDER BY tx_id, position
                LIMIT $3
                """,
                tx_id,
                position,
                BATCH,
            )
            if not rows:
                # Anything newer that we could not read yet is held by a transaction in flight.
                pending = await conn.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM events WHERE (tx_id, position) > ($1::text::xid8, $2::bigint))",
                    tx_id,
                    position,
                )
                if pending:
                    await asyncio.sleep(0.005)
                return bool(pending)
            futures = []
            for row in rows:
                futures.append(await self._send(row))
            acks = await asyncio.gather(*futures)
            self._last_slices.update(Counter(ack.partition for ack in acks))
            last = rows[-1]
            await conn.execute(
                """
                INSERT INTO relay_checkpoint (name, tx_id, position, published) VALUES ($1, $2::text::xid8, $3, $4)
                ON CONFLICT (name) DO UPDATE SET tx_id = EXCLUDED.tx_id, position = EXCLUDED.position,
                    published = EXCLUDED.published, updated_at = now()
                """,
                self.topic,
                last["tx_id"],
                last["position"],
                published + len(rows),
            )
            self.published_total += len(rows)
            return len(rows) == BATCH

    async def _send(self, row: asyncpg.Record) -> asyncio.Future[Any]:
        assert self._producer is not None
        envelope = {
            "event_id": str(row["event_id"]),
            "event_type": row["event_type"],
            "schema_version": row["schema_version"],
            "occurred_at": row["occurred_at"].isoformat(),
            "producer": self.service,
            "stream_id": row["stream_id"],
            "stream_version": row["stream_version"],
            "integrator_id": row["integrator_id"],
            "correlation_id": str(row["correlation_id"]),
            "causation_id": str(row["causation_id"]) if row["causation_id"] else None,
        }
        # The payload is already JSON in the store: splice it in rather than decode and re-encode it.
        value = (
            json.dumps(envelope, separators=(",", ":"))[:-1] + ',"payload":' + row["payload"] + "}"
        ).encode()
        stored_context = propagate.extract(json.loads(row["trace_context"]) if row["trace_context"] else {})
        with self.tracer.start_as_current_span(
            f"publish {row['event_type']}",
            context=stored_context,
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": self.topic,
                "integrator.id": row["integrator_id"],
                "event.type": row["event_type"],
                "event.id": str(row["event_id"]),
            },
        ):
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
        headers = [(k, v.encode()) for k, v in carrier.items()]
        headers.append(("event_type", row["event_type"].encode()))
        headers.append(("event_id", str(row["event_id"]).encode()))
        future: asyncio.Future[Any] = await self._producer.send(
            self.topic, value=value, key=row["integrator_id"].encode(), headers=headers
        )
        return future

    async def _check_broker_kept_our_messages(self) -> None:
        """The embedded broker keeps its log in memory: after a restart our topic is empty although the
        checkpoint says we published. Then start over from the first event; consumers deduplicate (P4)."""
        assert self._producer is not None
        if self._offsets is None:
            self._offsets = kafka.consumer(self.settings, group_id=None)
            await self._offsets.start()
        consumer = self._offsets
        # Ask through the producer: it fetches the topic's metadata (an unsubscribed consumer would not,
        # and an unknown topic would look empty — a false alarm).
        partitions = await self._producer.partitions_for(self.topic)
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        if set(consumer.assignment()) != set(tps):
            consumer.assign(tps)
        ends = await consumer.end_offsets(tps) if tps else {}
        on_broker = sum(ends.values())
        async with self.pool.acquire() as conn:
            _, _, published = await self._checkpoint(conn)
        if on_broker + self._lag_allowed() >= published:
            return
        # The broker's high watermark can trail its acknowledgements for a moment: look again before
        # concluding that it lost our messages (a false alarm would republish everything).
        await asyncio.sleep(1.0)
        ends = await consumer.end_offsets(tps) if tps else {}
        on_broker = sum(ends.values())
        async with self.pool.acquire() as conn:
            _, _, published = await self._checkpoint(conn)
            if on_broker + self._lag_allowed() < published:
                log.warning(
                    "relay_broker_lost_messages", topic=self.topic, on_broker=on_broker, published=published
                )
                await kafka.ensure_topics(
                    self.settings, [self.topic.removeprefix(self.settings.kafka_topic_prefix)]
                )
                await conn.execute("DELETE FROM relay_checkpoint WHERE name = $1", self.topic)
                self._last_slices.clear()

    def _lag_allowed(self) -> int:
        """How far the broker's end offsets may honestly trail what it acknowledged. Tansu reports a
        partition's end as the base offset of its last record batch + 1, not its last offset + 1: up to
        (that batch's size - 1) short. A record batch never spans two of our batches (we await every
        acknowledgement before the next), so the last batch we sent a partition bounds it. Without this
        a burst made the relay conclude the broker lost messages and republish everything."""
        return sum(count - 1 for count in self._last_slices.values())
