"""The deadline check: a schedule, not a reaction: nothing arrives to react to, time passes.

It asks the `sims_deadlines` projection which running steps are past due and not yet overdue, then
lets the domain decide on each integrator's own stream. The domain raises a step's overdue event
once; two replicas finding the same step both append at the same stream version, so one gets a
conflict instead of a duplicate. The projection is rebuilt from events, so a restart loses nothing.
"""

from __future__ import annotations

import structlog

from chassis.eventstore import ConcurrencyConflict
from chassis.runtime import Schedule, ServiceRuntime
from sim_logistics import domain
from sim_logistics.aggregates import SIM_PROCESS
from sim_logistics.projections import instant

log = structlog.get_logger()


async def raise_overdue_steps(runtime: ServiceRuntime) -> None:
    now = runtime.clock.now()
    due = await runtime.projections.list(
        "sims_deadlines",
        where="data->>'overdue' = 'false' AND data->>'due_at' <= $1",
        args=[instant(now)],
        order_by="data->>'due_at'",
        limit=10_000,
    )
    for row in due:
        integrator_id = row["integrator_id"]
        try:
            # A unit of work per integrator: a conflict on one leaves the others' checks standing.
            async with runtime.unit_of_work() as uow:
                await uow.decide(
                    SIM_PROCESS,
                    integrator_id,
                    lambda state: domain.check_deadline(state, now=now),
                    integrator_id=integrator_id,
                )
        except ConcurrencyConflict:
            # Another replica, or a command completing the step, got there first: the next
            # check sees the new state.
            log.info("deadline_check_raced", integrator_id=integrator_id)


def schedules(every_seconds: float) -> list[Schedule]:
    return [Schedule(name="deadlines", every_seconds=every_seconds, run=raise_overdue_steps)]
