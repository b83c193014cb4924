"""OpenTelemetry: one tracer provider per service; OTLP/HTTP when an endpoint is set, else OTLP JSON lines.

The W3C `traceparent` of the request is stored with every event appended, so the relay publishes in
the original trace, and consumers continue it from the Kafka headers (P7).
"""

from __future__ import annotations

import base64
import functools
import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanContext, SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_KIND = {
    SpanKind.INTERNAL: "SPAN_KIND_INTERNAL",
    SpanKind.SERVER: "SPAN_KIND_SERVER",
    SpanKind.CLIENT: "SPAN_KIND_CLIENT",
    SpanKind.PRODUCER: "SPAN_KIND_PRODUCER",
    SpanKind.CONSUMER: "SPAN_KIND_CONSUMER",
}
_STATUS = {StatusCode.OK: "STATUS_CODE_OK", StatusCode.ERROR: "STATUS_CODE_ERROR"}
#: SpanFlags: the context's is_remote is known (256), and it is remote (512).
_HAS_IS_REMOTE, _IS_REMOTE = 256, 512


def _any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}  # int64 is a string in OTLP/JSON
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode()}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": _key_values(value)}}
    if isinstance(value, Sequence):
        return {"arrayValue": {"values": [_any_value(v) for v in value]}}
    return {"stringValue": str(value)}


