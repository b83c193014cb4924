"""What onboarding learns from sim-logistics and ism-provisioning, recorded on `integrator-<id>`.

Each fact becomes onboarding's own `OnboardingMilestoneNoted` (or `OnboardingStepWentOverdue`), so
the status and go-live rebuild from onboarding's log alone; the decision that records the last
missing condition also records `IntegratorWentLive` ("GO intégrateur"), once.
"""

from __future__ import annotations

from chassis.eventstore import Recorded
from chassis.runtime import Reaction, ReactionContext
from contracts import topics
from contracts.events import DomainEvent
from contracts.events.ism_provisioning import ISMDelivered
from contracts.events.sim_logistics import (
    ProductionOrdered,
    SimsDelivered,
    SimsValidated,
    StepWentOverdue,
    TestSimsStepOpened,
)
from onboarding import domain
from onboarding.aggregates import INTEGRATOR
from onboarding.domain import Milestone

MILESTONE_OF: dict[type[DomainEvent], Milestone] = {
    TestSimsStepOpened: Milestone.TEST_SIMS_STEP_OPENED,
    SimsValidated: Milestone.SIMS_VALIDATED,
    ProductionOrdered: Milestone.PRODUCTION_ORDERED,
    SimsDelivered: Milestone.SIMS_DELIVERED,
    ISMDelivered: Milestone.ISM_DELIVERED,
}


async def note_upstream_fact(ctx: ReactionContext, rec: Recorded) -> None:
    integrator_id = rec.envelope.integrator_id
    source = rec.envelope.event_id
    event = rec.event
    if isinstance(event, StepWentOverdue):
        step, due = event.step, event.due_at
        await ctx.decide(
            INTEGRATOR,
            integrator_id,
            lambda state: domain.note_step_overdue(state, step, source_event_id=source, due_at=due),
            integrator_id=integrator_id,
        )
        return
    milestone = MILESTONE_OF[type(event)]
    due_at = event.due_at if isinstance(event, TestSimsStepOpened | ProductionOrdered) else None
    await ctx.decide(
        INTEGRATOR,
        integrator_id,
        lambda state: domain.note_milestone(state, milestone, source_event_id=source, due_at=due_at),
        integrator_id=integrator_id,
    )


#: One consumer group for both topics: order only matters per integrator within a topic, and
#: the step is computed from the set of milestones, whatever order the two topics deliver in.
upstream = Reaction(
    name="milestones",
    topics=[topics.SIM_LOGISTICS, topics.ISM_PROVISIONING],
    handles={*MILESTONE_OF, StepWentOverdue},
    handler=note_upstream_fact,
)

REACTIONS = [upstream]
