"""The unit of work: what every handler gets — HTTP commands, reactions and schedules alike.

A handler loads aggregates, decides, appends, and reads view rows through it; it never reaches the
event store, projection SQL or a fold itself. What it appends is kept in memory and written at the
end in ONE statement with the projection rows it changes (`EventStore.write`): a plain command is
three round trips (read the stream, read the rows it changes, write), with no transaction and no
savepoint around them — the statement is atomic on its own, and a stream or a row that moved since it
was read aborts it (`ConcurrencyConflict`). Inside a transaction (a consumer's batch, a command that
takes a lock) the same write joins that transaction.

Within one unit of work, a stream loaded twice is the same object (its appended events included), and
a view row read after an append shows that append: handlers read what they wrote.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from chassis.db import Conn
from chassis.eventstore import Recorded, RowsMoved
from chassis.projections import Row, Stored
from contracts.events import DomainEvent

if TYPE_CHECKING:
    from chassis.runtime import ServiceRuntime

S = TypeVar("S")
#: Writes of one unit of work when shared view rows keep moving under it (outside a transaction).
ROW_ATTEMPTS = 5
AfterCommit = Callable[[], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class Aggregate(Generic[S]):
    """An aggregate, declared once: how one instance's stream is named, where its state starts, and
    how an event changes it (the domain's pure `evolve`)."""

    name: str
    stream: Callable[[str], str]
    initial: Callable[[], S]
    #: `evolve(state, event)`; with `timed`, `evolve(state, event, occurred_at)` (a state that keeps
    #: when things happened, e.g. a ticket's business-hour clock).
    evolve: Callable[..., S]
    timed: bool = False

    def fold(self, history: Iterable[Recorded]) -> S:
        state = self.initial()
        for rec in history:
            state = self.apply(state, rec)
        return state

    def apply(self, state: S, rec: Recorded) -> S:
        if self.timed:
            return self.evolve(state, rec.event, rec.envelope.occurred_at)
        return self.evolve(state, rec.event)


@dataclass
class Loaded(Generic[S]):
    """One aggregate instance as this unit of work knows it: its history (what it appended
    included), its state and its version (the history's length, when the history was read)."""

    aggregate: Aggregate[S]
    stream_id: str
    history: list[Recorded]
    state: S
    version: int

    @property
    def events(self) -> list[DomainEvent]:
        return [r.event for r in self.history]


@dataclass
class UnitOfWork:
    """See the module's docstring. Made by `ServiceRuntime.unit_of_work()` (commands, schedules) or by
    the consumer for a batch (reactions); handlers only use its methods."""

    runtime: ServiceRuntime
    conn: Conn
    _streams: dict[str, Loaded[Any]] = field(default_factory=dict)
    _pending: list[Recorded] = field(default_factory=list)
    #: View rows read or written in this unit of work, with the position each was read at.
    _rows: dict[tuple[str, str], Stored | None] = field(default_factory=dict)
    #: The view rows the handler read (`view`): its decision may rest on them (e.g. who holds a SIRET).
    _viewed: set[tuple[str, str]] = field(default_factory=set)
    _after_commit: list[AfterCommit] = field(default_factory=list)

    @property
    def clock(self) -> Any:
        return self.runtime.clock

    @property
    def settings(self) -> Any:
        return self.runtime.settings

    # --- aggregates --------------------------------------------------------------------------

    async def load(self, aggregate: Aggregate[S], id_: str) -> Loaded[S]:
        """The aggregate instance `id_` (a new one has an empty history and the initial state)."""
        stream_id = aggregate.stream(id_)
        loaded = self._streams.get(stream_id)
        if loaded is None:
            history = await self.runtime.store.read_stream(self.conn, stream_id)
            loaded = Loaded(aggregate, stream_id, history, aggregate.fold(history), len(history))
            self._streams[stream_id] = loaded
        return loaded

    async def load_all(self, aggregate: Aggregate[S], ids: Iterable[str]) -> list[Loaded[S]]:
        """Several instances, the streams not loaded yet read in one round trip."""
        stream_ids = [aggregate.stream(i) for i in ids]
        missing = [s for s in dict.fromkeys(stream_ids) if s not in self._streams]
        if missing:
            for stream_id, history in (await self.runtime.store.read_streams(self.conn, missing)).items():
                self._streams[stream_id] = Loaded(
                    aggregate, stream_id, history, aggregate.fold(history), len(history)
                )
        return [self._streams[s] for s in stream_ids]

    async def load_each(self, wanted: Iterable[tuple[Aggregate[Any], str]]) -> None:
        """Instances of several aggregates (pairs of aggregate and id), the streams not loaded yet
        read in one round trip; `load` then answers from memory."""
        by_stream = {aggregate.stream(id_): aggregate for aggregate, id_ in wanted}
        missing = [s for s in by_stream if s not in self._streams]
        if missing:
            for stream_id, history in (await self.runtime.store.read_streams(self.conn, missing)).items():
                aggregate = by_stream[stream_id]
                self._streams[stream_id] = Loaded(
                    aggregate, stream_id, history, aggregate.fold(history), len(history)
                )

    def known(self, aggregate: Aggregate[S], id_: str, state: S, version: int) -> Loaded[S]:
        """An instance whose state and version the caller already holds (kept beside a view row, or
        from the transaction that made it): appended to without reading its stream again. A stream
        that moved meanwhile makes the write conflict, as for a loaded one. Its history is empty."""
        stream_id = aggregate.stream(id_)
        loaded = Loaded(aggregate, stream_id, [], state, version)
        self._streams[stream_id] = loaded
        return loaded

    def append(
        self, loaded: Loaded[S], events: Sequence[DomainEvent], *, integrator_id: str
    ) -> list[Recorded]:
        """Append events to a loaded instance (written when the unit of work ends)."""
        if not events:
            return []
        recorded = self._prepare(loaded.stream_id, loaded.version, events, integrator_id)
        for rec in recorded:
            loaded.state = loaded.aggregate.apply(loaded.state, rec)
        loaded.history.extend(recorded)
        loaded.version += len(recorded)
        self._pending.extend(recorded)
        return recorded

    async def decide(
        self,
        aggregate: Aggregate[S],
        id_: str,
        decide: Callable[[S], Sequence[DomainEvent]],
        *,
        integrator_id: str,
    ) -> list[Recorded]:
        """Load, decide on the state, append: the common command."""
        loaded = await self.load(aggregate, id_)
        return self.append(loaded, list(decide(loaded.state)), integrator_id=integrator_id)

    async def execute(
        self,
        *,
        stream_id: str,
        integrator_id: str,
        decide: Callable[[list[Recorded]], Sequence[DomainEvent]],
    ) -> list[Recorded]:
        """Read a stream, decide on its history, append — written at once, not at the end, so that
        code reading the event store directly afterwards sees it. `load`/`decide` are the better way."""
        history = await self.runtime.store.read_stream(self.conn, stream_id)
        return await self.append_at(stream_id, len(history), decide(history), integrator_id=integrator_id)

    async def append_at(
        self, stream_id: str, expected_version: int, events: Sequence[DomainEvent], *, integrator_id: str
    ) -> list[Recorded]:
        """Append after a version read elsewhere, and write now (with what is pending)."""
        self._pending.extend(self._prepare(stream_id, expected_version, events, integrator_id))
        written = await self.flush()
        return [r for r in written if r.envelope.stream_id == stream_id]

    def _prepare(
        self, stream_id: str, expected_version: int, events: Sequence[DomainEvent], integrator_id: str
    ) -> list[Recorded]:
        # The span of the decision, in the request's or consumed event's trace: each event keeps
        # its context, so the relay publishes it as a child of this span (P7), whenever it is written.
        with self.runtime.tracer.start_as_current_span(
            "append",
            attributes={
                "stream.id": stream_id,
                "integrator.id": integrator_id,
                "event.types": ",".join(e.event_type for e in events),
            },
        ) as span:
            recorded = self.runtime.store.prepare(
                stream_id,
                expected_version,
                events,
                integrator_id=integrator_id,
                occurred_at=self.runtime.clock.now(),
            )
            span.set_attribute("event.ids", ",".join(str(r.envelope.event_id) for r in recorded))
        return recorded

    # --- views -------------------------------------------------------------------------------

    async def view(self, projection: str, key: str) -> Row | None:
        """A view row as this unit of work sees it: as stored, with what it appended applied.

        The decision rests on it: if this unit of work changes the row and another writer changed
        it first, the write raises `ConcurrencyConflict` (decide again), never rewrites it over the
        newer row. In a transaction the row is locked until the end (a writer in flight is waited
        for, then seen), so a decision on a row it does not change holds too."""
        at = (projection, key)
        self._viewed.add(at)
        if at not in self._rows:
            lock = self.conn.is_in_transaction()
            found = await self.runtime.projections.read_rows(self.conn, {projection: {key}}, lock=lock)
            self._rows[at] = found.get(at)
        # Only this row's pending events, folded (not the whole batch's through every projection:
        # a reaction viewing once per message would make a batch quadratic).
        return self.runtime.projections.fold_row(projection, key, self._rows[at], self._pending)

    def seen(self, projection: str, key: str, data: Row | None, position: int | None) -> None:
        """A view row this unit of work's connection has just read another way (with a lock, say):
        its write is guarded by that position without reading the row again."""
        self._rows[(projection, key)] = (
            Stored(data, position) if data is not None and position is not None else None
        )

    async def lock(self, name: str) -> None:
        """Serialise with every other unit of work locking `name` until this one ends (a business key
        that no stream owns, e.g. a SIRET). Needs a transaction: `runtime.unit_of_work(transaction=True)`."""
        if not self.conn.is_in_transaction():
            raise RuntimeError("lock() needs a unit of work in a transaction")
        await self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", name)

    # --- the end -----------------------------------------------------------------------------

    def after_commit(self, action: AfterCommit) -> None:
        """Run `action` once the unit of work has committed (e.g. send the email recorded as intended).

        It runs in a copy of the current context, so its spans stay in the trace of the request or
        consumed event (P7) and what it appends keeps the same correlation and causation ids."""
        captured = contextvars.copy_context()

        async def in_context() -> None:
            await asyncio.create_task(action(), context=captured)

        self._after_commit.append(in_context)

    async def flush(self) -> list[Recorded]:
        """Write what was appended and the view rows it changes, in one statement. Returns the
        events written, with their positions."""
        if not self._pending:
            return []
        pending, self._pending = self._pending, []
        projections = self.runtime.projections
        touched = projections.keys_touched(pending)
        in_transaction = self.conn.is_in_transaction()
        for attempt in range(1, ROW_ATTEMPTS + 1):
            unread = {n: {k for k in keys if (n, k) not in self._rows} for n, keys in touched.items()}
            unread = {n: keys for n, keys in unread.items() if keys}
            if unread:
                found = await projections.read_rows(self.conn, unread, lock=in_transaction)
                for name, keys in unread.items():
                    for key in keys:
                        self._rows[(name, key)] = found.get((name, key))
            changed = projections.fold_rows(self._rows, pending)
            try:
                with self.runtime.tracer.start_as_current_span(
                    "write events", attributes={"events": len(pending), "rows": len(changed)}
                ):
                    written = await self.runtime.store.write(
                        self.conn, pending, projections.row_writes(self._rows, changed)
                    )
                break
            except RowsMoved:
                # Another stream's event changed a shared row: the decision stands if it rests on
                # the streams alone (no row it changes was read with `view`): read the rows again
                # and write again. A row the handler read may be what it decided on (two
                # registrations of one SIRET): a conflict — `runtime.command(retries=)` decides
                # again. In a transaction the failed statement has ended it: the caller retries
                # (the consumer, one by one).
                viewed = any((n, k) in self._viewed for n, keys in touched.items() for k in keys)
                if in_transaction or viewed or attempt == ROW_ATTEMPTS:
                    raise
                for name, keys in touched.items():
                    for key in keys:
                        self._rows.pop((name, key), None)
        by_id = {r.envelope.event_id: r for r in written}
        for at, change in changed.items():
            self._rows[at] = (
                Stored(change.data, by_id[change.by.envelope.event_id].position)
                if change.data is not None
                else None
            )
        self.runtime.metrics.events_appended(r.envelope.event_type for r in written)
        return written

    def take_after_commit(self) -> list[AfterCommit]:
        actions, self._after_commit = self._after_commit, []
        return actions
