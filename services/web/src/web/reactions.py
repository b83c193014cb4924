"""What the web front learns from the other services: who to invite to the portal."""

from __future__ import annotations

from chassis.eventstore import Recorded
from chassis.known_integrators import KnownIntegrators
from chassis.runtime import Reaction, ReactionContext
from contracts import topics
from contracts.events.onboarding import IntegratorRegistered
from web import commands


async def invite_the_contacts(ctx: ReactionContext, rec: Recorded) -> None:
    """An integrator registered: each of its contacts is invited to the portal (once per address)."""
    event = rec.event
    assert isinstance(event, IntegratorRegistered)
    await commands.invite_contacts(ctx, rec.envelope.integrator_id, list(event.contacts), event.locale)


REACTIONS = [
    Reaction(
        name="portal-invitations",
        topics=[topics.ONBOARDING],
        handles={IntegratorRegistered},
        handler=invite_the_contacts,
        # A second registration of a known integrator is refused, never invited: it would open the
        # company's portal to whoever it names.
        trust=KnownIntegrators(registration=IntegratorRegistered),
    )
]
