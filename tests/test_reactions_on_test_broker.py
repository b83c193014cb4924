"""A service's reaction under FastStream's TestKafkaBroker: the messages go straight to the same
subscriber the service runs (chassis.subscriber), without the Kafka broker; the database is the real
one (the reaction's transaction, its inbox rows and dead letters are what is tested)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from faststream.kafka import KafkaBroker, TestKafkaBroker

from chassis.consumer import ReactionRunner
from chassis.subscriber import ReactionsSubscriber
from contracts import topics
from contracts.envelope import Envelope
from contracts.events import DomainEvent
from contracts.events.sim_logistics import SimsValidated
from onboarding import app as onboarding_app
from onboarding.reactions import upstream
from tests.test_onboarding import START, register, status


def _envelope(event: DomainEvent, integrator_id: str, version: int = 1) -> Envelope:
    return Envelope(
        event_id=uuid4(),
        event_type=event.event_type,
        schema_version=event.schema_version,
        occurred_at=START,
        producer=event.producer,
        stream_id=f"{event.producer}-{integrator_id}",
        stream_version=version,
        integrator_id=integrator_id,
        correlation_id=uuid4(),
        payload=event.model_dump(mode="json"),
    )


async def test_onboarding_notes_a_milestone_once_and_dead_letters_what_it_cannot_read(service: Any) -> None:
    # No reactions of its own: the one under test is fed by the test broker only.
    async with service(onboarding_app, run_reactions=False) as svc:
        rt = svc.runtime
        integrator_id = await register(svc)
        runner = ReactionRunner(rt, upstream)
        shell = ReactionsSubscriber(rt, [runner], broker=KafkaBroker())
        topic = rt.settings.topic(topics.SIM_LOGISTICS)
        validated = _envelope(SimsValidated(validated_by="ops-anne"), integrator_id)
        async with TestKafkaBroker(shell.broker) as broker:

            async def send(value: bytes, event_type: str = "SimsValidated") -> None:
                await broker.publish(
                    value, topic, key=integrator_id.encode(), headers={"event_type": event_type}
                )

            await send(validated.model_dump_json().encode())
            await send(validated.model_dump_json().encode())  # a redelivery: noted once
            await send(b"{not json")

        assert "sims_validated" in (await status(svc, integrator_id))["milestones"]
        noted = [
            r.envelope.event_type
            for r in await rt.read_stream(f"integrator-{integrator_id}")
            if r.envelope.event_type == "OnboardingMilestoneNoted"
        ]
        assert noted == ["OnboardingMilestoneNoted"]
        inbox = await rt.pool.fetchval(
            "SELECT count(*) FROM inbox WHERE consumer = 'onboarding.milestones' AND event_id = $1",
            validated.event_id,
        )
        assert inbox == 1
        rows = await rt.pool.fetch("SELECT consumer, topic, reason FROM dead_letters")
        assert [(r["consumer"], r["topic"]) for r in rows] == [("onboarding.milestones", topic)]
        assert "not JSON" in rows[0]["reason"]
        assert runner.processed == 3 and runner.dead_lettered == 1
