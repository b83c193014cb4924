"""The dossier's deadline: a schedule, since nothing arrives to react to — time passes.

An integrator whose dossier still waits on it (items missing or rejected) `DOSSIER_DUE_DAYS` after its
registration goes overdue once (`DossierWentOverdue`), and ops and the integrator are told by email.
The `onboarding_dossier_deadlines` projection (rebuilt from the log) says whom to look at; the
domain decides on each integrator's own stream, so two replicas raise it once (one gets a conflict).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog

from chassis.eventstore import ConcurrencyConflict
from chassis.projections import Projection
from chassis.runtime import Schedule, ServiceRuntime
from contracts.envelope import Envelope
from contracts.events import DomainEvent
from contracts.events.common import DossierItem
from contracts.events.onboarding import (
    DossierItemAccepted,
    DossierItemRejected,
    DossierItemSubmitted,
    DossierWentOverdue,
    IntegratorRegistered,
    IntegratorWentLive,
)
from onboarding import domain
from onboarding.aggregates import INTEGRATOR

log = structlog.get_logger()

Row = dict[str, Any]


def apply_deadline(row: Row | None, envelope: Envelope, event: DomainEvent) -> Row | None:
    if isinstance(event, IntegratorRegistered):
        return {
            "integrator_id": envelope.integrator_id,
            "registered_at": envelope.occurred_at.isoformat(),
            "items": {item.value: "missing" for item in DossierItem},
            "awaiting_integrator": True,
            "done": False,
        }
    if row is None:
        return None
    items = dict(row["items"])
    match event:
        case DossierItemSubmitted():
            items[event.item.value] = "submitted"
        case DossierItemAccepted():
            items[event.item.value] = "accepted"
        case DossierItemRejected():
            items[event.item.value] = "rejected"
        case DossierWentOverdue() | IntegratorWentLive():
            row = {**row, "done": True}
    return {
        **row,
        "items": items,
        "awaiting_integrator": any(s in ("missing", "rejected") for s in items.values()),
    }


dossier_deadlines = Projection(
    name="onboarding_dossier_deadlines",
    handles={
        IntegratorRegistered,
        DossierItemSubmitted,
        DossierItemAccepted,
        DossierItemRejected,
        DossierWentOverdue,
        IntegratorWentLive,
    },
    key=lambda env, ev: env.integrator_id,
    apply=apply_deadline,
    indexes=["((data->>'registered_at'))"],
)


async def raise_overdue_dossiers(runtime: ServiceRuntime) -> None:
    now = runtime.clock.now()
    delay = timedelta(days=runtime.settings.dossier_due_days)  # type: ignore[attr-defined]
    due = await runtime.projections.list(
        "onboarding_dossier_deadlines",
        where="data->>'done' = 'false' AND data->>'awaiting_integrator' = 'true'"
        " AND (data->>'registered_at')::timestamptz <= $1",
        args=[now - delay],
        order_by="data->>'registered_at'",
        limit=10_000,
    )
    for row in due:
        try:
            await check_dossier(runtime, row["integrator_id"], now=now, delay=delay)
        except ConcurrencyConflict:
            log.info("dossier_deadline_check_raced", integrator_id=row["integrator_id"])


async def check_dossier(
    runtime: ServiceRuntime, integrator_id: str, *, now: datetime, delay: timedelta
) -> None:
    """One integrator's check, in a unit of work of its own: a conflict on one (a replica, or a
    command, got there first) leaves the others' checks standing."""
    async with runtime.unit_of_work() as uow:
        integrator = await uow.load(INTEGRATOR, integrator_id)
        if not integrator.history:
            return
        overdue = domain.check_dossier_deadline(
            integrator.state,
            registered_at=integrator.history[0].envelope.occurred_at,
            now=now,
            delay=delay,
        )
        uow.append(integrator, overdue, integrator_id=integrator_id)


def schedules(every_seconds: float) -> list[Schedule]:
    return [Schedule(name="dossier-deadlines", every_seconds=every_seconds, run=raise_overdue_dossiers)]
