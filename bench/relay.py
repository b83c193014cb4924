"""Relay throughput (events/s) beside a raw aiokafka producer on the same broker."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from bench.service import integrator_of
from chassis import kafka
from chassis.relay import Relay
from chassis.runtime import ServiceRuntime


async def relay_throughput(
    runtime: ServiceRuntime,
    n: int,
    timeout: float,
    tracer: trace.Tracer | None = None,
    *,
    sign: bool = True,
    topic: str | None = None,
) -> dict[str, Any]:
    """Start a Relay over a store holding `n` unpublished events; time until it has published them all
    (producer start and topic check included, as a restarted service pays them). `sign=False`: without
    the events' signatures (chassis.signing), to measure what signing costs; `topic`: another topic than
    the service's (the unsigned runs: the reaction then reads only signed messages on the service's)."""
    async with runtime.pool.acquire() as conn:
        await conn.execute("DELETE FROM relay_checkpoint")
    relay = Relay(
        runtime.name,
        topic or runtime.topic,
        runtime.settings,
        runtime.pool,
        tracer or runtime.tracer,
        sign=sign,
    )
    started = time.perf_counter()
    first_at: float | None = None
    relay.start()
    try:
        published = 0
        while published < n:
            if first_at is None and relay.published_total > 0:
                first_at = time.perf_counter()
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"relay published {published}/{n} in {timeout:.0f} s")
            await asyncio.sleep(0.02)
            # The checkpoint, not a counter: a republish (broker thought wiped) starts it again.
            published = await runtime.pool.fetchval(
                "SELECT coalesce(sum(published), 0) FROM relay_checkpoint"
            )
        elapsed = time.perf_counter() - started
    finally:
        await relay.stop()
    return {
        "events": n,
        "published_checkpoint": int(published),
        # More than `events` means the relay republished (it believed the broker had lost messages).
        "messages_sent": relay.published_total,
        "seconds": round(elapsed, 3),
        "events_per_second": round(n / elapsed),
        "seconds_to_first_batch": round((first_at or time.perf_counter()) - started, 3),
    }


async def sample_message(runtime: ServiceRuntime) -> tuple[bytes, list[tuple[str, bytes]]]:
    """One message exactly as the relay put it on the topic: the raw baseline sends its size."""
    consumer = kafka.consumer(runtime.settings, runtime.settings.topic(runtime.topic), group_id=None)
    await consumer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=1000, max_records=1)
            for messages in batches.values():
                if messages:
                    m = messages[0]
                    return m.value or b"", list(m.headers or [])
    finally:
        await consumer.stop()


async def raw_produce(
    runtime: ServiceRuntime, n: int, value: bytes, headers: list[tuple[str, bytes]]
) -> dict[str, Any]:
    """N messages of the relay's size, keys and headers, with the chassis' producer settings
    (linger, batch size, acks): send all, then gather the acknowledgements."""
    topic = "bench-raw-produce"
    await kafka.ensure_topics(runtime.settings, [topic])
    producer = kafka.producer(runtime.settings)
    await producer.start()
    keys = [integrator_of(i).encode() for i in range(n)]
    full_topic = runtime.settings.topic(topic)
    try:
        # Warm the metadata so both sides start connected.
        await producer.partitions_for(full_topic)
        started = time.perf_counter()
        futures = [
            await producer.send(full_topic, value=value, key=keys[i], headers=headers) for i in range(n)
        ]
        await asyncio.gather(*futures)
        elapsed = time.perf_counter() - started
    finally:
        await producer.stop()
    return {"events": n, "seconds": round(elapsed, 3), "events_per_second": round(n / elapsed)}


async def tracing_variants(runtime: ServiceRuntime, n: int, timeout: float) -> dict[str, Any]:
    """The relay over `n` events three ways: the service's tracer (spans exported by the batch
    processor's thread), spans made but never exported, and no tracing at all."""
    return {
        "events": n,
        "spans_exported": (await relay_throughput(runtime, n, timeout))["events_per_second"],
        "spans_not_exported": (
            await relay_throughput(runtime, n, timeout, TracerProvider().get_tracer("bench"))
        )["events_per_second"],
        "no_op_tracer": (await relay_throughput(runtime, n, timeout, trace.NoOpTracer()))[
            "events_per_second"
        ],
    }
