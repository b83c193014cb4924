"""The AsyncAPI 3.0 description of a service: the topic it publishes, the topics it consumes, and each
message's schema (the envelope around the event's JSON Schema, as `contracts/schemas/` snapshots it).

Event-driven teams read it as they read OpenAPI for HTTP: served at `/asyncapi` (JSON) and
`/asyncapi.html` (a plain page, no script), and checked in under `contracts/asyncapi/` by
`make schemas` so a change of what a service publishes or consumes shows in review.
"""

from __future__ import annotations

import copy
import html
import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from chassis.consumer import Reaction
from chassis.handled import names_of
from contracts import topics
from contracts.envelope import Envelope
from contracts.events import REGISTRY, DomainEvent

if TYPE_CHECKING:
    from chassis.runtime import ServiceRuntime

ASYNCAPI_VERSION = "3.0.0"
#: The Kafka message binding's version the documents follow (AsyncAPI bindings, kafka 0.5.0).
KAFKA_BINDING_VERSION = "0.5.0"

#: What the relay puts in every message's Kafka headers (chassis.relay).
HEADERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "event_type": {"type": "string", "description": "The event's type, as in the envelope."},
        "event_id": {"type": "string", "format": "uuid", "description": "The event's id (the inbox key)."},
        "traceparent": {
            "type": "string",
            "description": "W3C trace context of the request that appended it.",
        },
        "tracestate": {"type": "string", "description": "W3C trace state, when the request had one."},
    },
    "required": ["event_type", "event_id"],
}


def channel_id(topic: str) -> str:
    """A topic's channel key: AsyncAPI 3 keys are `[A-Za-z0-9_-]`, topics have dots."""
    return topic.replace(".", "-")


def produced_by(service: str) -> list[type[DomainEvent]]:
    """The events whose `producer` is this service: what its topic carries."""
    return [model for model in REGISTRY.all().values() if model.producer == service]


def topic_of(model: type[DomainEvent]) -> str:
    return topics.BY_SERVICE[model.producer]


def document_for(runtime: ServiceRuntime) -> dict[str, Any]:
    return document(runtime.name, runtime.reactions, description=runtime.http_app.description)


def document(service: str, reactions: Sequence[Reaction], *, description: str = "") -> dict[str, Any]:
    """The AsyncAPI 3.0 document of `service`, deterministic (keys sorted when written)."""
    own_topic = topics.BY_SERVICE[service]
    components: dict[str, Any] = {"messages": {}, "schemas": {}}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}

    def channel(topic: str, models: Iterable[type[DomainEvent]], text: str) -> str:
        key = channel_id(topic)
        entry = channels.setdefault(key, {"address": topic, "description": text, "messages": {}})
        for model in models:
            _add_message(components, model)
            entry["messages"][model.event_type] = {"$ref": f"#/components/messages/{model.event_type}"}
        return key

    published = produced_by(service)
    key = channel(
        own_topic,
        published,
        f"The {service} service's events, keyed by integrator id: one integrator's events in order.",
    )
    operations[f"publish-{key}"] = {
        "action": "send",
        "title": f"{service} publishes its events",
        "description": "Published by the relay from the event store's outbox, at least once (P2).",
        "channel": {"$ref": f"#/channels/{key}"},
        "messages": [{"$ref": f"#/channels/{key}/messages/{m.event_type}"} for m in published],
    }
    for reaction in reactions:
        handled = [REGISTRY.model(t) for t in names_of(reaction.handles)]
        for topic in reaction.topics:
            on_topic = [m for m in handled if topic_of(m) == topic]
            key = channel(topic, on_topic, f"Events of the {_producer_of(topic)} service.")
            operations[f"{reaction.name}-receive-{key}"] = {
                "action": "receive",
                "title": f"{service}'s reaction {reaction.name!r}",
                "description": (
                    "Consumed in batches, each in one database transaction with its inbox rows "
                    "(idempotent, P3); other event types on the topic are skipped, unknown fields "
                    "ignored (tolerant reader); a message that cannot be handled is dead-lettered (P6)."
                ),
                "channel": {"$ref": f"#/channels/{key}"},
                "messages": [{"$ref": f"#/channels/{key}/messages/{m.event_type}"} for m in on_topic],
            }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": f"{service} service",
            "version": "1.0.0",
            "description": description or f"The {service} service.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": components,
    }


