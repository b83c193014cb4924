"""Read the OTLP JSON lines the services write (no collector) and print one trace as a tree."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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
    #: (trace id, span id) of the spans this one links to: the relay publishes a batch of events
    #: in one span linked to each event's appending span (each event's message keeps its own trace).
    links: list[tuple[str, str]] = field(default_factory=list)
    children: list[Span] = field(default_factory=list)

    @property
    def ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


def _value(v: dict[str, Any]) -> Any:
    for key in ("stringValue", "intValue", "boolValue", "doubleValue"):
        if key in v:
            return v[key]
    return v


def read_spans(traces_dir: Path) -> list[Span]:
    spans: list[Span] = []
    for path in sorted(traces_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            request = json.loads(line)
            for rs in request.get("resourceSpans", []):
                attrs = {a["key"]: _value(a["value"]) for a in rs.get("resource", {}).get("attributes", [])}
                service = str(attrs.get("service.name", path.stem))
                for ss in rs.get("scopeSpans", []):
                    for s in ss.get("spans", []):
                        spans.append(
                            Span(
                                trace_id=s["traceId"],
                                span_id=s["spanId"],
                                parent_id=s.get("parentSpanId") or None,
                                name=s["name"],
                                service=service,
                                start_ns=int(s["startTimeUnixNano"]),
                                end_ns=int(s["endTimeUnixNano"]),
                                attributes={a["key"]: _value(a["value"]) for a in s.get("attributes", [])},
                                links=[(k["traceId"], k["spanId"]) for k in s.get("links", [])],
                            )
                        )
    return spans


def linked_into(spans: list[Span], trace_id: str) -> list[Span]:
    """Spans of other traces that link to a span of this one (the relay's publish spans)."""
    return [s for s in spans if s.trace_id != trace_id and any(t == trace_id for t, _ in s.links)]


def trace_tree(spans: list[Span], trace_id: str) -> list[Span]:
    """The roots of one trace, children sorted by start time. A span of another trace that links to
    one of this trace's spans (the relay's batch publish span) is shown under the span it links to."""
    mine = [s for s in spans if s.trace_id == trace_id]
    by_id = {s.span_id: s for s in mine}
    roots = []
    for s in mine:
        parent = by_id.get(s.parent_id or "")
        (parent.children if parent else roots).append(s)
    for s in linked_into(spans, trace_id):
        target = next((by_id[sid] for tid, sid in s.links if tid == trace_id and sid in by_id), None)
        if target is not None:
            target.children.append(s)
    for s in mine:
        s.children.sort(key=lambda c: c.start_ns)
    return sorted(roots, key=lambda r: r.start_ns)


def render(roots: list[Span]) -> str:
    lines: list[str] = []
    t0 = min((r.start_ns for r in roots), default=0)

    def walk(span: Span, depth: int) -> None:
        extra = " ".join(
            f"{k}={span.attributes[k]}" for k in ("event.type", "integrator.id") if k in span.attributes
        )
        linked = " (linked)" if span.trace_id != root_trace else ""
        lines.append(
            f"{'  ' * depth}{span.name}{linked}  [{span.service}]  +{(span.start_ns - t0) / 1e6:.1f}ms  {span.ms:.1f}ms  {extra}".rstrip()
        )
        for child in span.children:
            walk(child, depth + 1)

    root_trace = roots[0].trace_id if roots else ""
    for root in roots:
        walk(root, 0)
    return "\n".join(lines)


def traces_with(spans: list[Span], predicate: Any) -> list[str]:
    seen: dict[str, int] = defaultdict(int)
    for s in spans:
        if predicate(s):
            seen[s.trace_id] = max(seen[s.trace_id], s.start_ns)
    return [t for t, _ in sorted(seen.items(), key=lambda kv: kv[1])]
