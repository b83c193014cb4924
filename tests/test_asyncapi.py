"""The services' AsyncAPI documents: checked in, valid AsyncAPI 3.0, true to the code, and served."""

from __future__ import annotations

import copy
import importlib
import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from chassis import asyncapi
from contracts import topics
from contracts.events import REGISTRY
from platform_cli.asyncapi import ASYNCAPI_DIR, PACKAGES, current_documents

SPEC = Path(__file__).parent / "fixtures" / "asyncapi" / "asyncapi-3.0.0.schema.json"


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    return current_documents()


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads(SPEC.read_text()))


def checked_in(service: str) -> dict[str, Any]:
    return json.loads((ASYNCAPI_DIR / f"{service}.json").read_text())


def test_every_service_has_its_document_checked_in_and_up_to_date(documents):
    assert set(documents) == set(topics.BY_SERVICE) == set(PACKAGES)
    for service, doc in documents.items():
        path = ASYNCAPI_DIR / f"{service}.json"
        assert path.exists(), f"{path.name}: run `make schemas`"
        assert path.read_text() == asyncapi.dumps(doc), f"{path.name} is out of date: run `make schemas`"


@pytest.mark.parametrize("service", sorted(topics.BY_SERVICE))
def test_the_checked_in_document_is_valid_asyncapi_3(service, validator):
    doc = checked_in(service)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator.iter_errors(doc)]
    assert errors == []
    # The JSON Schema does not follow references: each one must point at something in the document.
    for ref in _refs(doc):
        assert ref.startswith("#/"), ref
        node: Any = doc
        for part in ref[2:].split("/"):
            assert part in node, f"{ref} points at nothing"
            node = node[part]


def test_the_validator_refuses_a_document_that_breaks_the_spec(validator):
    """The gate can fail: an operation with AsyncAPI 2's `publish`, a message whose payload is not a
    schema, and a Kafka binding with a field the binding does not have are each refused."""
    doc = checked_in("notifier")
    message = next(iter(doc["components"]["messages"]))
    for breaks in (
        lambda d: next(iter(d["operations"].values())).update(action="publish"),
        lambda d: d["components"]["messages"][message].update(payload=5),
        lambda d: d["components"]["messages"][message]["bindings"]["kafka"].update(partitions=3),
    ):
        broken = copy.deepcopy(doc)
        breaks(broken)
        assert list(validator.iter_errors(broken)), "a broken document passed"


@pytest.mark.parametrize("service", sorted(topics.BY_SERVICE))
def test_a_document_says_what_the_service_publishes_and_consumes(service, documents):
    doc = documents[service]
    runtime_reactions = importlib.import_module(f"{PACKAGES[service]}.reactions").REACTIONS
    sends = [op for op in doc["operations"].values() if op["action"] == "send"]
    assert len(sends) == 1
    own = asyncapi.channel_id(topics.BY_SERVICE[service])
    assert sends[0]["channel"] == {"$ref": f"#/channels/{own}"}
    assert doc["channels"][own]["address"] == topics.BY_SERVICE[service]
    produced = {name for name, model in REGISTRY.all().items() if model.producer == service}
    assert produced, f"{service} publishes no event?"
    assert {_name(m) for m in sends[0]["messages"]} == produced
    received: dict[str, set[str]] = {}
    for op in doc["operations"].values():
        if op["action"] == "receive":
            address = doc["channels"][op["channel"]["$ref"].rsplit("/", 1)[-1]]["address"]
            received.setdefault(address, set()).update(_name(m) for m in op["messages"])
    expected: dict[str, set[str]] = {}
    for reaction in runtime_reactions:
        for topic in reaction.topics:
            expected.setdefault(topic, set()).update(
                t for t in reaction.handles if topics.BY_SERVICE[REGISTRY.model(t).producer] == topic
            )
    assert received == expected
    # A message's payload is the envelope around the event's schema (the `make schemas` snapshot).
    for name in produced:
        payload = doc["components"]["messages"][name]["payload"]
        assert payload["properties"]["event_type"]["const"] == name
        assert payload["properties"]["payload"] == {"$ref": f"#/components/schemas/{name}"}
        snapshot_name = f"{name}.v{REGISTRY.model(name).schema_version}.json"
        snapshot = json.loads(
            (Path(__file__).parents[1] / "contracts" / "schemas" / snapshot_name).read_text()
        )
        schema = doc["components"]["schemas"][name]
        assert schema["properties"].keys() == snapshot["properties"].keys()
        assert schema.get("required") == snapshot.get("required")


@pytest.mark.parametrize("service", ["notifier", "web"])
async def test_the_document_is_served_as_json_and_as_a_page(service):
    app_module = importlib.import_module(f"{PACKAGES[service]}.app")
    runtime = app_module.build_runtime(app_module.Settings())
    try:
        transport = httpx.ASGITransport(app=runtime.http_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            served = await client.get("/asyncapi")
            page = await client.get("/asyncapi.html")
    finally:
        runtime.tracer_provider.shutdown()
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("application/json")
    assert served.json() == checked_in(service)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "<script" not in text
    assert topics.BY_SERVICE[service] in text
    for name in served.json()["components"]["messages"]:
        assert f"id='message-{name}'" in text
    # The fields of one published event are listed, with their types.
    published = next(m for m in REGISTRY.all().values() if m.producer == service)
    for field_name in published.model_fields:
        assert f"<code>{field_name}</code>" in text


def _name(ref: dict[str, str]) -> str:
    return ref["$ref"].rsplit("/", 1)[-1]


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []
