"""The published language: envelope, registry, upcasting and schema snapshots."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import uuid4

import pytest
from pydantic import ValidationError

from contracts import snapshots, topics
from contracts.envelope import Envelope
from contracts.events import REGISTRY, EventRegistry, UnknownEventType
from contracts.events.base import DomainEvent
from contracts.events.onboarding import ElectricalProfileCreated


def test_every_event_is_registered_by_name_and_topic():
    models = REGISTRY.all()
    assert "ElectricalProfileCreated" in models and "TicketResolved" in models
    for name, model in models.items():
        assert model.event_type == name
        assert model.producer in topics.BY_SERVICE, name


def test_the_event_names_the_domain_requires_exist():
    for name in [
        "ProfileReceived",
        "TestSimsShipped",
        "SimsValidated",
        "ProductionOrdered",
        "ISMDelivered",
        "TicketResolved",
    ]:
        assert REGISTRY.knows(name)


def test_an_unknown_type_is_refused():
    with pytest.raises(UnknownEventType):
        REGISTRY.load("NoSuchEvent", 1, {})


def test_events_are_strict():
    with pytest.raises(ValidationError):
        ElectricalProfileCreated.model_validate({"profile_reference": "P-1", "created_by": "ops", "extra": 1})


def test_envelope_refuses_a_naive_date():
    with pytest.raises(ValidationError):
        Envelope(
            event_id=uuid4(),
            event_type="X",
            schema_version=1,
            occurred_at=datetime(2026, 1, 1),
            producer="onboarding",
            stream_id="s",
            stream_version=1,
            integrator_id="i",
            correlation_id=uuid4(),
            payload={},
        )
    Envelope(
        event_id=uuid4(),
        event_type="X",
        schema_version=1,
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        producer="onboarding",
        stream_id="s",
        stream_version=1,
        integrator_id="i",
        correlation_id=uuid4(),
        payload={},
    )


def test_an_older_version_is_upcast_to_the_current_shape():
    registry = EventRegistry()

    class Renamed(DomainEvent):
        producer: ClassVar[str] = ""
        schema_version: ClassVar[int] = 2
        full_name: str

    registry.register(Renamed)

    @registry.upcaster("Renamed", 1)
    def v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
        return {"full_name": f"{payload['first']} {payload['last']}"}

    event = registry.load("Renamed", 1, {"first": "Ada", "last": "Lovelace"})
    assert event == Renamed(full_name="Ada Lovelace")
    with pytest.raises(ValueError, match="newer"):
        registry.load("Renamed", 3, {})


def test_schema_snapshots_match_the_code():
    assert snapshots.check() == []


def test_an_incompatible_change_is_detected():
    old = {"properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "required": ["a"]}
    assert snapshots.incompatibilities(old, old) == []
    assert snapshots.incompatibilities(old, {"properties": {"a": {"type": "string"}}, "required": ["a"]}) == [
        "field 'b' removed"
    ]
    retyped = {"properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a"]}
    assert snapshots.incompatibilities(old, retyped) == ["field 'a' changed type"]
    stricter = {"properties": {**old["properties"], "c": {"type": "string"}}, "required": ["a", "c"]}
    assert snapshots.incompatibilities(old, stricter) == ["field 'c' is newly required"]
    additive = {"properties": {**old["properties"], "c": {"type": "string"}}, "required": ["a"]}
    assert snapshots.incompatibilities(old, additive) == []
