"""One traceparent parser (OpenTelemetry's W3C propagator) for the relay, the ops views and the rest."""

from __future__ import annotations

import pytest

from chassis.http import trace_id_of
from chassis.relay import _span_context_of
from chassis.telemetry import span_context_of

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
GOOD = f"00-{TRACE_ID}-b7ad6b7169203331-01"


def test_a_well_formed_traceparent_names_a_remote_span():
    span = span_context_of(GOOD)
    assert span is not None
    assert (span.trace_id, span.span_id, span.trace_flags, span.is_remote) == (
        int(TRACE_ID, 16),
        0xB7AD6B7169203331,
        1,
        True,
    )
    assert _span_context_of(GOOD.encode()) == span  # the relay reads the stored bytes
    assert trace_id_of({"traceparent": GOOD}) == TRACE_ID


@pytest.mark.parametrize(
    "traceparent",
    [
        "",
        "garbage",
        f"ff-{TRACE_ID}-b7ad6b7169203331-01",  # version ff is forbidden
        f"00-{'0' * 32}-b7ad6b7169203331-01",  # all-zero trace id
        f"00-{TRACE_ID}-{'0' * 16}-01",  # all-zero span id
        f"00-{TRACE_ID[:-1]}x-b7ad6b7169203331-01",  # not hex
        f"00-{TRACE_ID}-b7ad6b716920333-01",  # a digit short
        f"00-{TRACE_ID}-b7ad6b7169203331-01-extra",  # version 00 has exactly four parts
    ],
)
def test_a_malformed_traceparent_names_nothing(traceparent):
    assert span_context_of(traceparent) is None
    assert _span_context_of(traceparent.encode()) is None
    assert trace_id_of({"traceparent": traceparent}) is None


def test_no_trace_context_names_nothing():
    assert _span_context_of(None) is None
    assert trace_id_of(None) is None
    assert trace_id_of({}) is None
