"""Read models folded from the notifier's own events: every email's status, and the contacts known."""

from __future__ import annotations

from datetime import datetime
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
from notifier.domain import emails as email_life
from notifier.domain.emails import email_id_of

Row = dict[str, Any]


def apply_email(row: Row | None, env: Envelope, event: DomainEvent) -> Row | None:
    """Every email's status for ops and the retry schedule: the domain's own state machine
    (`email_life.evolve`) applied to the state the row keeps, with the stream's version (a sender
    holding the state decided in the reaction knows from it that the email has not moved since)."""
    at = env.occurred_at.isoformat()
    if isinstance(event, EmailIntended):
        email = email_life.evolve(email_life.Email(), event)
        row = {
            "email_id": email_id_of(event.message_id),
            "message_id": event.message_id,
            "integrator_id": env.integrator_id,
            "template": event.template,
            "recipients": event.recipients,
            "locale": event.locale.value,
            "source_event_id": str(event.source_event_id),
            "source_event_type": event.source_event_type,
            "intended_at": at,
            # Since when it waits to go out: intended, or its resend requested (the oldest's age is
            # what ops and the EmailsNotGoingOut alert watch).
            "waiting_since": at,
            "sent_at": None,
            "failed_at": None,
            "resend_requested_by": None,
        }
    elif row is None:
        return None
    else:
        email = email_life.evolve(_state_of(row), event)
        row = dict(row)
        if isinstance(event, EmailSent):
            row["sent_at"] = at
        elif isinstance(event, EmailFailed):
            row["failed_at"] = at
        elif isinstance(event, EmailResendRequested):
            row["resend_requested_by"] = event.requested_by
            row["waiting_since"] = at
    return {
        **row,
        "status": email.status.value if email.status else None,
        "attempts": email.attempts,
        "round_attempts": email.round_attempts,
        "last_error": email.last_error,
        "retry_at": email.retry_at.isoformat() if email.retry_at else None,
        "version": env.stream_version,
    }


def _state_of(row: Row) -> email_life.Email:
    """The domain's state of an email, from its row (the intent itself is not needed to evolve it)."""
    return email_life.Email(
        intended=None,
        status=email_life.Status(row["status"]),
        attempts=row["attempts"],
        round_attempts=row.get("round_attempts", 0),
        last_error=row["last_error"],
        retry_at=datetime.fromisoformat(row["retry_at"]) if row["retry_at"] else None,
    )


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
