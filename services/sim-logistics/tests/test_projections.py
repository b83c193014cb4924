"""The read models: folded from events alone, the same every time (so a rebuild gives the same rows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from contracts.envelope import Envelope
from contracts.events.sim_logistics import (
    ProductionOrdered,
    SimsDelivered,
    StepWentOverdue,
    TestSimsShipped,
    TestSimsStepOpened,
)
from sim_logistics.projections import apply_deadline, apply_timeline, instant, parse_instant

AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DUE = AT + timedelta(days=14)


def envelope(event, at=AT, version=1) -> Envelope:
    return Envelope(
        event_id=uuid4(),
        event_type=event.event_type,
        schema_version=1,
        occurred_at=at,
        producer="sim-logistics",
        stream_id="sims-acme",
        stream_version=version,
        integrator_id="acme",
        correlation_id=uuid4(),
        payload=event.model_dump(mode="json"),
    )


def fold(apply, events):
    row = None
    for version, (event, at) in enumerate(events, start=1):
        row = apply(row, envelope(event, at, version), event)
    return row


def test_instants_compare_as_text_in_time_order() -> None:
    times = [
        AT,
        AT + timedelta(microseconds=1),
        AT + timedelta(seconds=1),
        AT.astimezone(UTC) + timedelta(days=400),
    ]
    assert sorted(instant(t) for t in times) == [instant(t) for t in times]
    assert parse_instant(instant(AT + timedelta(microseconds=7))) == AT + timedelta(microseconds=7)


def test_the_open_deadline_follows_the_running_step_and_goes_at_delivery() -> None:
    opened = TestSimsStepOpened(profile_reference="EP-1", due_at=DUE)
    row = fold(apply_deadline, [(opened, AT)])
    assert row == {"integrator_id": "acme", "step": "test_sims", "due_at": instant(DUE), "overdue": False}
    overdue = StepWentOverdue(step="test_sims", due_at=DUE, detected_at=DUE)
    assert fold(apply_deadline, [(opened, AT), (overdue, DUE)])["overdue"] is True
    order_due = DUE + timedelta(weeks=4)
    ordered = ProductionOrdered(
        quantity=10, delivery_address="Paris", artwork_reference="a" * 64, due_at=order_due, ordered_by="bob"
    )
    row = fold(apply_deadline, [(opened, AT), (overdue, DUE), (ordered, DUE)])
    assert (row["step"], row["due_at"], row["overdue"]) == ("production", instant(order_due), False)
    delivered = SimsDelivered(
        quantity=10, iccid_first="1", iccid_last="2", delivery_note_number="BL", delivered_by="ops"
    )
    assert fold(apply_deadline, [(opened, AT), (ordered, DUE), (delivered, DUE)]) is None


def test_the_timeline_shows_due_dates_lateness_and_every_event() -> None:
    opened = TestSimsStepOpened(profile_reference="EP-1", due_at=DUE)
    shipped = TestSimsShipped(
        iccids=["1", "2"],
        carrier="La Poste",
        tracking_number="T1",
        profile_reference="EP-1",
        shipped_by="ops",
    )
    overdue = StepWentOverdue(step="test_sims", due_at=DUE, detected_at=DUE + timedelta(seconds=1))
    ordered = ProductionOrdered(
        quantity=10,
        delivery_address="Paris",
        artwork_reference="a" * 64,
        due_at=DUE + timedelta(weeks=4),
        ordered_by="bob",
        late_by_seconds=3600,
    )
    row = fold(
        apply_timeline, [(opened, AT), (shipped, AT), (overdue, DUE), (ordered, DUE + timedelta(hours=1))]
    )
    assert row["current_step"] == "production"
    assert row["steps"]["test_sims"]["due_at"] == DUE.isoformat()
    assert row["steps"]["test_sims"]["overdue"] is True
    assert row["steps"]["test_sims"]["late_by_seconds"] == 3600
    assert row["steps"]["production"]["due_at"] == (DUE + timedelta(weeks=4)).isoformat()
    assert row["test_sims"]["iccids"] == ["1", "2"] and row["test_sims"]["carrier"] == "La Poste"
    assert [e["event"] for e in row["timeline"]] == [
        "TestSimsStepOpened",
        "TestSimsShipped",
        "StepWentOverdue",
        "ProductionOrdered",
    ]
