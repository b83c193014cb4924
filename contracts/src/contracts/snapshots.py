"""JSON-Schema snapshots of every event, checked in under `contracts/schemas/` (`make schemas`).

A snapshot is named `<EventType>.v<schema_version>.json`. Changing an event additively (a new
optional field) updates its snapshot; an incompatible change (a field removed, retyped or newly
required) must come with a `schema_version` bump and an upcaster, which makes a new snapshot file and
keeps the old one: the log still holds events of the old shape.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from contracts.events import REGISTRY

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"


def current_schemas() -> dict[str, dict[str, Any]]:
    return {
        f"{name}.v{model.schema_version}.json": model.model_json_schema()
        for name, model in REGISTRY.all().items()
    }


def incompatibilities(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What a consumer of `old` payloads would trip over in `new` (or vice versa)."""
    problems = []
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, schema in old_props.items():
        if name not in new_props:
            problems.append(f"field {name!r} removed")
        elif _type_of(schema) != _type_of(new_props[name]):
            problems.append(f"field {name!r} changed type")
    for name in set(new.get("required", [])) - set(old.get("required", [])):
        problems.append(f"field {name!r} is newly required")
    return problems


def _type_of(schema: dict[str, Any]) -> Any:
    keep = ("type", "$ref", "anyOf", "items", "enum", "format", "pattern")
    return json.dumps({k: schema.get(k) for k in keep if k in schema}, sort_keys=True)


def check() -> list[str]:
    """Every difference between the code and the snapshots, as sentences."""
    problems = []
    current = current_schemas()
    for filename, schema in current.items():
        path = SCHEMAS_DIR / filename
        if not path.exists():
            problems.append(f"{filename}: no snapshot (run `make schemas`)")
            continue
        old = json.loads(path.read_text())
        if old == schema:
            continue
        breaking = incompatibilities(old, schema)
        if breaking:
            problems.append(f"{filename}: incompatible change without a version bump: {'; '.join(breaking)}")
        else:
            problems.append(f"{filename}: snapshot out of date (compatible change: run `make schemas`)")
    return problems


def write() -> int:
    SCHEMAS_DIR.mkdir(parents=True, exist_ok=True)
    refused = [p for p in check() if "incompatible" in p]
    if refused:
        for p in refused:
            print(p, file=sys.stderr)
        print(
            "bump schema_version (and register an upcaster) instead of changing a published event",
            file=sys.stderr,
        )
        return 1
    for filename, schema in current_schemas().items():
        (SCHEMAS_DIR / filename).write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    print(f"{len(current_schemas())} event schemas written to {SCHEMAS_DIR}")
    return 0


if __name__ == "__main__":
    if "--write" in sys.argv:
        raise SystemExit(write())
    found = check()
    print("\n".join(found) or "snapshots up to date")
    raise SystemExit(1 if found else 0)
