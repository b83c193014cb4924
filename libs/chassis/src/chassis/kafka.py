"""aiokafka factories with the platform's settings, and topic creation."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context

from chassis.settings import ServiceSettings

log = structlog.get_logger()


def client_options(settings: ServiceSettings) -> dict[str, Any]:
    """Where the broker is and how to reach it (TLS, SASL): the arguments every client gets, producer,
    consumer and admin alike. The result holds the SASL password in clear, as aiokafka wants it: pass
    it to a client, never log it (the settings show it masked)."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": protocol,
    }
    if protocol in ("SSL", "SASL_SSL"):
        cafile = settings.kafka_ssl_cafile
        if cafile is not None and not cafile.is_file():
            # create_ssl_context's own error names neither the file's role nor the variable.
            raise FileNotFoundError(f"KAFKA_SSL_CAFILE {cafile} is not a file")
        # Verifies the brokers' certificates and host names, against the CA file or the system's CAs.
        options["ssl_context"] = create_ssl_context(cafile=cafile)
    if protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = password.get_secret_value() if password is not None else None
    return options


def producer(settings: ServiceSettings, **overrides: Any) -> AIOKafkaProducer:
    options: dict[str, Any] = {
        **client_options(settings),
        "enable_idempotence": settings.kafka_idempotence,
        "acks": "all",
        "linger_ms": 2,
        "max_batch_size": 256 * 1024,
        "request_timeout_ms": 10_000,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def consumer(
    settings: ServiceSettings,
    *topics: str,
    group_id: str | None,
    factory: type[AIOKafkaConsumer] = AIOKafkaConsumer,
    **overrides: Any,
) -> AIOKafkaConsumer:
    options: dict[str, Any] = {
        **client_options(settings),
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "fetch_max_wait_ms": settings.kafka_fetch_max_wait_ms,
        "max_poll_records": 500,
        "session_timeout_ms": 10_000,
        "heartbeat_interval_ms": 1_000,
        "rebalance_timeout_ms": 5_000,
    }
    options.update(overrides)
    return factory(*topics, **options)


class AdaptiveFetchWait:
    """A consumer's fetch wait, short while messages flow and long when idle.

    Tansu does not answer a fetch early when data arrives: the wait bounds delivery latency, so it is
    short (KAFKA_FETCH_MAX_WAIT_MS, 20 ms) — which at rest is 50 empty fetches a second per consumer,
    most of an idle platform's CPU in the broker and the services. After KAFKA_IDLE_AFTER_MS without a
    message the wait becomes KAFKA_IDLE_FETCH_MAX_WAIT_MS; the fetch that brings the next message
    ends it, and `observe` makes the one after short again before the fetcher sends it (the
    consumer's `getmany` returns to us before aiokafka's fetch task runs again).

    aiokafka reads the wait from its fetcher for each request it builds; it has no public setter, so
    this sets the fetcher's attribute (tests/test_idle_fetch.py fails if that attribute goes)."""

    def __init__(self, consumer: AIOKafkaConsumer, settings: ServiceSettings) -> None:
        self._consumer = consumer
        self.short_ms = settings.kafka_fetch_max_wait_ms
        self.long_ms = max(settings.kafka_idle_fetch_max_wait_ms, self.short_ms)
        self._idle_after = settings.kafka_idle_after_ms / 1000
        self._last_message = time.monotonic()
        self.current_ms = self.short_ms

    def observe(self, messages: int) -> None:
        """After each `getmany`: how many messages it returned."""
        now = time.monotonic()
        if messages:
            self._last_message = now
            self._set(self.short_ms)
        elif now - self._last_message >= self._idle_after:
            self._set(self.long_ms)

    def _set(self, wait_ms: int) -> None:
        if wait_ms == self.current_ms:
            return
        fetcher = getattr(self._consumer, "_fetcher", None)
        if fetcher is not None and hasattr(fetcher, "_fetch_max_wait_ms"):
            fetcher._fetch_max_wait_ms = wait_ms
            self.current_ms = wait_ms


async def ensure_topics(settings: ServiceSettings, names: Iterable[str]) -> None:
    """Create missing topics (dev and tests). In production they are KafkaTopic resources."""
    if not settings.kafka_create_topics:
        return
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [settings.topic(n) for n in sorted(set(names)) if settings.topic(n) not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [
                        NewTopic(t, settings.kafka_topic_partitions, settings.kafka_replication_factor)
                        for t in missing
                    ]
                )
            except TopicAlreadyExistsError:
                pass  # another replica or service created it first
            log.info("topics_created", topics=missing)
    finally:
        await admin.close()
