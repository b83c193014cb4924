"""Read models folded from the service's own events (P4): live inline, rebuilt from the log on demand.

A projection is a pure `apply(row, envelope, event) -> row | None` over one JSONB row per key. The
same function runs in the unit of work that appends (its rows are written in the same statement as
the events, so a query right after a command sees them: chassis.unit_of_work) and in `rebuild()`, which folds the whole log in memory and COPYs the rows into a fresh table swapped in
atomically: readers never see a half-built table.
"""

from __future__ import annotations

import builtins
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from tqdm import tqdm

from chassis.db import Conn
from chassis.eventstore import Recorded, RowWrite, record_from_row
from chassis.handled import Handles, event_types, names_of
from contracts.envelope import Envelope
from contracts.events import DomainEvent

Row = dict[str, Any]
KeyFn = Callable[[Envelope, DomainEvent], "str | list[str] | None"]
ApplyFn = Callable[[Row | None, Envelope, DomainEvent], Row | None]

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,50}$")


@dataclass(frozen=True)
class Projection:
    name: str
    #: Event classes; kept as their type names, each checked against the registry (chassis.handled).
    handles: Handles
    key: KeyFn
    apply: ApplyFn
    #: SQL expressions to index, e.g. "((data->>'step'))".
    indexes: Sequence[str] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"projection name {self.name!r} must be a lowercase SQL identifier")
        object.__setattr__(self, "handles", event_types(self.handles, owner=f"projection {self.name!r}"))

    def keys_for(self, envelope: Envelope, event: DomainEvent) -> list[str]:
        if envelope.event_type not in self.handles:
            return []
        keys = self.key(envelope, event)
        if keys is None:
            return []
        return [keys] if isinstance(keys, str) else list(keys)

    def ddl(self, table: str | None = None) -> str:
        table = table or self.name
        statements = [
            f"CREATE TABLE IF NOT EXISTS {table} (key text PRIMARY KEY, integrator_id text NOT NULL, "
            f"data jsonb NOT NULL, position bigint NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {table}_integrator ON {table} (integrator_id)",
        ]
        for i, expr in enumerate(self.indexes):
            statements.append(f"CREATE INDEX IF NOT EXISTS {table}_x{i} ON {table} {expr}")
        return ";\n".join(statements)


@dataclass(frozen=True, slots=True)
class Stored:
    """A projection row as read: its data and the position of the event that last changed it."""

    data: Row
    position: int


@dataclass(frozen=True, slots=True)
class Changed:
    """A projection row after events: its new data (None: deleted) and the event that made it."""

    data: Row | None
    integrator_id: str
    by: Recorded


def _data(stored: Stored | None) -> Row | None:
    # A copy: `apply` functions may build on the row they get; the row read stays as it was.
    return dict(stored.data) if stored is not None else None


def _json(row: Row) -> str:
    return json.dumps(row, separators=(",", ":"), ensure_ascii=False, sort_keys=True, default=str)


