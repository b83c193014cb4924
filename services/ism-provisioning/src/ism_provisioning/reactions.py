"""What the ISM learns from the other services, recorded as its own events on `ism-<integrator_id>`.

- onboarding `DossierItemAccepted` of a table -> `IsmTableReceived` (+ IsmConfigured or
  IsmConfigurationRejected); of the logo -> `LogoAcceptanceNoted` (the logo the platform shows);
- sim-logistics `SimsDelivered` -> `SimsDeliveryNoted` (the ISM is delivered after the SIMs).

The tables travel inside the event (a `TableSnapshot`), so this service never reads onboarding's
files and rebuilds from its own log alone.
"""

from __future__ import annotations

from chassis.eventstore import Recorded
from chassis.known_integrators import KnownIntegrators
from chassis.runtime import Reaction, ReactionContext
from contracts import topics
from contracts.errors import CommandRefused
from contracts.events.common import TABLE_ITEMS, DossierItem
from contracts.events.onboarding import DossierItemAccepted, IntegratorRegistered
from contracts.events.sim_logistics import SimsDelivered
from ism_provisioning import domain
from ism_provisioning.aggregates import ISM_ACCOUNT


async def on_dossier_item_accepted(ctx: ReactionContext, rec: Recorded) -> None:
    event = rec.event
    assert isinstance(event, DossierItemAccepted)
    integrator_id = rec.envelope.integrator_id
    source = rec.envelope.event_id
    if event.item in TABLE_ITEMS:
        if event.table is None:
            # A contract breach by the producer: dead-letter it visibly rather than guess.
            raise CommandRefused(f"{event.item.value} accepted without its table rows", field="table")
        snapshot, item = event.table, event.item
        await ctx.decide(
            ISM_ACCOUNT,
            integrator_id,
            lambda state: domain.receive_table(state, item, snapshot, source),
            integrator_id=integrator_id,
        )
    elif event.item is DossierItem.LOGO:
        if event.file is None:
            raise CommandRefused("logo accepted without its file reference", field="file")
        logo = event.file.sha256
        await ctx.decide(
            ISM_ACCOUNT,
            integrator_id,
            lambda state: domain.note_logo_acceptance(state, logo, source),
            integrator_id=integrator_id,
        )
    # Other dossier items (banner, ARCEP...) are not the ISM's business.


async def on_sims_delivered(ctx: ReactionContext, rec: Recorded) -> None:
    assert isinstance(rec.event, SimsDelivered)
    integrator_id = rec.envelope.integrator_id
    source, delivered_at = rec.envelope.event_id, rec.envelope.occurred_at
    await ctx.decide(
        ISM_ACCOUNT,
        integrator_id,
        lambda state: domain.note_sims_delivery(state, source, delivered_at),
        integrator_id=integrator_id,
    )


async def learn_from_upstream(ctx: ReactionContext, rec: Recorded) -> None:
    if rec.envelope.event_type == "DossierItemAccepted":
        await on_dossier_item_accepted(ctx, rec)
    else:
        await on_sims_delivered(ctx, rec)


#: One consumer group for both topics: ordering only matters per integrator within a topic.
upstream = Reaction(
    name="upstream",
    topics=[topics.ONBOARDING, topics.SIM_LOGISTICS],
    handles={DossierItemAccepted, SimsDelivered},
    handler=learn_from_upstream,
    # The SIMs' delivery (another topic) may come before the registration: it waits for it.
    trust=KnownIntegrators(registration=IntegratorRegistered),
)

REACTIONS = [upstream]
