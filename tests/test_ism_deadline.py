"""ism-provisioning on the real stack: sim-logistics' SimsDelivered arrives through Kafka, and with
the ISM still not delivered ISM_DUE_DAYS later the schedule raises IsmDeliveryWentOverdue once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chassis.clock import ManualClock
from contracts.events.sim_logistics import SimsDelivered
from ism_provisioning import app as ism_app
from ism_provisioning import domain
from tests.support.upstream import Upstream
from tests.support.waiting import eventually

DELIVERED = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
ACME = "0199a000-0000-7000-8000-0000000000ac"


async def test_the_ism_not_delivered_after_the_sims_goes_overdue_once(service: Any) -> None:
    clock = ManualClock(DELIVERED)
    async with service(ism_app, clock=clock, ism_due_days=14, ism_deadline_check_seconds=0.05) as svc:

        async def types() -> list[str]:
            return [r.envelope.event_type for r in await svc.runtime.read_stream(domain.stream_id(ACME))]

        async with Upstream(svc.runtime.settings, ACME, producer="sim-logistics", registered=True) as sims:
            delivered = SimsDelivered(
                quantity=2,
                iccid_first="89330123456700000018",
                iccid_last="89330123456700000026",
                delivery_note_number="BL-1",
                delivered_by="ops",
            )
            await sims.publish(delivered, at=DELIVERED)
        await eventually(lambda: _has(types(), "SimsDeliveryNoted"), what="the delivery noted")
        clock.advance(timedelta(days=13))
        await _checks(svc)
        assert "IsmDeliveryWentOverdue" not in await types()
        clock.advance(timedelta(days=1))
        await eventually(lambda: _has(types(), "IsmDeliveryWentOverdue"), what="the ISM overdue")
        await _checks(svc)
        [overdue] = [
            r.event
            for r in await svc.runtime.read_stream(domain.stream_id(ACME))
            if r.envelope.event_type == "IsmDeliveryWentOverdue"
        ]
        assert overdue.due_at == DELIVERED + timedelta(days=14)


async def _has(types: Any, wanted: str) -> bool:
    return wanted in await types


async def _checks(svc: Any) -> None:
    import asyncio

    await asyncio.sleep(0.5)
