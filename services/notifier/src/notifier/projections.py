"""Read models folded from the notifier's own events: every email's status, and the contacts known."""

from __future__ import annotations

from typing import Any

from chassis.projections import Projection
from contracts.envelope import Envelope
from contracts.events import DomainEvent
from contracts.events.notifier import (
    EmailAttemptFailed,
    EmailFailed,
    EmailIntended,
    EmailResendRequested,
    EmailSent,
    IntegratorContactsNoted,
)
from notifier.domain.emails import email_id_of

Row = dict[str, Any]


def apply_email(row: Row | None, env: Envelope, event: DomainEvent) -> Row | None:
    at = env.occurred_at.isoformat()
    if isinstance(event, EmailIntended):
        return {
            "email_id": email_id_of(event.message_id),
            "message_id": event.message_id,
            "integrator_id": env.integrator_id,
            "template": event.template,
            "recipients": event.recipients,
            "locale": event.locale.value,
            "source_event_id": str(event.source_event_id),
            "source_event_type": event.source_event_type,
            "status": "intended",
            "attempts": 0,
            "last_error": None,
            "retry_at": None,
            "intended_at": at,
            "sent_at": None,
            "failed_at": None,
            "resend_requested_by": None,
        }
    if row is None:
        return None
    if isinstance(event, EmailSent):
        return {**row, "status": "sent", "attempts": event.attempts, "sent_at": at, "retry_at": None}
    if isinstance(event, EmailAttemptFailed):
        retry_at = event.retry_at.isoformat() if event.retry_at else None
        return {**row, "attempts": event.attempt, "last_error": event.error, "retry_at": retry_at}
    if isinstance(event, EmailFailed):
        return {**row, "status": "failed", "last_error": event.error, "failed_at": at, "retry_at": None}
    if isinstance(event, EmailResendRequested):
        return {**row, "status": "intended", "resend_requested_by": event.requested_by, "retry_at": None}
    return row


def _email_key(env: Envelope, event: DomainEvent) -> str | None:
    message_id = getattr(event, "message_id", None)
    return email_id_of(message_id) if message_id else None


emails = Projection(
    name="notifier_emails",
    handles={EmailIntended, EmailSent, EmailAttemptFailed, EmailFailed, EmailResendRequested},
    key=_email_key,
    apply=apply_email,
    indexes=["((data->>'status'))", "((data->>'source_event_id'))"],
)


def apply_contacts(row: Row | None, env: Envelope, event: DomainEvent) -> Row | None:
    assert isinstance(event, IntegratorContactsNoted)
    return {
        "integrator_id": env.integrator_id,
        "legal_name": event.legal_name,
        "locale": event.locale.value,
        "contacts": [c.model_dump(mode="json") for c in event.contacts],
        "noted_at": env.occurred_at.isoformat(),
    }


contacts = Projection(
    name="notifier_contacts",
    handles={IntegratorContactsNoted},
    key=lambda env, ev: env.integrator_id,
    apply=apply_contacts,
)

PROJECTIONS = [emails, contacts]
