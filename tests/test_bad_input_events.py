"""Property tests: whatever arrives on a topic, a consumer either reads a valid event or names the
poison — it never crashes (P6). Every event model survives a JSON round trip unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from aiokafka.structs import ConsumerRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from chassis.consumer import MAX_MESSAGE_BYTES, Poison, decode
from contracts.events import REGISTRY

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def message(value: bytes) -> ConsumerRecord:
    return ConsumerRecord(
        topic="t",
        partition=0,
        offset=0,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=value,
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=len(value),
        headers=[],
    )


def envelope(event_type: str, payload: object) -> dict:
    return {
        "event_id": str(uuid4()),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": datetime(2026, 1, 5, tzinfo=UTC).isoformat(),
        "producer": "onboarding",
        "stream_id": "s",
        "stream_version": 1,
        "integrator_id": "i",
        "correlation_id": str(uuid4()),
        "causation_id": None,
        "payload": payload,
    }


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_are_an_event_or_poison(raw: bytes):
    try:
        decode(message(raw))
    except Poison as poison:
        assert str(poison)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_type=st.sampled_from(sorted(REGISTRY.all())), data=st.data())
def test_any_payload_for_any_event_type_is_an_event_or_poison(event_type: str, data: st.DataObject):
    model = REGISTRY.model(event_type)
    fields = list(model.model_fields)
    payload = data.draw(st.fixed_dictionaries({}, optional={f: json_values for f in fields}))
    raw = json.dumps(envelope(event_type, payload)).encode()
    try:
        rec = decode(message(raw))
    except Poison as poison:
        assert event_type in str(poison) or "envelope" in str(poison)
        return
    # Accepted: it round-trips unchanged through its JSON form.
    again = REGISTRY.load(event_type, 1, json.loads(rec.event.model_dump_json()))
    assert again == rec.event


@pytest.mark.parametrize("event_type", sorted(REGISTRY.all()))
def test_a_wrong_payload_names_the_field(event_type: str):
    with pytest.raises(ValidationError):
        REGISTRY.load(event_type, 1, {"not_a_field": 1})
    raw = json.dumps(envelope(event_type, {"not_a_field": 1})).encode()
    model = REGISTRY.model(event_type)
    if any(f.is_required() for f in model.model_fields.values()):
        with pytest.raises(Poison, match=event_type):
            decode(message(raw))
    else:
        # A consumer reads tolerantly: a field it does not know is ignored, not poison (issue 16).
        assert decode(message(raw)).event == model()


def test_a_huge_message_is_poison_before_it_is_parsed():
    with pytest.raises(Poison, match="exceeds"):
        decode(message(b" " * (MAX_MESSAGE_BYTES + 1)))
