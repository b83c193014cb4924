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
import zlib
from collections import Counter
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import TopicPartition
from opentelemetry import trace
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
)

from chassis import kafka
from chassis.db import Conn, needs_reset
from chassis.eventstore import APPENDED_CHANNEL
from chassis.reachability import BrokerWatch
from chassis.settings import ServiceSettings
from chassis.signing import Signer, signer_from_settings
from chassis.telemetry import span_context_of

log = structlog.get_logger()

BATCH = 2000
#: The producer's default partitioner (murmur2 of the key, as the Java client): the same key goes
#: to the same partition as with `producer.send`.
_PARTITIONER = DefaultPartitioner()
#: Events linked from one publish span: the SDK keeps 128 links per span by default (SpanLimits).
LINKS_PER_SPAN = 128
#: A batch this small (the relay keeping up: a command's events) gets a span per event, a child of
#: the appending span, so the request's own trace shows its publication. A larger one (a backlog, a
#: burst, a republish) gets a span per `LINKS_PER_SPAN` events, linked to each appending span: a span
#: per event there cost as much as the publishing itself.
SPAN_PER_EVENT_UP_TO = 32
#: The longest the relay sleeps between polls when nothing is published (a notification ends it).
IDLE_POLL_SECONDS = 5.0

#: The next committed events, each as the message it becomes: PostgreSQL writes the envelope around
#: the stored payload (no decode and re-encode in Python) and hands key, value and headers as bytes.
#: The stored trace context (the appending request's, P7) goes out verbatim as the headers.
_BATCH_QUERY = """
SELECT tx_id::text AS tx_id, position,
       convert_to(integrator_id, 'UTF8') AS key,
       convert_to(event_type, 'UTF8') AS event_type,
       convert_to(event_id::text, 'UTF8') AS event_id,
       convert_to(trace_context->>'traceparent', 'UTF8') AS traceparent,
       convert_to(trace_context->>'tracestate', 'UTF8') AS tracestate,
       convert_to(
           '{"event_id":"' || event_id::text
           || '","event_type":' || to_json(event_type)::text
           || ',"schema_version":' || schema_version::text
           || ',"occurred_at":"' || to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')
           || '+00:00","producer":' || to_json($4::text)::text
           || ',"stream_id":' || to_json(stream_id)::text
           || ',"stream_version":' || stream_version::text
           || ',"integrator_id":' || to_json(integrator_id)::text
           || ',"correlation_id":"' || correlation_id::text
           || '","causation_id":' || coalesce('"' || causation_id::text || '"', 'null')
           || ',"payload":' || payload::text || '}',
           'UTF8') AS value
FROM events
WHERE (tx_id, position) > ($1::text::xid8, $2::bigint)
  AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY events.tx_id, events.position  -- the columns: `tx_id` alone is the text alias above
LIMIT $3
"""


def _span_context_of(traceparent: bytes | None) -> SpanContext | None:
    """The span that appended an event, from its stored W3C traceparent (read as bytes here); None when
    there is none or it is malformed."""
    return span_context_of(traceparent.decode("latin-1")) if traceparent is not None else None


