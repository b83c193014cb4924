"""What sim-logistics learns from onboarding, recorded as its own events on `sims-<integrator_id>`.

- `ElectricalProfileCreated` -> `TestSimsStepOpened`: step 2 opens, due two weeks after the
  profile's creation (the onboarding event's `occurred_at`, not when it reached us);
- `DossierItemAccepted` of the SIM artwork -> `ArtworkAcceptanceNoted` (the file's sha256): the
  production order must name that artwork, and this service knows it without calling onboarding.
"""

from __future__ import annotations

from chassis.eventstore import Recorded
from chassis.runtime import Reaction, ReactionContext
from contracts import topics
from contracts.errors import CommandRefused
from contracts.events.common import DossierItem
from contracts.events.onboarding import DossierItemAccepted, ElectricalProfileCreated
from sim_logistics import domain


def _state(history: list[Recorded]) -> domain.SimProcess:
    return domain.fold(r.event for r in history)


async def learn_from_onboarding(ctx: ReactionContext, rec: Recorded) -> None:
    integrator_id = rec.envelope.integrator_id
    event = rec.event
    if isinstance(event, ElectricalProfileCreated):
        reference, created_at = event.profile_reference, rec.envelope.occurred_at
        await ctx.execute(
            stream_id=domain.stream_id(integrator_id),
            integrator_id=integrator_id,
            decide=lambda history: domain.open_test_sims_step(
                _state(history), profile_reference=reference, profile_created_at=created_at
            ),
        )
    elif isinstance(event, DossierItemAccepted) and event.item is DossierItem.SIM_ARTWORK:
        if event.file is None:
            # A contract breach by the producer: dead-letter it visibly rather than guess.
            raise CommandRefused("SIM artwork accepted without its file reference", field="file")
        artwork = event.file.sha256
        await ctx.execute(
            stream_id=domain.stream_id(integrator_id),
            integrator_id=integrator_id,
            decide=lambda history: domain.note_artwork_acceptance(_state(history), artwork_reference=artwork),
        )
    # Other dossier items are not the SIM logistics' business.


onboarding_facts = Reaction(
    name="onboarding-facts",
    topics=[topics.ONBOARDING],
    handles={"ElectricalProfileCreated", "DossierItemAccepted"},
    handler=learn_from_onboarding,
)

REACTIONS = [onboarding_facts]
