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
from tests.support.hand_published import publish_envelope, register


class Upstream:
    def __init__(
        self, settings: Any, integrator_id: str, producer: str = "onboarding", *, registered: bool = False
    ) -> None:
        self.settings = settings
        #: Publish the integrator's registration first (consumers believe nothing of an unknown one).
        self.registered = registered
        self.integrator_id = integrator_id
        self.producer_name = producer
        self.topic = {"onboarding": topics.ONBOARDING, "sim-logistics": topics.SIM_LOGISTICS}[producer]
        self.version = 0
        self.producer = kafka.producer(settings)

    async def __aenter__(self) -> Upstream:
        await self.producer.start()
        if self.registered:
            await register(self.settings, self.integrator_id, producer=self.producer)
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
        assert self.settings.topic(topics.BY_SERVICE[envelope.producer]) == self.settings.topic(self.topic)
        await publish_envelope(self.settings, envelope, producer=self.producer)
        return envelope