def _link_of(traceparent: bytes | None) -> Link | None:
    context = _span_context_of(traceparent)
    return Link(context) if context is not None else None


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
        broker: BrokerWatch | None = None,
        sign: bool = True,
    ) -> None:
        self.service = service
        #: Every message is signed with the service's current key (chassis.signing); `sign=False`
        #: only for the bench's figure without signing (consumers dead-letter unsigned events).
        self._signer: Signer | None = signer_from_settings(settings, service) if sign else None
        self.topic = settings.topic(topic)
        self.settings = settings
        self.pool = pool
        self.tracer = tracer
        self.poll_seconds = poll_seconds
        #: Says when the broker restarted empty: the relay then publishes every event again.
        self.broker = broker
        self._broker_epoch = broker.epoch if broker is not None else 0
        if broker is not None:
            broker.on_wipe.append(self.wake)
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
        self._checkpoint_cache: tuple[str, int, int] | None = None
        self._partitions: list[int] = []
        self._partition_of: dict[bytes, int] = {}
        #: The next batch being read while the current one is sent: ((tx_id, position) it starts after, task).
        self._prefetch: tuple[tuple[str, int], asyncio.Task[list[asyncpg.Record]]] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"relay:{self.service}")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._drop_prefetch()
        for client in (self._producer, self._offsets):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.stop()

    def wake(self) -> None:
        self._wake.set()

    def _drop_prefetch(self) -> None:
        if self._prefetch is not None:
            self._prefetch[1].cancel()
            self._prefetch = None

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
                self._drop_prefetch()
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
            needs_reset(lock_conn)
            # A session-level advisory lock: released if this process dies (its connection closes).
            while not await lock_conn.fetchval("SELECT pg_try_advisory_lock($1)", self.lock_key):
                self.is_leader = False
                await asyncio.sleep(1.0)
            self.is_leader = True
            self._checkpoint_cache = None
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
                quiet_polls = 0
                while not self._stopping:
                    await self._start_over_if_broker_was_wiped()
                    published = self.published_total
                    more = await self.publish_once()
                    now = asyncio.get_running_loop().time()
                    if now - last_check > 2.0:
                        await self._check_broker_kept_our_messages()
                        last_check = now
                    if more:
                        continue
                    # The poll is a safety net behind LISTEN/NOTIFY, which wakes us at once: while
                    # nothing goes out it stretches (1, 2, 4 s… up to IDLE_POLL_SECONDS), an idle
                    # platform's relays then wake rarely; anything published makes it 1 s again.
                    quiet_polls = 0 if self.published_total != published else min(quiet_polls + 1, 8)
                    wait = min(self.poll_seconds * 2**quiet_polls, max(self.poll_seconds, IDLE_POLL_SECONDS))
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), wait)
            finally:
                with contextlib.suppress(Exception):
                    await lock_conn.remove_listener(APPENDED_CHANNEL, self._on_notify)
                with contextlib.suppress(Exception):
                    await lock_conn.execute("SELECT pg_advisory_unlock($1)", self.lock_key)
                self.is_leader = False

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _checkpoint(self, conn: Conn) -> tuple[str, int, int]:
        """Where publication stands. Kept in memory between batches while this relay leads (it is the
        only writer then); read from the table when it starts leading or after a broker wipe."""
        if self._checkpoint_cache is not None:
            return self._checkpoint_cache
        row = await conn.fetchrow(
            "SELECT tx_id::text AS tx_id, position, published FROM relay_checkpoint WHERE name = $1",
            self.topic,
        )
        self._checkpoint_cache = (
            ("0", 0, 0) if row is None else (row["tx_id"], row["position"], row["published"])
        )
        return self._checkpoint_cache

    async def publish_once(self) -> bool:
        """Publish the next batch of committed events. Returns True when there may be more right away
        (a full batch, or events hidden behind a transaction still in flight)."""
        assert self._producer is not None
        async with self.pool.acquire() as conn:
            tx_id, position, published = await self._checkpoint(conn)
            rows = await self._rows_after(conn, tx_id, position)
            if len(rows) == BATCH:
                # Likely more: let PostgreSQL read the next batch while this one goes out. The read is
                # as safe early as late: it returns only transactions older than any still in flight.
                self._prefetch = (
                    (rows[-1]["tx_id"], rows[-1]["position"]),
                    asyncio.create_task(self._fetch_after(rows[-1]["tx_id"], rows[-1]["position"])),
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
            self._last_slices.update(await self._send_batch(rows))
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
            self._checkpoint_cache = (last["tx_id"], last["position"], published + len(rows))
            self.published_total += len(rows)
            return len(rows) == BATCH

    async def _rows_after(self, conn: Conn, tx_id: str, position: int) -> list[asyncpg.Record]:
        """The batch after the checkpoint: the one prefetched if it starts there, else read now."""
        prefetched, self._prefetch = self._prefetch, None
        if prefetched is not None:
            start, task = prefetched
            if start == (tx_id, position):
                with contextlib.suppress(Exception):
                    return await task
            else:  # the checkpoint moved under us (a republish after a broker wipe)
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        rows: list[asyncpg.Record] = await conn.fetch(_BATCH_QUERY, tx_id, position, BATCH, self.service)
        return rows

    async def _fetch_after(self, tx_id: str, position: int) -> list[asyncpg.Record]:
        async with self.pool.acquire() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(_BATCH_QUERY, tx_id, position, BATCH, self.service)
            return rows

    async def _send_batch(self, rows: list[asyncpg.Record]) -> Counter[int]:
        """Send the rows and wait for every acknowledgement; returns the messages sent per partition.

        Messages go in record batches built here, one per partition (aiokafka's `send_batch`), with
        the partition the producer's own partitioner gives the key (cached per key: murmur2 in pure
        Python cost more than the rest of a message). Each message is signed (`sig_kid`, `sig`:
        chassis.signing). Each message's headers carry the event's stored trace context itself (the request that appended it), so every consumer continues the
        original trace (P7) however the relay's own spans are cut (`SPAN_PER_EVENT_UP_TO`)."""
        producer = self._producer
        assert producer is not None
        topic = self.topic
        partitions = sorted(await producer.partitions_for(topic))
        if partitions != self._partitions or len(self._partition_of) > 100_000:
            self._partitions = partitions
            self._partition_of.clear()
        partition_of = self._partition_of
        signer = self._signer
        builders: dict[int, Any] = {}
        futures: list[asyncio.Future[Any]] = []
        sent: Counter[int] = Counter()
        spans: list[Span] = []
        try:
            for start in range(0, len(rows), LINKS_PER_SPAN):
                chunk = rows[start : start + LINKS_PER_SPAN]
                # One link per appending span: a command's events share theirs.
                traceparents = dict.fromkeys(row["traceparent"] for row in chunk)
                if len(rows) <= SPAN_PER_EVENT_UP_TO:
                    spans.extend(map(self._event_span, chunk))
                else:
                    spans.append(
                        self.tracer.start_span(
                            f"publish {topic}",
                            kind=SpanKind.PRODUCER,
                            links=[link for link in map(_link_of, traceparents) if link is not None],
                            attributes={
                                "messaging.system": "kafka",
                                "messaging.operation.type": "send",
                                "messaging.destination.name": topic,
                                "messaging.batch.message_count": len(chunk),
                            },
                        )
                    )
                for row in chunk:
                    key = row["key"]
                    partition = partition_of.get(key)
                    if partition is None:
                        partition = partition_of[key] = _PARTITIONER(key, partitions, partitions)
                    headers = [("event_type", row["event_type"]), ("event_id", row["event_id"])]
                    if signer is not None:  # over the exact bytes sent: key, event type, value
                        headers += signer.headers(key, row["value"], row["event_type"])
                    if row["traceparent"] is not None:
                        headers.append(("traceparent", row["traceparent"]))
                        if row["tracestate"] is not None:
                            headers.append(("tracestate", row["tracestate"]))
                    builder = builders.get(partition)
                    if builder is None:
                        builder = builders[partition] = producer.create_batch()
                    if builder.append(timestamp=None, key=key, value=row["value"], headers=headers) is None:
                        # Full: off it goes, and the message starts the partition's next batch.
                        futures.append(await producer.send_batch(builder, topic, partition=partition))
                        builder = builders[partition] = producer.create_batch()
                        if (
                            builder.append(timestamp=None, key=key, value=row["value"], headers=headers)
                            is None
                        ):
                            raise ValueError(f"event {row['event_id']!r} is too large for a Kafka batch")
                    sent[partition] += 1
            for partition, builder in builders.items():
                futures.append(await producer.send_batch(builder, topic, partition=partition))
            await asyncio.gather(*futures)
            return sent
        except BaseException as error:
            for span in spans:
                span.set_status(Status(StatusCode.ERROR, repr(error)[:200]))
            raise
        finally:
            for span in spans:
                span.end()

    def _event_span(self, row: asyncpg.Record) -> Span:
        """A PRODUCER span of one event, a child of its appending span (in the request's trace)."""
        parent = _span_context_of(row["traceparent"])
        event_type = row["event_type"].decode()
        return self.tracer.start_span(
            f"publish {event_type}",
            context=trace.set_span_in_context(NonRecordingSpan(parent)) if parent is not None else None,
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "send",
                "messaging.destination.name": self.topic,
                "integrator.id": row["key"].decode(),
                "event.type": event_type,
                "event.id": row["event_id"].decode(),
            },
        )

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
            # Only end offsets are asked of it: paused, it does not fetch the topic in the background
            # (an assigned consumer would, 50 times a second when the topic is idle).
            consumer.pause(*tps)
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
                await self._start_over(conn)

    async def _start_over_if_broker_was_wiped(self) -> None:
        """The broker watch saw the broker restart empty (and declared our topic again): everything
        goes out again, from the first event — whatever the log ends say, which a relay that had
        published little, or nothing, since the restart could not tell from a healthy topic."""
        if self.broker is None or self.broker.epoch == self._broker_epoch:
            return
        self._broker_epoch = self.broker.epoch
        log.warning("relay_republishing_after_broker_wipe", topic=self.topic)
        async with self.pool.acquire() as conn:
            await self._start_over(conn)

    async def _start_over(self, conn: Conn) -> None:
        await conn.execute("DELETE FROM relay_checkpoint WHERE name = $1", self.topic)
        self._checkpoint_cache = None
        self._drop_prefetch()
        self._last_slices.clear()

    def _lag_allowed(self) -> int:
        """How far the broker's end offsets may honestly trail what it acknowledged. Tansu reports a
        partition's end as the base offset of its last record batch + 1, not its last offset + 1: up to
        (that batch's size - 1) short. A record batch never spans two of our batches (we await every
        acknowledgement before the next), so the last batch we sent a partition bounds it. Without this
        a burst made the relay conclude the broker lost messages and republish everything."""
        return sum(count - 1 for count in self._last_slices.values())
