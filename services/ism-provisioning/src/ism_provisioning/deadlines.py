"""The ISM's deadline: delivered `ISM_DUE_DAYS` after the SIMs at the latest, else overdue once
(`IsmDeliveryWentOverdue`), and ops and the integrator are told by email. A schedule, since nothing
arrives to react to; the `ism_deadlines` projection (rebuilt from the log) says whom to look at and
the domain decides on each integrator's own stream (two replicas: one conflict, one event).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog

from chassis.eventstore import ConcurrencyConflict
from chassis.projections import Projection
from chassis.runtime import Schedule, ServiceRuntime
from contracts.envelope import Envelope
from contracts.events import DomainEvent
from contracts.events.ism_provisioning import ISMDelivered, IsmDeliveryWentOverdue, SimsDeliveryNoted
from ism_provisioning import domain
from ism_provisioning.aggregates import ISM_ACCOUNT

log = structlog.get_logger()

Row = dict[str, Any]


def apply_deadline(row: Row | None, envelope: Envelope, event: DomainEvent) -> Row | None:
    if isinstance(event, SimsDeliveryNoted):
        delivered_at = event.delivered_at or envelope.occurred_at
        return {
            "integrator_id": envelope.integrator_id,
            "sims_delivered_at": delivered_at.isoformat(),
            "done": False,
        }
    if row is None:
        return None
    return {**row, "done": True}  # ISMDelivered or IsmDeliveryWentOverdue: nothing more to watch


ism_deadlines = Projection(
    name="ism_deadlines",
    handles={SimsDeliveryNoted, ISMDelivered, IsmDeliveryWentOverdue},
    key=lambda env, ev: env.integrator_id,
    apply=apply_deadline,
    indexes=["((data->>'sims_delivered_at'))"],
)


async def raise_overdue_deliveries(runtime: ServiceRuntime) -> None:
    now = runtime.clock.now()
    delay = timedelta(days=runtime.settings.ism_due_days)  # type: ignore[attr-defined]
    due = await runtime.projections.list(
        "ism_deadlines",
        where="data->>'done' = 'false' AND (data->>'sims_delivered_at')::timestamptz <= $1",
        args=[now - delay],
        order_by="data->>'sims_delivered_at'",
        limit=10_000,
    )
    for row in due:
        integrator_id = row["integrator_id"]
        try:
            # A unit of work per integrator: a conflict on one leaves the others' checks standing.
            async with runtime.unit_of_work() as uow:
                await uow.decide(
                    ISM_ACCOUNT,
                    integrator_id,
                    lambda state: domain.check_delivery_deadline(state, now=now, delay=delay),
                    integrator_id=integrator_id,
                )
        except ConcurrencyConflict:
            log.info("ism_deadline_check_raced", integrator_id=integrator_id)


def schedules(every_seconds: float) -> list[Schedule]:
    return [Schedule(name="ism-deadlines", every_seconds=every_seconds, run=raise_overdue_deliveries)]
