"""Read models of support, folded from its own events only (so each rebuilds from its own log).

- `support_tickets`: one row per ticket — the whole file as the seed wants it kept for ever:
  description, qualification, technician, exchanges (internal notes flagged), tracker, resolution
  procedure, closings and their surveys, history. The API hides internal notes from integrators.
- `support_surveys`: survey token id -> ticket, to answer a survey link that names only the token.
- `support_approvals`: one row per integrator — company name, employees, approval (and its
  suspension), maintenance contract.
- `support_integrators`: one row per integrator — company data and contacts learnt from onboarding.
- `support_releases`: one row (key "vendor") — every release in publication order, so "current
  certified" is decided in one place (`domain.releases.current_certified`).
- `support_installations`: one row per installation report.
- `support_ticket_numbers`: one row per year (key "2026") — the last ticket number given, read by
  the opening of the next one (`commands.open_ticket`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from chassis.projections import Projection
from contracts.envelope import Envelope
from contracts.events import DomainEvent
from contracts.events.support import (
    VENDOR_WIDE,
    Category,
    CharterSigned,
    EmployeeDeclared,
    InstallationReported,
    IntegratorApprovalRevoked,
    IntegratorApprovalSuspended,
    IntegratorApproved,
    IntegratorNoted,
    IntegratorWarnedOfWithdrawal,
    MaintenanceContractRecorded,
    ReleasePublished,
    ReleaseWithdrawn,
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
    TrainingRecorded,
)
from support.domain import approval, releases, tickets

Row = dict[str, Any]

TICKET_EVENTS = {
    TicketOpened,
    TicketQualified,
    TicketTaken,
    TicketMessagePosted,
    TrackerDeclarationMade,
    TicketStillWaitingOnTracker,
    TrackerDeclarationSettled,
    TicketResolved,
    TicketClosed,
    TicketReopened,
    SatisfactionRated,
}
APPROVAL_EVENTS = {
    EmployeeDeclared,
    TrainingRecorded,
    CharterSigned,
    IntegratorApproved,
    IntegratorApprovalRevoked,
    MaintenanceContractRecorded,
    IntegratorWarnedOfWithdrawal,
    IntegratorApprovalSuspended,
    IntegratorNoted,
}


def _ticket_state(row: Row | None) -> tickets.Ticket:
    """The domain's state of a ticket, from the fields its file keeps of that state."""
    if row is None:
        return tickets.Ticket()
    return tickets.Ticket(
        opened=True,
        status=tickets.Status(row["status"]),
        category=Category(row["category"]) if row["category"] else None,
        severity=Severity(row["severity"]) if row["severity"] else None,
        technician=row["technician"],
        tracker_reference=row["tracker_reference"],
        surveys={
            UUID(s["token_id"]): tickets.Survey(
                expires_at=datetime.fromisoformat(s["expires_at"]), answered=s["rating"] is not None
            )
            for s in row["surveys"]
        },
    )


def _state_fields(state: tickets.Ticket) -> Row:
    return {
        "status": state.status.value,
        "category": state.category.value if state.category else None,
        "severity": state.severity.value if state.severity else None,
        "technician": state.technician,
        "tracker_reference": state.tracker_reference,
    }


def apply_ticket(row: Row | None, envelope: Envelope, event: DomainEvent) -> Row | None:
    if row is None and not isinstance(event, TicketOpened):
        return None
    at = envelope.occurred_at.isoformat()
    # The ticket's stages are the domain's (`tickets.evolve`), not restated here: the file keeps the
    # state's fields, and adds what the domain does not need (texts, dates, exchanges, history).
    state = tickets.evolve(_ticket_state(row), event, envelope.occurred_at)
    if isinstance(event, TicketOpened):
        row = {
            "ticket_id": str(event.ticket_id),
            "ticket_number": event.ticket_number,
            "integrator_id": envelope.integrator_id,
            "channel": event.channel.value,
            "requester": event.requester.model_dump(mode="json"),
            "subject": event.subject,
            "description": event.description,
            "opened_by": event.opened_by,
            "opened_at": at,
            "first_taken_at": None,
            "tracker_outcome": None,
            "resolution_procedure": None,
            "resolved_by": None,
            "resolved_at": None,
            "closed_at": None,
            "messages": [],
            "surveys": [],
            "history": [],
        }
    assert row is not None
    row = {
        **row,
        **_state_fields(state),
        "history": [*row["history"], {"event": envelope.event_type, "at": at}],
    }
    match event:
        case TicketTaken():
            row["first_taken_at"] = row["first_taken_at"] or at
        case TicketMessagePosted():
            message = {
                "author": event.author,
                "body": event.body,
                "internal": event.internal,
                "by_integrator": event.by_integrator,
                "at": at,
            }
            row["messages"] = [*row["messages"], message]
        case TrackerDeclarationMade():
            row["tracker_outcome"] = None
        case TicketStillWaitingOnTracker():
            row["last_tracker_reminder_at"] = at
        case TrackerDeclarationSettled():
            row["tracker_outcome"] = event.outcome
        case TicketResolved():
            row |= {
                "resolution_procedure": event.resolution_procedure,
                "resolved_by": event.resolved_by,
                "resolved_at": at,
            }
        case TicketClosed():
            survey = {
                "token_id": str(event.survey_token_id),
                "sent_at": at,
                "expires_at": event.survey_expires_at.isoformat(),
                "rating": None,
                "comment": None,
                "rated_at": None,
            }
            row |= {"closed_at": at, "surveys": [*row["surveys"], survey]}
        case TicketReopened():
            row |= {"closed_at": None, "reopen_reason": event.reason}
        case SatisfactionRated():
            token = str(event.survey_token_id)
            row["surveys"] = [
                {**s, "rating": event.rating, "comment": event.comment, "rated_at": at}
                if s["token_id"] == token
                else s
                for s in row["surveys"]
            ]
    return row