class Projections:
    """The projections of one service and the queries over them."""

    def __init__(self, projections: Iterable[Projection], pool_getter: Callable[[], asyncpg.Pool]) -> None:
        self.all = {p.name: p for p in projections}
        self._pool = pool_getter

    async def create_tables(self, conn: Conn) -> None:
        for p in self.all.values():
            await conn.execute(p.ddl())

    def keys_touched(self, recorded: Iterable[Recorded]) -> dict[str, set[str]]:
        """The rows (projection name -> keys) that these events change."""
        touched: dict[str, set[str]] = {}
        for rec in recorded:
            for p in self.all.values():
                keys = p.keys_for(rec.envelope, rec.event)
                if keys:
                    touched.setdefault(p.name, set()).update(keys)
        return touched

    async def read_rows(
        self, conn: Conn, wanted: dict[str, set[str]], *, lock: bool = False
    ) -> dict[tuple[str, str], Stored]:
        """The current rows for these keys, of every projection at once (one round trip). A key
        without a row is absent from the answer. `lock`: in a transaction, the rows stay locked until
        it ends (a batch's other writers wait instead of failing its write)."""
        parts: list[str] = []
        args: list[Any] = []
        for name, keys in wanted.items():
            self._check(name)
            args.append(sorted(keys))
            parts.append(
                f"SELECT '{name}' AS projection, key, data::text AS data, position "
                f"FROM {name} WHERE key = any(${len(args)}::text[])" + (" FOR UPDATE" if lock else "")
            )
        if not parts:
            return {}
        if lock:  # FOR UPDATE is refused in a UNION's branches, not in a WITH query's
            ctes = ", ".join(f"r{i} AS ({part})" for i, part in enumerate(parts))
            sql = f"WITH {ctes} " + " UNION ALL ".join(f"SELECT * FROM r{i}" for i in range(len(parts)))
        else:
            sql = " UNION ALL ".join(parts)
        rows = await conn.fetch(sql, *args)
        return {(r["projection"], r["key"]): Stored(json.loads(r["data"]), r["position"]) for r in rows}

    def fold_rows(
        self, rows: Mapping[tuple[str, str], Stored | None], recorded: Sequence[Recorded]
    ) -> dict[tuple[str, str], Changed]:
        """Apply the events, in order, to the rows read (`None`: no row), in memory. Returns each
        changed row: its new data (None: deleted), the event that last changed it."""
        changed: dict[tuple[str, str], Changed] = {}
        for rec in recorded:
            for p in self.all.values():
                for key in p.keys_for(rec.envelope, rec.event):
                    at = (p.name, key)
                    current = changed[at].data if at in changed else _data(rows.get(at))
                    changed[at] = Changed(
                        p.apply(current, rec.envelope, rec.event), rec.envelope.integrator_id, rec
                    )
        return changed

    def fold_row(
        self, name: str, key: str, stored: Stored | None, recorded: Sequence[Recorded]
    ) -> Row | None:
        """One row after the events that touch it, in order (a copy: the row read stays as it was)."""
        p = self.all[name]
        row = _data(stored)
        for rec in recorded:
            if key in p.keys_for(rec.envelope, rec.event):
                row = p.apply(row, rec.envelope, rec.event)
        return row

    def row_writes(
        self, read: Mapping[tuple[str, str], Stored | None], changed: dict[tuple[str, str], Changed]
    ) -> list[RowWrite]:
        """What to write of the changed rows, per table, each guarded by the position it was read at."""
        by_table: dict[str, tuple[list[Any], list[Any]]] = {}
        for (name, key), change in changed.items():
            before = read.get((name, key))
            upserts, deletes = by_table.setdefault(name, ([], []))
            if change.data is None:
                if before is not None:
                    deletes.append((key, before.position))
                continue
            upserts.append(
                (
                    key,
                    change.integrator_id,
                    _json(change.data),
                    change.by.envelope.event_id,
                    before.position if before is not None else None,
                )
            )
        return [RowWrite(name, up, down) for name, (up, down) in by_table.items() if up or down]

    # --- queries -----------------------------------------------------------------------------

    async def get(self, name: str, key: str) -> Row | None:
        self._check(name)
        value = await self._pool().fetchval(f"SELECT data FROM {name} WHERE key = $1", key)
        return json.loads(value) if value is not None else None

    async def list(
        self,
        name: str,
        *,
        integrator_id: str | None = None,
        where: str | None = None,
        args: Sequence[Any] = (),
        order_by: str = "key",
        limit: int = 1000,
        offset: int = 0,
    ) -> builtins.list[Row]:
        """Rows of a projection. `where` is SQL over `data`/`key`/`integrator_id` with $1.. placeholders
        (written by the service, never by a user); `args` are bound, so values are never spliced in."""
        self._check(name)
        clauses: list[str] = []
        params: list[Any] = list(args)
        if where:
            clauses.append(f"({where})")
        if integrator_id is not None:
            params.append(integrator_id)
            clauses.append(f"integrator_id = ${len(params)}")
        params += [limit, offset]
        sql = f"SELECT data FROM {name}"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        # A page of a long list (the console's boards): the order must be total for pages not to overlap.
        sql += f" ORDER BY {order_by} LIMIT ${len(params) - 1} OFFSET ${len(params)}"
        return [json.loads(r["data"]) for r in await self._pool().fetch(sql, *params)]

    async def snapshot(self, name: str) -> builtins.list[tuple[str, str, Any, int]]:
        """The whole table, ordered: compare a live table with its rebuild."""
        self._check(name)
        rows = await self._pool().fetch(f"SELECT key, integrator_id, data, position FROM {name} ORDER BY key")
        return [(r["key"], r["integrator_id"], json.loads(r["data"]), r["position"]) for r in rows]

    def _check(self, name: str) -> None:
        if name not in self.all:
            raise KeyError(f"no projection named {name}")

    # --- rebuild -------------------------------------------------------------------------------

    async def rebuild(
        self, name: str, *, producer: str, progress: bool = True, batch: int = 5000
    ) -> dict[str, float]:
        """Drop and rebuild one projection from the whole log; returns events, rows and events/s.

        Appends that commit during the rebuild are kept out by a lock on the projection's table
        (appenders wait for the swap), so the rebuilt table is exactly the fold of the log.
        """
        p = self.all[name]
        shadow = f"{name}__rebuild"
        started = time.perf_counter()
        rows: dict[str, tuple[str, Row, int]] = {}
        pool = self._pool()
        async with pool.acquire() as conn, conn.transaction():
            # Live appends update the projection under a row lock; this lock makes them wait.
            await conn.execute(f"LOCK TABLE {name} IN EXCLUSIVE MODE")
            total = await conn.fetchval(
                "SELECT count(*) FROM events WHERE event_type = any($1::text[])", names_of(p.handles)
            )
            bar = tqdm(total=total, desc=f"rebuild {name}", unit="ev", disable=not progress, mininterval=0.5)
            seen = 0
            last = 0
            while True:
                chunk = await conn.fetch(
                    "SELECT position, event_id, stream_id, stream_version, event_type, schema_version, "
                    "integrator_id, occurred_at, correlation_id, causation_id, payload, trace_context "
                    "FROM events WHERE position > $1 AND event_type = any($2::text[]) ORDER BY position LIMIT $3",
                    last,
                    names_of(p.handles),
                    batch,
                )
                if not chunk:
                    break
                for record in chunk:
                    rec = record_from_row(record, producer)
                    for key in p.keys_for(rec.envelope, rec.event):
                        current = rows.get(key)
                        new = p.apply(current[1] if current else None, rec.envelope, rec.event)
                        if new is None:
                            rows.pop(key, None)
                        else:
                            rows[key] = (rec.envelope.integrator_id, new, rec.position)
                last = chunk[-1]["position"]
                seen += len(chunk)
                bar.update(len(chunk))
            bar.close()
            await conn.execute(f"DROP TABLE IF EXISTS {shadow}")
            await conn.execute(p.ddl(shadow).split(";\n")[0])
            await conn.copy_records_to_table(
                shadow,
                records=[(k, integ, _json(data), pos) for k, (integ, data, pos) in rows.items()],
                columns=["key", "integrator_id", "data", "position"],
            )
            await conn.execute(f"DROP TABLE {name}")
            await conn.execute(f"ALTER TABLE {shadow} RENAME TO {name}")
            await conn.execute(f"ALTER INDEX {shadow}_pkey RENAME TO {name}_pkey")
            await conn.execute(p.ddl())
            await conn.execute(
                "INSERT INTO projection_state (name, rebuilt_at, events) VALUES ($1, now(), $2) "
                "ON CONFLICT (name) DO UPDATE SET rebuilt_at = now(), events = EXCLUDED.events",
                name,
                seen,
            )
        elapsed = time.perf_counter() - started
        return {"events": seen, "rows": len(rows), "seconds": elapsed, "events_per_second": seen / elapsed}
