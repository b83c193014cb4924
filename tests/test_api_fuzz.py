"""Bad input at the HTTP edge: schemathesis generates requests from each service's OpenAPI spec.
Whatever it sends, no answer is a 5xx, and every 4xx is a problem+json document."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from chassis.testing import ServiceOverHttp

SERVICES = ["onboarding", "sim_logistics", "ism_provisioning", "support", "notifier"]


def _app_module(name: str) -> Any:
    try:
        return importlib.import_module(f"{name}.app")
    except ModuleNotFoundError as missing:
        if missing.name and missing.name.startswith(name):
            pytest.fail(f"{name} has no app module: {missing}")
        raise


@pytest.mark.parametrize("name", SERVICES)
def test_no_request_makes_a_server_error(name: str, stack) -> None:
    served = ServiceOverHttp(stack, _app_module(name)).start()
    try:
        schema = schemathesis.openapi.from_url(f"{served.base_url}/openapi.json")
        headers = {"Authorization": f"Bearer {served.token('ops')}"}
        failures: list[str] = []
        operations = [result.ok() for result in schema.get_all_operations()]
        assert operations, "the spec lists no operation"
        for operation in operations:
            strategy = operation.as_strategy()

            @settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def exercise(case: Any) -> None:
                response = case.call(base_url=served.base_url, headers=headers, timeout=30)
                where = f"{case.method} {case.formatted_path} -> {response.status_code}"
                if response.status_code >= 500:
                    failures.append(f"{where}: {response.text[:200]}")
                elif 400 <= response.status_code < 500:
                    kind = response.headers.get("content-type", [""])
                    kind = kind[0] if isinstance(kind, list) else kind  # schemathesis keeps header lists
                    if not kind.startswith("application/problem+json"):
                        failures.append(f"{where}: a {kind!r} error, not problem+json")

            exercise()
        assert failures == [], "\n".join(sorted(set(failures))[:20])
    finally:
        served.stop()
