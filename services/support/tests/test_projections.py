"""The ticket file and approval read models, folded from events as the runtime folds them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

from contracts.envelope import Envelope
from contracts.events import DomainEvent
from contracts.events.support import (
    CharterSigned,
    EmployeeDeclared,
    IntegratorApproved,
    MaintenanceContractRecorded,
    ReleasePublished,
    ReleaseWithdrawn,
    SatisfactionRated,
    TicketMessagePosted,
    TicketReopened,
    TrainingRecorded,
)
from support.projections import apply_approval, apply_release, apply_ticket

from .test_tickets import (
    CLOSED,
    OPENED,
    QUALIFIED,
    RESOLVED,
    SURVEY,
    TAKEN,
    T,
)

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def fold(apply: Any, events: list[DomainEvent], integrator: str = "acme") -> dict[str, Any] | None:
    row = None
    for i, event in enumerate(events):
        envelope = Envelope(
            event_id=uuid4(),
            event_type=event.event_type,
            schema_version=1,
            occurred_at=AT + timedelta(minutes=i),
            producer="support",
            stream_id="s",
            stream_version=i + 1,
            integrator_id=integrator,
            correlation_id=uuid4(),
            payload=event.model_dump(mode="json"),
        )
        row = apply(row, envelope, event)
    return row


def test_the_ticket_file_keeps_everything_including_after_closing() -> None:
    note = TicketMessagePosted(ticket_id=T, author="tech", body="internal", internal=True)
    rated = SatisfactionRated(ticket_id=T, survey_token_id=SURVEY, rating=4, comment="ok")
    row = fold(apply_ticket, [OPENED, QUALIFIED, TAKEN, note, RESOLVED, CLOSED, rated])
    assert row is not None
    assert (row["status"], row["category"], row["technician"]) == ("closed", "incident", "tech-anne")
    assert row["first_taken_at"] == (AT + timedelta(minutes=2)).isoformat()
    assert row["messages"] == [
        {
            "author": "tech",
            "body": "internal",
            "internal": True,
            "by_integrator": False,
            "at": row["messages"][0]["at"],
        }
    ]
    assert row["resolution_procedure"] == "restored the Z report"
    assert [(s["token_id"], s["rating"]) for s in row["surveys"]] == [(str(SURVEY), 4)]
    assert len(row["history"]) == 7


def test_reopening_keeps_the_first_taking_and_the_past_surveys() -> None:
    reopened = TicketReopened(ticket_id=T, reason="again", reopened_by="i")
    row = fold(apply_ticket, [OPENED, QUALIFIED, TAKEN, RESOLVED, CLOSED, reopened])
    assert row is not None
    assert (row["status"], row["closed_at"], len(row["surveys"])) == ("in_progress", None, 1)


def test_an_event_of_an_unknown_ticket_makes_no_row() -> None:
    assert fold(apply_ticket, [TAKEN]) is None


def test_the_approval_row_says_who_still_has_to_train_or_sign() -> None:
    row = fold(
        apply_approval,
        [
            EmployeeDeclared(employee_name="Anne", represents_integrator=True, declared_by="t"),
            EmployeeDeclared(employee_name="Bob", represents_integrator=True, declared_by="t"),
            TrainingRecorded(employee_name="Anne", session_date=date(2026, 2, 1), trainer="G"),
        ],
    )
    assert row is not None
    assert row["conditions_unmet"] == [
        "Anne: NF525 charter not signed",
        "Bob: initial training not recorded",
        "Bob: NF525 charter not signed",
    ]
    assert row["approved"] is False and row["mandatory_updates"] == "billed_per_licence"
    done = fold(
        apply_approval,
        [
            EmployeeDeclared(employee_name="Anne", represents_integrator=True, declared_by="t"),
            TrainingRecorded(employee_name="Anne", session_date=date(2026, 2, 1), trainer="G"),
            CharterSigned(employee_name="Anne", signed_on=date(2026, 2, 1), charter_version="v1"),
            IntegratorApproved(approved_by="t"),
            MaintenanceContractRecorded(with_contract=True, recorded_by="t"),
        ],
    )
    assert done is not None and done["approved"] and done["mandatory_updates"] == "free"


def test_the_catalogue_keeps_publication_order_and_the_current_certified_version() -> None:
    row = fold(
        apply_release,
        [
            ReleasePublished(version="3.1.0", release_notes="n", certified=True, published_by="t"),
            ReleasePublished(version="3.2.0", release_notes="n", certified=True, published_by="t"),
            ReleaseWithdrawn(version="3.2.0", reason="r", warning_message="do not install", withdrawn_by="t"),
        ],
        integrator="vendor",
    )
    assert row is not None
    assert [r["version"] for r in row["releases"]] == ["3.1.0", "3.2.0"]
    assert row["current_certified"] == "3.1.0"
    assert row["releases"][1]["warning_message"] == "do not install"
