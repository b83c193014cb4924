"""Hostile messages on the real broker, and where a consumer parks them: its dead-letter table (read
through `/ops/dead-letters`, bytes in base64) and the dead-letter topic."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from contracts import topics
from tests.support.waiting import eventually

Headers = list[tuple[str, bytes | None]]


async def send_on_every_partition(
    bootstrap: str, topic: str, *, key: bytes | None, value: bytes | None, headers: Headers
) -> list[tuple[int, int]]:
    """The message once on each partition of `topic`, so it comes before whatever is published there
    next, whichever partition that lands on. Returns each copy's (partition, offset)."""
    # Room for a value over the consumers' 1 MB limit plus its headers (the broker takes it).
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=4 * 1024 * 1024)
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(topic))
        sent = []
        for partition in partitions:
            meta = await producer.send_and_wait(
                topic, value=value, key=key, partition=partition, headers=headers
            )
            sent.append((meta.partition, meta.offset))
        return sent
    finally:
        await producer.stop()


async def dead_letters_of(svc: Any, topic: str, coordinates: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """The service's dead letters (each with its bytes) of the messages at `coordinates` of `topic`,
    once every one is there (bounded wait)."""
    ops = svc.auth("ops")
    wanted = set(coordinates)

    async def listed() -> list[dict[str, Any]] | None:
        response = await svc.http.get("/ops/dead-letters", headers=ops)
        assert response.status_code == 200, response.text
        found = [
            d
            for d in response.json()
            if d["topic"] == topic and (d["kafka_partition"], d["kafka_offset"]) in wanted
        ]
        return found if len(found) >= len(wanted) else None

    found = await eventually(listed, what=f"{svc.runtime.name} dead-lettering {sorted(wanted)} of {topic}")
    letters = []
    for d in found:
        response = await svc.http.get(f"/ops/dead-letters/{d['id']}", headers=ops)
        assert response.status_code == 200, response.text
        letters.append(response.json())
    return letters


def decoded(letter: dict[str, Any]) -> tuple[bytes | None, bytes | None, Headers]:
    """A dead letter's key, value and headers as bytes again."""

    def b(text: str | None) -> bytes | None:
        return None if text is None else base64.b64decode(text)

    # The name from its bytes: `name` is made readable (a NUL in it escaped).
    headers = [(base64.b64decode(h["name_base64"]).decode(), b(h["value_base64"])) for h in letter["headers"]]
    return b(letter["key_base64"]), b(letter["value_base64"]), headers


async def dead_letter_topic(
    svc: Any, bootstrap: str, wanted: Callable[[ConsumerRecord[bytes, bytes]], bool], n: int
) -> list[ConsumerRecord[bytes, bytes]]:
    """The first `n` messages of the service's dead-letter topic that `wanted` picks (bounded)."""
    consumer = AIOKafkaConsumer(
        svc.runtime.settings.topic(topics.DEAD_LETTERS),
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        fetch_max_bytes=8 * 1024 * 1024,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    found: list[ConsumerRecord[bytes, bytes]] = []
    try:

        async def more() -> bool:
            batches = await consumer.getmany(timeout_ms=200)
            found.extend(m for msgs in batches.values() for m in msgs if wanted(m))
            return len(found) >= n

        await eventually(more, what=f"{n} message(s) on the dead-letter topic")
    finally:
        await consumer.stop()
    return found


def dlq_header(message: ConsumerRecord[bytes, bytes], name: str) -> str | None:
    for k, v in message.headers or ():
        if k == name:
            return (v or b"").decode()
    return None
