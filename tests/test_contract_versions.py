"""Contracts side by side (issue 18, tolerant reader): a producer deployed with a newer contract — a
new optional field in the payload and in the envelope — publishes beside a producer still on the old
one, on the real broker, to a consumer running the old contracts. Nothing is dead-lettered: every
event is handled, the new field ignored. A field the old contract requires and the message lacks is
still poison (the control: the consumer is tolerant of additions, not of anything)."""

from __future__ import annotations

import json

from aiokafka import AIOKafkaProducer

from contracts import topics
from tests.support import chassis_app
from tests.support.signed import signed_by
from tests.support.waiting import eventually
from tests.test_hardening_consumers import _consumed, _envelope


def _newer(sent_by: str) -> dict:
    """ConfigurationSheetSent as a producer on the next contract version writes it: the same event
    with a field added to the payload (`sent_via`) and one to the envelope (`tenant`)."""
    raw = _envelope(sent_by)
    raw["payload"]["sent_via"] = "portal"
    raw["tenant"] = "vendor"
    return raw


async def test_old_and_new_producers_side_by_side_nothing_dead_lettered(service, stack):
    async with service(chassis_app) as svc:
        rt = svc.runtime
        topic = rt.settings.topic(topics.ONBOARDING)
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka.bootstrap)
        await producer.start()
        try:
            for n in range(20):  # interleaved: old, new, old, new...
                raw = _newer(f"new-{n}") if n % 2 else _envelope(f"old-{n}")
                await _send(producer, topic, raw)
            missing = _envelope("missing")
            del missing["payload"]["sent_by"]
            await _send(producer, topic, missing)
            await _send(producer, topic, _newer("last"))
        finally:
            await producer.stop()

        async def all_handled() -> bool:
            return await _consumed(rt) == 21

        await eventually(all_handled, what="the old and the new producers' 21 events handled", timeout=30)
        reasons = [r["reason"] for r in await rt.pool.fetch("SELECT reason FROM dead_letters")]
        assert len(reasons) == 1 and "sent_by" in reasons[0], reasons  # only the one missing a field


async def _send(producer, topic: str, envelope: dict) -> None:
    """As onboarding's relay: signed (the tolerant reader's checks come after the signature's)."""
    value = json.dumps(envelope).encode()
    headers = signed_by("onboarding", b"i", value, "ConfigurationSheetSent")
    await producer.send_and_wait(topic, value, key=b"i", headers=headers)
