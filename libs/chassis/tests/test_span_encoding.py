"""The JSON-lines exporter writes OTLP/JSON itself (the protobuf round trip was ~4x the cost per
span): it must say exactly what the OpenTelemetry library's own encoder says."""

from __future__ import annotations

import base64

from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from chassis.telemetry import OtlpJsonLinesExporter


def _library_encoding(spans) -> dict:
    """`MessageToDict(encode_spans(...))`, with ids turned from base64 into hex as our files keep them."""
    request = MessageToDict(encode_spans(spans))
    for resource_spans in request["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for owner in (span, *span.get("links", [])):
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if owner.get(key):
                            owner[key] = base64.b64decode(owner[key]).hex()
    return request


def test_the_hand_written_otlp_json_equals_the_librarys():
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "onboarding", "replica": 2}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("chassis", "1.0")
    with tracer.start_as_current_span("POST /integrators", kind=SpanKind.SERVER) as request:
        request.set_attribute("integrator.id", "i-1")
        request.set_attribute("http.status_code", 201)
        request.set_attribute("sampled", True)
        request.set_attribute("ratio", 0.5)
        request.set_attribute("event.types", ["IntegratorRegistered", "ConfigurationSheetSent"])
        request.add_event("validated", {"fields": 9})
        with tracer.start_as_current_span("append") as append:
            append.set_status(Status(StatusCode.ERROR, "conflict"))
        linked = Link(append.get_span_context(), {"event.id": "e-1"})
    with tracer.start_as_current_span("publish", kind=SpanKind.PRODUCER, links=[linked]) as publish:
        publish.set_status(Status(StatusCode.OK))
    spans = memory.get_finished_spans()
    assert len(spans) == 3
    assert OtlpJsonLinesExporter.encode(spans) == _library_encoding(spans)
