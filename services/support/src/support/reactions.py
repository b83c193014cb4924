"""What support learns from onboarding, recorded as its own events on `integrator-<integrator_id>`:
the company (name, SIRET, address) and its contacts, from IntegratorRegistered and each
IntegratorContactsUpdated (`IntegratorNoted`), so its lists and exports rebuild from its own log."""

from __future__ import annotations

from chassis.eventstore import Recorded
from chassis.runtime import Reaction, ReactionContext
from contracts import topics
from contracts.events.onboarding import IntegratorContactsUpdated, IntegratorRegistered
from support import commands


async def learn_integrator(ctx: ReactionContext, rec: Recorded) -> None:
    assert isinstance(rec.event, IntegratorRegistered | IntegratorContactsUpdated)
    await commands.note_integrator(ctx, rec.envelope.integrator_id, rec.event, rec.envelope.event_id)


onboarding_facts = Reaction(
    name="integrators",
    topics=[topics.ONBOARDING],
    handles={IntegratorRegistered, IntegratorContactsUpdated},
    handler=learn_integrator,
)

REACTIONS = [onboarding_facts]