def _producer_of(topic: str) -> str:
    return next((s for s, t in topics.BY_SERVICE.items() if t == topic), topic)


def _add_message(components: dict[str, Any], model: type[DomainEvent]) -> None:
    name = model.event_type
    if name in components["messages"]:
        return
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})
    # The event's nested models go to components.schemas; a name another event already uses for a
    # different shape is prefixed with this event's name, so no reference points at the wrong one.
    plain = {d: d for d in definitions}
    clash = any(
        components["schemas"].get(d) not in (None, _rewrite(s, plain)) for d, s in definitions.items()
    )
    names = {d: f"{name}.{d}" if clash else d for d in definitions}
    for d, s in definitions.items():
        components["schemas"][names[d]] = _rewrite(s, names)
    components["schemas"][name] = _rewrite(schema, names)
    summary = (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    components["messages"][name] = {
        "name": name,
        "title": name,
        "summary": summary or name,
        "contentType": "application/json",
        "headers": HEADERS_SCHEMA,
        "payload": _envelope_of(model),
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The integrator id (the partition key)."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _envelope_of(model: type[DomainEvent]) -> dict[str, Any]:
    """The envelope's schema with this event's type, version and producer fixed and its payload."""
    envelope = Envelope.model_json_schema()
    properties = dict(envelope["properties"])
    properties["event_type"] = {"const": model.event_type, "title": "Event Type", "type": "string"}
    properties["schema_version"] = {
        "const": model.schema_version,
        "title": "Schema Version",
        "type": "integer",
    }
    properties["producer"] = {"const": model.producer, "title": "Producer", "type": "string"}
    properties["payload"] = {"$ref": f"#/components/schemas/{model.event_type}"}
    return {**envelope, "title": f"{model.event_type} (envelope)", "properties": properties}


def _rewrite(schema: Any, names: dict[str, str]) -> Any:
    """`#/$defs/X` references rewritten to `#/components/schemas/<names[X]>`."""
    if isinstance(schema, dict):
        out = {k: _rewrite(v, names) for k, v in schema.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            out["$ref"] = f"#/components/schemas/{names[ref.removeprefix('#/$defs/')]}"
        return out
    if isinstance(schema, list):
        return [_rewrite(v, names) for v in schema]
    return copy.copy(schema)


def router() -> APIRouter:
    """`/asyncapi` and `/asyncapi.html`: public, as `/openapi.json` is (a contract, no data)."""
    api = APIRouter(tags=["contracts"])

    def described(request: Request) -> dict[str, Any]:
        # The runtime's reactions do not change once built: described once, on first request.
        state = request.app.state
        if getattr(state, "asyncapi", None) is None:
            state.asyncapi = document_for(state.runtime)
        doc: dict[str, Any] = state.asyncapi
        return doc

    @api.get("/asyncapi")
    async def asyncapi_json(request: Request) -> JSONResponse:
        """The AsyncAPI 3.0 document: the topic this service publishes, those it consumes, the messages."""
        return JSONResponse(described(request))

    @api.get("/asyncapi.html", response_class=HTMLResponse)
    async def asyncapi_page(request: Request) -> HTMLResponse:
        """The same document as a readable page."""
        return HTMLResponse(render_html(described(request)))

    return api


def dumps(doc: dict[str, Any]) -> str:
    """The checked-in form: sorted keys, two-space indent, a final newline."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- the readable page -------------------------------------------------------------------------


def render_html(doc: dict[str, Any]) -> str:
    """A plain HTML page of the document: channels, operations, messages and their fields."""
    e = html.escape
    schemas = doc["components"]["schemas"]
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(doc['info']['title'])} — AsyncAPI</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem}"
        "table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;padding:.2rem .5rem;"
        "text-align:left;vertical-align:top}code{font-size:.95em}</style></head><body>",
        f"<h1>{e(doc['info']['title'])}</h1>",
        f"<p>AsyncAPI {e(doc['asyncapi'])} — <a href='/asyncapi'>JSON document</a></p>",
        *(f"<p>{e(part)}</p>" for part in doc["info"].get("description", "").split("\n\n")),
    ]
    for action, heading in (("send", "Publishes"), ("receive", "Consumes")):
        out.append(f"<h2>{heading}</h2>")
        found = False
        for op_id, op in sorted(doc["operations"].items()):
            if op["action"] != action:
                continue
            found = True
            key = op["channel"]["$ref"].rsplit("/", 1)[-1]
            channel = doc["channels"][key]
            names = [m["$ref"].rsplit("/", 1)[-1] for m in op["messages"]]
            out.append(f"<h3 id='{e(op_id)}'>Topic <code>{e(channel['address'])}</code></h3>")
            out.append(f"<p>{e(op.get('title', ''))}. {e(op.get('description', ''))}</p><ul>")
            out.extend(f"<li><a href='#message-{e(n)}'>{e(n)}</a></li>" for n in names)
            out.append("</ul>" if names else "<li>(none)</li></ul>")
        if not found:
            out.append("<p>Nothing.</p>")
    out.append("<h2>Envelope</h2><p>Every message is one event in this envelope, as JSON:</p>")
    out.append(_fields_table(Envelope.model_json_schema(), schemas))
    out.append("<h2>Messages</h2>")
    for name, message in sorted(doc["components"]["messages"].items()):
        out.append(f"<h3 id='message-{e(name)}'>{e(name)}</h3><p>{e(message.get('summary', ''))}</p>")
        out.append(_fields_table(schemas[name], schemas))
    nested = sorted(set(schemas) - set(doc["components"]["messages"]))
    if nested:
        out.append("<h2>Types</h2><p>The shapes the messages' fields refer to.</p>")
    for name in nested:
        out.append(f"<h3 id='type-{e(name)}'>{e(name)}</h3><p>{e(schemas[name].get('description', ''))}</p>")
        if "enum" in schemas[name]:
            out.append(f"<p>One of: {e(', '.join(map(str, schemas[name]['enum'])))}</p>")
        else:
            out.append(_fields_table(schemas[name], schemas))
    out.append("</body></html>")
    return "\n".join(out)


def _fields_table(schema: dict[str, Any], schemas: dict[str, Any]) -> str:
    e = html.escape
    required = set(schema.get("required", []))
    rows = ["<table><tr><th>field</th><th>type</th><th>required</th><th>description</th></tr>"]
    for field_name, spec in schema.get("properties", {}).items():
        rows.append(
            f"<tr><td><code>{e(field_name)}</code></td><td>{e(_type_text(spec, schemas))}</td>"
            f"<td>{'yes' if field_name in required else ''}</td><td>{e(spec.get('description', ''))}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _type_text(spec: dict[str, Any], schemas: dict[str, Any], depth: int = 0) -> str:
    """A one-line type: `string (uuid)`, `array of Contact`, `one of: fr, en`, `integer | null`."""
    if "$ref" in spec:
        name = str(spec["$ref"]).rsplit("/", 1)[-1]
        target = schemas.get(name, {})
        if "enum" in target:
            return f"{name}: one of " + ", ".join(map(str, target["enum"]))
        return name
    if "const" in spec:
        return f"= {spec['const']}"
    if "enum" in spec:
        return "one of " + ", ".join(map(str, spec["enum"]))
    if "anyOf" in spec and depth < 3:
        return " | ".join(_type_text(s, schemas, depth + 1) for s in spec["anyOf"])
    kind = spec.get("type", "any")
    if kind == "array" and isinstance(spec.get("items"), dict):
        return f"array of {_type_text(spec['items'], schemas, depth + 1)}"
    if "format" in spec:
        return f"{kind} ({spec['format']})"
    return str(kind)


__all__ = ["channel_id", "document", "document_for", "dumps", "produced_by", "render_html", "router"]
