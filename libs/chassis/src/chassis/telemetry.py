"""OpenTelemetry: one tracer provider per service; OTLP/HTTP when an endpoint is set, else OTLP JSON lines.

The W3C `traceparent` of the request is stored with every event appended, so the relay publishes in
the original trace, and consumers continue it from the Kafka headers (P7).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult


class OtlpJsonLinesExporter(SpanExporter):
    """Writes each batch as one OTLP/JSON `ExportTraceServiceRequest` line (ids in hex, as OTLP/JSON
    requires), the format an OTel collector's file receiver or `otel-cli` reads back."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        request = MessageToDict(encode_spans(spans))
        for resource_spans in request.get("resourceSpans", []):
            for scope_spans in resource_spans.get("scopeSpans", []):
                for span in scope_spans.get("spans", []):
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if span.get(key):
                            span[key] = base64.b64decode(span[key]).hex()
                    for link in span.get("links", []):
                        for key in ("traceId", "spanId"):
                            if link.get(key):
                                link[key] = base64.b64decode(link[key]).hex()
        line = json.dumps(request, separators=(",", ":"))
        with self._lock, self._path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def make_tracer_provider(service: str, otlp_endpoint: str | None, traces_dir: Path) -> TracerProvider:
    """A provider of the service's own (not the global one, so several services can share a test process)."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    exporter: SpanExporter
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=otlp_endpoint.rstrip("/") + "/v1/traces")
    else:
        exporter = OtlpJsonLinesExporter(traces_dir / f"{service}.jsonl")
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=500))
    return provider


def current_trace_carrier() -> dict[str, str]:
    """The W3C trace context of the current span, to store with an event or put in Kafka headers."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def context_from_carrier(carrier: Mapping[str, str]) -> otel_context.Context:
    return propagate.extract(dict(carrier))


def context_from_kafka_headers(headers: Sequence[tuple[str, bytes]] | None) -> otel_context.Context:
    carrier = {k: v.decode("latin-1") for k, v in (headers or []) if k in ("traceparent", "tracestate")}
    return propagate.extract(carrier)


def span_attributes(envelope: Any) -> dict[str, str]:
    """The attributes ops filter traces by."""
    return {
        "integrator.id": str(envelope.integrator_id),
        "event.type": str(envelope.event_type),
        "event.id": str(envelope.event_id),
    }


__all__ = [
    "OtlpJsonLinesExporter",
    "context_from_carrier",
    "context_from_kafka_headers",
    "current_trace_carrier",
    "make_tracer_provider",
    "span_attributes",
    "trace",
]
