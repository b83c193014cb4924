"""What support learns from onboarding, recorded as its own events on `integrator-<integrator_id>`:
the company (name, SIRET, address) and its contacts, from IntegratorRegistered and each
IntegratorContactsUpdated (`IntegratorNoted`), so its lists and exports rebuild from its own log."""

from __future__ import annotations

from chassis.eventstore import Recorded
from chassis.runtime import Reaction, ReactionContext
from contracts import topics
from contracts.events.onboarding import IntegratorContactsUpdated, IntegratorRegistered
from support.domain import integrators


async def learn_integrator(ctx: ReactionContext, rec: Recorded) -> None:
    integrator_id, event, source_id = rec.envelope.integrator_id, rec.event, rec.envelope.event_id

    def decide(history: list[Recorded]) -> list:
        known = integrators.fold(r.event for r in history)
        if isinstance(event, IntegratorRegistered):
            return integrators.note_registration(known, event, source_id)
        assert isinstance(event, IntegratorContactsUpdated)
        return integrators.note_contacts_update(known, event, source_id)

    await ctx.execute(
        stream_id=integrators.stream_id(integrator_id), integrator_id=integrator_id, decide=decide
    )


onboarding_facts = Reaction(
    name="integrators",
    topics=[topics.ONBOARDING],
    handles={IntegratorRegistered, IntegratorContactsUpdated},
    handler=learn_integrator,
)

REACTIONS = [onboarding_facts]
