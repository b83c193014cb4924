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

    async def read_integrator(self, conn: Conn, integrator_id: str) -> list[Recorded]:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM events WHERE integrator_id = $1 ORDER BY position", integrator_id
        )
        return [record_from_row(r, self.producer) for r in rows]

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
        """Append after `expected_version`; a concurrent writer makes this raise `ConcurrencyConflict`.

        Must run inside a transaction (the caller's). Correlation and causation come from the
        context of the request or of the consumed event; the trace context is stored with each
        event so the relay publishes it in the original trace (P7).
        """
        if not events:
            return []
        if not conn.is_in_transaction():
            raise RuntimeError("append() must run inside a transaction")
        correlation = context.correlation_id.get() or context.new_id()
        causation = context.causation_id.get()
        carrier = current_trace_carrier()
        trace_json = dumps(carrier)
        recorded: list[Recorded] = []
        rows = []
        for offset, event in enumerate(events, start=1):
            if event.producer != self.producer:
                raise ValueError(
                    f"{self.producer} cannot append {event.event_type} (a {event.producer} event)"
                )
            payload = event.model_dump(mode="json")
            envelope = Envelope(
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
                payload=payload,
            )
            rows.append(
                (
                    envelope.event_id,
                    stream_id,
                    envelope.stream_version,
                    event.event_type,
                    event.schema_version,
                    integrator_id,
                    occurred_at,
                    correlation,
                    causation,
                    dumps(payload),
                    trace_json,
                )
            )
            recorded.append(Recorded(envelope=envelope, event=event, trace_context=carrier))
        try:
            async with conn.transaction():  # a savepoint: a conflict leaves the caller's transaction usable
                # The relay's wake-up (NOTIFY, delivered at commit) goes with the insert: one round
                # trip, not two; a conflict rolls both back with the savepoint.
                positions = await conn.fetch(
                    """
                    WITH appended AS (
                        INSERT INTO events (event_id, stream_id, stream_version, event_type, schema_version,
                                            integrator_id, occurred_at, correlation_id, causation_id,
                                            payload, trace_context)
                        SELECT u.event_id, u.stream_id, u.stream_version, u.event_type, u.schema_version,
                               u.integrator_id, u.occurred_at, u.correlation_id, u.causation_id,
                               u.payload::jsonb, u.trace_context::jsonb
                        FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::int[], $6::text[],
                                    $7::timestamptz[], $8::uuid[], $9::uuid[], $10::text[], $11::text[])
                          AS u(event_id, stream_id, stream_version, event_type, schema_version, integrator_id,
                               occurred_at, correlation_id, causation_id, payload, trace_context)
                        RETURNING position
                    )
                    SELECT appended.position
                    FROM appended CROSS JOIN (SELECT pg_notify($12, '')) AS wake
                    ORDER BY appended.position
                    """,
                    *[list(col) for col in zip(*rows, strict=True)],
                    APPENDED_CHANNEL,
                )
        except asyncpg.UniqueViolationError as error:
            if "stream_id" in str(error.constraint_name or "") or "stream" in str(error):
                raise ConcurrencyConflict(stream_id, expected_version) from None
            raise
        return [
            Recorded(
                envelope=r.envelope, event=r.event, position=p["position"], trace_context=r.trace_context
            )
            for r, p in zip(recorded, positions, strict=True)
        ]


__all__ = ["APPENDED_CHANNEL", "UUID", "ConcurrencyConflict", "EventStore", "Recorded"]
