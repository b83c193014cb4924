"""Every service's /metrics, scraped on the real stack and checked by Prometheus's own `promtool`.

The six services run in-process on one platform (the session's PostgreSQL and broker). Each is made
to do a little (requests, a poison message for a consumer) and its refresh task run once, then its
exposition is checked: `promtool check metrics` accepts it (names, types, help, units), it holds the
families ops rely on, with only closed-set label values, and every metric a rule or a dashboard
names is one some service exports.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import re
import shutil
import subprocess
from types import ModuleType
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from chassis import kafka
from chassis.testing import running_service
from contracts import topics
from contracts.events import REGISTRY
from tests.support.monitoring import dashboard_expressions, metric_names_in, rule_expressions
from tests.support.signed import POISON_TYPE, signed_by
from tests.support.waiting import eventually

SERVICE_MODULES = ("onboarding", "sim_logistics", "ism_provisioning", "support", "notifier", "web")

#: What every service exports, whatever it does.
CHASSIS_FAMILIES = {
    "http_server_request_duration_seconds",
    "platform_events_appended",
    "platform_relay_events_published",
    "platform_relay_leader",
    "platform_relay_lag_events",
    "platform_relay_lag_seconds",
    "platform_dead_letters_waiting",
    "platform_db_pool_connections_in_use",
    "platform_db_pool_connections_max",
    "process_resident_memory_bytes",
    "process_cpu_seconds",
}
#: What a service with consumers exports besides.
CONSUMER_FAMILIES = {
    "platform_consumer_messages",
    "platform_consumer_batch_duration_seconds",
    "platform_consumer_lag_messages",
}
CONSUMING = {"onboarding", "sim-logistics", "ism-provisioning", "notifier"}
BUSINESS_FAMILIES = {
    "onboarding": {"onboarding_integrators", "onboarding_integrators_overdue"},
    "support": {
        "support_tickets_open",
        "support_ticket_time_to_take_business_seconds",
        "support_ticket_time_to_resolve_business_seconds",
    },
    "notifier": {
        "notifier_emails_intended",
        "notifier_emails_sent",
        "notifier_email_send_failures",
        "notifier_emails_failed",
        "notifier_emails_pending",
        "notifier_emails_retrying",
        "notifier_emails_given_up",
        "notifier_emails_oldest_pending_age_seconds",
        "notifier_email_last_sent_age_seconds",
        "notifier_email_send_duration_seconds",
    },
}
#: Label values must come from closed sets: nothing shaped like an id or a raw path.
ID_LIKE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-|/[^/{}]*\d{3,}")


def app_modules() -> list[ModuleType]:
    modules = []
    for name in SERVICE_MODULES:
        try:
            module = importlib.import_module(f"{name}.app")
        except ImportError:
            continue  # the web front, while it is being written
        if hasattr(module, "build_runtime"):
            modules.append(module)
    return modules


@pytest.fixture(scope="module")
async def scraped(stack: Any) -> dict[str, str]:
    """service name -> its /metrics text, after some work on one platform. Each stage is bounded in
    time and named when it overruns: a hang fails fast, saying where."""
    prefix = stack.unique("metrics") + "."
    texts: dict[str, str] = {}
    exits = contextlib.AsyncExitStack()
    stage = "starting the services"
    try:
        async with asyncio.timeout(120):
            running = [
                await exits.enter_async_context(
                    running_service(stack, module, prefix=prefix, metrics_refresh_seconds=0.2)
                )
                for module in app_modules()
            ]
            stage = "publishing a poison message"  # on the onboarding topic: its consumers dead-letter it
            producer = kafka.producer(running[0].runtime.settings)
            await producer.start()
            try:
                await producer.send_and_wait(
                    running[0].runtime.settings.topic(topics.ONBOARDING),
                    value=b"not json",
                    key=b"acme",
                    headers=signed_by("onboarding", b"acme", b"not json", POISON_TYPE),
                )
            finally:
                await producer.stop()
            stage = "requests"
            for svc in running:
                for path in ("/healthz", "/readyz", "/no-such-page/12345"):
                    await svc.http.get(path)

            async def consumed() -> bool:
                return all(
                    r.processed
                    for svc in running
                    for r in svc.runtime.runners
                    if topics.ONBOARDING in r.reaction.topics
                )

            stage = "consuming the poison message"
            await eventually(consumed, what="the poison message consumed", timeout=30)
            for svc in running:
                stage = f"refreshing and scraping {svc.runtime.name}"
                await svc.runtime.metrics.refresh()
                response = await svc.http.get("/metrics")
                assert response.status_code == 200, response.text
                assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
                texts[svc.runtime.name] = response.text
        stage = "stopping the services"
        async with asyncio.timeout(60):
            await exits.aclose()
    except TimeoutError:
        with contextlib.suppress(Exception):  # leave the session's loop clean for the next tests
            async with asyncio.timeout(30):
                await exits.aclose()
        pytest.fail(f"the metrics fixture overran while {stage}")
    return texts


def families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_every_service_is_scraped(scraped: dict[str, str]) -> None:
    assert {"onboarding", "sim-logistics", "ism-provisioning", "support", "notifier"} <= scraped.keys()


def test_promtool_accepts_every_services_metrics(scraped: dict[str, str]) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is installed by `make bootstrap` (Debian's prometheus package)"
    for service, text in scraped.items():
        result = subprocess.run(
            [promtool, "check", "metrics"],
            input=text,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, f"{service}: {result.stdout}{result.stderr}"


def test_each_service_exports_the_families_ops_rely_on(scraped: dict[str, str]) -> None:
    for service, text in scraped.items():
        exported = families(text).keys()
        wanted = set(CHASSIS_FAMILIES) | BUSINESS_FAMILIES.get(service, set())
        if service in CONSUMING:
            wanted |= CONSUMER_FAMILIES
        assert wanted - exported == set(), service


def test_label_values_come_from_closed_sets(scraped: dict[str, str]) -> None:
    for service, text in scraped.items():
        for family in families(text).values():
            for sample in family.samples:
                for label, value in sample.labels.items():
                    assert not ID_LIKE.search(value), f"{service}: {sample.name}{{{label}={value!r}}}"
        routes = {
            s.labels["route"]
            for s in families(text)["http_server_request_duration_seconds"].samples
            if "route" in s.labels
        }
        assert {"/healthz", "/readyz", "unmatched"} <= routes, service


def test_the_poison_message_shows_as_a_dead_letter_waiting(scraped: dict[str, str]) -> None:
    notifier = families(scraped["notifier"])
    waiting = {s.labels["consumer"]: s.value for s in notifier["platform_dead_letters_waiting"].samples}
    assert waiting == {"notifier.emails": 1.0}
    dead = [
        s
        for s in notifier["platform_consumer_messages"].samples
        if s.labels.get("outcome") == "dead_lettered" and s.labels["topic"] == topics.ONBOARDING
    ]
    assert [s.value for s in dead] == [1.0]


def test_every_metric_in_a_rule_or_a_dashboard_is_exported(scraped: dict[str, str]) -> None:
    exported: set[str] = set()
    for text in scraped.values():
        for family in text_string_to_metric_families(text):
            exported |= {s.name for s in family.samples}
    exported.add("up")  # Prometheus's own, per target
    named = {
        name: where
        for where, expr in [*rule_expressions(), *dashboard_expressions()]
        for name in metric_names_in(expr)
    }
    assert named, "no metric found in the rules and dashboards"
    missing = {name: where for name, where in named.items() if name not in exported}
    assert missing == {}


def test_label_values_named_in_rules_and_dashboards_exist() -> None:
    """An event type or a job a panel filters on is one that exists: a typo would draw an empty panel."""
    expressions = [*rule_expressions(), *dashboard_expressions()]
    for where, expr in expressions:
        for value in re.findall(r'event_type=~?"([^"]+)"', expr):
            unknown = [t for t in value.split("|") if not REGISTRY.knows(t)]
            assert unknown == [], f"{where}: unknown event types {unknown}"
        for value in re.findall(r'job=~?"([^"]+)"', expr):
            assert set(value.split("|")) <= set(topics.BY_SERVICE), f"{where}: unknown job in {value}"
    service_down = next(expr for where, expr in expressions if where == "rule ServiceDown")
    assert all(service in service_down for service in topics.BY_SERVICE), "ServiceDown misses a service"
