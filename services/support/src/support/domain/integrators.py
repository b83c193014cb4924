"""What support knows of each integrator, learnt from onboarding's events, on `integrator-<id>`.

Support lists companies, not UUIDs, and exports the approved list with company data only; and it
only lets an integrator open a ticket for one of its own people: the ticket's emails go out from
the vendor's address to the requester, so a requester the integrator could type freely would let
anyone make the vendor mail anyone (issue 16, finding 9).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from contracts.errors import NotFound, OutOfOrder
from contracts.events import DomainEvent
from contracts.events.common import Contact
from contracts.events.onboarding import IntegratorContactsUpdated, IntegratorRegistered
from contracts.events.support import IntegratorNoted


def stream_id(integrator_id: str) -> str:
    return f"integrator-{integrator_id}"


@dataclass(frozen=True)
class Integrator:
    legal_name: str
    siret: str
    address: str
    contacts: tuple[Contact, ...]
    noted_from: frozenset[UUID]


def evolve(known: Integrator | None, event: DomainEvent) -> Integrator | None:
    if isinstance(event, IntegratorNoted):
        seen = known.noted_from if known else frozenset()
        return Integrator(
            event.legal_name,
            event.siret,
            event.address,
            tuple(event.contacts),
            seen | {event.source_event_id},
        )
    return known


def fold(events: Iterable[DomainEvent]) -> Integrator | None:
    known: Integrator | None = None
    for event in events:
        known = evolve(known, event)
    return known


def note_registration(
    known: Integrator | None, registered: IntegratorRegistered, source_event_id: UUID
) -> list[DomainEvent]:
    if known is not None and source_event_id in known.noted_from:
        return []  # the same registration delivered again
    if known is not None:
        # Verify what is consumed: an integrator is registered once; a second registration
        # contradicts what support knows and goes to the dead letters, visibly, for ops.
        raise OutOfOrder("a second registration of an integrator already known", field="integrator_id")
    return [
        IntegratorNoted(
            legal_name=registered.legal_name,
            siret=registered.siret,
            address=registered.address,
            contacts=registered.contacts,
            source_event_id=source_event_id,
        )
    ]


def note_contacts_update(
    known: Integrator | None, updated: IntegratorContactsUpdated, source_event_id: UUID
) -> list[DomainEvent]:
    if known is None:
        # Same topic and key as the registration: it cannot legitimately come first.
        raise NotFound("contacts updated for an integrator never registered", field="integrator_id")
    if source_event_id in known.noted_from:
        return []
    return [
        IntegratorNoted(
            legal_name=known.legal_name,
            siret=known.siret,
            address=known.address,
            contacts=updated.contacts,
            source_event_id=source_event_id,
        )
    ]


def may_ask_tickets(contacts: Iterable[str], email: str) -> bool:
    """A requester the integrator may name: one of its contacts, or an address at one of their
    domains (the integrator's own colleagues, whom ops registered through its contacts)."""
    email = email.strip().lower()
    addresses = {c.strip().lower() for c in contacts}
    domains = {a.rsplit("@", 1)[-1] for a in addresses}
    return email in addresses or email.rsplit("@", 1)[-1] in domains
