"""Publish one message whose header key is not UTF-8 — bytes aiokafka's own producer never writes
but a hostile client can, and which aiokafka's consumer cannot even parse.

Run as a process (`python -m tests.support.unparsable_header BOOTSTRAP TOPIC VALUE`): it needs the
pure-Python record builder, chosen when aiokafka is first imported, and a header key that encodes
to bytes of our choosing.
"""

from __future__ import annotations

import asyncio
import os
import sys

os.environ["AIOKAFKA_NO_EXTENSIONS"] = "1"

# Imported after the variable that selects the builder.
from aiokafka import AIOKafkaProducer


class NotUtf8Key(str):
    """A header key the builder writes as bytes that are not UTF-8."""

    def encode(self, *args: object, **kwargs: object) -> bytes:  # type: ignore[override]
        return b"\xff\xfeevent_type"


async def main(bootstrap: str, topic: str, value: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, value.encode(), key=b"i", partition=0, headers=[(NotUtf8Key("event_type"), b"x")]
        )
    finally:
        await producer.stop()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
