"""The notifier's aggregates, declared once: what the unit of work loads and appends to."""

from __future__ import annotations

from chassis.unit_of_work import Aggregate
from contracts.events import DomainEvent
from notifier.domain import emails, recipients


def _remember(history: tuple[DomainEvent, ...], event: DomainEvent) -> tuple[DomainEvent, ...]:
    # What the notifier knows of an integrator or a ticket is a handful of events: their list is
    # the state the recipients' rules read (recipients.contacts_from, requester_from).
    return (*history, event)


#: The contacts and language of one integrator, as learnt from onboarding (IntegratorContactsNoted).
CONTACTS = Aggregate[tuple[DomainEvent, ...]](
    "integrator contacts", stream=recipients.contacts_stream, initial=tuple, evolve=_remember
)
#: Who opened one ticket (TicketRequesterNoted): the requester's emails go to them.
TICKET = Aggregate[tuple[DomainEvent, ...]](
    "ticket requester", stream=recipients.ticket_stream, initial=tuple, evolve=_remember
)
#: One email's life: intended, attempted, sent or failed.
EMAIL = Aggregate[emails.Email](
    "email", stream=emails.email_stream, initial=emails.Email, evolve=emails.evolve
)
