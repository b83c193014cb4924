"""sim-logistics on the real stack: onboarding's ElectricalProfileCreated arrives through Kafka and
opens step 2; the injected clock moves past two weeks and the step goes overdue exactly once, also
after a restart and with two replicas; then steps 2 and 3 run through to the SIMs' reception.

Onboarding is played here by publishing well-formed contract envelopes to its topic, as its relay
would, so this test does not depend on the onboarding service.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from chassis import kafka
from chassis.clock import ManualClock
from contracts import topics
from contracts.envelope import Envelope
from contracts.events import DomainEvent
from contracts.events.common import DossierItem, FileRef
from contracts.events.onboarding import DossierItemAccepted, ElectricalProfileCreated
from sim_logistics import app as sim_app
from sim_logistics import domain
from tests.support.hand_published import publish_envelope, registration_of
from tests.support.load import budget
from tests.support.waiting import eventually

#: Monday 2 March 2026, 10:00 in Paris: the electrical profile is created.
PROFILE_CREATED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STEP_2_DUE = PROFILE_CREATED + timedelta(weeks=2)
ARTWORK = FileRef(sha256="ab" * 32, size=40_000, filename="carte-sim.pdf", media_type="application/pdf")
FAST_CHECKS = {"deadline_check_seconds": 0.05}


def iccid(serial: int) -> str:
    body = f"893301234567{serial:07d}"
    return body + domain.luhn_check_digit(body)


def paris(text: str) -> str:
    """An instant written as people in Paris say it (winter: UTC+1)."""
    return f"{text}+01:00"


class Onboarding:
    """Plays onboarding: publishes its events to its topic as its relay would."""

    def __init__(self, settings: Any, integrator_id: str) -> None:
        self.settings = settings
        self.integrator_id = integrator_id
        self.version = 0
        self.producer = kafka.producer(settings)

    async def __aenter__(self) -> Onboarding:
        await self.producer.start()
        # Registered first: sim-logistics believes nothing of an integrator onboarding never registered.
        await self.publish(registration_of())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.producer.stop()

    async def publish(self, event: DomainEvent, *, at: datetime = PROFILE_CREATED) -> Envelope:
        self.version += 1
        envelope = Envelope(
            event_id=uuid4(),
            event_type=event.event_type,
            schema_version=event.schema_version,
            occurred_at=at,
            producer="onboarding",
            stream_id=f"integrator-{self.integrator_id}",
            stream_version=self.version,
            integrator_id=self.integrator_id,
            correlation_id=uuid4(),
            payload=event.model_dump(mode="json"),
        )
        await self.send(envelope)
        return envelope

    async def send(self, envelope: Envelope) -> None:
        await publish_envelope(self.settings, envelope, producer=self.producer)


async def event_types(svc: Any, integrator_id: str) -> list[str]:
    return [r.envelope.event_type for r in await svc.runtime.read_stream(domain.stream_id(integrator_id))]


async def checks_pass(runtime: Any, times: int = 4) -> None:
    """Let the deadline schedule run several times (it runs every 50 ms here)."""
    await asyncio.sleep(times * runtime.settings.deadline_check_seconds + 0.2)


def problem_field(response: Any) -> str | None:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    errors = response.json().get("errors") or [{}]
    return errors[0].get("field")


async def test_step_2_opens_from_kafka_goes_overdue_once_across_a_restart_then_runs_to_delivery(
    service: Any,
) -> None:
    clock = ManualClock(PROFILE_CREATED + timedelta(minutes=5))
    integrator_id = f"acme-{uuid4().hex[:8]}"
    base = f"/integrators/{integrator_id}"
    async with service(sim_app, clock=clock, **FAST_CHECKS) as svc:
        database = svc.runtime.settings.database_url.rsplit("/", 1)[1]
        prefix = svc.runtime.settings.kafka_topic_prefix
        ops, me = svc.auth("ops"), svc.auth("integrator", integrator_id)
        async with Onboarding(svc.runtime.settings, integrator_id) as onboarding:
            created = await onboarding.publish(
                ElectricalProfileCreated(profile_reference="EP-ACME-1", created_by="ops")
            )
            await onboarding.publish(
                DossierItemAccepted(item=DossierItem.SIM_ARTWORK, file=ARTWORK, accepted_by="ops-anne")
            )
            # not the SIM logistics' business: ignored, not dead-lettered
            await onboarding.publish(
                DossierItemAccepted(item=DossierItem.LOGO, file=ARTWORK, accepted_by="ops")
            )
            # an artwork accepted without its file breaks the contract: dead-lettered, visible to ops
            await onboarding.publish(DossierItemAccepted(item=DossierItem.SIM_ARTWORK, accepted_by="ops"))

            async def opened() -> Any:
                r = await svc.http.get(f"{base}/sims", headers=me)
                return r.status_code == 200 and r.json()["accepted_artwork"] and r.json()

            timeline = await eventually(opened, what="step 2 opened from onboarding's events")
            assert timeline["current_step"] == "test_sims"
            assert timeline["profile_reference"] == "EP-ACME-1"
            assert datetime.fromisoformat(timeline["steps"]["test_sims"]["due_at"]) == STEP_2_DUE
            assert timeline["accepted_artwork"] == ARTWORK.sha256
            assert (await svc.http.get("/sims/overdue", headers=ops)).json() == []

            async def dead_letters() -> Any:
                return (await svc.http.get("/ops/dead-letters", headers=ops)).json()

            [poison] = await eventually(dead_letters, what="the artwork without a file dead-lettered")
            assert "file" in poison["reason"]

            # Two weeks and a day later, nothing done: overdue, once, however often the check runs.
            clock.advance(timedelta(weeks=2, days=1))

            async def overdue_recorded() -> bool:
                return "StepWentOverdue" in await event_types(svc, integrator_id)

            await eventually(overdue_recorded, what="step 2 overdue")
            await checks_pass(svc.runtime)
            # onboarding's event delivered again (at-least-once): nothing new
            await onboarding.send(created)
            await checks_pass(svc.runtime)
            assert await event_types(svc, integrator_id) == [
                "TestSimsStepOpened",
                "ArtworkAcceptanceNoted",
                "StepWentOverdue",
            ]
            [overdue] = (await svc.http.get("/sims/overdue", headers=ops)).json()
            assert overdue["integrator_id"] == integrator_id and overdue["step"] == "test_sims"
            assert overdue["overdue_raised"] is True and overdue["late_by_seconds"] == 86400 + 300

    # Restarted on the same data, a day later: the deadline state comes back from the log, no second event.
    clock.advance(timedelta(days=1))
    async with service(sim_app, clock=clock, database=database, prefix=prefix, **FAST_CHECKS) as svc:
        await svc.runtime.projections.rebuild("sims_deadlines", producer="sim-logistics", progress=False)
        await checks_pass(svc.runtime)
        assert (await event_types(svc, integrator_id)).count("StepWentOverdue") == 1
        await run_steps_2_and_3(svc, clock, integrator_id)


async def run_steps_2_and_3(svc: Any, clock: ManualClock, integrator_id: str) -> None:
    base = f"/integrators/{integrator_id}"
    ops, me = svc.auth("ops"), svc.auth("integrator", integrator_id)
    stranger = svc.auth("integrator", "someone-else")
    # now: Wednesday 18 March 2026, 10:05 in Paris

    shipment = {"iccids": [iccid(1), iccid(2)], "carrier": "Chronopost", "tracking_number": "XY123"}
    r = await svc.http.post(f"{base}/test-sims/shipments", json=shipment, headers=me)
    assert r.status_code == 403  # ops ship
    bad = {**shipment, "iccids": [iccid(1), iccid(2)[:-1] + str((int(iccid(2)[-1]) + 1) % 10)]}
    r = await svc.http.post(f"{base}/test-sims/shipments", json=bad, headers=ops)
    assert r.status_code == 422 and problem_field(r) == "iccids.1"
    r = await svc.http.post(f"{base}/test-sims/shipments", json=shipment, headers=ops)
    assert r.status_code == 201 and r.json()["events"] == ["TestSimsShipped"]

    # The call tests SIMs the integrator has: not before it confirms receiving them.
    call = {"starts_at": paris("2026-03-19T10:00:00"), "phone": "+33 6 12 34 56 78"}
    r = await svc.http.post(f"{base}/test-sims/validation-call", json=call, headers=me)
    assert r.status_code == 409 and r.json()["code"] == "test_sims_not_received"
    assert (await svc.http.post(f"{base}/test-sims/reception", headers=stranger)).status_code == 404
    assert (await svc.http.post(f"{base}/test-sims/reception", headers=me)).status_code == 201

    lunch = {**call, "starts_at": paris("2026-03-19T12:15:00")}
    r = await svc.http.post(f"{base}/test-sims/validation-call", json=lunch, headers=me)
    assert r.status_code == 422 and problem_field(r) == "starts_at"
    # Easter Monday is a Monday at 10:00, but a public holiday: the vendor's staff are not there.
    easter_monday = {**call, "starts_at": paris("2026-04-06T10:00:00")}
    r = await svc.http.post(f"{base}/test-sims/validation-call", json=easter_monday, headers=me)
    assert r.status_code == 422 and r.json()["code"] == "outside_support_hours", r.text
    assert (
        await svc.http.post(f"{base}/test-sims/validation-call", json=call, headers=me)
    ).status_code == 201
    moved = {**call, "starts_at": paris("2026-03-19T15:00:00")}
    assert (
        await svc.http.post(f"{base}/test-sims/validation-call", json=moved, headers=me)
    ).status_code == 201
    r = await svc.http.post(f"{base}/test-sims/validation", headers=ops)
    assert r.status_code == 409 and r.json()["code"] == "call_not_held"

    # The call: the second card does not attach. Rejected; a new pair goes out and passes.
    clock.set(datetime(2026, 3, 19, 14, 30, tzinfo=UTC))
    r = await svc.http.post(f"{base}/test-sims/rejection", json={"reason": "SIM 2: no network"}, headers=ops)
    assert r.status_code == 201
    again = {**shipment, "iccids": [iccid(3), iccid(4)]}
    assert (await svc.http.post(f"{base}/test-sims/shipments", json=again, headers=ops)).status_code == 201
    assert (await svc.http.post(f"{base}/test-sims/reception", headers=me)).status_code == 201
    second_call = {**call, "starts_at": paris("2026-03-23T09:30:00")}  # Monday
    r = await svc.http.post(f"{base}/test-sims/validation-call", json=second_call, headers=ops)
    assert r.status_code == 201
    clock.set(datetime(2026, 3, 23, 9, 0, tzinfo=UTC))
    assert (await svc.http.post(f"{base}/test-sims/validation", headers=ops)).status_code == 201

    # The purchase order names the artwork accepted in the dossier; one order only.
    order = {
        "quantity": 500,
        "delivery_address": "12 rue des Lilas, 69003 Lyon",
        "artwork_reference": "cd" * 32,
    }
    r = await svc.http.post(f"{base}/production-order", json=order, headers=me)
    assert r.status_code == 422 and problem_field(r) == "artwork_reference"
    order["artwork_reference"] = ARTWORK.sha256
    r = await svc.http.post(f"{base}/production-order", json=order, headers=me)
    assert r.status_code == 201 and r.json()["events"] == ["ProductionOrdered"]
    assert (await svc.http.post(f"{base}/production-order", json=order, headers=me)).status_code == 409
    assert (await svc.http.get("/sims/overdue", headers=ops)).json() == []  # step 3 runs, on time

    # Step 3: no delivery before production; then delivered on time, the note, the reception.
    delivery = {
        "quantity": 500,
        "iccid_first": iccid(10_000),
        "iccid_last": iccid(10_499),
        "delivery_note_number": "BL-2026-0042",
    }
    r = await svc.http.post(f"{base}/production/delivery", json=delivery, headers=ops)
    assert r.status_code == 409 and r.json()["code"] == "production_not_started"
    assert (await svc.http.post(f"{base}/production/start", headers=ops)).status_code == 201
    clock.advance(timedelta(weeks=3))
    await checks_pass(svc.runtime)
    r = await svc.http.post(f"{base}/production/delivery", json=delivery, headers=ops)
    assert r.status_code == 201, r.text
    note = {"delivery_note_number": "BL-2026-0042", "tariff_grid_reference": "grille-offres-mobiles-2026-03"}
    assert (
        await svc.http.post(f"{base}/production/delivery-note", json=note, headers=ops)
    ).status_code == 201
    assert (await svc.http.post(f"{base}/production/reception", headers=me)).status_code == 201

    timeline = (await svc.http.get(f"{base}/sims", headers=me)).json()
    assert timeline["current_step"] == "delivered"
    step_2, step_3 = timeline["steps"]["test_sims"], timeline["steps"]["production"]
    # the order came a week after the two-week deadline
    assert step_2["overdue"] is True and step_2["late_by_seconds"] == 7 * 86400
    assert step_3["overdue"] is False and step_3["late_by_seconds"] == 0
    assert timeline["test_sims"]["rejections"][0]["iccids"] == [iccid(1), iccid(2)]
    assert timeline["production"]["reception_confirmed"] is True
    assert [e["event"] for e in timeline["timeline"]].count("StepWentOverdue") == 1
    assert (await svc.http.get(f"{base}/sims", headers=stranger)).status_code == 404
    assert (await svc.http.get("/sims/overdue", headers=ops)).json() == []
    assert (await svc.http.get("/sims/overdue", headers=me)).status_code == 403


async def test_two_replicas_checking_deadlines_raise_one_overdue_event(service: Any) -> None:
    clock = ManualClock(PROFILE_CREATED)
    async with service(sim_app, clock=clock, run_reactions=False, **FAST_CHECKS) as first:
        database = first.runtime.settings.database_url.rsplit("/", 1)[1]
        prefix = first.runtime.settings.kafka_topic_prefix
        async with service(
            sim_app, clock=clock, database=database, prefix=prefix, run_reactions=False, **FAST_CHECKS
        ) as second:
            integrators = [f"twin-{i}" for i in range(8)]
            for integrator_id in integrators:
                await first.runtime.execute(
                    stream_id=domain.stream_id(integrator_id),
                    integrator_id=integrator_id,
                    decide=lambda history: domain.open_test_sims_step(
                        domain.fold(r.event for r in history),
                        profile_reference="EP",
                        profile_created_at=PROFILE_CREATED,
                    ),
                )
            clock.advance(timedelta(weeks=2, seconds=1))

            async def all_overdue() -> bool:
                rows = await second.runtime.projections.list(
                    "sims_deadlines", where="data->>'overdue' = 'true'"
                )
                return len(rows) == len(integrators)

            await eventually(all_overdue, what="every step 2 overdue")
            await checks_pass(first.runtime)
            for integrator_id in integrators:
                assert (await event_types(second, integrator_id)).count("StepWentOverdue") == 1
            # and the relays (one leads) published each once: what onboarding and the notifier consume
            published = await published_types(first.runtime.settings, expected=2 * len(integrators))
            assert sorted(published) == sorted(["TestSimsStepOpened", "StepWentOverdue"] * len(integrators))


async def published_types(settings: Any, *, expected: int) -> list[str]:
    """Every event type on sim-logistics' topic: read until `expected` arrived, then a little longer
    so that a duplicate would show."""
    consumer = kafka.consumer(settings, settings.topic(topics.SIM_LOGISTICS), group_id=None)
    await consumer.start()
    seen: list[str] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget(15)
        quiet_until = None
        while loop.time() < deadline and (quiet_until is None or loop.time() < quiet_until):
            batches = await consumer.getmany(timeout_ms=100)
            for messages in batches.values():
                seen += [Envelope.model_validate_json(m.value).event_type for m in messages if m.value]
            if len(seen) >= expected and quiet_until is None:
                quiet_until = loop.time() + 0.5
    finally:
        await consumer.stop()
    return seen
