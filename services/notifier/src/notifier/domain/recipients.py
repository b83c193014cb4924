"""Who receives the emails: the integrator's contacts, a ticket's requester, ops.

All of it is learnt from other services' events and recorded as the notifier's own events
(IntegratorContactsNoted, TicketRequesterNoted), so recipients rebuild from the notifier's log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from contracts.envelope import Envelope
from contracts.errors import NotFound, OutOfOrder
from contracts.events import DomainEvent
from contracts.events.common import Contact, Locale
from contracts.events.notifier import (
    EventHeldForContacts,
    HeldEventsReleased,
    IntegratorContactsNoted,
    TicketRequesterNoted,
)
from contracts.events.onboarding import IntegratorContactsUpdated, IntegratorRegistered
from contracts.events.support import TicketOpened
from notifier.domain.mapping import MAPPING, Audience, EmailRule


@dataclass(frozen=True)
class IntegratorContacts:
    legal_name: str
    contacts: tuple[Contact, ...]
    locale: Locale


@dataclass(frozen=True)
class TicketRequester:
    name: str
    email: str
    subject: str
    number: str | None = None


@dataclass(frozen=True)
class Recipient:
    address: str
    #: For the greeting; empty for a mailbox such as ops.
    name: str
    locale: Locale


def contacts_stream(integrator_id: str) -> str:
    return f"integrator-{integrator_id}"


def ticket_stream(ticket_id: UUID | str) -> str:
    return f"ticket-{ticket_id}"


def contacts_from(history: Iterable[DomainEvent]) -> IntegratorContacts | None:
    contacts = None
    for event in history:
        if isinstance(event, IntegratorContactsNoted):
            contacts = IntegratorContacts(event.legal_name, tuple(event.contacts), event.locale)
    return contacts


def requester_from(history: Iterable[DomainEvent]) -> TicketRequester | None:
    requester = None
    for event in history:
        if isinstance(event, TicketRequesterNoted):
            requester = TicketRequester(
                event.requester_name, str(event.requester_email), event.subject, event.ticket_number
            )
    return requester


def needs_contacts(event_type: str) -> bool:
    return any(rule.audience is Audience.CONTACTS for rule in MAPPING.get(event_type, ()))


def held_stream(integrator_id: str) -> str:
    return f"held-{integrator_id}"


def hold(source: Envelope) -> list[DomainEvent]:
    """Given the contacts are unknown, when an event to mail them arrives, then it waits for them."""
    return [EventHeldForContacts(source=source.model_dump(mode="json"))]


def still_held(history: Iterable[DomainEvent]) -> list[Envelope]:
    held: dict[str, Envelope] = {}
    for event in history:
        if isinstance(event, EventHeldForContacts):
            envelope = Envelope.model_validate(event.source)
            held[str(envelope.event_id)] = envelope
        elif isinstance(event, HeldEventsReleased):
            for event_id in event.source_event_ids:
                held.pop(str(event_id), None)
    return list(held.values())


def release(held: list[Envelope]) -> list[DomainEvent]:
    return [HeldEventsReleased(source_event_ids=[e.event_id for e in held])] if held else []


def note_contacts(
    history: list[DomainEvent], registered: IntegratorRegistered, source_event_id: UUID
) -> list[DomainEvent]:
    """Given the integrator's notifier stream, when it registers, then its contacts are noted (once).

    An integrator registers once: the same registration again (a redelivery) changes nothing, and
    another registration for an integrator whose contacts are known is refused (dead-lettered for
    ops), never applied — else anyone able to write to the topic would redirect its emails. Changed
    contacts come as their own event (IntegratorContactsUpdated)."""
    if any(isinstance(e, IntegratorContactsNoted) and e.source_event_id == source_event_id for e in history):
        return []
    if any(isinstance(e, IntegratorContactsNoted) for e in history):
        raise OutOfOrder(
            "a second registration for an integrator whose contacts are already known: not applied",
            field="integrator_id",
            code="already_registered",
        )
    return [
        IntegratorContactsNoted(
            legal_name=registered.legal_name,
            contacts=registered.contacts,
            locale=registered.locale,
            source_event_id=source_event_id,
        )
    ]


def note_requester(
    history: list[DomainEvent], opened: TicketOpened, source_event_id: UUID
) -> list[DomainEvent]:
    if any(isinstance(e, TicketRequesterNoted) for e in history):
        return []
    return [
        TicketRequesterNoted(
            ticket_id=opened.ticket_id,
            requester_name=opened.requester.name,
            requester_email=opened.requester.email,
            subject=opened.subject,
            source_event_id=source_event_id,
            ticket_number=opened.ticket_number,
        )
    ]


def update_contacts(
    history: list[DomainEvent], updated: IntegratorContactsUpdated, source_event_id: UUID
) -> list[DomainEvent]:
    """Given the integrator's notifier stream, when its contacts or language change, then the new
    ones are noted (once per update): every later email goes to them."""
    if any(isinstance(e, IntegratorContactsNoted) and e.source_event_id == source_event_id for e in history):
        return []
    known = contacts_from(history)
    if known is None:
        # Same topic and key as the registration, so it cannot legitimately come first.
        raise NotFound("contacts updated for an integrator never registered", field="integrator_id")
    return [
        IntegratorContactsNoted(
            legal_name=known.legal_name,
            contacts=updated.contacts,
            locale=updated.locale,
            source_event_id=source_event_id,
        )
    ]


def recipients_for(
    rule: EmailRule,
    *,
    integrator_id: str,
    integrator: IntegratorContacts | None,
    ticket: TicketRequester | None,
    ops_email: str,
    payload: dict[str, Any] | None = None,
) -> list[Recipient]:
    """The recipients of one rule. Unknown recipients are refused (the message goes to the
    dead-letter list with the reason, for ops to replay), never silently dropped."""
    if rule.audience is Audience.OPS:
        return [Recipient(ops_email, "", Locale.FR)]
    if rule.audience is Audience.PERSON:
        person = payload or {}
        if not person.get("email"):
            raise NotFound(f"the event names no person to write to ({rule.template})", field="email")
        return [
            Recipient(str(person["email"]), str(person.get("name") or ""), Locale(person.get("locale", "fr")))
        ]
    if rule.audience is Audience.REQUESTER:
        if ticket is None:
            raise NotFound(f"the requester of this ticket is not known ({rule.template})", field="ticket_id")
        # The requester reads the integrator's language; French when the integrator is unknown.
        locale = integrator.locale if integrator is not None else Locale.FR
        return [Recipient(ticket.email, ticket.name, locale)]
    if integrator is None:
        raise NotFound(
            f"the contacts of integrator {integrator_id} are not known ({rule.template})",
            field="integrator_id",
        )
    seen: set[str] = set()
    recipients = []
    for contact in integrator.contacts:
        address = str(contact.email)
        if address.lower() in seen:  # one email per address even if listed twice
            continue
        seen.add(address.lower())
        recipients.append(Recipient(address, contact.name, integrator.locale))
    return recipients