def apply_survey(row: Row | None, envelope: Envelope, event: DomainEvent) -> Row | None:
    if isinstance(event, TicketClosed):
        return {
            "token_id": str(event.survey_token_id),
            "ticket_id": str(event.ticket_id),
            "integrator_id": envelope.integrator_id,
            "expires_at": event.survey_expires_at.isoformat(),
            "answered": False,
        }
    if row is not None and isinstance(event, SatisfactionRated):
        return {**row, "answered": True, "rating": event.rating}
    return row


def _survey_key(envelope: Envelope, event: DomainEvent) -> str | None:
    if isinstance(event, TicketClosed | SatisfactionRated):
        return str(event.survey_token_id)
    return None


def apply_approval(row: Row | None, envelope: Envelope, event: DomainEvent) -> Row | None:
    at = envelope.occurred_at.isoformat()
    row = row or {
        "integrator_id": envelope.integrator_id,
        "legal_name": None,
        "suspended_at": None,
        "suspension_reason": None,
        "employees": {},
        "approved": False,
        "approved_at": None,
        "revoked_at": None,
        "revocation_reason": None,
        "with_maintenance_contract": None,
        "withdrawal_warnings": [],
    }
    employees = row["employees"]
    match event:
        case EmployeeDeclared():
            current = employees.get(event.employee_name, {"trainings": [], "charter": None})
            employees = {
                **employees,
                event.employee_name: {**current, "represents": event.represents_integrator},
            }
        case TrainingRecorded():
            current = employees[event.employee_name]
            training = {"session_date": event.session_date.isoformat(), "trainer": event.trainer}
            employees = {
                **employees,
                event.employee_name: {**current, "trainings": [*current["trainings"], training]},
            }
        case CharterSigned():
            charter = {"signed_on": event.signed_on.isoformat(), "version": event.charter_version}
            employees = {
                **employees,
                event.employee_name: {**employees[event.employee_name], "charter": charter},
            }
        case IntegratorApproved():
            row = {**row, "approved": True, "approved_at": at, "revoked_at": None, "revocation_reason": None}
            row |= {"suspended_at": None, "suspension_reason": None}
        case IntegratorApprovalSuspended():
            row = {**row, "approved": False, "suspended_at": at, "suspension_reason": event.reason}
        case IntegratorNoted():
            # The company's name, for lists that people read (not UUIDs).
            row = {**row, "legal_name": event.legal_name}
        case IntegratorApprovalRevoked():
            row = {**row, "approved": False, "revoked_at": at, "revocation_reason": event.reason}
        case MaintenanceContractRecorded():
            row = {**row, "with_maintenance_contract": event.with_contract}
        case IntegratorWarnedOfWithdrawal():
            warning = {"version": event.version, "warning_message": event.warning_message, "at": at}
            row = {**row, "withdrawal_warnings": [*row["withdrawal_warnings"], warning]}
    row = {**row, "employees": employees}
    # What the domain decides, restated from the facts here: who still has to train or sign.
    state = approval.Approval(
        employees={
            name: approval.Employee(
                represents_integrator=e["represents"],
                trained=bool(e["trainings"]),
                charter_version=(e["charter"] or {}).get("version"),
            )
            for name, e in employees.items()
        },
        with_maintenance_contract=row["with_maintenance_contract"],
    )
    return {
        **row,
        "conditions_unmet": approval.conditions_unmet(state),
        "mandatory_updates": approval.update_terms(state).value,
    }


