"""Support's aggregates, declared once: how each instance's stream is named, where its state
starts, and the domain's `evolve` (the chassis's unit of work loads them; `support.domain` stays pure)."""

from __future__ import annotations

from uuid import UUID

from chassis.unit_of_work import Aggregate
from support.domain import approval, installations, integrators, releases, tickets

APPROVAL = Aggregate("approval", stream=approval.stream_id, initial=approval.Approval, evolve=approval.evolve)
RELEASE = Aggregate("release", stream=releases.stream_id, initial=releases.Release, evolve=releases.evolve)
#: A ticket's state keeps when things happened (its business-hour clock): evolve takes occurred_at.
TICKET = Aggregate(
    "ticket",
    stream=lambda id_: tickets.stream_id(UUID(id_)),
    initial=tickets.Ticket,
    evolve=tickets.evolve,
    timed=True,
)
#: An installation report is recorded once: its state is whether it was.
INSTALLATION_REPORT = Aggregate(
    "installation report",
    stream=lambda id_: installations.stream_id(UUID(id_)),
    initial=lambda: False,
    evolve=lambda reported, event: True,
)
#: What onboarding told support of an integrator (None until told).
INTEGRATOR = Aggregate[integrators.Integrator | None](
    "integrator", stream=integrators.stream_id, initial=lambda: None, evolve=integrators.evolve
)
