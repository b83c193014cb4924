"""One trace as a waterfall: from the tracing backend's query API when one is configured
(`TRACE_QUERY_URL`, Jaeger's `/api/traces/{id}`), else from the OTLP JSON lines every service writes
to `<TRACES_DIR>/<service>.jsonl` (chassis.telemetry) — the same files `platform trace` reads.

A span of another trace that links to a span of this one (the relay publishes a batch of events in
one span linked to each event's appending span) is shown under the span it links to, marked linked.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
#: The attributes the waterfall shows beside a span (what ops search by), in this order.
SHOWN_ATTRIBUTES = (
    "event.type",
    "event.id",
    "integrator.id",
    "email.template",
    "http.route",
    "http.response.status_code",
    "messaging.destination.name",
)
#: A trace's spans past this are not drawn (a runaway trace must not make a page of megabytes).
MAX_SPANS = 2000


class TraceBackendDown(Exception):
    """The tracing backend did not answer: the page says so rather than showing an empty trace."""


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    service: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    links: list[tuple[str, str]] = field(default_factory=list)
    error: bool = False
    children: list[Span] = field(default_factory=list)

    @property
    def duration_ms(self) -> float:
        return max(0, self.end_ns - self.start_ns) / 1e6

    def shown_attributes(self) -> list[tuple[str, str]]:
        return [(k, str(self.attributes[k])) for k in SHOWN_ATTRIBUTES if k in self.attributes]


@dataclass(frozen=True)
class Row:
    """One line of the waterfall: the span, its depth, where its bar starts and how wide it is (%)."""

    span: Span
    depth: int
    offset_pct: float
    width_pct: float
    offset_ms: float
    linked: bool


@dataclass(frozen=True)
class Waterfall:
    trace_id: str
    rows: list[Row]
    total_ms: float
    services: list[str]
    source: str  # "local" | "backend"


def _value(v: dict[str, Any]) -> Any:
    for key in ("stringValue", "intValue", "boolValue", "doubleValue"):
        if key in v:
            return v[key]
    return json.dumps(v)


def _read_local(traces_dir: Path, trace_id: str) -> list[Span]:
    spans: list[Span] = []
    for path in sorted(traces_dir.glob("*.jsonl")):
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                # Most lines are other traces: a substring test before parsing keeps this cheap. A
                # linking span names the trace id in its links, so it passes the test too.
                if trace_id not in line:
                    continue
                try:
                    request = json.loads(line)
                except ValueError:
                    continue  # a line being written while we read
                for rs in request.get("resourceSpans", []):
                    resource = {
                        a["key"]: _value(a["value"]) for a in rs.get("resource", {}).get("attributes", [])
                    }
                    service = str(resource.get("service.name", path.stem))
                    for ss in rs.get("scopeSpans", []):
                        for s in ss.get("spans", []):
                            links = [(k["traceId"], k["spanId"]) for k in s.get("links", [])]
                            if s["traceId"] != trace_id and not any(t == trace_id for t, _ in links):
                                continue
                            spans.append(
                                Span(
                                    trace_id=s["traceId"],
                                    span_id=s["spanId"],
                                    parent_id=s.get("parentSpanId") or None,
                                    name=s["name"],
                                    service=service,
                                    start_ns=int(s["startTimeUnixNano"]),
                                    end_ns=int(s["endTimeUnixNano"]),
                                    attributes={
                                        a["key"]: _value(a["value"]) for a in s.get("attributes", [])
                                    },
                                    links=links,
                                    error=(s.get("status") or {}).get("code") == "STATUS_CODE_ERROR",
                                )
                            )
                            if len(spans) >= MAX_SPANS:
                                return spans
    return spans


def from_jaeger(payload: dict[str, Any], trace_id: str) -> list[Span]:
    """Jaeger's query API answer (`{"data": [{"spans": [...], "processes": {...}}]}`) as spans."""
    spans: list[Span] = []
    for trace in payload.get("data") or []:
        processes = trace.get("processes") or {}
        for s in trace.get("spans") or []:
            tags = {t["key"]: t.get("value") for t in s.get("tags") or []}
            parent = next(
                (r["spanID"] for r in s.get("references") or [] if r.get("refType") == "CHILD_OF"), None
            )
            links = [
                (r["traceID"].rjust(32, "0"), r["spanID"])
                for r in s.get("references") or []
                if r.get("refType") == "FOLLOWS_FROM"
            ]
            start_ns = int(s["startTime"]) * 1000
            spans.append(
                Span(
                    trace_id=str(s["traceID"]).rjust(32, "0"),
                    span_id=s["spanID"],
                    parent_id=parent,
                    name=s["operationName"],
                    service=str((processes.get(s.get("processID")) or {}).get("serviceName", "?")),
                    start_ns=start_ns,
                    end_ns=start_ns + int(s.get("duration", 0)) * 1000,
                    attributes=tags,
                    links=links,
                    error=bool(tags.get("error")) or tags.get("otel.status_code") == "ERROR",
                )
            )
    return spans[:MAX_SPANS]


def waterfall(spans: list[Span], trace_id: str, source: str) -> Waterfall | None:
    """The spans as a tree in time order, each with its bar; None when no span is of this trace."""
    mine = [s for s in spans if s.trace_id == trace_id]
    if not mine:
        return None
    by_id = {s.span_id: s for s in mine}
    roots: list[Span] = []
    for s in mine:
        parent = by_id.get(s.parent_id or "")
        (parent.children if parent is not None and parent is not s else roots).append(s)
    for s in spans:
        if s.trace_id == trace_id:
            continue
        target = next((by_id[sid] for tid, sid in s.links if tid == trace_id and sid in by_id), None)
        if target is not None:
            target.children.append(s)
    every = [*mine, *(s for s in spans if s.trace_id != trace_id)]
    t0 = min(s.start_ns for s in every)
    t1 = max(s.end_ns for s in every)
    total = max(t1 - t0, 1)
    rows: list[Row] = []
    seen: set[int] = set()

    def walk(span: Span, depth: int) -> None:
        if id(span) in seen:  # a malformed trace with a cycle: each span once
            return
        seen.add(id(span))
        offset = (span.start_ns - t0) / total * 100
        width = max((span.end_ns - span.start_ns) / total * 100, 0.3)
        rows.append(
            Row(
                span=span,
                depth=depth,
                offset_pct=round(offset, 2),
                width_pct=round(min(width, 100 - offset), 2),
                offset_ms=(span.start_ns - t0) / 1e6,
                linked=span.trace_id != trace_id,
            )
        )
        for child in sorted(span.children, key=lambda c: c.start_ns):
            walk(child, depth + 1)

    for root in sorted(roots, key=lambda r: r.start_ns):
        walk(root, 0)
    services = sorted({r.span.service for r in rows})
    return Waterfall(trace_id=trace_id, rows=rows, total_ms=total / 1e6, services=services, source=source)


async def load(
    trace_id: str, *, traces_dir: Path, query_url: str | None, http: httpx.AsyncClient
) -> Waterfall | None:
    """The trace's waterfall, or None when no span of it is known (yet)."""
    if query_url:
        try:
            response = await http.get(f"{query_url.rstrip('/')}/api/traces/{trace_id}", timeout=10)
        except httpx.TransportError:
            raise TraceBackendDown(query_url) from None
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise TraceBackendDown(query_url)
        return waterfall(from_jaeger(response.json(), trace_id), trace_id, "backend")
    spans = await asyncio.to_thread(_read_local, traces_dir, trace_id)
    return waterfall(spans, trace_id, "local")