def apply_integrator(row: Row | None, envelope: Envelope, event: DomainEvent) -> Row | None:
    assert isinstance(event, IntegratorNoted)
    return {
        "integrator_id": envelope.integrator_id,
        "legal_name": event.legal_name,
        "siret": event.siret,
        "address": event.address,
        "contacts": [c.model_dump(mode="json") for c in event.contacts],
        "noted_at": envelope.occurred_at.isoformat(),
    }


def apply_release(row: Row | None, envelope: Envelope, event: DomainEvent) -> Row | None:
    row = row or {"releases": []}
    at = envelope.occurred_at.isoformat()
    entries = list(row["releases"])
    match event:
        case ReleasePublished():
            entries.append(
                {
                    "version": event.version,
                    "release_notes": event.release_notes,
                    "certified": event.certified,
                    "published_at": at,
                    "withdrawn": False,
                    "withdrawn_at": None,
                    "withdrawal_reason": None,
                    "warning_message": None,
                }
            )
        case ReleaseWithdrawn():
            entries = [
                {
                    **e,
                    "withdrawn": True,
                    "withdrawn_at": at,
                    "withdrawal_reason": event.reason,
                    "warning_message": event.warning_message,
                }
                if e["version"] == event.version
                else e
                for e in entries
            ]
    catalogue = [releases.Release(e["version"], True, e["certified"], e["withdrawn"]) for e in entries]
    return {"releases": entries, "current_certified": releases.current_certified(catalogue)}


def apply_installation(row: Row | None, envelope: Envelope, event: DomainEvent) -> Row | None:
    assert isinstance(event, InstallationReported)
    return {
        "report_id": str(event.report_id),
        "integrator_id": envelope.integrator_id,
        "end_user_site": event.end_user_site,
        "version": event.version,
        "hardware_compatible": event.hardware_compatible,
        "nf525_checklist": event.nf525_checklist,
        "reported_by": event.reported_by,
        "reported_at": envelope.occurred_at.isoformat(),
    }


def _ticket_year(envelope: Envelope, event: DomainEvent) -> str | None:
    # `T-2026-000123`: the year's counter (tickets opened before numbers existed have none).
    if isinstance(event, TicketOpened) and event.ticket_number:
        return event.ticket_number.split("-")[1]
    return None


def apply_ticket_number(row: Row | None, envelope: Envelope, event: DomainEvent) -> Row | None:
    assert isinstance(event, TicketOpened) and event.ticket_number
    sequence = int(event.ticket_number.split("-")[2])
    return {"last": max(sequence, row["last"] if row else 0)}


ticket_files = Projection(
    name="support_tickets",
    handles=TICKET_EVENTS,
    key=lambda env, ev: str(getattr(ev, "ticket_id", "")) or None,
    apply=apply_ticket,
    indexes=["((data->>'status'))", "((data->>'opened_at'))", "((data->>'ticket_number') text_pattern_ops)"],
)
surveys = Projection(
    name="support_surveys",
    handles={TicketClosed, SatisfactionRated},
    key=_survey_key,
    apply=apply_survey,
)
approvals = Projection(
    name="support_approvals",
    handles=APPROVAL_EVENTS,
    key=lambda env, ev: env.integrator_id,
    apply=apply_approval,
    indexes=["(((data->>'approved')::boolean))"],
)
integrator_directory = Projection(
    name="support_integrators",
    handles={IntegratorNoted},
    key=lambda env, ev: env.integrator_id,
    apply=apply_integrator,
)
release_catalogue = Projection(
    name="support_releases",
    handles={ReleasePublished, ReleaseWithdrawn},
    key=lambda env, ev: VENDOR_WIDE,
    apply=apply_release,
)
installation_reports = Projection(
    name="support_installations",
    handles={InstallationReported},
    key=lambda env, ev: str(ev.report_id) if isinstance(ev, InstallationReported) else None,
    apply=apply_installation,
)
ticket_numbers = Projection(
    name="support_ticket_numbers",
    handles={TicketOpened},
    key=_ticket_year,
    apply=apply_ticket_number,
)

PROJECTIONS = [
    ticket_files,
    surveys,
    approvals,
    integrator_directory,
    release_catalogue,
    installation_reports,
    ticket_numbers,
]

#: The counter view came after tickets had numbers: on the first start after the upgrade, while it
#: is empty, it is filled from the ticket files (the same last numbers as a rebuild), so that no
#: number is given twice. Idempotent: run at every start, it does nothing once the view has a row.
MIGRATIONS = [
    "INSERT INTO support_ticket_numbers (key, integrator_id, data, position) "
    "SELECT split_part(data->>'ticket_number', '-', 2), 'vendor', "
    "jsonb_build_object('last', max(split_part(data->>'ticket_number', '-', 3)::int)), max(position) "
    "FROM support_tickets WHERE data->>'ticket_number' IS NOT NULL "
    "AND NOT EXISTS (SELECT 1 FROM support_ticket_numbers) GROUP BY 1"
]
