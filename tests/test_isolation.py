"""Isolation and authentication on every endpoint of every service: no token, 401; an integrator's
token on another integrator's data, 403/404 and nothing of the other's data."""

from __future__ import annotations

import importlib
import re
import uuid
from typing import Any

import pytest

SERVICES = ["onboarding", "sim_logistics", "ism_provisioning", "support", "notifier"]

#: Reachable without a bearer token, by design: probes, the API docs (OpenAPI and AsyncAPI), the
#: metrics a Prometheus scrapes, and links whose signed token is the credential (set-password, survey).
PUBLIC = re.compile(
    r"^/(healthz|readyz|metrics|docs.*|redoc.*|openapi\.json|asyncapi.*|ism/set-password.*|surveys/.*|support/surveys/.*)$"
)

SAMPLE_PARAMS = {"item": "logo", "section": "offers", "name": "cgv", "step": "test_sims"}


def fill(path: str, integrator_id: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "integrator_id":
            return integrator_id
        if name in SAMPLE_PARAMS:
            return SAMPLE_PARAMS[name]
        if name.endswith("_id") or name == "token":
            return str(uuid.uuid4())
        return "x"

    return re.sub(r"\{([^}]+)\}", value, path)


def routes(app: Any) -> list[tuple[str, str]]:
    spec = app.openapi()
    return [
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]


@pytest.mark.parametrize("name", SERVICES)
async def test_every_endpoint_needs_a_token(name: str, service) -> None:
    module = importlib.import_module(f"{name}.app")
    async with service(module, run_relay=False, run_reactions=False, run_schedules=False) as svc:
        checked = 0
        for method, path in routes(svc.runtime.http_app):
            if PUBLIC.match(path):
                continue
            r = await svc.http.request(method, fill(path, "someone"))
            assert r.status_code == 401, f"{method} {path} without a token -> {r.status_code}"
            assert r.headers["content-type"].startswith("application/problem+json")
            bad = await svc.http.request(
                method, fill(path, "someone"), headers={"Authorization": "Bearer forged.jwt.x"}
            )
            assert bad.status_code == 401, f"{method} {path} with a forged token -> {bad.status_code}"
            checked += 1
        assert checked > 0


@pytest.mark.parametrize("name", SERVICES)
async def test_an_integrator_never_reaches_another_integrators_data(name: str, service) -> None:
    module = importlib.import_module(f"{name}.app")
    async with service(module, run_relay=False, run_reactions=False, run_schedules=False) as svc:
        other = "0199a000-0000-7000-8000-00000000b0b0"
        as_a = svc.auth("integrator", "0199a000-0000-7000-8000-00000000a0a0")
        checked = 0
        for method, path in routes(svc.runtime.http_app):
            if "{integrator_id}" not in path or PUBLIC.match(path):
                continue
            r = await svc.http.request(method, fill(path, other), headers=as_a)
            if method == "GET":
                assert r.status_code in (403, 404), (
                    f"{method} {path} as another integrator -> {r.status_code}"
                )
            else:
                assert not 200 <= r.status_code < 300, (
                    f"{method} {path} as another integrator -> {r.status_code}"
                )
            assert other not in r.text or r.status_code == 422, f"{method} {path} leaked the other's id"
            checked += 1
        assert checked > 0
