"""The six services' AsyncAPI documents, checked in under `contracts/asyncapi/<service>.json`.

`python -m platform_cli.asyncapi --write` (from `make schemas`) writes them; without `--write` it lists
the documents that differ from what the code describes (the test does the same). Each document comes
from the service's own runtime (`build_runtime`), as served at its `/asyncapi`: the one description.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from chassis import asyncapi

ASYNCAPI_DIR = Path(__file__).resolve().parents[2] / "contracts" / "asyncapi"

#: Service name -> its Python package (the wiring is `<package>.app.build_runtime`).
PACKAGES = {
    "onboarding": "onboarding",
    "sim-logistics": "sim_logistics",
    "ism-provisioning": "ism_provisioning",
    "support": "support",
    "notifier": "notifier",
    "web": "web",
}


def current_documents() -> dict[str, dict[str, Any]]:
    documents = {}
    for service, package in PACKAGES.items():
        app = importlib.import_module(f"{package}.app")
        runtime = app.build_runtime(app.Settings())
        try:
            documents[service] = asyncapi.document_for(runtime)
        finally:
            runtime.tracer_provider.shutdown()  # built only to be described: no exporter left running
    return documents


def check() -> list[str]:
    problems = []
    for service, doc in current_documents().items():
        path = ASYNCAPI_DIR / f"{service}.json"
        if not path.exists():
            problems.append(f"{path.name}: no document (run `make schemas`)")
        elif path.read_text() != asyncapi.dumps(doc):
            problems.append(f"{path.name}: out of date (run `make schemas` and review the difference)")
    return problems


def write() -> int:
    ASYNCAPI_DIR.mkdir(parents=True, exist_ok=True)
    documents = current_documents()
    for service, doc in documents.items():
        (ASYNCAPI_DIR / f"{service}.json").write_text(asyncapi.dumps(doc))
    print(f"{len(documents)} AsyncAPI documents written to {ASYNCAPI_DIR}")
    return 0


if __name__ == "__main__":
    if "--write" in sys.argv:
        raise SystemExit(write())
    found = check()
    print("\n".join(found) or "AsyncAPI documents up to date")
    raise SystemExit(1 if found else 0)
