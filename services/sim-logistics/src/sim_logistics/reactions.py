"""What sim-logistics learns from onboarding, recorded as its own events on `sims-<integrator_id>`.

- `ElectricalProfileCreated` -> `TestSimsStepOpened`: step 2 opens, due two weeks after the
  profile's creation (the onboarding event's `occurred_at`, not when it reached us);
- `DossierItemAccepted` of the SIM artwork -> `ArtworkAcceptanceNoted` (the file's sha256): the
  production order must name that artwork, and this service knows it without calling onboarding;
- `DossierItemAccepted` of the offers, tariffs and terminals tables -> `TariffTableNoted` (the rows):
  the tariff grid sent with the delivery note is built from them.
"""

from __future__ import annotations

from chassis.eventstore import Recorded
from chassis.known_integrators import KnownIntegrators
from chassis.runtime import Reaction, ReactionContext
from contracts import topics
from contracts.errors import CommandRefused
from contracts.events.common import DossierItem
from contracts.events.onboarding import DossierItemAccepted, ElectricalProfileCreated, IntegratorRegistered
from sim_logistics import domain
from sim_logistics.aggregates import SIM_PROCESS
from sim_logistics.domain.process import TARIFF_TABLES


async def learn_from_onboarding(ctx: ReactionContext, rec: Recorded) -> None:
    integrator_id = rec.envelope.integrator_id
    event = rec.event
    if isinstance(event, ElectricalProfileCreated):
        reference, created_at = event.profile_reference, rec.envelope.occurred_at
        await ctx.decide(
            SIM_PROCESS,
            integrator_id,
            lambda state: domain.open_test_sims_step(
                state, profile_reference=reference, profile_created_at=created_at
            ),
            integrator_id=integrator_id,
        )
    elif isinstance(event, DossierItemAccepted) and event.item is DossierItem.SIM_ARTWORK:
        if event.file is None:
            # A contract breach by the producer: dead-letter it visibly rather than guess.
            raise CommandRefused("SIM artwork accepted without its file reference", field="file")
        artwork, filename = event.file.sha256, event.file.filename
        await ctx.decide(
            SIM_PROCESS,
            integrator_id,
            lambda state: domain.note_artwork_acceptance(
                state, artwork_reference=artwork, artwork_filename=filename
            ),
            integrator_id=integrator_id,
        )
    elif isinstance(event, DossierItemAccepted) and event.item in TARIFF_TABLES and event.table is not None:
        table, snapshot, source = event.item, event.table, rec.envelope.event_id
        await ctx.decide(
            SIM_PROCESS,
            integrator_id,
            lambda state: domain.note_tariff_table(
                state, table=table, snapshot=snapshot, source_event_id=source
            ),
            integrator_id=integrator_id,
        )
    # Other dossier items are not the SIM logistics' business.


onboarding_facts = Reaction(
    name="onboarding-facts",
    topics=[topics.ONBOARDING],
    handles={ElectricalProfileCreated, DossierItemAccepted},
    handler=learn_from_onboarding,
    # Facts about an integrator onboarding never registered are held, then dead-lettered.
    trust=KnownIntegrators(registration=IntegratorRegistered),
)

REACTIONS = [onboarding_facts]
