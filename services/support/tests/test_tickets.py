"""Tickets as specifications: given the ticket's events, when a command, then events (or a refusal)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

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
from support.business_time import no_holidays
from support.domain import tickets
from support.domain.tickets import Status

T = UUID("0199a000-0000-7000-8000-0000000000aa")
SURVEY = UUID("0199a000-0000-7000-8000-0000000000bb")
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # Monday, 11:00 in Paris

OPENED = TicketOpened(
    ticket_id=T,
    channel=Channel.EMAIL,
    requester=Requester(name="Paul", email="paul@integrateur.example"),
    subject="Z report missing",
    description="The Z report of 1 March is missing",
    opened_by="tech",
)
QUALIFIED = TicketQualified(ticket_id=T, category=Category.INCIDENT, severity=Severity.HIGH)
TAKEN = TicketTaken(ticket_id=T, technician="tech-anne")
DECLARED = TrackerDeclarationMade(ticket_id=T, tracker_reference="TRK-42")
RESOLVED = TicketResolved(ticket_id=T, resolution_procedure="restored the Z report", resolved_by="tech-anne")
CLOSED = TicketClosed(
    ticket_id=T, survey_token_id=SURVEY, survey_expires_at=NOW + timedelta(days=14), closed_by="t"
)


def given(*events: DomainEvent, at: datetime = NOW) -> tickets.Ticket:
    return tickets.fold((e, at) for e in events)


def test_a_request_is_registered_as_a_ticket() -> None:
    events = tickets.open_ticket(
        tickets.Ticket(),
        ticket_id=T,
        channel=Channel.EMAIL,
        requester=OPENED.requester,
        subject=OPENED.subject,
        description=OPENED.description,
        by="tech",
    )
    assert events == [OPENED]
    assert given(OPENED).status is Status.NEW


def test_a_ticket_needs_a_description_and_is_opened_once() -> None:
    with pytest.raises(CommandRefused) as refused:
        tickets.open_ticket(
            tickets.Ticket(),
            ticket_id=T,
            channel=Channel.PHONE,
            requester=OPENED.requester,
            subject="s",
            description="  ",
            by="t",
        )
    assert refused.value.field == "description"
    with pytest.raises(OutOfOrder):
        tickets.open_ticket(
            given(OPENED),
            ticket_id=T,
            channel=Channel.PHONE,
            requester=OPENED.requester,
            subject="s",
            description="d",
            by="t",
        )


def test_nothing_is_answered_on_a_ticket_not_registered() -> None:
    with pytest.raises(NotFound):
        tickets.post_message(
            tickets.Ticket(), ticket_id=T, author="t", body="hello", internal=False, by_integrator=False
        )


def test_qualifying_and_requalifying() -> None:
    assert tickets.qualify(
        given(OPENED), ticket_id=T, category=Category.INCIDENT, severity=Severity.HIGH
    ) == [QUALIFIED]
    assert given(OPENED, QUALIFIED).category is Category.INCIDENT
    with pytest.raises(OutOfOrder):
        tickets.qualify(
            given(OPENED, QUALIFIED), ticket_id=T, category=Category.INCIDENT, severity=Severity.HIGH
        )


def test_taking_puts_the_ticket_in_progress_and_a_colleague_can_take_it_over() -> None:
    assert tickets.take(given(OPENED), ticket_id=T, technician="tech-anne") == [TAKEN]
    state = given(OPENED, TAKEN)
    assert (state.status, state.technician) == (Status.IN_PROGRESS, "tech-anne")
    with pytest.raises(OutOfOrder):
        tickets.take(state, ticket_id=T, technician="tech-anne")
    assert tickets.take(state, ticket_id=T, technician="tech-bob") == [
        TicketTaken(ticket_id=T, technician="tech-bob")
    ]


def test_an_integrator_never_writes_internal_notes() -> None:
    with pytest.raises(CommandRefused) as refused:
        tickets.post_message(
            given(OPENED), ticket_id=T, author="i", body="psst", internal=True, by_integrator=True
        )
    assert refused.value.field == "internal"
    assert tickets.post_message(
        given(OPENED), ticket_id=T, author="t", body="note", internal=True, by_integrator=False
    ) == [TicketMessagePosted(ticket_id=T, author="t", body="note", internal=True)]
    with pytest.raises(CommandRefused):
        tickets.post_message(
            given(OPENED), ticket_id=T, author="t", body=" ", internal=False, by_integrator=False
        )


def test_a_tracker_declaration_needs_a_technician_and_makes_the_ticket_wait() -> None:
    with pytest.raises(OutOfOrder):
        tickets.declare_on_tracker(given(OPENED), ticket_id=T, tracker_reference="TRK-42")
    assert tickets.declare_on_tracker(given(OPENED, TAKEN), ticket_id=T, tracker_reference="TRK-42") == [
        DECLARED
    ]
    waiting = given(OPENED, TAKEN, DECLARED)
    assert waiting.status is Status.WAITING_ON_TRACKER
    with pytest.raises(OutOfOrder):
        tickets.declare_on_tracker(waiting, ticket_id=T, tracker_reference="TRK-43")


def test_while_waiting_on_the_tracker_the_integrator_is_reminded_every_n_business_days() -> None:
    waiting = given(OPENED, TAKEN, DECLARED)  # declared Monday 2 March

    def remind(state: tickets.Ticket, now: datetime) -> list[DomainEvent]:
        return tickets.remind_if_due(
            state, ticket_id=T, now=now, every_business_days=3, is_holiday=no_holidays
        )

    assert remind(waiting, NOW + timedelta(days=2, hours=23)) == []
    reminder = TicketStillWaitingOnTracker(ticket_id=T, tracker_reference="TRK-42")
    assert remind(waiting, NOW + timedelta(days=3)) == [reminder]  # Thursday
    reminded = tickets.fold(
        [(OPENED, NOW), (TAKEN, NOW), (DECLARED, NOW), (reminder, NOW + timedelta(days=3))]
    )
    assert remind(reminded, NOW + timedelta(days=7)) == []  # Monday: 2 business days since Thursday
    assert remind(reminded, NOW + timedelta(days=8)) == [reminder]  # Tuesday
    settled = TrackerDeclarationSettled(
        ticket_id=T, tracker_reference="TRK-42", outcome="fixed in 3.2.1", settled_by="t"
    )
    assert remind(given(OPENED, TAKEN, DECLARED, settled), NOW + timedelta(days=30)) == []


def test_a_settled_declaration_puts_the_ticket_back_in_progress() -> None:
    waiting = given(OPENED, TAKEN, DECLARED)
    [settled] = tickets.settle_tracker_declaration(waiting, ticket_id=T, outcome="fixed in 3.2.1", by="t")
    assert isinstance(settled, TrackerDeclarationSettled) and settled.tracker_reference == "TRK-42"
    assert given(OPENED, TAKEN, DECLARED, settled).status is Status.IN_PROGRESS
    with pytest.raises(OutOfOrder):
        tickets.settle_tracker_declaration(given(OPENED, TAKEN), ticket_id=T, outcome="x", by="t")


def test_resolution_needs_the_procedure_applied() -> None:
    state = given(OPENED, QUALIFIED, TAKEN)
    with pytest.raises(CommandRefused) as refused:
        tickets.resolve(state, ticket_id=T, resolution_procedure="   ", by="tech-anne")
    assert refused.value.field == "resolution_procedure"
    assert tickets.resolve(
        state, ticket_id=T, resolution_procedure="restored the Z report", by="tech-anne"
    ) == [RESOLVED]


def test_resolution_needs_a_technician_and_a_qualification() -> None:
    with pytest.raises(OutOfOrder):
        tickets.resolve(given(OPENED, QUALIFIED), ticket_id=T, resolution_procedure="p", by="t")
    with pytest.raises(OutOfOrder) as refused:
        tickets.resolve(given(OPENED, TAKEN), ticket_id=T, resolution_procedure="p", by="t")
    assert refused.value.field == "category"


def test_a_ticket_waiting_on_the_tracker_can_be_resolved() -> None:
    assert tickets.resolve(
        given(OPENED, QUALIFIED, TAKEN, DECLARED), ticket_id=T, resolution_procedure="p", by="t"
    )


def test_closing_a_resolved_ticket_sends_a_survey_that_expires() -> None:
    state = given(OPENED, QUALIFIED, TAKEN, RESOLVED)
    assert tickets.close(
        state, ticket_id=T, survey_token_id=SURVEY, now=NOW, survey_ttl=timedelta(days=14), by="t"
    ) == [CLOSED]
    with pytest.raises(OutOfOrder):
        tickets.close(
            given(OPENED, TAKEN),
            ticket_id=T,
            survey_token_id=SURVEY,
            now=NOW,
            survey_ttl=timedelta(days=1),
            by="t",
        )


def test_a_closed_ticket_takes_no_more_work_until_reopened() -> None:
    closed = given(OPENED, QUALIFIED, TAKEN, RESOLVED, CLOSED)
    assert closed.status is Status.CLOSED
    for command in (
        lambda: tickets.post_message(
            closed, ticket_id=T, author="t", body="b", internal=False, by_integrator=False
        ),
        lambda: tickets.take(closed, ticket_id=T, technician="bob"),
        lambda: tickets.qualify(closed, ticket_id=T, category=Category.QUESTION, severity=Severity.LOW),
        lambda: tickets.resolve(closed, ticket_id=T, resolution_procedure="p", by="t"),
    ):
        with pytest.raises(OutOfOrder):
            command()


def test_reopening_a_closed_or_resolved_ticket() -> None:
    reopened = TicketReopened(ticket_id=T, reason="happens again", reopened_by="integrator")
    closed = given(OPENED, QUALIFIED, TAKEN, RESOLVED, CLOSED)
    assert tickets.reopen(closed, ticket_id=T, reason="happens again", by="integrator") == [reopened]
    assert given(OPENED, QUALIFIED, TAKEN, RESOLVED, CLOSED, reopened).status is Status.IN_PROGRESS
    with pytest.raises(CommandRefused):
        tickets.reopen(closed, ticket_id=T, reason="", by="integrator")
    with pytest.raises(OutOfOrder):
        tickets.reopen(given(OPENED, TAKEN), ticket_id=T, reason="r", by="i")


def rate(
    state: tickets.Ticket, now: datetime = NOW, rating: int = 5, token: UUID = SURVEY
) -> list[DomainEvent]:
    return tickets.rate(state, ticket_id=T, survey_token_id=token, rating=rating, comment=" quick! ", now=now)


def test_a_survey_is_answered_once() -> None:
    closed = given(OPENED, QUALIFIED, TAKEN, RESOLVED, CLOSED)
    [rated] = rate(closed)
    assert rated == SatisfactionRated(ticket_id=T, survey_token_id=SURVEY, rating=5, comment="quick!")
    with pytest.raises(OutOfOrder) as refused:
        rate(given(OPENED, QUALIFIED, TAKEN, RESOLVED, CLOSED, rated))
    assert refused.value.code == "survey_already_answered"


def test_an_expired_or_unknown_survey_or_a_bad_rating_is_refused() -> None:
    closed = given(OPENED, QUALIFIED, TAKEN, RESOLVED, CLOSED)
    with pytest.raises(CommandRefused) as expired:
        rate(closed, now=NOW + timedelta(days=14))
    assert expired.value.code == "expired_token"
    with pytest.raises(NotFound):
        rate(closed, token=T)
    with pytest.raises(CommandRefused) as bad:
        rate(closed, rating=6)
    assert bad.value.field == "rating"


def test_ticket_numbers_are_what_people_quote() -> None:
    assert tickets.ticket_number(2026, 123) == "T-2026-000123"
    assert tickets.ticket_number(2027, 1_234_567) == "T-2027-1234567"
    with pytest.raises(ValueError):
        tickets.ticket_number(2026, 0)


def test_a_message_says_whether_the_integrator_or_the_vendor_wrote_it() -> None:
    """The notifier mails the integrator's messages to ops and the vendor's replies to the requester."""
    [from_integrator] = tickets.post_message(
        given(OPENED), ticket_id=T, author="paul", body="Toujours bloquée", internal=False, by_integrator=True
    )
    [reply] = tickets.post_message(
        given(OPENED), ticket_id=T, author="tom", body="Redémarrez", internal=False, by_integrator=False
    )
    assert from_integrator.by_integrator and not reply.by_integrator
