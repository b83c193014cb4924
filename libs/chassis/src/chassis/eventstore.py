"""The event store (P1): one append-only table per service, `(stream_id, version)` unique."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from chassis import context
from chassis.db import Conn
from chassis.telemetry import current_trace_carrier
from contracts.envelope import Envelope
from contracts.events import REGISTRY, DomainEvent

#: Channel the relay listens on; notified in the appending transaction, so delivered at commit.
APPENDED_CHANNEL = "events_appended"

_COLUMNS = (
    "position, event_id, stream_id, stream_version, event_type, schema_version, integrator_id, "
    "occurred_at, correlation_id, causation_id, payload, trace_context"
)


class ConcurrencyConflict(Exception):
    """Another writer appended to the stream first: reload and decide again, or report 409."""

    def __init__(self, stream_id: str, expected_version: int) -> None:
        super().__init__(f"stream {stream_id} moved past version {expected_version}")
        self.stream_id = stream_id
        self.expected_version = expected_version


class RowsMoved(ConcurrencyConflict):
    """A projection row changed after it was read (another stream's event): the events still hold,
    only the rows must be read again and the write retried."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """An event as stored: its envelope, its validated model and its position in the service's log."""

    envelope: Envelope
    event: DomainEvent
    position: int = 0
    trace_context: dict[str, str] | None = None


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def record_from_row(row: asyncpg.Record, producer: str) -> Recorded:
    payload = json.loads(row["payload"])
    event = REGISTRY.load(row["event_type"], row["schema_version"], payload)
    envelope = Envelope.model_construct(
        event_id=row["event_id"],
        event_type=row["event_type"],
        schema_version=event.schema_version,
        occurred_at=row["occurred_at"],
        producer=producer,
        stream_id=row["stream_id"],
        stream_version=row["stream_version"],
        integrator_id=row["integrator_id"],
        correlation_id=row["correlation_id"],
        causation_id=row["causation_id"],
        # Upcast payload, so consumers only ever see the current shape.
        payload=event.model_dump(mode="json") if row["schema_version"] != event.schema_version else payload,
    )
    trace_context = json.loads(row["trace_context"]) if row["trace_context"] else None
    return Recorded(envelope=envelope, event=event, position=row["position"], trace_context=trace_context)


class EventStore:
    """Reads and appends one service's events. Every method takes the connection of the caller's
    transaction, so an append, its projections and an inbox row commit together or not at all."""

    def __init__(self, producer: str) -> None:
        self.producer = producer

    async def read_stream(self, conn: Conn, stream_id: str) -> list[Recorded]:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM events WHERE stream_id = $1 ORDER BY stream_version", stream_id
        )
        return [record_from_row(r, self.producer) for r in rows]

    async def read_streams(self, conn: Conn, stream_ids: Sequence[str]) -> dict[str, list[Recorded]]:
        """Several streams in one round trip; a stream without events maps to an empty history."""
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM events WHERE stream_id = any($1::text[]) ORDER BY stream_id, stream_version",
            list(stream_ids),
        )
        streams: dict[str, list[Recorded]] = {s: [] for s in stream_ids}
        for r in rows:
            streams[r["stream_id"]].append(record_from_row(r, self.producer))
        return streams

    async def read_integrator(self, conn: Conn, integrator_id: str) -> list[Recorded]:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM events WHERE integrator_id = $1 ORDER BY position", integrator_id
        )
        return [record_from_row(r, self.producer) for r in rows]

    def prepare(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[DomainEvent],
        *,
        integrator_id: str,
        occurred_at: datetime,
    ) -> list[Recorded]:
        """The envelopes of events to append after `expected_version` (no I/O: `write` stores them).

        Correlation and causation come from the context of the request or of the consumed event; the
        trace context is stored with each event so the relay publishes it in the original trace (P7).
        """
        correlation = context.correlation_id.get() or context.new_id()
        causation = context.causation_id.get()
        carrier = current_trace_carrier()
        recorded: list[Recorded] = []
        for offset, event in enumerate(events, start=1):
            if event.producer != self.producer:
                raise ValueError(
                    f"{self.producer} cannot append {event.event_type} (a {event.producer} event)"
                )
            envelope = Envelope(  # strict writer: validated
                event_id=context.new_id(),
                event_type=event.event_type,
                schema_version=event.schema_version,
                occurred_at=occurred_at,
                producer=self.producer,
                stream_id=stream_id,
                stream_version=expected_version + offset,
                integrator_id=integrator_id,
                correlation_id=correlation,
                causation_id=causation,
                payload=event.model_dump(mode="json"),
            )
            recorded.append(Recorded(envelope=envelope, event=event, trace_context=carrier))
        return recorded

    async def write(
        self, conn: Conn, recorded: Sequence[Recorded], rows: Sequence[RowWrite] = ()
    ) -> list[Recorded]:
        """Store prepared events and the projection rows they make, in ONE statement (one round trip,
        atomic on its own: no transaction is needed around it). Returns the events with positions.

        A stream that moved past an event's version (unique `(stream_id, version)`), or a projection
        row that moved past the position it was read at, raises `ConcurrencyConflict` and writes
        nothing. The relay's wake-up (NOTIFY, delivered at commit) goes with the insert.
        """
        if not recorded:
            return []
        columns = list(
            zip(
                *(
                    (
                        r.envelope.event_id,
                        r.envelope.stream_id,
                        r.envelope.stream_version,
                        r.envelope.event_type,
                        r.envelope.schema_version,
                        r.envelope.integrator_id,
                        r.envelope.occurred_at,
                        r.envelope.correlation_id,
                        r.envelope.causation_id,
                        dumps(r.envelope.payload),
                        dumps(r.trace_context or {}),
                    )
                    for r in recorded
                ),
                strict=True,
            )
        )
        args: list[Any] = [list(c) for c in columns] + [APPENDED_CHANNEL]
        ctes = [_INSERT_EVENTS]
        checks: list[str] = []
        for i, write in enumerate(rows):
            ctes += write.ctes(i, args, checks)
        sql = "WITH " + ",\n".join(ctes) + "\nSELECT appended.event_id, appended.position"
        if checks:
            sql += (
                ", CASE WHEN "
                + " OR ".join(checks)
                + " THEN chassis_concurrent_update('a projection row') END"
            )
        sql += "\nFROM appended CROSS JOIN (SELECT pg_notify($12, '')) AS wake ORDER BY appended.position"
        try:
            result = await conn.fetch(sql, *args)
        except asyncpg.UniqueViolationError as error:
            if "stream" in str(error.constraint_name or "") or "stream" in str(error):
                first = recorded[0].envelope
                raise ConcurrencyConflict(first.stream_id, first.stream_version - 1) from None
            raise
        except asyncpg.SerializationError:
            first = recorded[0].envelope
            raise RowsMoved(first.stream_id, first.stream_version - 1) from None
        positions = {row["event_id"]: row["position"] for row in result}
        return [
            Recorded(
                envelope=r.envelope,
                event=r.event,
                position=positions[r.envelope.event_id],
                trace_context=r.trace_context,
            )
            for r in recorded
        ]

    async def append(
        self,
        conn: Conn,
        stream_id: str,
        expected_version: int,
        events: Sequence[DomainEvent],
        *,
        integrator_id: str,
        occurred_at: datetime,
    ) -> list[Recorded]:
        """Append after `expected_version` (prepare, then write): a concurrent writer makes this raise
        `ConcurrencyConflict`. Projections are the unit of work's business (chassis.unit_of_work)."""
        prepared = self.prepare(
            stream_id, expected_version, events, integrator_id=integrator_id, occurred_at=occurred_at
        )
        return await self.write(conn, prepared)


