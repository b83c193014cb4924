"""Events of the notifier service: each email intended, sent, or given up on — visibly.

The notifier rebuilds everything from this log: who the integrator's contacts are (and in which
language they read), who asked each ticket, and every email with what it was rendered from.
"""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from pydantic import AwareDatetime, EmailStr, Field

from contracts.events.base import DomainEvent
from contracts.events.common import Contact, Locale


class NotifierEvent(DomainEvent):
    producer: ClassVar[str] = "notifier"


class IntegratorContactsNoted(NotifierEvent):
    """The notifier learnt an integrator's contacts and language from onboarding's IntegratorRegistered
    (or, later, IntegratorContactsUpdated: the last one noted is who gets the emails).

    Why: the recipients of every later email come from the notifier's own log, so its tables rebuild
    without asking onboarding (a service never calls another one).
    """

    legal_name: str = Field(min_length=1, max_length=200)
    contacts: list[Contact] = Field(min_length=1)
    locale: Locale = Locale.FR
    source_event_id: UUID


class TicketRequesterNoted(NotifierEvent):
    """The notifier learnt who asked a ticket, from support's TicketOpened.

    Why: the ticket's later emails (taken, resolved, closed with its survey) go to the requester,
    whose address only TicketOpened carries.
    """

    ticket_id: UUID
    requester_name: str = Field(min_length=1, max_length=200)
    requester_email: EmailStr
    subject: str = Field(min_length=1, max_length=300)
    source_event_id: UUID
    #: The number people quote (`T-2026-000123`), when support gave one.
    ticket_number: str | None = None


class EventHeldForContacts(NotifierEvent):
    """An event to mail about arrived before the integrator's contacts were known.

    Why: each service has its own topic, and topics are not ordered with one another, so e.g. a
    sim-logistics event may be consumed before onboarding's IntegratorRegistered. The envelope is
    kept (as received) and its emails are intended as soon as the contacts are noted.
    """

    source: dict[str, Any]


class HeldEventsReleased(NotifierEvent):
    """The contacts are now known: the held events' emails were intended, in this transaction."""

    source_event_ids: list[UUID] = Field(min_length=1)


class EmailIntended(NotifierEvent):
    """Recorded in the transaction that consumed `source_event_id`: this email must go out, once.

    `locale` and `context` are what the template is rendered from, so the email can be sent again
    after a crash, and shown to ops, from this log alone. The context never holds a secret: links
    (set-password, survey) carry only a token id and expiry and are signed when rendering.
    """

    message_id: str
    template: str
    recipients: list[str] = Field(min_length=1)
    source_event_id: UUID
    source_event_type: str
    locale: Locale = Locale.FR
    context: dict[str, Any] = Field(default_factory=dict)


class EmailSent(NotifierEvent):
    message_id: str
    attempts: int = Field(ge=1)


class EmailAttemptFailed(NotifierEvent):
    """One SMTP attempt failed. `retry_at` is when the next attempt is due (None: given up, see EmailFailed)."""

    message_id: str
    attempt: int = Field(ge=1)
    error: str
    retry_at: AwareDatetime | None = None


class EmailFailed(NotifierEvent):
    """Given up on after the last attempt; listed for ops, who may resend it."""

    message_id: str
    attempts: int
    error: str


class EmailResendRequested(NotifierEvent):
    """Ops asked to try a failed email again: a new round of attempts, same Message-ID."""

    message_id: str
    requested_by: str
