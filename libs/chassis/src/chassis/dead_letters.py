"""Dead letters as kept: the poison message's raw bytes, whatever they are (P6).

A dead letter must be writable whatever the message holds, or the consumer that parks it fails its
batch and comes back to it for ever (a NUL byte in one header stopped every consumer: jsonb refuses
`\\u0000`). So the row keeps bytes, never text built from them: the key and value as `bytea`, the
headers as two `bytea[]` side by side (names, values; a NULL value is a header without one). The only
text is the reason, made storable here (`storable`). The older rows' `headers` (jsonb) stay readable
(`headers_of`). What the dead-letter topic gets is bounded (`for_topic`): the table keeps it whole.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from typing import Any, Protocol

from aiokafka import ConsumerRecord

#: The longest reason kept (a validation error of a hostile payload can be long).
REASON_CHARS = 2000
#: Past this, the message is too big for the dead-letter topic whole (the broker's limit is ~1 MB):
#: the topic gets the head of each part, the table keeps it whole.
TOPIC_WHOLE_BYTES = 500_000
#: The head of a key, a value or a header value the topic gets when the message is too big.
TOPIC_HEAD_BYTES = 16 * 1024
#: Headers of its own a dead letter carries on the topic (a message's own of these names are dropped).
TOPIC_HEADERS = (
    "dlq_reason",
    "dlq_consumer",
    "dlq_topic",
    "dlq_partition",
    "dlq_offset",
    "dlq_truncated",
    "dlq_no_value",
)

#: Control characters PostgreSQL's text refuses (NUL) or a reader would be misled by; tab and newline
#: stay (tracebacks).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class Row(Protocol):
    """A `dead_letters` row as asyncpg returns it."""

    def __getitem__(self, column: str) -> Any: ...


RECORD = (
    "INSERT INTO dead_letters (consumer, topic, kafka_partition, kafka_offset, message_key, "
    "message_value, header_names, header_values, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
    "ON CONFLICT DO NOTHING"
)
#: When even the bytes could not be kept: the coordinates name the message on its topic.
RECORD_COORDINATES = (
    "INSERT INTO dead_letters (consumer, topic, kafka_partition, kafka_offset, reason) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"
)


def storable(text: str) -> str:
    """`text` as PostgreSQL text and a Kafka header take it: control characters (NUL first) and lone
    surrogates (a header name or a payload can carry them into an error message) escaped, bounded."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)[:REASON_CHARS]


def _name_bytes(name: str) -> bytes:
    # aiokafka decodes a header name as UTF-8 (strictly); surrogatepass keeps anything else intact.
    return name.encode("utf-8", "surrogatepass")


def record_arguments(consumer: str, message: ConsumerRecord[bytes, bytes], reason: str) -> tuple[Any, ...]:
    """The arguments of `RECORD`: the message's bytes as they came."""
    headers = list(message.headers or ())
    return (
        consumer,
        message.topic,
        message.partition,
        message.offset,
        message.key,
        message.value,
        [_name_bytes(name) for name, _ in headers],
        [value for _, value in headers],
        storable(reason),
    )


def coordinates_arguments(
    consumer: str, message: ConsumerRecord[bytes, bytes], reason: str
) -> tuple[Any, ...]:
    return (consumer, message.topic, message.partition, message.offset, storable(reason))


def headers_of(row: Row) -> list[tuple[str, bytes | None]]:
    """A dead letter's headers as the consumer got them, from either shape of the row."""
    names, values = row["header_names"], row["header_values"]
    if names is not None:
        return [
            (bytes(n).decode("utf-8", "surrogatepass"), None if v is None else bytes(v))
            for n, v in zip(names, values or [None] * len(names), strict=True)
        ]
    # Rows recorded before: latin-1 text in jsonb (a header without a value was kept empty).
    legacy = row["headers"]
    if isinstance(legacy, str):
        legacy = json.loads(legacy)
    return [(k, v.encode("latin-1")) for k, v in (legacy or {}).items()]


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def raw(row: Row) -> dict[str, Any]:
    """A dead letter's bytes for ops (`GET /ops/dead-letters/{id}`): base64, so any byte survives JSON."""
    return {
        "key_base64": _b64(row["message_key"]),
        "value_base64": _b64(row["message_value"]),
        "headers": [
            {"name": storable(name), "name_base64": _b64(_name_bytes(name)), "value_base64": _b64(value)}
            for name, value in headers_of(row)
        ],
        # A row recorded with its coordinates only (its bytes could not be kept): read them on the topic.
        "bytes_kept": row["message_value"] is not None
        or row["message_key"] is not None
        or row["header_names"] is not None,
    }


def for_topic(
    consumer: str, message: ConsumerRecord[bytes, bytes], reason: str
) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
    """The dead letter as the dead-letter topic gets it: key, value and headers, with the reason and
    the coordinates as `dlq_*` headers; the head of each part when the whole would be too big."""
    key, value = message.key, message.value
    headers = [(k, v or b"") for k, v in (message.headers or ()) if k not in TOPIC_HEADERS]
    size = len(key or b"") + len(value or b"") + sum(8 + len(_name_bytes(k)) + len(v) for k, v in headers)
    truncated = size > TOPIC_WHOLE_BYTES
    if truncated:
        key = None if key is None else key[:TOPIC_HEAD_BYTES]
        value = None if value is None else value[:TOPIC_HEAD_BYTES]
        headers = [(k[:TOPIC_HEAD_BYTES], v[:TOPIC_HEAD_BYTES]) for k, v in headers[:64]]
    headers += [
        ("dlq_reason", storable(reason).encode()),
        ("dlq_consumer", consumer.encode()),
        ("dlq_topic", message.topic.encode()),
        ("dlq_partition", str(message.partition).encode()),
        ("dlq_offset", str(message.offset).encode()),
    ]
    if truncated:
        headers.append(("dlq_truncated", b"true"))
    if key is None and value is None:
        # A record whose bytes never reached the consumer (chassis.subscriber: unreadable): the client
        # refuses a message with neither, so it goes with an empty value, said so.
        value = b""
        headers.append(("dlq_no_value", b"true"))
    return key, value, headers


def message_of(row: Any, headers: Sequence[tuple[str, bytes | None]]) -> ConsumerRecord[bytes, bytes]:
    """A stored message (a dead letter, a held event) as the consumer record it came as, to be read
    again by the reaction's reader (replay, release)."""
    return ConsumerRecord(
        topic=row["topic"],
        partition=row["kafka_partition"],
        offset=row["kafka_offset"],
        timestamp=0,
        timestamp_type=0,
        key=row["message_key"],
        value=row["message_value"],
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=0,
        headers=headers,
    )
