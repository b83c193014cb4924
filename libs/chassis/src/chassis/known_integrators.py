"""Consumers believe an integrator's events only once they have seen its registration.

A reaction declares the rule (`Reaction(..., trust=KnownIntegrators(registration=IntegratorRegistered))`)
and its consumer then, for every message it reads, keyed by the envelope's integrator:

- **a second first event is refused.** The registration (and each event type declared `once`) is
  believed once per integrator: another one with a different event id is dead-lettered with the
  reason, never handled — else anyone able to write to a topic could re-register an existing
  integrator under their own contacts.
- **an event for an integrator not registered yet is held**, not refused: each service has its own
  topic and topics are not ordered with one another, so e.g. sim-logistics' `SimsDelivered` may be
  read before onboarding's `IntegratorRegistered`. It waits here (`held_messages`, the message as it
  came, bytes and headers) and is handled right after its registration, in the same transaction.
  Likewise an event declared `after` another one of the same integrator (the ISM's delivery after the
  SIMs') waits for it.
- **what is held too long is dead-lettered** (`HELD_EVENTS_MAX_SECONDS`), with a reason naming what it
  waited for: a registration that never comes is a forged or lost event, for ops to see and replay.

What was believed is kept in `believed_facts` (the first event of each declared type per integrator
and consumer). A held message's inbox row is written when it is held (the hold is its handling at
that moment: a redelivery changes nothing); releasing it calls the reaction's handler directly, and
dead-lettering it removes that row, so a replay handles it afresh. Ops see the held messages (count,
oldest) in `/ops/status`.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog
from aiokafka import ConsumerRecord
from prometheus_client.core import GaugeMetricFamily, Metric

from chassis import context, dead_letters
from chassis.db import Conn
from chassis.eventstore import Recorded
from chassis.handled import event_types
from chassis.unit_of_work import UnitOfWork
from contracts.errors import OutOfOrder
from contracts.events import DomainEvent

if TYPE_CHECKING:
    from chassis.consumer import ReactionRunner
    from chassis.runtime import ServiceRuntime

log = structlog.get_logger()

SCHEMA = """
CREATE TABLE IF NOT EXISTS believed_facts (
    consumer text NOT NULL,
    integrator_id text NOT NULL,
    event_type text NOT NULL,
    event_id uuid NOT NULL,
    believed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, integrator_id, event_type)
);
CREATE TABLE IF NOT EXISTS held_messages (
    id bigserial PRIMARY KEY,
    consumer text NOT NULL,
    integrator_id text NOT NULL,
    event_id uuid NOT NULL,
    event_type text NOT NULL,
    waiting_for text NOT NULL,
    topic text NOT NULL,
    kafka_partition int NOT NULL,
    kafka_offset bigint NOT NULL,
    message_key bytea,
    message_value bytea NOT NULL,
    -- base64 of each header's name and value: any bytes are kept (text and jsonb refuse NUL).
    headers text NOT NULL,
    held_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (consumer, event_id)
);
CREATE INDEX IF NOT EXISTS held_messages_by_integrator ON held_messages (consumer, integrator_id, id);
CREATE INDEX IF NOT EXISTS held_messages_by_age ON held_messages (consumer, held_at);
"""

#: Held messages released or dead-lettered per round of the check, per consumer.
CHECK_BATCH = 200
#: Facts read from the database, kept in memory (they are never deleted): the registrations of at
#: most this many integrators per consumer, then the memory starts again.
CACHE_INTEGRATORS = 100_000

Handler = Callable[[UnitOfWork, Recorded], Awaitable[None]]


@dataclass(frozen=True)
class KnownIntegrators:
    """The declaration: what makes an integrator known to this consumer, and what waits for what."""

    #: The first event of every integrator (onboarding's IntegratorRegistered): before it, the
    #: integrator's other events are held; another one for the same integrator is refused.
    registration: type[DomainEvent] | str
    #: Event type -> the event type of the same integrator it waits for (e.g. the ISM's delivery
    #: after the SIMs'): held until that one is believed.
    after: Mapping[type[DomainEvent] | str, type[DomainEvent] | str] = field(default_factory=dict)
    #: Event types an integrator has at most one of, like its registration: another is refused.
    once: Collection[type[DomainEvent] | str] = ()
    #: Integrator ids that name no integrator (the vendor's staff): their events are not held.
    not_integrators: Collection[str] = ()

    def names(self, owner: str) -> tuple[str, dict[str, str], frozenset[str]]:
        """(registration, after, once) as event type names, each checked against the registry."""
        (registration,) = event_types([self.registration], owner=owner)
        after = {
            next(iter(event_types([k], owner=owner))): next(iter(event_types([v], owner=owner)))
            for k, v in self.after.items()
        }
        return registration, after, event_types(self.once, owner=owner) | {registration}

    def reads(self, owner: str) -> frozenset[str]:
        """The event types the consumer must read for the rule, handled or not."""
        registration, after, once = self.names(owner)
        return frozenset({registration, *after.values(), *once})


def _encode_headers(headers: Any) -> str:
    return json.dumps(
        [
            [
                base64.b64encode(str(k).encode("utf-8", "surrogatepass")).decode(),
                base64.b64encode(v or b"").decode(),
            ]
            for k, v in headers or ()
        ]
    )


def _decode_headers(text: str) -> list[tuple[str, bytes]]:
    return [
        (base64.b64decode(k).decode("utf-8", "surrogatepass"), base64.b64decode(v))
        for k, v in json.loads(text)
    ]


def _message_of(row: asyncpg.Record) -> ConsumerRecord[bytes, bytes]:
    return dead_letters.message_of(row, _decode_headers(row["headers"]))


class Believer:
    """The rule at work for one reaction's consumer (made by its ReactionRunner)."""

    def __init__(
        self, runner: ReactionRunner, rule: KnownIntegrators, handler: Handler, handles: Collection[str]
    ) -> None:
        self.runner = runner
        self.consumer = runner.consumer_name
        owner = f"reaction {runner.reaction.name!r}"
        self.registration, self.after, self.once = rule.names(owner)
        self.not_integrators = frozenset(rule.not_integrators)
        #: What the reaction's own handler handles (the rule reads a few more types).
        self.handles = frozenset(handles)
        self.handler = handler
        #: The types whose arrival may release held messages.
        self.releasing = frozenset({self.registration, *self.after.values()})
        #: The types recorded in believed_facts.
        self.recorded = self.releasing | self.once
        #: integrator -> {event type: event id}, as read from the database (committed facts only:
        #: a fact written in a transaction that rolls back must not be believed).
        self._facts: dict[str, dict[str, Any]] = {}

    # --- the consumer's hook -------------------------------------------------------------------

    async def handle(self, uow: UnitOfWork, message: ConsumerRecord[bytes, bytes], rec: Recorded) -> None:
        """Handle one fresh message under the rule (its inbox row is written): hold it, refuse it, or
        believe it and hand it to the reaction's handler (then release what waited for it)."""
        envelope = rec.envelope
        integrator_id = envelope.integrator_id
        if integrator_id in self.not_integrators:
            if envelope.event_type in self.handles:
                await self.handler(uow, rec)
            return
        # The registration waits for nothing: its own upsert tells whether it is the first one.
        may_wait = envelope.event_type != self.registration or envelope.event_type in self.after
        facts = await self._facts_of(uow.conn, integrator_id, envelope.event_type) if may_wait else {}
        waiting_for = self._waiting_for(envelope.event_type, facts)
        if waiting_for is not None:
            await self._hold(uow.conn, message, rec, waiting_for)
            return
        holds = await self._believe(uow.conn, rec, facts)
        if envelope.event_type in self.handles:
            await self.handler(uow, rec)
        if envelope.event_type in self.releasing:
            if holds is None:
                holds = await self._holds(uow.conn, integrator_id)
            if holds:
                await uow.flush()  # what its handler appended is what the released ones read
                await self.release(uow, integrator_id)

    async def seen_again(self, conn: Conn, rec: Recorded) -> None:
        """A message its inbox says was handled before (a redelivery, a relay's republish): if it is
        a fact the rule keeps, it is kept — a consumer whose facts table is newer than its inbox
        learns them from the republish instead of holding every later event."""
        envelope = rec.envelope
        if envelope.event_type not in self.recorded or envelope.integrator_id in self.not_integrators:
            return
        await conn.execute(
            "INSERT INTO believed_facts (consumer, integrator_id, event_type, event_id) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            self.consumer,
            envelope.integrator_id,
            envelope.event_type,
            envelope.event_id,
        )

    async def _holds(self, conn: Conn, integrator_id: str) -> bool:
        held: bool = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM held_messages WHERE consumer = $1 AND integrator_id = $2)",
            self.consumer,
            integrator_id,
        )
        return held

    def _waiting_for(self, event_type: str, facts: Mapping[str, Any]) -> str | None:
        if event_type != self.registration and self.registration not in facts:
            return self.registration
        before = self.after.get(event_type)
        if before is not None and before not in facts:
            return before
        return None

    async def _facts_of(self, conn: Conn, integrator_id: str, event_type: str) -> dict[str, Any]:
        """What this consumer believed of the integrator, read again unless memory already answers."""
        known = self._facts.get(integrator_id, {})
        needed = {
            self.registration,
            self.after.get(event_type),
            event_type if event_type in self.once else None,
        }
        if all(t in known for t in needed if t is not None):
            return dict(known)
        # A fact this transaction wrote itself has believed_at = now() (its start): it is not
        # remembered, since the transaction may yet roll back; any other row seen is committed.
        rows = await conn.fetch(
            "SELECT event_type, event_id, believed_at < now() AS committed FROM believed_facts "
            "WHERE consumer = $1 AND integrator_id = $2",
            self.consumer,
            integrator_id,
        )
        committed = {row["event_type"]: row["event_id"] for row in rows if row["committed"]}
        if committed:
            if len(self._facts) >= CACHE_INTEGRATORS:
                self._facts.clear()
            self._facts[integrator_id] = committed
        return {row["event_type"]: row["event_id"] for row in rows}

    async def _believe(self, conn: Conn, rec: Recorded, facts: dict[str, Any]) -> bool | None:
        """Keep the fact (or refuse a second one of a `once` type). Returns whether the integrator
        has held messages when the fact was written now (asked in the same round trip), else None."""
        envelope = rec.envelope
        event_type = envelope.event_type
        if event_type not in self.recorded:
            return None
        first = facts.get(event_type)
        holds = None
        if first is None:
            # The first one's id (this one's, or an earlier one's) and whether anything waits.
            row = await conn.fetchrow(
                "WITH believed AS (INSERT INTO believed_facts (consumer, integrator_id, event_type, event_id) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (consumer, integrator_id, event_type) DO UPDATE "
                "SET event_type = EXCLUDED.event_type RETURNING event_id) "
                "SELECT (SELECT event_id FROM believed) AS first, EXISTS (SELECT 1 FROM held_messages "
                "WHERE consumer = $1 AND integrator_id = $2) AS holds",
                self.consumer,
                envelope.integrator_id,
                event_type,
                envelope.event_id,
            )
            assert row is not None
            first, holds = row["first"], bool(row["holds"])
            facts[event_type] = first
        if first != envelope.event_id and event_type in self.once:
            what = f"registration ({event_type})" if event_type == self.registration else event_type
            raise OutOfOrder(
                f"a second {what} for integrator {envelope.integrator_id!r:.100} "
                f"(the first was event {first}): not believed",
                field="integrator_id",
                code="second_first_event",
            )
        return holds

    async def _hold(
        self, conn: Conn, message: ConsumerRecord[bytes, bytes], rec: Recorded, waiting_for: str
    ) -> None:
        envelope = rec.envelope
        await conn.execute(
            "INSERT INTO held_messages (consumer, integrator_id, event_id, event_type, waiting_for, topic, "
            "kafka_partition, kafka_offset, message_key, message_value, headers) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (consumer, event_id) DO NOTHING",
            self.consumer,
            envelope.integrator_id,
            envelope.event_id,
            envelope.event_type,
            waiting_for,
            message.topic,
            message.partition,
            message.offset,
            message.key,
            message.value,
            _encode_headers(message.headers),
        )
        log.info(
            "event_held", consumer=self.consumer, event_type=envelope.event_type, waiting_for=waiting_for
        )

    # --- releasing -----------------------------------------------------------------------------

    async def release(self, uow: UnitOfWork, integrator_id: str) -> int:
        """Handle the integrator's held messages that wait for nothing any more, in the order they
        came, each in a savepoint: one that fails is dead-lettered alone (its registration stands).
        Returns how many were released."""
        from chassis.consumer import TRANSIENT_DB_ERRORS, decode  # the consumer imports this module

        conn = uow.conn
        released = 0
        while True:
            rows = await conn.fetch(
                "SELECT * FROM held_messages WHERE consumer = $1 AND integrator_id = $2 ORDER BY id "
                "FOR UPDATE SKIP LOCKED",
                self.consumer,
                integrator_id,
            )
            progressed = False
            for row in rows:
                facts = await self._facts_of(conn, integrator_id, row["event_type"])
                waiting_for = self._waiting_for(row["event_type"], facts)
                if waiting_for is not None:
                    if waiting_for != row["waiting_for"]:  # registered now, but waits for another fact
                        await conn.execute(
                            "UPDATE held_messages SET waiting_for = $2 WHERE id = $1", row["id"], waiting_for
                        )
                    continue
                await conn.execute("DELETE FROM held_messages WHERE id = $1", row["id"])
                progressed = True
                message = _message_of(row)
                try:
                    rec = decode(message)
                    async with conn.transaction():  # savepoint
                        inner = UnitOfWork(uow.runtime, conn)
                        corr = context.correlation_id.set(rec.envelope.correlation_id)
                        caus = context.causation_id.set(rec.envelope.event_id)
                        try:
                            await self._believe(conn, rec, dict(facts))
                            if rec.envelope.event_type in self.handles:
                                await self.handler(inner, rec)
                            await inner.flush()
                        finally:
                            context.correlation_id.reset(corr)
                            context.causation_id.reset(caus)
                except TRANSIENT_DB_ERRORS:
                    raise
                except Exception as error:
                    reason = f"held, then refused by {self.consumer}: {type(error).__name__}: {error}"[:2000]
                    await self._dead_letter(uow, conn, row, message, reason)
                    continue
                for action in inner.take_after_commit():
                    uow.after_commit(action)
                released += 1
            if not progressed:
                return released

    async def _dead_letter(
        self,
        uow: UnitOfWork,
        conn: Conn,
        row: asyncpg.Record,
        message: ConsumerRecord[bytes, bytes],
        reason: str,
    ) -> None:
        # Its inbox row goes: a replay (or a redelivery) handles it afresh, under the rule again.
        await conn.execute(
            "DELETE FROM inbox WHERE consumer = $1 AND event_id = $2", self.consumer, row["event_id"]
        )
        await self.runner._record_dead_letter(conn, message, reason)
        runner = self.runner

        async def publish() -> None:
            await runner._publish_dead_letter(message, reason)

        uow.after_commit(publish)

    async def check(self, runtime: ServiceRuntime, max_seconds: float) -> None:
        """One round of the periodic check: release what waits for nothing any more (a registration
        believed by another replica while this one held its event), dead-letter what waited longer
        than `max_seconds`."""
        async with runtime.pool.acquire() as conn:
            integrators = await conn.fetch(
                "SELECT DISTINCT h.integrator_id FROM held_messages h JOIN believed_facts f "
                "ON f.consumer = h.consumer AND f.integrator_id = h.integrator_id "
                "WHERE h.consumer = $1 LIMIT $2",
                self.consumer,
                CHECK_BATCH,
            )
            for row in integrators:
                async with conn.transaction():
                    uow = UnitOfWork(runtime, conn)
                    await self.release(uow, row["integrator_id"])
                    await uow.flush()
                for action in uow.take_after_commit():
                    runtime.run_after_commit(action)
            async with conn.transaction():
                uow = UnitOfWork(runtime, conn)
                late = await conn.fetch(
                    "DELETE FROM held_messages WHERE id IN (SELECT id FROM held_messages WHERE consumer = $1 "
                    "AND held_at < now() - make_interval(secs => $2) ORDER BY id LIMIT $3 "
                    "FOR UPDATE SKIP LOCKED) RETURNING *, extract(epoch FROM now() - held_at) AS waited",
                    self.consumer,
                    max_seconds,
                    CHECK_BATCH,
                )
                for row in late:
                    reason = (
                        f"held {row['waited']:.0f} s by {self.consumer}: {row['event_type']} waited for "
                        f"{row['waiting_for']} of integrator {row['integrator_id']!r:.100}, which never came "
                        f"(HELD_EVENTS_MAX_SECONDS={max_seconds:g}): not believed"
                    )
                    await self._dead_letter(uow, conn, row, _message_of(row), reason)
            for action in uow.take_after_commit():
                runtime.run_after_commit(action)


