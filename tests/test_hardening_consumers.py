"""Hostile messages on the real broker (issue 16, findings 2 and 3): whatever a message's headers
or key hold, it is dead-lettered with its reason and the consumer goes on with the next one; a
message whose key is not its envelope's integrator is not applied; an unknown extra field from a
newer producer is ignored by the reader (the producers stay strict)."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaProducer

from contracts import topics
from contracts.envelope import Envelope
from contracts.events import REGISTRY
from contracts.events.onboarding import ConfigurationSheetSent
from tests.support import chassis_app
from tests.support.signed import signed_by
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[1]


def _envelope(sent_by: str, integrator_id: str = "i") -> dict:
    return {
        "event_id": str(uuid4()),
        "event_type": "ConfigurationSheetSent",
        "schema_version": 1,
        "occurred_at": datetime(2026, 1, 5, tzinfo=UTC).isoformat(),
        "producer": "onboarding",
        "stream_id": f"sheet-{sent_by}",
        "stream_version": 1,
        "integrator_id": integrator_id,
        "correlation_id": str(uuid4()),
        "causation_id": None,
        "payload": {"sent_by": sent_by},
    }


async def _consumed(rt) -> int:
    return await rt.pool.fetchval("SELECT count(*) FROM consumed")


async def _reasons(rt, n: int) -> list[str] | None:
    rows = await rt.pool.fetch("SELECT reason FROM dead_letters ORDER BY id")
    return [r["reason"] for r in rows] if len(rows) >= n else None


HOSTILE = {
    # A header with no value at all (Kafka allows it; aiokafka gives None).
    "null header": dict(key=b"i", headers=[("event_type", None)]),
    "null trace header": dict(key=b"i", headers=[("traceparent", None)]),
    # Bytes that are not UTF-8 where a string is expected.
    "non-UTF-8 header": dict(key=b"i", headers=[("event_type", b"\xff\xfe\xc3")]),
    "non-UTF-8 trace header": dict(key=b"i", headers=[("traceparent", b"00-\xff\xfe-\xc3-01")]),
    # No key: the envelope says integrator "i", the partition key says nothing.
    "empty key": dict(key=b""),
    "missing key": dict(key=None),
    # A key naming another integrator than the envelope (finding 3).
    "key of another integrator": dict(key=b"other"),
}
#: The cases whose check comes after the signature's: their message is signed by onboarding (the
#: topic's owner) over the hostile key, so the key check itself is what refuses them.
SIGNED = {"empty key", "missing key", "key of another integrator"}


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_a_hostile_message_is_dead_lettered_and_the_next_event_is_processed(service, stack, case):
    async with service(chassis_app) as svc:
        rt = svc.runtime
        topic = rt.settings.topic(topics.ONBOARDING)
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka.bootstrap)
        await producer.start()
        try:
            # The hostile message is a well-formed event: only its headers or key are wrong. It goes
            # to partition 0 by choice, as does the valid one after it (same partition: in order).
            hostile = json.dumps(_envelope("hostile")).encode()
            options = dict(HOSTILE[case])
            if case in SIGNED:
                options["headers"] = signed_by(
                    "onboarding", options["key"], hostile, "ConfigurationSheetSent"
                )
            await producer.send_and_wait(topic, hostile, partition=0, **options)
            await _send(producer, topic, "valid")
        finally:
            await producer.stop()
        await eventually(lambda: _consumed(rt), what=f"the valid event after the {case} handled")
        reasons = await eventually(lambda: _reasons(rt, 1), what="the hostile message dead-lettered")
        assert len(reasons) == 1 and reasons[0], reasons
        # The hostile message had no effect: only the valid one was consumed.
        assert await _consumed(rt) == 1
        if "key" in case:
            assert "key" in reasons[0]
        # Ops see the consumer as running, with no restart caused by the message.
        status = (await svc.http.get("/ops/status", headers=svc.auth("ops"))).json()
        consumer = status["consumers"][rt.runners[0].consumer_name]
        assert consumer["restarts"] == 0, consumer


async def test_a_record_the_client_cannot_parse_is_dead_lettered_and_the_next_event_is_processed(
    service, stack
):
    """A header key that is not UTF-8 fails aiokafka's own parsing, for the whole fetch: the consumer
    finds the record, dead-letters it by its coordinates, and goes on — the event before it (same
    fetch) and the one after it are both handled."""
    async with service(chassis_app) as svc:
        rt = svc.runtime
        topic = rt.settings.topic(topics.ONBOARDING)
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka.bootstrap)
        await producer.start()
        try:
            await _send(producer, topic, "before")
            publisher = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.support.unparsable_header",
                stack.kafka.bootstrap,
                topic,
                "{}",
                cwd=ROOT,
            )
            assert await asyncio.wait_for(publisher.wait(), 60) == 0
            await _send(producer, topic, "after")
        finally:
            await producer.stop()
        await eventually(lambda: _at_least(_consumed(rt), 2), what="the events around the unreadable record")
        [reason] = await eventually(lambda: _reasons(rt, 1), what="the unreadable record dead-lettered")
        assert "UnicodeDecodeError" in reason
        offset = await rt.pool.fetchval("SELECT kafka_offset FROM dead_letters")
        assert offset == 1  # the second message of partition 0
        assert await _consumed(rt) == 2


async def _send(producer, topic: str, sent_by: str) -> None:
    value = json.dumps(_envelope(sent_by)).encode()
    headers = signed_by("onboarding", b"i", value, "ConfigurationSheetSent")
    await producer.send_and_wait(topic, value, key=b"i", partition=0, headers=headers)


async def _at_least(count, n: int) -> bool:
    return await count >= n


async def test_a_consumer_that_keeps_failing_shows_its_restarts_and_last_error(service, monkeypatch):
    async with service(chassis_app) as svc:
        rt = svc.runtime
        runner = rt.runners[0]

        async def broken(messages):
            raise RuntimeError("the handler's database went read-only")

        monkeypatch.setattr(runner, "_handle_with_retry", broken)
        await rt.execute(stream_id="s", integrator_id="i", decide=chassis_app.send_sheet("a"))

        async def restarted() -> dict | None:
            status = (await svc.http.get("/ops/status", headers=svc.auth("ops"))).json()
            consumer = status["consumers"][runner.consumer_name]
            return consumer if consumer["restarts"] >= 2 else None

        consumer = await eventually(restarted, what="two restarts visible in /ops/status", timeout=30)
        assert "read-only" in consumer["last_error"]
        assert consumer["last_error_at"]
        # And for the monitoring: a counter per consumer.
        scraped = (await svc.http.get("/metrics")).text
        line = next(x for x in scraped.splitlines() if x.startswith("platform_consumer_restarts_total{"))
        assert runner.consumer_name in line and float(line.split()[-1]) >= 2


def test_a_newer_producers_extra_fields_are_ignored_when_consuming_only():
    """Tolerant reader: a field this code does not know yet (a newer producer's, in the envelope or
    the payload, at any depth) is ignored when consuming; the producers' own models stay strict."""
    from chassis.consumer import decode
    from tests.test_bad_input_events import message

    raw = _envelope("a")
    raw["added_by_a_newer_producer"] = {"x": 1}
    raw["payload"]["sent_via"] = "portal"
    rec = decode(message(json.dumps(raw).encode()))
    assert rec.event == ConfigurationSheetSent(sent_by="a")
    # Strict where we write: neither model accepts the unknown field.
    with pytest.raises(ValueError):
        ConfigurationSheetSent(sent_by="a", sent_via="portal")  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        Envelope.model_validate(raw)
    with pytest.raises(ValueError):
        REGISTRY.load("ConfigurationSheetSent", 1, raw["payload"])
    # A missing or wrong field is still refused, tolerant or not.
    del raw["payload"]["sent_by"]
    from chassis.consumer import Poison

    with pytest.raises(Poison, match="sent_by"):
        decode(message(json.dumps(raw).encode()))
