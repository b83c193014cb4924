"""On the real broker, in one batch of the service's FastStream subscriber: a header without a value
and a header whose value is not UTF-8, amid valid events. FastStream 0.7.8's own parser raises on
both and, with manual ack, the whole batch was skipped and then committed past (lost); the chassis's
parser hands the records through and its reader dead-letters only the bad ones (P6)."""

from __future__ import annotations

import json

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from contracts import topics
from tests.support import chassis_app
from tests.support.signed import signed_by
from tests.support.waiting import eventually
from tests.test_hardening_consumers import _envelope

VALID = 200
#: Where the two bad messages go among the valid ones (first of the batch, in the middle, last).
BAD = {0: ("event_type", None), 101: ("event_type", b"\xff\xfe\xc3"), VALID + 1: ("traceparent", None)}


async def test_bad_header_values_amid_valid_events_lose_none_of_them(service, stack):
    async with service(chassis_app) as svc:
        rt = svc.runtime
        topic = rt.settings.topic(topics.ONBOARDING)
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka.bootstrap, linger_ms=50)
        await producer.start()
        try:
            sent, valid = [], 0
            for position in range(VALID + len(BAD)):
                if position in BAD:
                    value = json.dumps(_envelope(f"bad-{position}")).encode()
                    headers = [BAD[position]]
                else:
                    value = json.dumps(_envelope(f"v{valid}")).encode()
                    headers = signed_by("onboarding", b"i", value, "ConfigurationSheetSent")
                    valid += 1
                # One partition, sent together: they arrive in one or few batches, in this order.
                sent.append(await producer.send(topic, value, key=b"i", partition=0, headers=headers))
            for future in sent:
                await future
        finally:
            await producer.stop()

        async def consumed() -> int | None:
            n = await rt.pool.fetchval("SELECT count(*) FROM consumed")
            return n if n >= VALID else None

        assert await eventually(consumed, what="every valid event handled", timeout=60) == VALID
        rows = await eventually(lambda: _dead_letters(rt, len(BAD)), what="the bad ones dead-lettered")
        assert sorted(r["kafka_offset"] for r in rows) == sorted(BAD)
        assert {r["consumer"] for r in rows} == {"onboarding.echo"}
        reasons = " | ".join(r["reason"] for r in rows)
        assert "has no value" in reasons and "not UTF-8" in reasons
        # The dead-letter topic carries them too, with their reason.
        published = await _dead_letter_topic(rt, stack, len(BAD))
        assert sorted(int(h["dlq_offset"]) for h in published) == sorted(BAD)
        # And the group's committed offset is past all of them: nothing will come again.
        end = VALID + len(BAD)
        assert await eventually(lambda: _committed_is(rt, topic, end), what="offsets committed") == end
        assert await rt.pool.fetchval("SELECT count(*) FROM consumed") == VALID


async def _dead_letters(rt, n: int):
    rows = await rt.pool.fetch("SELECT consumer, kafka_offset, reason FROM dead_letters")
    return rows if len(rows) >= n else None


async def _dead_letter_topic(rt, stack, n: int) -> list[dict[str, str]]:
    dlq = AIOKafkaConsumer(
        rt.settings.topic(topics.DEAD_LETTERS),
        bootstrap_servers=stack.kafka.bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await dlq.start()
    seen: list[dict[str, str]] = []
    try:
        for _ in range(40):
            batches = await dlq.getmany(timeout_ms=500)
            seen += [
                {k: (v or b"").decode("latin-1") for k, v in m.headers}
                for msgs in batches.values()
                for m in msgs
            ]
            if len(seen) >= n:
                break
    finally:
        await dlq.stop()
    assert len(seen) == n, seen
    return seen


async def _committed_is(rt, topic: str, end: int) -> int | None:
    consumer = rt.subscriber.consumer
    committed = await consumer.committed(TopicPartition(topic, 0)) if consumer is not None else None
    return committed if committed == end else None
