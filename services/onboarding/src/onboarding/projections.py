"""Read models of onboarding, folded from its own events only (so they rebuild from its own log).

- `onboarding_status`: one row per integrator — dossier checklist, current step, what is missing
  for go-live, due dates, overdue, and the history of events with their timestamps. The integrators
  list (filterable by step and overdue) reads the same table through its expression indexes.
- `integrator_sirets`: SIRET -> integrator, the lookup that refuses a duplicate registration.

The step and go-live rules come from `domain` (pure functions): the read model must say exactly
what the domain decides, so it reuses them rather than restating them.
"""

from __future__ import annotations

from typing import Any

from chassis.projections import Projection
from contracts.envelope import Envelope
from contracts.events import DomainEvent
from contracts.events.common import DossierItem
from contracts.events.onboarding import (
    ConfigurationSheetSent,
    DossierItemAccepted,
    DossierItemRejected,
    DossierItemSubmitted,
    DossierWentOverdue,
    ElectricalProfileCreated,
    IntegratorContactsUpdated,
    IntegratorRegistered,
    IntegratorWentLive,
    OnboardingMilestoneNoted,
    OnboardingStepWentOverdue,
    ProfileReceived,
)
from onboarding import domain, pending

Row = dict[str, Any]

STATUS_EVENTS = {
    IntegratorRegistered,
    ConfigurationSheetSent,
    DossierItemSubmitted,
    DossierItemAccepted,
    DossierItemRejected,
    ProfileReceived,
    ElectricalProfileCreated,
    OnboardingMilestoneNoted,
    OnboardingStepWentOverdue,
    IntegratorWentLive,
    IntegratorContactsUpdated,
    DossierWentOverdue,
}


def _new_status(envelope: Envelope, event: IntegratorRegistered) -> Row:
    return {
        "integrator_id": envelope.integrator_id,
        "legal_name": event.legal_name,
        "siret": event.siret,
        "locale": event.locale.value,
        "registered_at": envelope.occurred_at.isoformat(),
        "configuration_sheet_sent": False,
        "profile_received": False,
        "profile_reference": None,
        "milestones": [],
        "due_at": {},
        "overdue_steps": [],
        "live": False,
        "went_live_at": None,
        "dossier": {item.value: {"status": domain.ItemStatus.MISSING.value} for item in DossierItem},
        "history": [],
    }


def _history_entry(envelope: Envelope, event: DomainEvent) -> Row:
    entry: Row = {"event": envelope.event_type, "at": envelope.occurred_at.isoformat()}
    for name in ("item", "reason", "milestone", "step", "profile_reference", "due_at"):
        value = getattr(event, name, None)
        if value is not None:
            entry[name] = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return entry


def apply_status(row: Row | None, envelope: Envelope, event: DomainEvent) -> Row | None:
    if isinstance(event, IntegratorRegistered):
        row = _new_status(envelope, event)
    if row is None:
        return None  # an event before registration cannot happen; nothing to show
    row = {**row, "history": [*row["history"], _history_entry(envelope, event)]}
    at = envelope.occurred_at.isoformat()
    match event:
        case ConfigurationSheetSent():
            row["configuration_sheet_sent"] = True
        case ProfileReceived():
            row["profile_received"] = True
        case ElectricalProfileCreated():
            row["profile_reference"] = event.profile_reference
        case DossierItemSubmitted():
            entry: Row = {"status": "submitted", "submitted_at": at, "details": event.details}
            if event.file is not None:
                entry["file"] = event.file.model_dump(mode="json")
            if event.table is not None:
                entry["rows"] = len(event.table.rows)
            row["dossier"] = {**row["dossier"], event.item.value: entry}
        case DossierItemAccepted():
            current = row["dossier"][event.item.value]
            row["dossier"] = {
                **row["dossier"],
                event.item.value: {**current, "status": "accepted", "accepted_at": at},
            }
        case DossierItemRejected():
            current = row["dossier"][event.item.value]
            rejected = {**current, "status": "rejected", "rejected_at": at, "reason": event.reason}
            row["dossier"] = {**row["dossier"], event.item.value: rejected}
        case OnboardingMilestoneNoted():
            row["milestones"] = sorted({*row["milestones"], event.milestone})
            step = domain.STEP_OF_DEADLINE.get(domain.Milestone(event.milestone))
            if step is not None and event.due_at is not None:
                row["due_at"] = {**row["due_at"], step: event.due_at.isoformat()}
        case OnboardingStepWentOverdue():
            row["overdue_steps"] = sorted({*row["overdue_steps"], event.step})
        case IntegratorWentLive():
            row["live"] = True
            row["went_live_at"] = at
        case IntegratorContactsUpdated():
            row["locale"] = event.locale.value
        case DossierWentOverdue():
            # The dossier's own deadline (DOSSIER_DUE_DAYS after registration), missed once.
            row["dossier_overdue"] = {
                "due_at": event.due_at.isoformat(),
                "missing": [item.value for item in event.missing_items],
            }
    return _derived(row)


def _derived(row: Row) -> Row:
    """What follows from the facts: the step, overdue, and what is still missing."""
    step = domain.current_step(
        live=row["live"],
        milestones=row["milestones"],
        profile_created=row["profile_reference"] is not None,
        configuration_started=row["configuration_sheet_sent"] or row["profile_received"],
    )
    accepted = {DossierItem(k) for k, v in row["dossier"].items() if v["status"] == "accepted"}
    row = {
        **row,
        "step": step.value,
        "overdue": domain.is_overdue(step, row["overdue_steps"]),
        "missing_for_go_live": domain.go_live_gaps(
            profile_created=row["profile_reference"] is not None,
            milestones=row["milestones"],
            accepted_items=accepted,
        ),
        # In the dossier's order, not the row's: JSONB does not keep key order, a rebuild must match.
        "dossier_missing": [i.value for i in DossierItem if row["dossier"][i.value]["status"] != "accepted"],
    }
    # What is pending and on whom, stored so the board filters "waiting on the vendor" in SQL.
    todo = pending.pending(row)
    return {**row, "pending": todo, "waiting_on": pending.waiting_on(todo)}


def apply_siret(row: Row | None, envelope: Envelope, event: DomainEvent) -> Row | None:
    assert isinstance(event, IntegratorRegistered)
    return {"siret": event.siret, "integrator_id": envelope.integrator_id}


status = Projection(
    name="onboarding_status",
    handles=STATUS_EVENTS,
    key=lambda env, ev: env.integrator_id,
    apply=apply_status,
    indexes=["((data->>'step'))", "(((data->>'overdue')::boolean))"],
)

sirets = Projection(
    name="integrator_sirets",
    handles={IntegratorRegistered},
    key=lambda env, ev: ev.siret if isinstance(ev, IntegratorRegistered) else None,
    apply=apply_siret,
)

PROJECTIONS = [status, sirets]
