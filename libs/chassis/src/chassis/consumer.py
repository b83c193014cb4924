"""Reactions: idempotent Kafka consumers (P3) with a dead-letter topic for poison messages (P6).

Each poll's batch is handled in one database transaction: the inbox rows `(consumer, event_id)` and
the messages' effects commit together, and the offsets are committed to Kafka only after the database
commit (at-least-once; a redelivery finds its inbox row and changes nothing). The batch is first
handled at once (one inbox insert, no savepoints); if a handler fails, that transaction is rolled back
and the batch is handled again with each message in a savepoint, so a message that cannot be read, or
that the domain refuses, goes alone to the dead-letter topic and table with its reason, and the
consumer goes on. A database outage stops the batch and retries it. After-commit actions (emails) run
off the consumer's loop, a few at once, in order per message key.

The consume loop itself is FastStream's (chassis.subscriber: one batch subscriber per service).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import json
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from opentelemetry.trace import SpanKind, Status, StatusCode
from pydantic import ValidationError

from chassis import context, dead_letters
from chassis.db import Conn
from chassis.eventstore import ConcurrencyConflict, Recorded
from chassis.handled import Handles, event_types
from chassis.known_integrators import Believer, KnownIntegrators
from chassis.parking import FailingOffsets
from chassis.telemetry import context_from_kafka_headers, span_attributes
from chassis.unit_of_work import UnitOfWork
from contracts import topics
from contracts.envelope import Envelope
from contracts.errors import Refusal
from contracts.events import REGISTRY, UnknownEventType
from contracts.events.base import validate_tolerant

if TYPE_CHECKING:
    from chassis.runtime import ServiceRuntime

log = structlog.get_logger()

#: The largest message a consumer accepts; larger is poison (P6).
MAX_MESSAGE_BYTES = 1_000_000
#: Times one message is handled again when a concurrent writer moved what it read.
CONFLICT_ATTEMPTS = 3
#: After-commit actions (emails) under way at once per reaction, off the consumer's loop. Each may
#: hold two pooled connections (the notifier's send lock, then its record): 4 leave room in a pool of 10.
AFTER_COMMIT_CONCURRENCY = 4

TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,
    # A pooled connection caught mid-operation when the server died.
    asyncpg.exceptions._base.InternalClientError,
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
)


class Poison(Exception):
    """This message can never be handled: dead-letter it with the reason."""


class _HandleOneByOne(Exception):
    """A handler failed while its batch was handled at once: handle the batch again, one by one."""


#: What a reaction's handler gets: the unit of work of the batch it is consumed in.
ReactionContext = UnitOfWork


@dataclass(frozen=True)
class _AfterCommit:
    """An after-commit action and the key of the message that caused it (its integrator): one
    integrator's actions run in order."""

    run: Callable[[], Awaitable[None]]
    key: bytes | None


Handler = Callable[[ReactionContext, Recorded], Awaitable[None]]
Prefetch = Callable[[UnitOfWork, list[Recorded]], Awaitable[None]]


@dataclass(frozen=True)
class Reaction:
    name: str
    topics: list[str]
    #: Event classes; kept as their type names, each checked against the registry (chassis.handled).
    handles: Handles
    handler: Handler
    #: Loads in bulk, for a whole batch, what its handlers will load one by one (the unit of work's
    #: identity map then answers them): one round trip per batch instead of one per message.
    prefetch: Prefetch | None = None
    #: Believe an integrator's events only once its registration is seen (chassis.known_integrators):
    #: the consumer then also reads the events the rule needs, and `handles` includes them.
    trust: KnownIntegrators | None = None
    #: What the handler itself is given (`handles` without what only the rule reads).
    handler_handles: frozenset[str] = field(default=frozenset(), init=False)

    def __post_init__(self) -> None:
        owner = f"reaction {self.name!r}"
        names = event_types(self.handles, owner=owner)
        object.__setattr__(self, "handler_handles", names)
        if self.trust is not None:
            names |= self.trust.reads(owner)
        object.__setattr__(self, "handles", names)
        # An event from a topic the reaction does not read would never reach it.
        unread = sorted(t for t in names if topics.BY_SERVICE[REGISTRY.model(t).producer] not in self.topics)
        if unread:
            raise ValueError(f"{owner} handles {unread} but does not read their topics")


