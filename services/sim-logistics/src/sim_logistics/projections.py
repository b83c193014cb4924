"""Read models of sim-logistics, folded from this service's own events (rebuildable from the log, P4).

- `sims_deadlines`: one row per integrator whose step 2 or 3 is running: the step, its due date,
  whether it went overdue. The deadline schedule and the ops "overdue now" query read it, so
  neither scans the event store. The row goes when the SIMs are delivered (no deadline left).
- `sims_timeline`: one row per integrator: the SIM timeline (every event, in order), each step's
  due date, completion and lateness, and where the test SIMs and the production stand.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chassis.projections import Projection
from contracts.envelope import Envelope
from contracts.events import DomainEvent
from contracts.events.sim_logistics import (
    ArtworkAcceptanceNoted,
    DeliveryNoteSent,
    ProductionOrdered,
    ProductionStarted,
    SimsDelivered,
    SimsReceptionConfirmed,
    SimsRejected,
    SimsValidated,
    StepWentOverdue,
    TestSimsReceived,
    TestSimsShipped,
    TestSimsStepOpened,
    ValidationCallBooked,
)

Row = dict[str, Any]

INSTANT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def instant(at: datetime) -> str:
    """A fixed-width UTC form, so that comparing the text compares the instants (the deadline
    query filters `data->>'due_at' <= now` on an index)."""
    return at.astimezone(UTC).strftime(INSTANT_FORMAT)


def parse_instant(text: str) -> datetime:
    return datetime.strptime(text, INSTANT_FORMAT).replace(tzinfo=UTC)


# --- open deadlines -------------------------------------------------------------------------------


def apply_deadline(row: Row | None, env: Envelope, event: DomainEvent) -> Row | None:
    match event:
        case TestSimsStepOpened():
            return {
                "integrator_id": env.integrator_id,
                "step": "test_sims",
                "due_at": instant(event.due_at),
                "overdue": False,
            }
        case ProductionOrdered():
            return {
                "integrator_id": env.integrator_id,
                "step": "production",
                "due_at": instant(event.due_at),
                "overdue": False,
            }
        case StepWentOverdue() if row is not None and row["step"] == event.step:
            return {**row, "overdue": True, "overdue_detected_at": instant(event.detected_at)}
        case SimsDelivered():
            return None
    return row


deadlines = Projection(
    name="sims_deadlines",
    handles={TestSimsStepOpened, ProductionOrdered, StepWentOverdue, SimsDelivered},
    key=lambda env, ev: env.integrator_id,
    apply=apply_deadline,
    indexes=["((data->>'due_at'))"],
)


# --- the timeline ---------------------------------------------------------------------------------


def _empty_step() -> Row:
    return {
        "due_at": None,
        "overdue": False,
        "overdue_detected_at": None,
        "completed_at": None,
        "late_by_seconds": None,
    }


def _empty_timeline(integrator_id: str) -> Row:
    return {
        "integrator_id": integrator_id,
        "profile_reference": None,
        "current_step": None,
        "accepted_artwork": None,
        "steps": {"test_sims": _empty_step(), "production": _empty_step()},
        "test_sims": {
            "shipments": 0,
            "iccids": [],
            "carrier": None,
            "tracking_number": None,
            "received": False,
            "call": None,
            "outcome": None,
            "rejections": [],
        },
        "production": {
            "quantity": None,
            "delivery_address": None,
            "artwork_reference": None,
            "started": False,
            "delivery": None,
            "delivery_note_sent": False,
            "tariff_grid_reference": None,
            "reception_confirmed": False,
        },
        "timeline": [],
    }


def _step(row: Row, name: str, **changes: Any) -> None:
    row["steps"] = {**row["steps"], name: {**row["steps"][name], **changes}}


def apply_timeline(row: Row | None, env: Envelope, event: DomainEvent) -> Row:
    row = dict(row or _empty_timeline(env.integrator_id))
    at = env.occurred_at.isoformat()
    tests, production = dict(row["test_sims"]), dict(row["production"])
    match event:
        case TestSimsStepOpened():
            row["profile_reference"] = event.profile_reference
            row["current_step"] = "test_sims"
            _step(row, "test_sims", due_at=event.due_at.isoformat())
        case ArtworkAcceptanceNoted():
            row["accepted_artwork"] = event.artwork_reference
        case TestSimsShipped():
            tests.update(
                shipments=tests["shipments"] + 1,
                iccids=event.iccids,
                carrier=event.carrier,
                tracking_number=event.tracking_number,
                received=False,
                call=None,
                outcome=None,
            )
        case TestSimsReceived():
            tests["received"] = True
        case ValidationCallBooked():
            tests["call"] = {
                "starts_at": event.starts_at.isoformat(),
                "duration_minutes": event.duration_minutes,
                "phone": event.phone,
                "rescheduled": event.rescheduled,
            }
        case SimsValidated():
            tests["outcome"] = "validated"
        case SimsRejected():
            tests["outcome"] = "rejected"
            tests["rejections"] = [
                *tests["rejections"],
                {"at": at, "reason": event.reason, "iccids": tests["iccids"]},
            ]
        case ProductionOrdered():
            row["current_step"] = "production"
            _step(row, "test_sims", completed_at=at, late_by_seconds=event.late_by_seconds)
            _step(row, "production", due_at=event.due_at.isoformat())
            production.update(
                quantity=event.quantity,
                delivery_address=event.delivery_address,
                artwork_reference=event.artwork_reference,
            )
        case ProductionStarted():
            production["started"] = True
        case SimsDelivered():
            row["current_step"] = "delivered"
            _step(row, "production", completed_at=at, late_by_seconds=event.late_by_seconds)
            production["delivery"] = {
                "quantity": event.quantity,
                "iccid_first": event.iccid_first,
                "iccid_last": event.iccid_last,
                "delivery_note_number": event.delivery_note_number,
                "delivered_at": at,
            }
        case DeliveryNoteSent():
            production.update(delivery_note_sent=True, tariff_grid_reference=event.tariff_grid_reference)
        case SimsReceptionConfirmed():
            production["reception_confirmed"] = True
        case StepWentOverdue():
            _step(row, event.step, overdue=True, overdue_detected_at=event.detected_at.isoformat())
    row["test_sims"], row["production"] = tests, production
    row["timeline"] = [
        *row["timeline"],
        {"at": at, "event": env.event_type, **event.model_dump(mode="json")},
    ]
    return row


timeline = Projection(
    name="sims_timeline",
    handles={
        TestSimsStepOpened,
        ArtworkAcceptanceNoted,
        TestSimsShipped,
        TestSimsReceived,
        ValidationCallBooked,
        SimsValidated,
        SimsRejected,
        ProductionOrdered,
        ProductionStarted,
        SimsDelivered,
        DeliveryNoteSent,
        SimsReceptionConfirmed,
        StepWentOverdue,
    },
    key=lambda env, ev: env.integrator_id,
    apply=apply_timeline,
)

PROJECTIONS = [deadlines, timeline]
