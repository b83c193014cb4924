"""Read models of onboarding, folded from its own events only (so they rebuild from its own log).

- `onboarding_status`: one row per integrator — dossier checklist, current step, what is missing
  for go-live, due dates, overdue, and the history of events with their timestamps. The integrators
  list (filterable by step and overdue) reads the same table through its expression indexes.
- `integrator_sirets`: SIRET -> integrator, the lookup that refuses a duplicate registration.

The read model must say exactly what the domain decides, so it restates none of it: the status
row's facts (step 1, each item's status, milestones, deadlines, go-live) move by the domain's own
`evolve`, and the step, overdue and go-live gaps come from the domain's rules on that state.
"""

from __future__ import annotations

from datetime import datetime
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


def _state(row: Row) -> domain.Integrator:
    """The domain's state as far as the row keeps it: what `evolve` moves on, and what the step and
    the go-live rule read."""
    return domain.Integrator(
        registered=True,
        configuration_sheet_sent=row["configuration_sheet_sent"],
        profile_received=row["profile_received"],
        profile_reference=row["profile_reference"],
        dossier={
            DossierItem(item): domain.ItemState(domain.ItemStatus(entry["status"]))
            for item, entry in row["dossier"].items()
        },
        milestones=frozenset(domain.Milestone(m) for m in row["milestones"]),
        due_at={step: datetime.fromisoformat(at) for step, at in row["due_at"].items()},
        overdue_steps=frozenset(row["overdue_steps"]),
        live=row["live"],
    )


def _facts(state: domain.Integrator) -> Row:
    """The row's part that is the domain's state, as JSON (lists sorted: a rebuild must match)."""
    return {
        "configuration_sheet_sent": state.configuration_sheet_sent,
        "profile_received": state.profile_received,
        "profile_reference": state.profile_reference,
        "milestones": sorted(m.value for m in state.milestones),
        "due_at": {step: at.isoformat() for step, at in state.due_at.items()},
        "overdue_steps": sorted(state.overdue_steps),
        "live": state.live,
    }


def apply_status(row: Row | None, envelope: Envelope, event: DomainEvent) -> Row | None:
    """The domain's own `evolve` moves the state's part of the row (step 1, milestones, deadlines,
    overdue steps, go-live, each item's status); this adds what only the read model keeps: when
    each thing happened, the files and their details, the history."""
    if isinstance(event, IntegratorRegistered):
        row = _new_status(envelope, event)
    if row is None:
        return None  # an event before registration cannot happen; nothing to show
    state = domain.evolve(_state(row), event)
    row = {**row, **_facts(state), "history": [*row["history"], _history_entry(envelope, event)]}
    at = envelope.occurred_at.isoformat()
    match event:
        case DossierItemSubmitted():
            entry: Row = {"submitted_at": at, "details": event.details}
            if event.file is not None:
                entry["file"] = event.file.model_dump(mode="json")
            if event.table is not None:
                entry["rows"] = len(event.table.rows)
            row["dossier"] = {**row["dossier"], event.item.value: entry}
        case DossierItemAccepted():
            row["dossier"] = {
                **row["dossier"],
                event.item.value: {**row["dossier"][event.item.value], "accepted_at": at},
            }
        case DossierItemRejected():
            rejected = {**row["dossier"][event.item.value], "rejected_at": at, "reason": event.reason}
            row["dossier"] = {**row["dossier"], event.item.value: rejected}
        case IntegratorWentLive():
            row["went_live_at"] = at
        case IntegratorContactsUpdated():
            row["locale"] = event.locale.value
        case DossierWentOverdue():
            # The dossier's own deadline (DOSSIER_DUE_DAYS after registration), missed once.
            row["dossier_overdue"] = {
                "due_at": event.due_at.isoformat(),
                "missing": [item.value for item in event.missing_items],
            }
    # Each item's status is the domain's, whatever the entry kept of its history.
    row["dossier"] = {
        item.value: {**row["dossier"][item.value], "status": state.item(item).status.value}
        for item in DossierItem
    }
    return _derived(row, state)


def _derived(row: Row, state: domain.Integrator) -> Row:
    """What follows from the facts, by the domain's rules: the step, overdue, what is still missing."""
    step = domain.step_of(state)
    row = {
        **row,
        "step": step.value,
        "overdue": domain.is_overdue(step, state.overdue_steps),
        "missing_for_go_live": domain.missing_for_go_live(state),
        # In the dossier's order, not the row's: JSONB does not keep key order, a rebuild must match.
        "dossier_missing": [
            i.value for i in DossierItem if state.item(i).status is not domain.ItemStatus.ACCEPTED
        ],
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
