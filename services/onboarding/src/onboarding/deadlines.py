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


def _watched(row: Row) -> domain.Integrator:
    """The domain's state as far as the check needs it: each item's status, and whether there is
    nothing left to watch (overdue already, or live: the check records nothing then)."""
    return domain.Integrator(
        registered=True,
        dossier={DossierItem(k): domain.ItemState(domain.ItemStatus(v)) for k, v in row["items"].items()},
        dossier_overdue=row["done"],
    )


def apply_deadline(row: Row | None, envelope: Envelope, event: DomainEvent) -> Row | None:
    """Moved on by the domain's own `evolve`, so the row says what `check_dossier_deadline` will see:
    which items wait on the integrator, and whether the dossier is done with (overdue, or live)."""
    if isinstance(event, IntegratorRegistered):
        row = {
            "integrator_id": envelope.integrator_id,
            "registered_at": envelope.occurred_at.isoformat(),
            "items": {item.value: domain.ItemStatus.MISSING.value for item in DossierItem},
            "awaiting_integrator": True,
            "done": False,
        }
    if row is None:
        return None
    state = domain.evolve(_watched(row), event)
    return {
        **row,
        "items": {item.value: state.item(item).status.value for item in DossierItem},
        "awaiting_integrator": bool(domain.awaiting_integrator(state)),
        "done": state.dossier_overdue or state.live,
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
