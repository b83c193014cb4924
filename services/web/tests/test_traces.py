"""The console's trace waterfall, pure: from the services' OTLP JSON lines and from Jaeger's query API."""

from __future__ import annotations

import json
from pathlib import Path

from web import traces

T = "a" * 32
OTHER = "b" * 32


def _span(trace_id: str, span_id: str, name: str, start: int, end: int, **extra: object) -> dict[str, object]:
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(end),
        **extra,
    }


def _line(service: str, *spans: dict[str, object]) -> str:
    return json.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                    "scopeSpans": [{"spans": list(spans)}],
                }
            ]
        }
    )


def test_the_local_spans_of_one_trace_make_a_waterfall_across_services(tmp_path: Path) -> None:
    ms = 1_000_000
    (tmp_path / "sim-logistics.jsonl").write_text(
        _line("sim-logistics", _span(T, "1" * 16, "POST /production-order", 0, 40 * ms))
        + "\n"
        + _line("sim-logistics", _span(OTHER, "9" * 16, "GET /unrelated", 0, ms))
        + "\n"
    )
    consume = _span(
        T,
        "2" * 16,
        "consume ProductionOrdered",
        50 * ms,
        60 * ms,
        parentSpanId="1" * 16,
        attributes=[{"key": "event.type", "value": {"stringValue": "ProductionOrdered"}}],
    )
    (tmp_path / "onboarding.jsonl").write_text(_line("onboarding", consume) + "\n")
    # The relay's batch span lives in a trace of its own, linked to the append: drawn under it.
    publish = _span(OTHER, "3" * 16, "publish", 41 * ms, 45 * ms, links=[{"traceId": T, "spanId": "1" * 16}])
    (tmp_path / "relay.jsonl").write_text(_line("sim-logistics", publish) + "\n" + "{not json\n")

    shown = traces.waterfall(traces._read_local(tmp_path, T), T, "local")
    assert shown is not None
    assert [(r.span.name, r.depth, r.linked) for r in shown.rows] == [
        ("POST /production-order", 0, False),
        ("publish", 1, True),
        ("consume ProductionOrdered", 1, False),
    ]
    assert shown.services == ["onboarding", "sim-logistics"]
    assert shown.total_ms == 60.0
    consume_row = shown.rows[2]
    assert (consume_row.offset_pct, consume_row.width_pct) == (83.33, 16.67)
    assert consume_row.span.shown_attributes() == [("event.type", "ProductionOrdered")]
    assert traces.waterfall(traces._read_local(tmp_path, "c" * 32), "c" * 32, "local") is None


def test_a_jaeger_answer_makes_the_same_waterfall() -> None:
    payload = {
        "data": [
            {
                "traceID": T,
                "spans": [
                    {
                        "traceID": T,
                        "spanID": "1" * 16,
                        "operationName": "POST /production-order",
                        "references": [],
                        "startTime": 1_000,
                        "duration": 40_000,
                        "tags": [{"key": "integrator.id", "type": "string", "value": "i-1"}],
                        "processID": "p1",
                    },
                    {
                        "traceID": T,
                        "spanID": "2" * 16,
                        "operationName": "send email",
                        "references": [{"refType": "CHILD_OF", "traceID": T, "spanID": "1" * 16}],
                        "startTime": 31_000,
                        "duration": 10_000,
                        "tags": [{"key": "email.template", "type": "string", "value": "production_ordered"}],
                        "processID": "p2",
                    },
                ],
                "processes": {"p1": {"serviceName": "sim-logistics"}, "p2": {"serviceName": "notifier"}},
            }
        ]
    }
    shown = traces.waterfall(traces.from_jaeger(payload, T), T, "backend")
    assert shown is not None
    assert [(r.span.service, r.depth) for r in shown.rows] == [("sim-logistics", 0), ("notifier", 1)]
    assert shown.rows[1].span.shown_attributes() == [("email.template", "production_ordered")]
    assert shown.rows[1].offset_ms == 30.0 and shown.rows[1].span.duration_ms == 10.0
