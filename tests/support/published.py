"""What the test service (`chassis_app`) published on onboarding's topic, read back from the broker."""

from __future__ import annotations

import json
from typing import Any

from aiokafka import AIOKafkaConsumer

from contracts import topics


async def topic_messages(stack: Any, rt: Any, expect: int) -> list[bytes] | None:
    """The messages' values on the topic, in order (one integrator: one partition); None until at
    least `expect` are there."""
    consumer = AIOKafkaConsumer(
        rt.settings.topic(topics.ONBOARDING),
        bootstrap_servers=stack.kafka.bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        fetch_max_wait_ms=20,
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=1000)
        values = [m.value for msgs in batches.values() for m in msgs if m.value is not None]
    finally:
        await consumer.stop()
    return values if len(values) >= expect else None


async def topic_senders(stack: Any, rt: Any, expect: int) -> list[str] | None:
    """Who sent each sheet on the topic, in order; None until at least `expect` are there."""
    values = await topic_messages(stack, rt, expect)
    return None if values is None else [json.loads(v)["payload"]["sent_by"] for v in values]
