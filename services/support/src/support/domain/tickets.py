"""Support tickets, one stream per ticket (`ticket-<ticket_id>`).

Seed 004: every request, by email, phone (or the API), is registered as a ticket *before* it is
answered — here an answer is a command on the ticket's stream, so it cannot exist without the
ticket. A ticket is described and qualified (category, severity), taken by a technician, carries
the exchanges (messages to the integrator, internal notes never shown to it), may wait on a tracker
declaration (with reminders while it waits), is resolved with the procedure applied (required),
closed with a satisfaction survey, and can be reopened. Closed tickets stay readable for ever:
nothing here deletes.

Stages, as Odoo Helpdesk users know them: new -> in progress (taken) -> waiting on the tracker ->
resolved -> closed; reopening goes back to in progress (or new when nobody has taken it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from contracts.errors import CommandRefused, NotFound, OutOfOrder
from contracts.events import DomainEvent
from contracts.events.support import (
    Category,
    Channel,
    Requester,
    SatisfactionRated,
    Severity,
    TicketClosed,
    TicketMessagePosted,
    TicketOpened,
    TicketQualified,
    TicketReopened,
    TicketResolved,
    TicketStillWaitingOnTracker,
    TicketTaken,
    TrackerDeclarationMade,
    TrackerDeclarationSettled,
)
from support.business_time import IsHoliday, add_business_days


def stream_id(ticket_id: UUID) -> str:
    return f"ticket-{ticket_id}"


class Status(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    WAITING_ON_TRACKER = "waiting_on_tracker"
    RESOLVED = "resolved"
    CLOSED = "closed"


@dataclass(frozen=True)
class Survey:
    expires_at: datetime
    answered: bool = False


@dataclass(frozen=True)
class Ticket:
    opened: bool = False
    status: Status = Status.NEW
    category: Category | None = None
    severity: Severity | None = None
    technician: str | None = None
    tracker_reference: str | None = None
    #: Since when the integrator last heard about the pending tracker declaration.
    waiting_since: datetime | None = None
    surveys: Mapping[UUID, Survey] = field(default_factory=dict)


def evolve(state: Ticket, event: DomainEvent, at: datetime) -> Ticket:
    """Fold one event; `at` is when it was recorded (the envelope's occurred_at)."""
    match event:
        case TicketOpened():
            return Ticket(opened=True)
        case TicketQualified():
            return replace(state, category=event.category, severity=event.severity)
        case TicketTaken():
            status = Status.IN_PROGRESS if state.status is Status.NEW else state.status
            return replace(state, technician=event.technician, status=status)
        case TrackerDeclarationMade():
            return replace(
                state,
                status=Status.WAITING_ON_TRACKER,
                tracker_reference=event.tracker_reference,
                waiting_since=at,
            )
        case TicketStillWaitingOnTracker():
            return replace(state, waiting_since=at)
        case TrackerDeclarationSettled():
            return replace(state, status=Status.IN_PROGRESS, waiting_since=None)
        case TicketResolved():
            return replace(state, status=Status.RESOLVED, waiting_since=None)
        case TicketClosed():
            survey = Survey(expires_at=event.survey_expires_at)
            return replace(
                state, status=Status.CLOSED, surveys={**state.surveys, event.survey_token_id: survey}
            )
        case TicketReopened():
            return replace(state, status=Status.IN_PROGRESS if state.technician else Status.NEW)
        case SatisfactionRated():
            answered = replace(state.surveys[event.survey_token_id], answered=True)
            return replace(state, surveys={**state.surveys, event.survey_token_id: answered})
    return state


def fold(history: Iterable[tuple[DomainEvent, datetime]]) -> Ticket:
    state = Ticket()
    for event, at in history:
        state = evolve(state, event, at)
    return state


def _existing(state: Ticket) -> Ticket:
    if not state.opened:
        raise NotFound("no such ticket", field="ticket_id")
    return state


def _not_closed(state: Ticket, doing: str) -> None:
    _existing(state)
    if state.status is Status.CLOSED:
        raise OutOfOrder(
            f"the ticket is closed: reopen it before {doing}", field="ticket_id", code="ticket_closed"
        )


def _required(text: str, field_name: str, what: str) -> None:
    if not text.strip():
        raise CommandRefused(f"{what} is required", field=field_name)


# --- commands ----------------------------------------------------------------------------------


def ticket_number(year: int, sequence: int) -> str:
    """The number people read and quote: `T-2026-000123`, the year's n-th ticket."""
    if sequence < 1:
        raise ValueError("ticket sequences start at 1")
    return f"T-{year:04d}-{sequence:06d}"


def open_ticket(
    state: Ticket,
    *,
    ticket_id: UUID,
    channel: Channel,
    requester: Requester,
    subject: str,
    description: str,
    by: str,
    number: str | None = None,
) -> list[DomainEvent]:
    if state.opened:
        raise OutOfOrder("this ticket is already open", field="ticket_id")
    _required(subject, "subject", "a subject")
    _required(description, "description", "the description of the request")
    return [
        TicketOpened(
            ticket_id=ticket_id,
            channel=channel,
            requester=requester,
            subject=subject,
            description=description,
            opened_by=by,
            ticket_number=number,
        )
    ]


def qualify(state: Ticket, *, ticket_id: UUID, category: Category, severity: Severity) -> list[DomainEvent]:
    _not_closed(state, "qualifying it")
    if (state.category, state.severity) == (category, severity):
        raise OutOfOrder("the ticket is already qualified so", field="category")
    return [TicketQualified(ticket_id=ticket_id, category=category, severity=severity)]


def take(state: Ticket, *, ticket_id: UUID, technician: str) -> list[DomainEvent]:
    """A technician takes the ticket (or takes it over from a colleague)."""
    _not_closed(state, "taking it")
    if state.technician == technician:
        raise OutOfOrder(f"{technician} already has this ticket", field="technician")
    return [TicketTaken(ticket_id=ticket_id, technician=technician)]


def post_message(
    state: Ticket, *, ticket_id: UUID, author: str, body: str, internal: bool, by_integrator: bool
) -> list[DomainEvent]:
    _not_closed(state, "writing on it")
    _required(body, "body", "a message")
    if internal and by_integrator:
        raise CommandRefused("internal notes are the support's own", field="internal")
    return [
        TicketMessagePosted(
            ticket_id=ticket_id, author=author, body=body, internal=internal, by_integrator=by_integrator
        )
    ]


def declare_on_tracker(state: Ticket, *, ticket_id: UUID, tracker_reference: str) -> list[DomainEvent]:
    _not_closed(state, "declaring it on the tracker")
    _required(tracker_reference, "tracker_reference", "the tracker reference")
    if state.technician is None:
        raise OutOfOrder(
            "a technician takes the ticket before declaring it on the tracker", field="ticket_id"
        )
    if state.status is Status.WAITING_ON_TRACKER:
        raise OutOfOrder(f"already waiting on {state.tracker_reference}", field="tracker_reference")
    if state.status is Status.RESOLVED:
        raise OutOfOrder("the ticket is resolved: reopen it first", field="ticket_id")
    return [TrackerDeclarationMade(ticket_id=ticket_id, tracker_reference=tracker_reference)]


def settle_tracker_declaration(state: Ticket, *, ticket_id: UUID, outcome: str, by: str) -> list[DomainEvent]:
    _existing(state)
    if state.status is not Status.WAITING_ON_TRACKER or state.tracker_reference is None:
        raise OutOfOrder("the ticket is not waiting on the tracker", field="ticket_id")
    _required(outcome, "outcome", "the tracker's outcome")
    return [
        TrackerDeclarationSettled(
            ticket_id=ticket_id, tracker_reference=state.tracker_reference, outcome=outcome, settled_by=by
        )
    ]


def remind_if_due(
    state: Ticket, *, ticket_id: UUID, now: datetime, every_business_days: int, is_holiday: IsHoliday
) -> list[DomainEvent]:
    """DOMAIN.md §2: the integrator hears from us while its request waits on the tracker — every
    `every_business_days` business days after the declaration or the last reminder."""
    if state.status is not Status.WAITING_ON_TRACKER or state.waiting_since is None:
        return []
    if state.tracker_reference is None or now < add_business_days(
        state.waiting_since, every_business_days, is_holiday
    ):
        return []
    return [TicketStillWaitingOnTracker(ticket_id=ticket_id, tracker_reference=state.tracker_reference)]


def resolve(state: Ticket, *, ticket_id: UUID, resolution_procedure: str, by: str) -> list[DomainEvent]:
    _not_closed(state, "resolving it")
    if state.status is Status.RESOLVED:
        raise OutOfOrder("the ticket is already resolved", field="ticket_id")
    if state.technician is None:
        raise OutOfOrder("a technician takes the ticket before resolving it", field="ticket_id")
    if state.category is None:
        # Seed 004: the file holds the problem's qualification; a resolved ticket without one would
        # be missing from the statistics by category.
        raise OutOfOrder("qualify the ticket (category, severity) before resolving it", field="category")
    _required(resolution_procedure, "resolution_procedure", "the resolution procedure applied")
    return [TicketResolved(ticket_id=ticket_id, resolution_procedure=resolution_procedure, resolved_by=by)]


def close(
    state: Ticket, *, ticket_id: UUID, survey_token_id: UUID, now: datetime, survey_ttl: timedelta, by: str
) -> list[DomainEvent]:
    """Close a resolved ticket; every closing sends a satisfaction survey whose link expires."""
    _existing(state)
    if state.status is not Status.RESOLVED:
        raise OutOfOrder("only a resolved ticket is closed", field="ticket_id")
    return [
        TicketClosed(
            ticket_id=ticket_id,
            survey_token_id=survey_token_id,
            survey_expires_at=now + survey_ttl,
            closed_by=by,
        )
    ]


def reopen(state: Ticket, *, ticket_id: UUID, reason: str, by: str) -> list[DomainEvent]:
    _existing(state)
    if state.status not in (Status.RESOLVED, Status.CLOSED):
        raise OutOfOrder("only a resolved or closed ticket is reopened", field="ticket_id")
    _required(reason, "reason", "the reason for reopening")
    return [TicketReopened(ticket_id=ticket_id, reason=reason, reopened_by=by)]


def rate(
    state: Ticket,
    *,
    ticket_id: UUID,
    survey_token_id: UUID,
    rating: int,
    comment: str | None,
    now: datetime,
) -> list[DomainEvent]:
    """Answer a closing's survey, once, before it expires."""
    _existing(state)
    survey = state.surveys.get(survey_token_id)
    if survey is None:
        raise NotFound("no such survey", field="token", code="invalid_token")
    if survey.answered:
        raise OutOfOrder(
            "this survey was already answered, thank you", field="token", code="survey_already_answered"
        )
    if now >= survey.expires_at:
        raise CommandRefused("this survey has expired", field="token", code="expired_token")
    if not 1 <= rating <= 5:
        raise CommandRefused("the rating is from 1 to 5", field="rating")
    return [
        SatisfactionRated(
            ticket_id=ticket_id,
            survey_token_id=survey_token_id,
            rating=rating,
            comment=(comment or "").strip() or None,
        )
    ]