async def check_forever(runtime: ServiceRuntime) -> None:
    """The periodic check of every consumer declaring the rule (a task of the runtime)."""
    settings = runtime.settings
    while True:
        for runner in list(runtime.runners):
            believer = runner.believer
            if believer is None:
                continue
            try:
                await believer.check(runtime, settings.held_events_max_seconds)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning(
                    "held_events_check_failed", consumer=runner.consumer_name, error=repr(error)[:300]
                )
        await asyncio.sleep(settings.held_events_check_seconds)


async def held_status(runtime: ServiceRuntime) -> dict[str, dict[str, Any]]:
    """Per consumer: the messages held and how long the oldest has waited (ops: /ops/status)."""
    rows = await runtime.pool.fetch(
        "SELECT consumer, count(*) AS held, min(held_at) AS oldest, "
        "extract(epoch FROM now() - min(held_at)) AS oldest_seconds FROM held_messages GROUP BY consumer"
    )
    return {
        row["consumer"]: {
            "held": row["held"],
            "oldest_held_at": row["oldest"].isoformat(),
            "oldest_held_seconds": round(float(row["oldest_seconds"]), 1),
        }
        for row in rows
    }


async def held_gauges(runtime: ServiceRuntime) -> list[Metric]:
    """The held events as gauges (chassis.metrics): how many, and how long the oldest has waited."""
    held = GaugeMetricFamily(
        "platform_held_events",
        "Events held for their integrator's registration, by consumer.",
        labels=["consumer"],
    )
    oldest = GaugeMetricFamily(
        "platform_held_event_oldest_seconds",
        "How long the oldest held event has waited for its integrator's registration, by consumer.",
        labels=["consumer"],
    )
    status = await held_status(runtime)
    for runner in runtime.runners:
        if runner.believer is not None:
            shown = status.get(runner.consumer_name, {})
            held.add_metric([runner.consumer_name], float(shown.get("held", 0)))
            oldest.add_metric([runner.consumer_name], float(shown.get("oldest_held_seconds", 0.0)))
    return [held, oldest]


__all__ = ["SCHEMA", "Believer", "KnownIntegrators", "check_forever", "held_gauges", "held_status"]