def decode(message: ConsumerRecord[bytes, bytes]) -> Recorded:
    """Validate a Kafka message into a Recorded event, or raise Poison with the reason."""
    if message.value is None:
        raise Poison("empty message")
    if len(message.value) > MAX_MESSAGE_BYTES:
        raise Poison(f"message of {len(message.value)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        # One pass in pydantic-core for the well-formed message; anything else is explained below.
        envelope = Envelope.model_validate_json(message.value)
    except ValidationError:
        pass
    else:
        try:
            return Recorded(
                envelope=envelope,
                event=REGISTRY.load(
                    envelope.event_type, envelope.schema_version, envelope.payload, tolerant=True
                ),
            )
        except (UnknownEventType, ValidationError, ValueError):
            pass
    try:
        raw = json.loads(message.value)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise Poison(f"not JSON: {error}") from None
    try:
        # Tolerant reader: a field a newer producer added is ignored here, not poison; what this
        # code writes stays strict (the models forbid unknown fields).
        envelope = validate_tolerant(Envelope, raw)
    except ValidationError as error:
        raise Poison(f"not an envelope: {_short(error)}") from None
    try:
        event = REGISTRY.load(envelope.event_type, envelope.schema_version, envelope.payload, tolerant=True)
    except UnknownEventType:
        raise Poison(f"unknown event type {envelope.event_type!r}") from None
    except ValidationError as error:
        raise Poison(f"invalid {envelope.event_type} payload: {_short(error)}") from None
    except ValueError as error:
        raise Poison(str(error)) from None
    return Recorded(envelope=envelope, event=event)


def read_headers(message: ConsumerRecord[bytes, bytes]) -> dict[str, str]:
    """The message's headers as text, or Poison: every header the platform writes is UTF-8 text, so
    a header without a value or with other bytes did not come from a relay."""
    headers: dict[str, str] = {}
    for key, value in message.headers or ():
        if value is None:
            raise Poison(f"header {key!r} has no value")
        try:
            headers[key] = value.decode("utf-8")
        except UnicodeDecodeError:
            raise Poison(f"header {key!r} is not UTF-8 text") from None
    return headers


def check_key(message: ConsumerRecord[bytes, bytes], rec: Recorded) -> None:
    """The partition key is the envelope's integrator (the relay writes it so): a message whose key
    says otherwise was not written by a relay, and would be ordered with another integrator's events."""
    if message.key != rec.envelope.integrator_id.encode():
        raise Poison(
            f"message key {message.key!r:.120} is not the envelope's integrator_id "
            f"{rec.envelope.integrator_id!r}"
        )


def _short(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in error.errors()[:5])


def reactions_group(runtime: ServiceRuntime) -> str:
    """The service's one consumer group for all its reactions (the Kafka ACLs grant `<service>.`)."""
    return f"{runtime.settings.kafka_topic_prefix}{runtime.name}.reactions"


class ReactionRunner:
    """A reaction's batch body: what the service's subscriber (chassis.subscriber) hands it of each
    batch is handled in one transaction with its inbox rows, under the name `<service>.<reaction>`."""

    def __init__(self, runtime: ServiceRuntime, reaction: Reaction) -> None:
        self.runtime = runtime
        self.reaction = reaction
        self.consumer_name = f"{runtime.name}.{reaction.name}"
        #: One consumer group per service reads every reaction's topics (chassis.subscriber).
        self.group_id = reactions_group(runtime)
        self.topics = [runtime.settings.topic(t) for t in reaction.topics]
        self.processed = 0
        self.dead_lettered = 0
        #: The current batch's messages by (broker topic, outcome), for the metrics (chassis.metrics).
        self._outcomes: collections.Counter[tuple[str, str]] = collections.Counter()
        #: Restarts of the consume loop and why (ops: /ops/status): a consumer failing in a loop
        #: shows here instead of silently holding its partitions.
        self.restarts = 0
        self.last_error: str | None = None
        self.last_error_at: str | None = None
        #: The service's consumer (chassis.subscriber), once started: this reaction's lag is read there.
        self._consumer: AIOKafkaConsumer | None = None
        #: Batches failing again and again from the same offset (chassis.parking): past the limit,
        #: the message that fails is parked (dead-lettered) and the consumer moves on.
        self.failing = FailingOffsets(runtime.settings.consumer_restarts_before_parking)
        self.parked = 0
        self._after_commit_slots = asyncio.Semaphore(AFTER_COMMIT_CONCURRENCY)
        self._after_commit_running: set[asyncio.Task[None]] = set()
        self._after_commit_last: dict[Any, asyncio.Task[None]] = {}
        #: The reaction's trust rule at work, when it declares one.
        self.believer = (
            Believer(self, reaction.trust, reaction.handler, reaction.handler_handles)
            if reaction.trust is not None
            else None
        )

    async def _handle_event(
        self, uow: UnitOfWork, message: ConsumerRecord[bytes, bytes], rec: Recorded
    ) -> None:
        """A fresh message to its handler, through the reaction's trust rule if it declares one."""
        if self.believer is None:
            await self.reaction.handler(uow, rec)
        else:
            await self.believer.handle(uow, message, rec)

    def restarted(self, error: BaseException) -> None:
        """Its batch failed and comes again (chassis.subscriber): ops see why in /ops/status."""
        self.restarts += 1
        self.last_error = repr(error)[:500]
        self.last_error_at = datetime.now(UTC).isoformat()

    def health(self) -> dict[str, Any]:
        """What ops read of this consumer in /ops/status."""
        return {
            "processed": self.processed,
            "dead_lettered": self.dead_lettered,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            # Where a batch keeps failing (offset, times in a row), and the messages parked for it.
            "failing": self.failing.describe(),
            "parked": self.parked,
        }

    async def lag(self) -> dict[str, int]:
        """Messages not yet handled, per partition (ops view)."""
        c = self._consumer
        if c is None:
            return {}
        tps = [tp for tp in c.assignment() if tp.topic in self.topics]
        if not tps:
            return {}
        ends = await c.end_offsets(tps)
        result = {}
        for tp in tps:
            committed = await c.committed(tp) or 0
            result[f"{tp.topic}[{tp.partition}]"] = max(0, ends[tp] - committed)
        return result

    async def _handle_with_retry(self, messages: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Handle the batch, waiting out a database outage. A batch that failed too many times in a
        row from the same offset is handled one message at a time instead, parking the one that fails
        (chassis.parking); any other failure is counted and raised (the subscriber rewinds)."""
        failures = self.failing.stuck(messages)
        try:
            if failures:
                await self._park_what_fails(messages, failures)
            else:
                await self._through_outages(self.handle_batch, messages)
        except Exception as error:
            self.failing.failed(messages, error)
            raise
        self.failing.succeeded(messages)

    async def _through_outages(
        self,
        action: Callable[[list[ConsumerRecord[bytes, bytes]]], Awaitable[None]],
        messages: list[ConsumerRecord[bytes, bytes]],
    ) -> None:
        backoff = 0.1
        while True:
            try:
                await action(messages)
                return
            except TRANSIENT_DB_ERRORS as error:
                # The database is away: nothing committed; the same batch is tried again.
                log.warning(
                    "consumer_db_unavailable",
                    consumer=self.consumer_name,
                    error=repr(error)[:200],
                    retry_in=backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _park_what_fails(self, messages: list[ConsumerRecord[bytes, bytes]], failures: int) -> None:
        """Each message in a transaction of its own: the one whose batch still fails is parked."""
        log.warning(
            "consumer_parking", consumer=self.consumer_name, failures=failures, messages=len(messages)
        )
        for message in messages:
            try:
                await self._through_outages(self.handle_batch, [message])
            except Exception as error:
                reason = (
                    f"parked: its batch failed {failures} times in a row from the same offset, and "
                    f"handled alone it fails: {type(error).__name__}: {error}"
                )
                await self._through_outages(functools.partial(self._park, reason=reason), [message])

    async def _park(self, messages: list[ConsumerRecord[bytes, bytes]], *, reason: str) -> None:
        [message] = messages
        async with self.runtime.pool.acquire() as conn, conn.transaction():
            await self._record_dead_letter(conn, message, reason)
        self.parked += 1
        self.runtime.metrics.message_parked(
            self.consumer_name, message.topic.removeprefix(self.runtime.settings.kafka_topic_prefix)
        )
        await self._publish_dead_letter(message, reason)

    async def handle_batch(self, messages: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Handle a fetched batch in one transaction: first all at once (one inbox insert, no
        savepoints); if any handler fails, that transaction is rolled back and the batch is handled
        again message by message, each in a savepoint, so only the failing one is dead-lettered."""
        after_commit: list[_AfterCommit] = []
        poison: list[tuple[ConsumerRecord[bytes, bytes], str]] = []
        started = time.perf_counter()
        self._outcomes.clear()
        try:
            await self._handle_batch_at_once(messages, after_commit, poison)
        except _HandleOneByOne:
            after_commit.clear()
            poison.clear()
            self._outcomes.clear()
            async with self.runtime.pool.acquire() as conn, conn.transaction():
                for message in messages:
                    reason = await self._handle_one(conn, message, after_commit)
                    if reason is not None:
                        poison.append((message, reason))
                for message, reason in poison:
                    await self._record_dead_letter(conn, message, reason)
        self.processed += len(messages)
        self._count_outcomes(messages, poison, time.perf_counter() - started)
        for message, reason in poison:
            await self._publish_dead_letter(message, reason)
        for action in after_commit:
            await self._after_commit_slots.acquire()  # backpressure: at most AFTER_COMMIT_CONCURRENCY
            task = asyncio.create_task(
                self._after_commit(action.run, self._after_commit_last.get(action.key))
            )
            self._after_commit_last[action.key] = task
            self._after_commit_running.add(task)
            task.add_done_callback(functools.partial(self._after_commit_done, action.key))

    def _count_outcomes(
        self,
        messages: list[ConsumerRecord[bytes, bytes]],
        poison: list[tuple[ConsumerRecord[bytes, bytes], str]],
        seconds: float,
    ) -> None:
        """A committed batch's outcomes to the metrics: what was neither handled, a duplicate nor
        dead-lettered was not for this consumer (ignored)."""
        metrics = self.runtime.metrics
        outcomes, self._outcomes = self._outcomes, collections.Counter()
        if not metrics.enabled:
            return
        for message, _ in poison:
            outcomes[message.topic, "dead_lettered"] += 1
        for message in messages:
            outcomes[message.topic, "ignored"] += 1
        for topic in {t for t, _ in outcomes}:
            outcomes[topic, "ignored"] -= sum(
                outcomes[topic, o] for o in ("handled", "duplicate", "dead_lettered")
            )
        prefix = self.runtime.settings.kafka_topic_prefix
        metrics.batch_consumed(
            self.consumer_name,
            {(topic.removeprefix(prefix), outcome): n for (topic, outcome), n in outcomes.items()},
            seconds,
        )

    async def _after_commit(
        self, action: Callable[[], Awaitable[None]], previous: asyncio.Task[None] | None
    ) -> None:
        """One after-commit action (an email to send), off the consumer's loop so the next batch is
        not held by it; after the previous one of the same key, so one integrator's go out in order.
        What it does is recorded before (the intent), so a crash here loses nothing: the service's
        own retry finds it (P5)."""
        try:
            if previous is not None and not previous.done():
                await asyncio.wait([previous])
            await action()
        except Exception as error:
            log.warning("after_commit_failed", consumer=self.consumer_name, error=repr(error)[:300])
        finally:
            self._after_commit_slots.release()

    def _after_commit_done(self, key: Any, task: asyncio.Task[None]) -> None:
        self._after_commit_running.discard(task)
        if self._after_commit_last.get(key) is task:
            del self._after_commit_last[key]

    async def drain_after_commit(self, timeout: float = 5.0) -> None:
        """Wait for the after-commit actions under way (on stop); what is left, the retry finds."""
        running = list(self._after_commit_running)
        if not running:
            return
        _, late = await asyncio.wait(running, timeout=timeout)
        for task in late:
            task.cancel()

    def _read(self, message: ConsumerRecord[bytes, bytes]) -> Recorded | str | None:
        """The message's event if this reaction handles it, None if it does not, or the reason it
        is poison. Never raises: a message that cannot be read (headers, key, body) is poison, else
        it would fail its whole batch again and again on the same offset."""
        try:
            headers = read_headers(message)
            event_type = headers.get("event_type", "")
            if event_type and event_type not in self.reaction.handles and REGISTRY.knows(event_type):
                return None  # a well-known event this reaction does not care about
            refused = self.runtime.event_signatures.refusal(
                message.topic, headers, message.key, message.value
            )
            if refused is not None:  # believed only when the topic's owner signed it (chassis.signing)
                raise Poison(refused)
            rec = decode(message)
            if rec.envelope.event_type not in self.reaction.handles:
                return None
            if event_type and event_type != rec.envelope.event_type:
                raise Poison(f"header event_type {event_type!r:.100} is not the envelope's")
            check_key(message, rec)
            return rec
        except Poison as error:
            return str(error)
        except Exception as error:
            return f"unreadable message: {type(error).__name__}: {error}"[:2000]

    def _consume_span(self, message: ConsumerRecord[bytes, bytes], rec: Recorded) -> Any:
        """The CONSUMER span of one message, in the trace its headers carry (the appending request's)."""
        return self.runtime.tracer.start_as_current_span(
            f"consume {rec.envelope.event_type}",
            context=context_from_kafka_headers(message.headers),
            kind=SpanKind.CONSUMER,
            attributes={**span_attributes(rec.envelope), "messaging.consumer.group.name": self.group_id},
        )

    async def _handle_batch_at_once(
        self,
        messages: list[ConsumerRecord[bytes, bytes]],
        after_commit: list[_AfterCommit],
        poison: list[tuple[ConsumerRecord[bytes, bytes], str]],
    ) -> None:
        """The common case: every message is fine. One inbox insert for the batch, each handler in
        the batch's transaction; any handler's error raises `_HandleOneByOne` (rolling it all back)."""
        handled: list[tuple[ConsumerRecord[bytes, bytes], Recorded]] = []
        for message in messages:
            read = self._read(message)
            if isinstance(read, str):
                poison.append((message, read))
            elif read is not None:
                handled.append((message, read))
        async with self.runtime.pool.acquire() as conn, conn.transaction():
            # One unit of work for the batch: what its handlers append is written in one statement.
            uow = UnitOfWork(self.runtime, conn)
            fresh: set[Any] = set()
            if handled:
                fresh = {
                    row[0]
                    for row in await conn.fetch(
                        "INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::uuid[]) "
                        "ON CONFLICT DO NOTHING RETURNING event_id",
                        self.consumer_name,
                        [rec.envelope.event_id for _, rec in handled],
                    )
                }
            if self.reaction.prefetch is not None and fresh:
                try:
                    await self.reaction.prefetch(
                        uow, [rec for _, rec in handled if rec.envelope.event_id in fresh]
                    )
                except TRANSIENT_DB_ERRORS:
                    raise
                except Exception as error:  # its handlers will say which message it was
                    raise _HandleOneByOne from error
            for message, rec in handled:
                with self._consume_span(message, rec) as span:
                    if rec.envelope.event_id not in fresh:
                        span.set_attribute("inbox.duplicate", True)
                        self._outcomes[message.topic, "duplicate"] += 1
                        if self.believer is not None:
                            await self.believer.seen_again(conn, rec)
                        continue
                    fresh.discard(rec.envelope.event_id)  # the same event twice in one batch: once
                    corr = context.correlation_id.set(rec.envelope.correlation_id)
                    caus = context.causation_id.set(rec.envelope.event_id)
                    try:
                        await self._handle_event(uow, message, rec)
                    except TRANSIENT_DB_ERRORS:
                        raise
                    except Exception as error:
                        span.set_attribute("consume.retried_alone", True)
                        raise _HandleOneByOne from error
                    finally:
                        context.correlation_id.reset(corr)
                        context.causation_id.reset(caus)
                    after_commit.extend(_AfterCommit(a, message.key) for a in uow.take_after_commit())
                    self._outcomes[message.topic, "handled"] += 1
            try:
                await uow.flush()
            except TRANSIENT_DB_ERRORS:
                raise
            except Exception as error:  # a stream or row another writer moved: one by one
                raise _HandleOneByOne from error
            for message, reason in poison:
                await self._record_dead_letter(conn, message, reason)

    async def _handle_one(
        self,
        conn: Conn,
        message: ConsumerRecord[bytes, bytes],
        after_commit: list[_AfterCommit],
    ) -> str | None:
        """Handle one message in a savepoint. Returns the reason when it must be dead-lettered."""
        rec = self._read(message)
        if rec is None or isinstance(rec, str):
            return rec
        with self._consume_span(message, rec) as span:
            corr = context.correlation_id.set(rec.envelope.correlation_id)
            caus = context.causation_id.set(rec.envelope.event_id)
            try:
                for attempt in range(1, CONFLICT_ATTEMPTS + 1):
                    uow = UnitOfWork(self.runtime, conn)
                    try:
                        async with conn.transaction():  # savepoint
                            fresh = await conn.fetchval(
                                "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) "
                                "ON CONFLICT DO NOTHING RETURNING true",
                                self.consumer_name,
                                rec.envelope.event_id,
                            )
                            if not fresh:
                                span.set_attribute("inbox.duplicate", True)
                                self._outcomes[message.topic, "duplicate"] += 1
                                if self.believer is not None:
                                    await self.believer.seen_again(conn, rec)
                                return None
                            await self._handle_event(uow, message, rec)
                            await uow.flush()
                        break
                    except ConcurrencyConflict:
                        # Another writer moved a stream or row this message read: decide again on
                        # what is there now; a conflict that keeps coming is dead-lettered below.
                        if attempt == CONFLICT_ATTEMPTS:
                            raise
                        span.set_attribute("consume.conflicts", attempt)
            except TRANSIENT_DB_ERRORS:
                raise
            except (Refusal, ValidationError, ValueError, LookupError) as error:
                span.set_status(Status(StatusCode.ERROR, str(error)[:200]))
                return f"refused by {self.consumer_name}: {type(error).__name__}: {error}"[:2000]
            except Exception as error:  # a bug: keep it, visibly, rather than block the partition forever
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, repr(error)[:200]))
                log.error(
                    "reaction_failed",
                    consumer=self.consumer_name,
                    event_id=str(rec.envelope.event_id),
                    error=repr(error)[:300],
                )
                return f"error in {self.consumer_name}: {''.join(traceback.format_exception_only(error)).strip()}"[
                    :2000
                ]
            finally:
                context.correlation_id.reset(corr)
                context.causation_id.reset(caus)
        after_commit.extend(_AfterCommit(a, message.key) for a in uow.take_after_commit())
        self._outcomes[message.topic, "handled"] += 1
        return None

    async def _record_dead_letter(
        self, conn: Conn, message: ConsumerRecord[bytes, bytes], reason: str
    ) -> None:
        """Keep the poison message, whatever its bytes (chassis.dead_letters), in a savepoint of the
        batch's transaction: a row the database refuses anyway is kept with its coordinates only, and
        the consumer goes on — a dead letter that cannot be written must not stop the consumer."""
        self.dead_lettered += 1
        reason = dead_letters.storable(reason)
        log.warning(
            "dead_lettered",
            consumer=self.consumer_name,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            reason=reason[:300],
        )
        try:
            async with conn.transaction():
                await conn.execute(
                    dead_letters.RECORD, *dead_letters.record_arguments(self.consumer_name, message, reason)
                )
            return
        except TRANSIENT_DB_ERRORS:
            raise
        except Exception as error:
            log.error(
                "dead_letter_bytes_not_kept",
                consumer=self.consumer_name,
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                error=dead_letters.storable(repr(error))[:300],
            )
            reason = f"{reason} (its bytes could not be kept: {type(error).__name__}: {error})"
        async with conn.transaction():
            await conn.execute(
                dead_letters.RECORD_COORDINATES,
                *dead_letters.coordinates_arguments(self.consumer_name, message, reason),
            )

    async def _publish_dead_letter(self, message: ConsumerRecord[bytes, bytes], reason: str) -> None:
        try:
            key, value, headers = dead_letters.for_topic(self.consumer_name, message, reason)
            producer = await self.runtime.started_dead_letter_producer()
            # Bounded: an unreachable broker must not stop the consumer; the table row is kept anyway.
            await asyncio.wait_for(
                producer.send_and_wait(
                    self.runtime.settings.topic(topics.DEAD_LETTERS), value=value, key=key, headers=headers
                ),
                10,
            )
        except Exception as error:
            log.warning("dead_letter_publish_failed", error=dead_letters.storable(repr(error))[:200])

    async def replay(self, dead_letter_id: int) -> str | None:
        """Run a dead letter through the handler again (after a fix). Returns the new reason if it fails."""
        async with self.runtime.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM dead_letters WHERE id = $1 AND consumer = $2",
                dead_letter_id,
                self.consumer_name,
            )
        if row is None:
            raise LookupError(f"no dead letter {dead_letter_id} for {self.consumer_name}")
        message = dead_letters.message_of(row, dead_letters.headers_of(row))
        after: list[_AfterCommit] = []
        async with self.runtime.pool.acquire() as conn, conn.transaction():
            reason = await self._handle_one(conn, message, after)
            if reason is None:
                await conn.execute(
                    "UPDATE dead_letters SET replayed_at = now() WHERE id = $1", dead_letter_id
                )
        for action in after:
            await action.run()
        return reason
