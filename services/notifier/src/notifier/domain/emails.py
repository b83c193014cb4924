"""The life of one email: intended, attempted, sent — or failed, visibly, and resent on request.

An email's identity is its Message-ID, derived from (source event, template, recipient): the same
event delivered twice intends the same email, and a resend after a crash is recognisably the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from contracts.envelope import Envelope
from contracts.errors import NotFound, OutOfOrder
from contracts.events import DomainEvent
from contracts.events.notifier import (
    EmailAttemptFailed,
    EmailFailed,
    EmailIntended,
    EmailResendRequested,
    EmailSent,
)
from notifier.domain.mapping import MAPPING
from notifier.domain.recipients import IntegratorContacts, TicketRequester, recipients_for

#: Fixed forever: changing it would give already-sent emails new Message-IDs.
MESSAGE_ID_NAMESPACE = UUID("5b0f1f4e-3c55-4d4e-9a43-6f1d2b7e0c11")
MESSAGE_ID_DOMAIN = "notifier.integrator-platform"
#: An SMTP error can be long (a whole server banner); the log keeps its head.
MAX_ERROR_LENGTH = 1000


def email_id_for(source_event_id: UUID, template: str, recipient: str) -> str:
    return str(uuid5(MESSAGE_ID_NAMESPACE, f"{source_event_id}|{template}|{recipient.strip().lower()}"))


def message_id_of(email_id: str) -> str:
    return f"<{email_id}@{MESSAGE_ID_DOMAIN}>"


def email_id_of(message_id: str) -> str:
    return message_id.strip().strip("<>").split("@", 1)[0]


def email_stream(email_id: str) -> str:
    return f"email-{email_id}"


def intend_emails(
    source: Envelope,
    *,
    integrator: IntegratorContacts | None,
    ticket: TicketRequester | None,
    ops_email: str,
) -> list[EmailIntended]:
    """Given what the notifier knows of the recipients, when `source` arrives, then these emails
    are intended: one per rule of the mapping and per recipient."""
    intended = []
    for rule in MAPPING.get(source.event_type, ()):
        if not rule.applies_to(source.payload):
            continue
        for recipient in recipients_for(
            rule,
            integrator_id=source.integrator_id,
            integrator=integrator,
            ticket=ticket,
            ops_email=ops_email,
            payload=source.payload,
        ):
            context: dict[str, Any] = {
                "event": source.payload,
                "occurred_at": source.occurred_at.isoformat(),
                "integrator_id": source.integrator_id,
                "integrator_name": integrator.legal_name if integrator else None,
                "recipient_name": recipient.name or None,
                "ticket_subject": ticket.subject if ticket else None,
                # What people quote; tickets opened before numbers existed show their id.
                "ticket_number": (ticket.number or source.payload.get("ticket_id")) if ticket else None,
            }
            email_id = email_id_for(source.event_id, rule.template, recipient.address)
            intended.append(
                EmailIntended(
                    message_id=message_id_of(email_id),
                    template=rule.template,
                    recipients=[recipient.address],
                    source_event_id=source.event_id,
                    source_event_type=source.event_type,
                    locale=recipient.locale,
                    # Unknown facts are left out, not written as None: a template that needs one
                    # fails to render, visibly, instead of mailing "None".
                    context={k: v for k, v in context.items() if v is not None},
                )
            )
    return intended


class Status(StrEnum):
    INTENDED = "intended"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True)
class Email:
    intended: EmailIntended | None = None
    status: Status | None = None
    #: Every attempt, all rounds together (ops view).
    attempts: int = 0
    #: Attempts since the email was intended or its resend requested (the retry budget).
    round_attempts: int = 0
    last_error: str | None = None
    retry_at: datetime | None = None


def evolve(email: Email, event: DomainEvent) -> Email:
    if isinstance(event, EmailIntended):
        return Email(intended=event, status=Status.INTENDED)
    if isinstance(event, EmailSent):
        return replace(email, status=Status.SENT, attempts=event.attempts, retry_at=None)
    if isinstance(event, EmailAttemptFailed):
        return replace(
            email,
            attempts=event.attempt,
            round_attempts=email.round_attempts + 1,
            last_error=event.error,
            retry_at=event.retry_at,
        )
    if isinstance(event, EmailFailed):
        return replace(email, status=Status.FAILED, last_error=event.error, retry_at=None)
    if isinstance(event, EmailResendRequested):
        return replace(email, status=Status.INTENDED, round_attempts=0, retry_at=None)
    return email


def fold(events: Iterable[DomainEvent]) -> Email:
    email = Email()
    for event in events:
        email = evolve(email, event)
    return email


def intend(email: Email, intended: EmailIntended) -> list[DomainEvent]:
    """Intended once: the same Message-ID intended again (a replayed dead letter) changes nothing."""
    return [] if email.intended is not None else [intended]


def due(email: Email, now: datetime) -> bool:
    """Should an attempt be made now?"""
    return email.status is Status.INTENDED and (email.retry_at is None or email.retry_at <= now)


def record_sent(email: Email) -> list[DomainEvent]:
    if email.intended is None or email.status is not Status.INTENDED:
        return []
    return [EmailSent(message_id=email.intended.message_id, attempts=email.attempts + 1)]


def record_failed_attempt(
    email: Email, error: str, *, now: datetime, max_attempts: int, backoff_seconds: float
) -> list[DomainEvent]:
    """Retry with exponential backoff (backoff, 2×, 4×...); after `max_attempts` in this round,
    give up visibly with EmailFailed."""
    if email.intended is None or email.status is not Status.INTENDED:
        return []
    message_id = email.intended.message_id
    error = error.strip()[:MAX_ERROR_LENGTH] or "unknown error"
    attempt = email.attempts + 1
    round_attempt = email.round_attempts + 1
    if round_attempt >= max_attempts:
        return [
            EmailAttemptFailed(message_id=message_id, attempt=attempt, error=error, retry_at=None),
            EmailFailed(message_id=message_id, attempts=attempt, error=error),
        ]
    retry_at = now + timedelta(seconds=backoff_seconds * 2 ** (round_attempt - 1))
    return [EmailAttemptFailed(message_id=message_id, attempt=attempt, error=error, retry_at=retry_at)]


def request_resend(email: Email, requested_by: str) -> list[DomainEvent]:
    if email.intended is None:
        raise NotFound("no such email", field="email_id")
    if email.status is not Status.FAILED:
        raise OutOfOrder(f"only a failed email can be resent (this one is {email.status})", field="email_id")
    return [EmailResendRequested(message_id=email.intended.message_id, requested_by=requested_by)]
