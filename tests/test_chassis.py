"""The chassis' promises (P1–P4, P6, P8), on the real PostgreSQL and the real broker."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from chassis.devstack import EmbeddedKafka, free_port
from chassis.eventstore import ConcurrencyConflict
from contracts import topics
from contracts.events.onboarding import ConfigurationSheetSent
from tests.support import chassis_app
from tests.support.published import topic_senders
from tests.support.signed import signed_by
from tests.support.waiting import eventually


async def consumed_count(rt) -> int:
    return await rt.pool.fetchval("SELECT count(*) FROM consumed")


async def test_two_concurrent_appends_to_one_stream_make_exactly_one_conflict(service):
    async with service(chassis_app, run_reactions=False) as svc:
        rt = svc.runtime
        gate = asyncio.Event()
        have_read: list[str] = []

        async def writer(name: str) -> str:
            async with rt.pool.acquire() as conn, conn.transaction():
                history = await rt.store.read_stream(conn, "stream-a")
                have_read.append(name)
                await gate.wait()  # both have read version 0 before either appends
                try:
                    await rt.append_in(
                        conn,
                        stream_id="stream-a",
                        integrator_id="i",
                        expected_version=len(history),
                        events=[ConfigurationSheetSent(sent_by=name)],
                    )
                    return "appended"
                except ConcurrencyConflict:
                    return "conflict"

        tasks = [asyncio.create_task(writer("a")), asyncio.create_task(writer("b"))]

        # Both have read before the gate opens (a fixed 50 ms was not always enough on a loaded machine:
        # the second writer then read the first one's event and appended after it, no conflict).
        async def both_have_read() -> bool:
            return len(have_read) == 2

        await eventually(both_have_read, what="both writers have read the stream")
        gate.set()
        outcomes = sorted(await asyncio.gather(*tasks))
        assert outcomes == ["appended", "conflict"]
        assert len(await rt.read_stream("stream-a")) == 1


async def test_the_event_store_refuses_updates_and_deletes(service):
    async with service(chassis_app, run_reactions=False, run_relay=False) as svc:
        rt = svc.runtime
        await rt.execute(stream_id="s", integrator_id="i", decide=chassis_app.send_sheet("a"))
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await rt.pool.execute("UPDATE events SET event_type = 'Other'")
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await rt.pool.execute("DELETE FROM events")


async def test_an_event_committed_after_a_later_one_is_still_relayed(service, stack):
    """P2: positions commit out of order; the relay must not skip the late one."""
    async with service(chassis_app, run_reactions=False) as svc:
        rt = svc.runtime
        late_conn = await rt.pool.acquire()
        late_tx = late_conn.transaction()
        await late_tx.start()
        # The late transaction takes position N first...
        # (another integrator: the projection row of one integrator is locked by its writer)
        await rt.append_in(
            late_conn,
            stream_id="late",
            integrator_id="i-late",
            expected_version=0,
            events=[ConfigurationSheetSent(sent_by="late")],
        )
        # ...and a later one (position N+1) commits before it.
        await rt.execute(stream_id="early", integrator_id="i", decide=chassis_app.send_sheet("early"))
        await asyncio.sleep(1.0)
        # The relay reads only below the oldest transaction in flight: it waits instead of skipping.
        assert await topic_senders(stack, rt, expect=0) == []
        await late_tx.commit()
        await rt.pool.release(late_conn)
        published = await eventually(
            lambda: topic_senders(stack, rt, expect=2), what="both events on the topic"
        )
        assert sorted(published) == ["early", "late"]


async def _relayed(rt) -> bool:
    row = await rt.pool.fetchrow("SELECT published FROM relay_checkpoint")
    return row is not None and row["published"] >= 1


async def test_a_redelivered_event_changes_nothing(service):
    """P3: the same message handled twice leaves one effect."""
    async with service(chassis_app) as svc:
        rt = svc.runtime
        await rt.execute(stream_id="s", integrator_id="i", decide=chassis_app.send_sheet("a"))
        await eventually(lambda: consumed_count(rt), what="first delivery")
        runner = rt.runners[0]
        # Deliver the same message again, as Kafka does after a crash before the offset commit.
        consumer = AIOKafkaConsumer(
            rt.settings.topic(topics.ONBOARDING),
            bootstrap_servers=rt.settings.kafka_bootstrap_servers,
            auto_offset_reset="earliest",
            group_id=None,
        )
        await consumer.start()
        try:
            batches = await consumer.getmany(timeout_ms=2000)
        finally:
            await consumer.stop()
        messages = [m for msgs in batches.values() for m in msgs]
        assert len(messages) == 1
        await runner.handle_batch(messages)
        await runner.handle_batch(messages)
        assert await consumed_count(rt) == 1


async def test_drop_and_rebuild_gives_identical_tables(service):
    async with service(chassis_app, run_reactions=False, run_relay=False) as svc:
        rt = svc.runtime
        for i in range(60):
            await rt.execute(
                stream_id=f"s-{i % 7}", integrator_id=f"i-{i % 5}", decide=chassis_app.send_sheet(f"u{i}")
            )
        live = await rt.projections.snapshot("sheets")
        await rt.pool.execute("DELETE FROM sheets")  # lose the table's content
        result = await rt.projections.rebuild("sheets", producer=rt.name, progress=False)
        assert result["events"] == 60
        assert await rt.projections.snapshot("sheets") == live
        assert len(live) == 5


async def test_a_malformed_message_goes_to_the_dead_letter_topic_and_the_consumer_goes_on(service, stack):
    async with service(chassis_app) as svc:
        rt = svc.runtime
        topic = rt.settings.topic(topics.ONBOARDING)
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka.bootstrap, max_request_size=4_000_000)
        await producer.start()
        try:
            # Signed as onboarding's relay would: the checks of the body come after the signature's.
            for value in (b"{not json", json.dumps({"event_type": "X"}).encode(), b"x" * 1_100_000):
                headers = signed_by("onboarding", b"i", value, "ConfigurationSheetSent")
                await producer.send_and_wait(topic, value, key=b"i", headers=headers)
        finally:
            await producer.stop()
        await rt.execute(stream_id="s", integrator_id="i", decide=chassis_app.send_sheet("after the poison"))
        await rt.execute(stream_id="t", integrator_id="i", decide=chassis_app.send_sheet("poison-me"))
        await eventually(lambda: consumed_count(rt), what="the good event handled after the poison")
        reasons = await eventually(lambda: _dead_letter_reasons(rt, 4), what="four dead letters", timeout=20)
        assert any("not JSON" in r for r in reasons)
        assert any("not an envelope" in r for r in reasons)
        assert any("exceeds" in r for r in reasons)
        assert any("refuses poison-me" in r for r in reasons)
        # The refused event left no effect (its savepoint rolled back).
        assert await consumed_count(rt) == 1
        # And the dead-letter topic carries them with their reason.
        dlq = AIOKafkaConsumer(
            rt.settings.topic(topics.DEAD_LETTERS),
            bootstrap_servers=stack.kafka.bootstrap,
            auto_offset_reset="earliest",
            group_id=None,
        )
        await dlq.start()
        try:
            seen = []
            for _ in range(20):
                batches = await dlq.getmany(timeout_ms=500)
                seen += [dict(m.headers)["dlq_reason"].decode() for msgs in batches.values() for m in msgs]
                if len(seen) >= 4:
                    break
        finally:
            await dlq.stop()
        assert len(seen) == 4
        # Ops see them through HTTP.
        r = await svc.http.get("/ops/dead-letters", headers=svc.auth("ops"))
        assert r.status_code == 200 and len(r.json()) == 4


async def _dead_letter_reasons(rt, n: int) -> list[str] | None:
    rows = await rt.pool.fetch("SELECT reason FROM dead_letters")
    return [r["reason"] for r in rows] if len(rows) >= n else None


async def _leaders(*runtimes) -> list[bool] | None:
    leaders = [rt.relay.is_leader for rt in runtimes]
    assert sum(leaders) <= 1, "two relays lead at once"
    return leaders if any(leaders) else None


async def test_two_replicas_share_the_relay_without_duplicates(service, stack):
    """P8: two runtimes on one database: one relay leads, every event is published once."""
    async with service(chassis_app, run_reactions=False) as first:
        database = first.runtime.settings.database_url.rsplit("/", 1)[1]
        prefix = first.runtime.settings.kafka_topic_prefix
        async with service(chassis_app, run_reactions=False, database=database, prefix=prefix) as second:
            for i in range(40):
                replica = first if i % 2 else second
                await replica.runtime.execute(
                    stream_id=f"s{i}", integrator_id="i", decide=chassis_app.send_sheet(f"u{i}")
                )
            # Under load the advisory lock may not be taken yet: wait for a leader, never two.
            leaders = await eventually(
                lambda: _leaders(first.runtime, second.runtime), what="one relay leader"
            )
            assert sorted(leaders) == [False, True]
            senders = await eventually(
                lambda: topic_senders(stack, first.runtime, expect=40), what="40 published"
            )
            assert len(senders) == 40 and len(set(senders)) == 40


async def test_after_the_broker_loses_its_data_every_consumer_ends_with_every_event_once(
    service, stack, tmp_path
):
    """P4: the embedded broker restarts empty; relays republish, consumers deduplicate."""
    port = free_port()
    broker = EmbeddedKafka(port, tmp_path / "tansu.log")
    broker.start()
    try:
        async with service(chassis_app, kafka_bootstrap_servers=broker.bootstrap) as svc:
            rt = svc.runtime
            for i in range(10):
                await rt.execute(
                    stream_id=f"s{i}", integrator_id=f"i{i % 3}", decide=chassis_app.send_sheet(f"u{i}")
                )
            await eventually(lambda: _count_is(rt, 10), what="10 consumed before the wipe")
            broker.kill()
            broker = EmbeddedKafka(port, tmp_path / "tansu2.log")
            broker.start()
            for i in range(10, 15):
                await rt.execute(
                    stream_id=f"s{i}", integrator_id=f"i{i % 3}", decide=chassis_app.send_sheet(f"u{i}")
                )
            await eventually(lambda: _count_is(rt, 15), timeout=45, what="15 consumed after the wipe")
            await asyncio.sleep(1.0)
            assert await consumed_count(rt) == 15
            rows = await rt.pool.fetch(
                "SELECT event_id, count(*) AS n FROM consumed GROUP BY event_id HAVING count(*) > 1"
            )
            assert rows == []
    finally:
        broker.stop()


async def _count_is(rt, n: int) -> bool:
    return await consumed_count(rt) == n
