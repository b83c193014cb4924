"""What support learns from onboarding, recorded as its own events on `integrator-<integrator_id>`:
the company (name, SIRET, address) and its contacts, from IntegratorRegistered and each
IntegratorContactsUpdated (`IntegratorNoted`), so its lists and exports rebuild from its own log."""

from __future__ import annotations

from chassis.eventstore import Recorded
from chassis.known_integrators import KnownIntegrators
from chassis.runtime import Reaction, ReactionContext
from contracts import topics
from contracts.events.onboarding import IntegratorContactsUpdated, IntegratorRegistered
from support import commands
from support.aggregates import INTEGRATOR


async def learn_integrator(ctx: ReactionContext, rec: Recorded) -> None:
    assert isinstance(rec.event, IntegratorRegistered | IntegratorContactsUpdated)
    await commands.note_integrator(ctx, rec.envelope.integrator_id, rec.event, rec.envelope.event_id)


async def integrators_of_the_batch(ctx: ReactionContext, records: list[Recorded]) -> None:
    """The batch's integrators, loaded in one round trip (each handler then finds its own)."""
    await ctx.load_all(INTEGRATOR, {rec.envelope.integrator_id for rec in records})


onboarding_facts = Reaction(
    name="integrators",
    topics=[topics.ONBOARDING],
    handles={IntegratorRegistered, IntegratorContactsUpdated},
    handler=learn_integrator,
    prefetch=integrators_of_the_batch,
    trust=KnownIntegrators(registration=IntegratorRegistered),
)

REACTIONS = [onboarding_facts]
