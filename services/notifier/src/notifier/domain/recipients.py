"""Who receives the emails: the integrator's contacts, a ticket's requester, ops.

All of it is learnt from other services' events and recorded as the notifier's own events
(IntegratorContactsNoted, TicketRequesterNoted), so recipients rebuild from the notifier's log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from contracts.errors import CommandRefused, NotFound, OutOfOrder
from contracts.events import DomainEvent
from contracts.events.common import Contact, Locale
from contracts.events.notifier import IntegratorContactsNoted, TicketRequesterNoted
from contracts.events.onboarding import IntegratorContactsUpdated, IntegratorRegistered
from contracts.events.support import TicketOpened
from contracts.events.web import STAFF
from notifier.domain.mapping import Audience, EmailRule


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


def vouched_for(integrator: IntegratorContacts | None, email: str) -> bool:
    """A requester the integrator's contacts vouch for: one of them, or an address at one of their
    domains (the integrator's colleagues) — the rule support's HTTP path applies to an integrator
    naming a requester, applied again here to what the topic says."""
    if integrator is None:
        return False
    email = email.strip().lower()
    addresses = {str(c.email).strip().lower() for c in integrator.contacts}
    return email in addresses or email.rsplit("@", 1)[-1] in {a.rsplit("@", 1)[-1] for a in addresses}


def note_requester(
    history: list[DomainEvent],
    opened: TicketOpened,
    source_event_id: UUID,
    integrator: IntegratorContacts | None,
) -> list[DomainEvent]:
    """Given a ticket's notifier stream, when it opens, then its requester is noted (once) — if the
    integrator's contacts vouch for them. Any other address is refused (dead-lettered for ops): the
    ticket's emails carry the vendor's name and links, and must not go wherever an event says."""
    if any(isinstance(e, TicketRequesterNoted) for e in history):
        return []
    if not vouched_for(integrator, str(opened.requester.email)):
        raise CommandRefused(
            "the requester is not one of the integrator's contacts (nor at their domain): not mailed",
            field="requester.email",
            code="requester_not_a_contact",
        )
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
        # An integrator's user is one of its contacts (web invites them from the registration):
        # a link to its portal goes to no one the contacts do not vouch for.
        if integrator_id != STAFF and not vouched_for(integrator, str(person["email"])):
            raise CommandRefused(
                f"the person is not one of the integrator's contacts (nor at their domain): not mailed ({rule.template})",
                field="email",
                code="person_not_a_contact",
            )
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