_INSERT_EVENTS = """appended AS (
    INSERT INTO events (event_id, stream_id, stream_version, event_type, schema_version, integrator_id,
                        occurred_at, correlation_id, causation_id, payload, trace_context)
    SELECT u.event_id, u.stream_id, u.stream_version, u.event_type, u.schema_version, u.integrator_id,
           u.occurred_at, u.correlation_id, u.causation_id, u.payload::jsonb, u.trace_context::jsonb
    FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::int[], $6::text[], $7::timestamptz[],
                $8::uuid[], $9::uuid[], $10::text[], $11::text[])
      AS u(event_id, stream_id, stream_version, event_type, schema_version, integrator_id, occurred_at,
           correlation_id, causation_id, payload, trace_context)
    RETURNING event_id, position
)"""


@dataclass(frozen=True, slots=True)
class RowWrite:
    """The rows of one projection table that one write changes, each with the position it was read
    at (None: it did not exist) and the event that last changed it (its position becomes the row's)."""

    table: str
    #: (key, integrator_id, data as JSON text, event_id, position read at)
    upserts: Sequence[tuple[str, str, str, UUID, int | None]]
    #: (key, position read at)
    deletes: Sequence[tuple[str, int]]

    def ctes(self, index: int, args: list[Any], checks: list[str]) -> list[str]:
        """This table's parts of the write statement, its arguments appended to `args`, and the
        conditions that mean another writer got there first."""
        ctes = []
        t = self.table

        def columns(rows: Sequence[tuple[Any, ...]]) -> int:
            """Each column of the rows as one array argument; returns the last one's number."""
            args.extend(list(column) for column in zip(*rows, strict=True))
            return len(args)

        def expect(cte: str, rows: int) -> None:
            # The count is a parameter, not a literal: one statement text per shape, prepared once.
            args.append(rows)
            checks.append(f"(SELECT count(*) FROM {cte}) <> ${len(args)}::bigint")

        if inserts := [u[:4] for u in self.upserts if u[4] is None]:
            n = columns(inserts)
            ctes.append(
                f"i{index} AS (INSERT INTO {t} (key, integrator_id, data, position) "
                f"SELECT u.key, u.integrator_id, u.data::jsonb, a.position "
                f"FROM unnest(${n - 3}::text[], ${n - 2}::text[], ${n - 1}::text[], ${n}::uuid[]) "
                f"AS u(key, integrator_id, data, event_id) JOIN appended a USING (event_id) "
                f"ON CONFLICT (key) DO NOTHING RETURNING 1)"
            )
            expect(f"i{index}", len(inserts))
        if updates := [u for u in self.upserts if u[4] is not None]:
            n = columns(updates)
            ctes.append(
                f"u{index} AS (UPDATE {t} SET integrator_id = u.integrator_id, data = u.data::jsonb, "
                f"position = a.position "
                f"FROM unnest(${n - 4}::text[], ${n - 3}::text[], ${n - 2}::text[], ${n - 1}::uuid[], "
                f"${n}::bigint[]) AS u(key, integrator_id, data, event_id, read_at) "
                f"JOIN appended a USING (event_id) "
                f"WHERE {t}.key = u.key AND {t}.position = u.read_at RETURNING 1)"
            )
            expect(f"u{index}", len(updates))
        if self.deletes:
            n = columns(self.deletes)
            ctes.append(
                f"d{index} AS (DELETE FROM {t} USING unnest(${n - 1}::text[], ${n}::bigint[]) "
                f"AS u(key, read_at) WHERE {t}.key = u.key AND {t}.position = u.read_at RETURNING 1)"
            )
            expect(f"d{index}", len(self.deletes))
        return ctes


__all__ = [
    "APPENDED_CHANNEL",
    "UUID",
    "ConcurrencyConflict",
    "EventStore",
    "Recorded",
    "RowWrite",
    "RowsMoved",
]
