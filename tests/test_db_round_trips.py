"""Round trips to PostgreSQL, counted by the chassis's connections (chassis.db) and exported as
`db_round_trips_total{service}`: each kind of call counts what it costs on the wire, and a plain
command's figure is pinned so that a regression (or the unit of work's gain) shows."""

from __future__ import annotations

import asyncpg

from chassis.db import needs_reset
from chassis.runtime import ServiceRuntime
from platform_cli.traces import read_spans
from tests.support import chassis_app

#: A plain load-decide-append command (chassis_app's POST /sheets: reading the stream, appending one
#: event that changes one projection row). When the counting came it was 9: BEGIN, the stream read,
#: SAVEPOINT, the append, RELEASE, the row read (FOR UPDATE) and upsert, COMMIT, the pool's reset.
#: With the unit of work: the stream read, the row read, and one statement writing both (issue 18: <= 4).
PLAIN_COMMAND_ROUND_TRIPS = 3
COMMANDS = 20


def exported(runtime: ServiceRuntime) -> float | None:
    return runtime.metrics.registry.get_sample_value("db_round_trips_total", {"service": runtime.name})


async def counted(runtime: ServiceRuntime, conn: asyncpg.Connection, call: object) -> int:  # type: ignore[type-arg]
    before = runtime.round_trips.total
    await call  # type: ignore[misc]
    return runtime.round_trips.total - before


async def test_each_call_counts_the_round_trips_it_makes(service):
    # No relay, reactions, schedules or metrics refresh: nothing else uses the pool meanwhile.
    async with service(
        chassis_app, run_relay=False, run_reactions=False, run_schedules=False, metrics_enabled=False
    ) as svc:
        rt = svc.runtime
        async with rt.pool.acquire() as conn:
            # A statement not prepared yet: Parse/Describe, then Bind/Execute. Prepared: one.
            assert await counted(rt, conn, conn.fetchval("SELECT $1::int + 1", 1)) == 2
            assert await counted(rt, conn, conn.fetchval("SELECT $1::int + 1", 2)) == 1
            # A simple query (no arguments), and a transaction's BEGIN and COMMIT: one each.
            assert await counted(rt, conn, conn.execute("SELECT 1")) == 1
            before = rt.round_trips.total
            async with conn.transaction():
                await conn.fetchrow("SELECT $1::int + 1", 3)
            assert rt.round_trips.total - before == 3
            # executemany: one Sync for all its rows (after its prepare).
            await conn.execute("CREATE TEMP TABLE t (n int)")
            assert await counted(rt, conn, conn.executemany("INSERT INTO t VALUES ($1)", [(1,), (2,)])) == 2
            # COPY: the columns' types (a prepare), then the copy itself.
            copied = await counted(rt, conn, conn.copy_records_to_table("t", records=[(3,), (4,)]))
            assert copied == 2
        # Releasing a connection that took no session state: no reset query (chassis.db).
        before = rt.round_trips.total
        async with rt.pool.acquire():
            pass
        assert rt.round_trips.total - before == 0
        # One that did (a session advisory lock, marked): asyncpg's reset query, one round trip.
        async with rt.pool.acquire() as conn:
            needs_reset(conn)
            before = rt.round_trips.total
        assert rt.round_trips.total - before == 1
        assert exported(rt) == rt.round_trips.total > 0


async def test_a_plain_command_costs_at_most_todays_round_trips(service):
    async with service(
        chassis_app, run_relay=False, run_reactions=False, run_schedules=False, metrics_enabled=False
    ) as svc:
        rt = svc.runtime

        async def send(i: int) -> None:
            r = await svc.http.post("/sheets", json={"integrator_id": f"i-rt-{i}", "sender": "ops"})
            assert r.status_code == 201

        # Warm: the connection's statements prepared (a first command also prepares each of them).
        for i in range(3):
            await send(i)
        before = rt.round_trips.total
        for i in range(COMMANDS):
            await send(100 + i)  # a new stream each time, as a registration's first command
        per_command = (rt.round_trips.total - before) / COMMANDS
        print(f"\nround trips per plain command (POST /sheets, warm): {per_command:g}")
        assert per_command == int(per_command), "every command the same, warm: a whole number"
        assert per_command == PLAIN_COMMAND_ROUND_TRIPS
        # The command's span says how many it made (no reset on release now).
        rt.tracer_provider.force_flush()
        spans = [s for s in read_spans(rt.settings.traces_dir) if s.name == "execute"]
        assert int(spans[-1].attributes["db.round_trips"]) == per_command


async def test_trace_database_puts_each_query_in_the_waterfall(service):
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    try:
        async with service(
            chassis_app, run_relay=False, run_reactions=False, run_schedules=False, trace_database=True
        ) as svc:
            rt = svc.runtime
            r = await svc.http.post("/sheets", json={"integrator_id": "i-traced", "sender": "ops"})
            assert r.status_code == 201
            rt.tracer_provider.force_flush()
            spans = read_spans(rt.settings.traces_dir)
            command = next(s for s in spans if s.name == "execute")
            under = {s.name for s in spans if s.trace_id == command.trace_id and s.span_id != command.span_id}
            # The stream's read (SELECT) and the one statement writing events and rows (WITH), each
            # its own span; no transaction around them.
            assert {"SELECT", "WITH"} <= under, under
            assert not {"BEGIN;", "SAVEPOINT", "COMMIT;"} & under, under
    finally:
        AsyncPGInstrumentor().uninstrument()  # it patches asyncpg for the whole test process
