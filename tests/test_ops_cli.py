"""`platform ops`: ops' view of a running platform, through the services' public HTTP APIs, against
real services served over HTTP on the real stack (PostgreSQL, Tansu), wired to one another by topics."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner

import notifier.app
import onboarding.app
from chassis.devstack import free_port
from chassis.testing import ServiceOverHttp
from contracts import topics
from platform_cli import samples
from platform_cli.main import app as platform_cli
from platform_cli.ops import DEFAULT_URLS
from tests.support.load import budget
from tests.support.signed import POISON_TYPE, signed_by


def _url_variable(service: str) -> str:
    return f"{service.upper().replace('-', '_')}_URL"


@pytest.fixture(scope="module")
def platform_over_http(stack) -> Iterator[dict[str, ServiceOverHttp]]:
    """Onboarding and the notifier on one topic prefix; the notifier's SMTP server is down, so the
    welcome email fails after one attempt: ops must see it."""
    prefix = stack.unique("ops") + "."
    served = {
        "onboarding": ServiceOverHttp(stack, onboarding.app, prefix=prefix).start(),
    }
    try:
        served["notifier"] = ServiceOverHttp(
            stack,
            notifier.app,
            prefix=prefix,
            smtp_port=free_port(),  # nothing listens there
            smtp_max_attempts=1,
            email_retry_check_seconds=0.1,
        ).start()
        yield served
    finally:
        for service in served.values():
            service.stop()


@pytest.fixture
def ops(platform_over_http, monkeypatch) -> Callable[..., str]:
    closed = f"http://127.0.0.1:{free_port()}"  # the services this test does not run: unreachable
    for service in DEFAULT_URLS:
        served = platform_over_http.get(service)
        monkeypatch.setenv(_url_variable(service), served.base_url if served else closed)
    monkeypatch.setenv("COLUMNS", "250")  # rich would otherwise fold the tables to 80 columns

    def run(*args: str) -> str:
        result = CliRunner().invoke(platform_cli, ["ops", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return run


@pytest.fixture(scope="module")
def integrator_id(platform_over_http) -> str:
    onboarding_service = platform_over_http["onboarding"]
    r = httpx.post(
        f"{onboarding_service.base_url}/integrators",
        json=samples.registration(samples.siret()),
        headers={"Authorization": f"Bearer {onboarding_service.token('ops')}"},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["integrator_id"])


def _eventually(ops: Callable[..., str], args: tuple[str, ...], needle: str, timeout: float = 20.0) -> str:
    """Run `platform ops *args` until its output shows `needle` (events travel through Kafka)."""
    deadline = time.monotonic() + budget(timeout)
    out = ""
    while time.monotonic() < deadline:
        out = ops(*args)
        if needle in out:
            return out
        time.sleep(0.2)
    raise AssertionError(f"{needle!r} not in `ops {' '.join(args)}` after {timeout}s:\n{out}")


def _rows(out: str) -> list[str]:
    """The table's rows: the in-process services' own log lines share stdout in this test."""
    return [line for line in out.splitlines() if line.startswith("│")]


def test_integrators_lists_the_registered_integrator_with_its_step(ops, integrator_id):
    row = next(line for line in _rows(ops("integrators")) if integrator_id in line)
    assert "Télécom Exemple SAS" in row and "registered" in row


def test_failed_emails_shows_what_the_notifier_gave_up_on(ops, integrator_id):
    out = _eventually(ops, ("failed-emails",), "jeanne@telecom-exemple.fr")
    assert "Connect" in out  # the last error, as the notifier recorded it


def test_timeline_merges_the_services_events_in_time_order(ops, integrator_id, platform_over_http):
    out = _eventually(ops, ("timeline", integrator_id), "│ notifier")
    assert "IntegratorRegistered" in out
    assert out.index("IntegratorRegistered") < out.rindex("notifier")
    # An unreachable service is said, not hidden.
    assert "sim-logistics" in out


def test_lag_shows_every_service_and_says_which_are_unreachable(ops, integrator_id):
    out = ops("lag")
    for service in DEFAULT_URLS:
        assert service in out
    onboarding_row = next(line for line in _rows(out) if "onboarding" in line)
    assert "yes" in onboarding_row  # its relay leads
    sim_row = next(line for line in _rows(out) if "sim-logistics" in line)
    assert "ConnectError" in sim_row or "onnect" in sim_row


def test_dead_letters_shows_a_poison_message_with_its_reason(ops, platform_over_http, stack):
    settings = platform_over_http["notifier"].runtime.settings
    topic = settings.topic(topics.ONBOARDING)

    async def publish_poison() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
        await producer.start()
        try:
            value, key = b"this is not json", b"ops-test"
            headers = signed_by("onboarding", key, value, POISON_TYPE)  # believed, then read: not JSON
            await producer.send_and_wait(topic, value, key=key, headers=headers)
        finally:
            await producer.stop()

    import asyncio

    asyncio.run(publish_poison())
    out = _eventually(ops, ("dead-letters",), "│ not JSON")
    # (the services' own log lines share stdout here: look at the table's row)
    poison_row = next(line for line in _rows(out) if "not JSON" in line)
    assert "notifier" in poison_row and "onboarding.events.v1@" in poison_row