def _key_values(attributes: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    return [{"key": str(k), "value": _any_value(v)} for k, v in (attributes or {}).items()]


def _flags(context: SpanContext | None) -> int:
    return _HAS_IS_REMOTE | _IS_REMOTE if context is not None and context.is_remote else _HAS_IS_REMOTE


def _otlp_json_span(span: ReadableSpan) -> dict[str, Any]:
    """One span as OTLP/JSON (what `MessageToDict(encode_spans(...))` gives, ids in hex), written
    directly: the protobuf round trip cost ~45 µs a span, on a thread that shares the GIL."""
    context = span.get_span_context()
    assert context is not None
    out: dict[str, Any] = {
        "traceId": format(context.trace_id, "032x"),
        "spanId": format(context.span_id, "016x"),
    }
    if context.trace_state:
        out["traceState"] = ",".join(f"{k}={v}" for k, v in context.trace_state.items())
    if span.parent is not None:
        out["parentSpanId"] = format(span.parent.span_id, "016x")
    out["flags"] = _flags(span.parent)
    out["name"] = span.name
    out["kind"] = _KIND.get(span.kind, "SPAN_KIND_INTERNAL")
    out["startTimeUnixNano"] = str(span.start_time or 0)
    out["endTimeUnixNano"] = str(span.end_time or 0)
    if span.attributes:
        out["attributes"] = _key_values(span.attributes)
    if span.dropped_attributes:
        out["droppedAttributesCount"] = span.dropped_attributes
    if span.events:
        out["events"] = [
            {"timeUnixNano": str(e.timestamp), "name": e.name}
            | ({"attributes": _key_values(e.attributes)} if e.attributes else {})
            for e in span.events
        ]
    if span.dropped_events:
        out["droppedEventsCount"] = span.dropped_events
    if span.links:
        out["links"] = [
            {
                "traceId": format(link.context.trace_id, "032x"),
                "spanId": format(link.context.span_id, "016x"),
                "flags": _flags(link.context),
            }
            | ({"attributes": _key_values(link.attributes)} if link.attributes else {})
            for link in span.links
        ]
    if span.dropped_links:
        out["droppedLinksCount"] = span.dropped_links
    status: dict[str, Any] = {}
    if span.status.status_code in _STATUS:
        status["code"] = _STATUS[span.status.status_code]
    if span.status.description:
        status["message"] = span.status.description
    out["status"] = status
    return out


class OtlpJsonLinesExporter(SpanExporter):
    """Writes each batch as one OTLP/JSON `ExportTraceServiceRequest` line (ids in hex, as OTLP/JSON
    requires), the format an OTel collector's file receiver or `otel-cli` reads back."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def encode(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
        """The `ExportTraceServiceRequest` of `spans`, grouped by resource and scope."""
        # Grouped by identity: a Resource hashes by JSON-encoding its attributes, on every span.
        grouped: dict[int, tuple[Any, dict[int, tuple[Any, list[dict[str, Any]]]]]] = {}
        for span in spans:
            _, scopes = grouped.setdefault(id(span.resource), (span.resource, {}))
            scope_ = span.instrumentation_scope
            scopes.setdefault(id(scope_), (scope_, []))[1].append(_otlp_json_span(span))
        resource_spans = []
        for resource, scopes in grouped.values():
            scope_spans = []
            for scope, encoded in scopes.values():
                entry: dict[str, Any] = {}
                if scope is not None:
                    entry["scope"] = {
                        k: v for k, v in (("name", scope.name), ("version", scope.version)) if v
                    }
                entry["spans"] = encoded
                if scope is not None and scope.schema_url:
                    entry["schemaUrl"] = scope.schema_url
                scope_spans.append(entry)
            item: dict[str, Any] = {
                "resource": {"attributes": _key_values(resource.attributes if resource else None)},
                "scopeSpans": scope_spans,
            }
            if resource is not None and resource.schema_url:
                item["schemaUrl"] = resource.schema_url
            resource_spans.append(item)
        return {"resourceSpans": resource_spans}

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        line = json.dumps(self.encode(spans), separators=(",", ":"))
        with self._lock, self._path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


_database_traced = threading.Lock()


def trace_database_queries(provider: TracerProvider) -> None:
    """A span per asyncpg query (execute, fetch…, BEGIN and COMMIT included), children of the
    current span, with its statement (never its parameters). The instrumentation patches asyncpg's
    classes for the whole process, once: the first service that asks gives the provider (a service
    process runs one service; in a test process the others' queries are exported as the first's)."""
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    with _database_traced:
        instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]  # a singleton (untyped)
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=provider)


def make_tracer_provider(service: str, otlp_endpoint: str | None, traces_dir: Path) -> TracerProvider:
    """A provider of the service's own (not the global one, so several services can share a test process)."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    exporter: SpanExporter
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=otlp_endpoint.rstrip("/") + "/v1/traces")
    else:
        exporter = OtlpJsonLinesExporter(traces_dir / f"{service}.jsonl")
    # A queue deep enough for a consumer's burst (a span per message) between two exports.
    provider.add_span_processor(
        BatchSpanProcessor(
            exporter, schedule_delay_millis=500, max_queue_size=8192, max_export_batch_size=1024
        )
    )
    return provider


def current_trace_carrier() -> dict[str, str]:
    """The W3C trace context of the current span, to store with an event or put in Kafka headers."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


#: The W3C trace context propagator: the one parser of a `traceparent` in the platform.
_W3C = TraceContextTextMapPropagator()


@functools.lru_cache(maxsize=1024)
def span_context_of(traceparent: str) -> SpanContext | None:
    """The span a W3C `traceparent` names (`00-<32 hex>-<16 hex>-<2 hex>`), as OpenTelemetry's
    propagator reads it (version, lengths, hex, all-zero ids refused); None when it is malformed.
    Cached: a command's events share their traceparent, and the relay reads it for each event."""
    context = trace.get_current_span(_W3C.extract({"traceparent": traceparent})).get_span_context()
    return context if context.is_valid else None


def context_from_kafka_headers(headers: Sequence[tuple[str, bytes]] | None) -> otel_context.Context:
    carrier = {
        k: v.decode("latin-1")
        for k, v in (headers or [])
        if k in ("traceparent", "tracestate") and v is not None  # a header may have no value
    }
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
    "context_from_kafka_headers",
    "current_trace_carrier",
    "make_tracer_provider",
    "span_attributes",
    "span_context_of",
    "trace",
]
