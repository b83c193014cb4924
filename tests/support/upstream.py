"""Plays another service in a test: publishes its contract events to its topic as its relay would,
so a test of one service on the real stack does not depend on the others."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import uuid4

from chassis import kafka
from contracts import topics
from contracts.envelope import Envelope
from contracts.events import DomainEvent
from tests.support.signed import signed_by


class Upstream:
    def __init__(self, settings: Any, integrator_id: str, producer: str = "onboarding") -> None:
        self.settings = settings
        self.integrator_id = integrator_id
        self.producer_name = producer
        self.topic = {"onboarding": topics.ONBOARDING, "sim-logistics": topics.SIM_LOGISTICS}[producer]
        self.version = 0
        self.producer = kafka.producer(settings)

    async def __aenter__(self) -> Upstream:
        await self.producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.producer.stop()

    async def publish(self, event: DomainEvent, *, at: datetime) -> Envelope:
        self.version += 1
        envelope = Envelope(
            event_id=uuid4(),
            event_type=event.event_type,
            schema_version=event.schema_version,
            occurred_at=at,
            producer=self.producer_name,
            stream_id=f"integrator-{self.integrator_id}",
            stream_version=self.version,
            integrator_id=self.integrator_id,
            correlation_id=uuid4(),
            payload=event.model_dump(mode="json"),
        )
        value, key = envelope.model_dump_json().encode(), self.integrator_id.encode()
        await self.producer.send_and_wait(
            self.settings.topic(self.topic),
            value=value,
            key=key,
            headers=signed_by(self.producer_name, key, value, envelope.event_type),
        )
        return envelope
