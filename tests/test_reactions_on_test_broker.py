"""A service's reaction under FastStream's TestKafkaBroker: the messages go straight to the same
subscriber the service runs (chassis.subscriber), without the Kafka broker; the database is the real
one (the reaction's transaction, its inbox rows and dead letters are what is tested)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.message import KafkaAckableMessage

from chassis.consumer import Reaction, ReactionContext, ReactionRunner
from chassis.eventstore import Recorded
from chassis.subscriber import ReactionsSubscriber
from contracts import topics
from contracts.envelope import Envelope
from contracts.events import DomainEvent
from contracts.events.onboarding import ConfigurationSheetSent
from contracts.events.sim_logistics import SimsValidated
from onboarding import app as onboarding_app
from onboarding.reactions import upstream
from tests.support import chassis_app
from tests.support.signed import signed_by
from tests.test_onboarding import START, register, status


def _envelope(event: DomainEvent, integrator_id: str, version: int = 1) -> Envelope:
    # A new stream per event: the reactions under test only read the envelope.
    return Envelope(
        event_id=uuid4(),
        event_type=event.event_type,
        schema_version=event.schema_version,
        occurred_at=START,
        producer=event.producer,
        stream_id=f"{event.producer}-{integrator_id}-{uuid4()}",
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
                key = integrator_id.encode()
                # Signed as sim-logistics' relay would: what is tested here comes after the signature.
                headers = {k: v.decode() for k, v in signed_by("sim-logistics", key, value, event_type)}
                await broker.publish(value, topic, key=key, headers=headers)

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


async def test_one_subscriber_feeds_each_reaction_under_its_own_name_and_a_failed_batch_is_not_acked(
    service: Any, monkeypatch: Any
) -> None:
    """Two reactions of one service, one subscriber: each handles the event in its own transaction,
    with its inbox row under `<service>.<reaction>`. When one fails (not poison: its batch could not
    be handled at all), the batch is not acked and that reaction shows the restart; the other's work
    stands (its inbox row makes the redelivery harmless)."""
    async with service(chassis_app, run_reactions=False) as svc:
        rt = svc.runtime
        seen: list[str] = []

        async def audit(ctx: ReactionContext, rec: Recorded) -> None:
            seen.append(rec.event.sent_by)  # type: ignore[attr-defined]

        def reaction(name: str, handler: Any) -> ReactionRunner:
            return ReactionRunner(
                rt,
                Reaction(
                    name=name, topics=[topics.ONBOARDING], handles={ConfigurationSheetSent}, handler=handler
                ),
            )

        echo, auditor = reaction("echo", chassis_app.remember), reaction("audit", audit)
        shell = ReactionsSubscriber(rt, [echo, auditor], broker=KafkaBroker())
        topic = rt.settings.topic(topics.ONBOARDING)
        acked: list[bool] = []

        async with TestKafkaBroker(shell.broker) as broker:

            async def send(sent_by: str) -> None:
                value = _envelope(ConfigurationSheetSent(sent_by=sent_by), "i").model_dump_json().encode()
                headers = signed_by("onboarding", b"i", value, "ConfigurationSheetSent")
                await broker.publish(value, topic, key=b"i", headers={k: v.decode() for k, v in headers})

            original_ack = KafkaAckableMessage.ack

            async def ack(message: KafkaAckableMessage) -> None:
                acked.append(True)
                await original_ack(message)

            monkeypatch.setattr(KafkaAckableMessage, "ack", ack)
            await send("first")
            assert acked == [True]

            async def broken(messages: list) -> None:
                raise RuntimeError("the audit log is full")

            monkeypatch.setattr(auditor, "_handle_with_retry", broken)
            await send("second")

        assert acked == [True]  # the second batch was not acked
        assert seen == ["first"]
        assert auditor.restarts == 1 and "audit log is full" in (auditor.last_error or "")
        assert echo.restarts == 0
        rows = await rt.pool.fetch(
            "SELECT consumer, count(*) AS n FROM inbox GROUP BY consumer ORDER BY consumer"
        )
        assert [(r["consumer"], r["n"]) for r in rows] == [("onboarding.audit", 1), ("onboarding.echo", 2)]
