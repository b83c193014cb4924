"""Faults on the real stack: the database restarted under load, consumers sharing partitions."""

from __future__ import annotations

import asyncio

import httpx

from chassis.devstack import EmbeddedPostgres, free_port
from chassis.testing import running_service
from tests.support import chassis_app
from tests.support.waiting import eventually


async def test_postgres_restarted_under_load_commands_fail_cleanly_then_recover(stack, postgres_tmp_path):
    """While PostgreSQL is down, commands get 503 problem+json and change nothing; afterwards the
    service recovers by itself, and every command that got a 201 is in the log exactly once."""
    own_pg = EmbeddedPostgres(postgres_tmp_path / "pg", free_port(), durable=True)
    own_pg.start()
    original = stack.postgres
    try:
        stack.postgres = own_pg  # this test's service runs on its own server, so killing it harms no one
        async with running_service(stack, chassis_app, database="faults") as svc:
            accepted: list[str] = []
            statuses: list[int] = []

            async def load(n: int) -> None:
                for i in range(n):
                    sender = f"cmd-{len(statuses)}-{i}"
                    try:
                        r = await svc.http.post(
                            "/sheets", json={"integrator_id": f"i{i % 4}", "sender": sender}
                        )
                    except httpx.HTTPError:
                        statuses.append(-1)
                        continue
                    statuses.append(r.status_code)
                    if r.status_code == 201:
                        accepted.append(sender)
                    else:
                        assert r.status_code == 503, r.text
                        assert r.headers["content-type"].startswith("application/problem+json")
                    await asyncio.sleep(0.005)

            await load(50)
            own_pg.kill()
            await load(30)  # all refused with 503 while the database is down
            own_pg.start()
            recovered = await eventually(
                lambda: _posts_ok(svc), timeout=30, what="the service accepting commands again"
            )
            assert recovered
            await load(50)
            assert statuses.count(503) >= 30
            assert -1 not in statuses
            rows = await svc.runtime.pool.fetch(
                "SELECT payload->>'sent_by' AS sender, count(*) AS n FROM events "
                "WHERE payload->>'sent_by' LIKE 'cmd-%' GROUP BY 1"
            )
            in_log = {r["sender"]: r["n"] for r in rows}
            assert set(in_log) == set(accepted)
            assert all(n == 1 for n in in_log.values())
            # The consumer caught up on its own too.
            await eventually(lambda: _consumed_all(svc), timeout=30, what="the consumer caught up")
    finally:
        stack.postgres = original
        own_pg.stop()


async def _posts_ok(svc) -> bool:
    r = await svc.http.post("/sheets", json={"integrator_id": "probe", "sender": "probe"})
    return r.status_code == 201


async def _consumed_all(svc) -> bool:
    events = await svc.runtime.pool.fetchval("SELECT count(*) FROM events")
    consumed = await svc.runtime.pool.fetchval("SELECT count(*) FROM consumed")
    return events == consumed


async def test_two_replicas_share_the_partitions_without_processing_twice(service):
    """P8: two consumers in one group split the partitions; each event is handled once."""
    async with service(chassis_app) as first:
        database = first.runtime.settings.database_url.rsplit("/", 1)[1]
        prefix = first.runtime.settings.kafka_topic_prefix
        async with service(chassis_app, database=database, prefix=prefix) as second:
            await eventually(lambda: _both_assigned(first, second), what="the group rebalanced across both")
            for i in range(60):
                await first.runtime.execute(
                    stream_id=f"s{i}", integrator_id=f"i{i}", decide=chassis_app.send_sheet(f"u{i}")
                )
            await eventually(lambda: _consumed_n(first, 60), timeout=30, what="60 consumed")
            await asyncio.sleep(1)
            assert await first.runtime.pool.fetchval("SELECT count(*) FROM consumed") == 60
            assert first.runtime.runners[0].processed + second.runtime.runners[0].processed >= 60
            both = [r.runners[0].processed for r in (first.runtime, second.runtime)]
            assert all(n > 0 for n in both), f"one member did all the work: {both}"


async def _both_assigned(*members) -> bool:
    """Each member holds its own share of the partitions: the rebalance after the second joined is done."""
    assigned = [m.runtime.subscriber.consumer.assignment() for m in members if m.runtime.subscriber.consumer]
    return len(assigned) == len(members) and all(assigned) and not set.intersection(*map(set, assigned))


async def _consumed_n(svc, n: int) -> bool:
    return await svc.runtime.pool.fetchval("SELECT count(*) FROM consumed") >= n
