"""The alert rules: checked and unit-tested by `promtool`, mirrored in the PrometheusRule of deploy/k8s,
documented in the runbook — and on the real stack, a real Prometheus fires and resolves them.

The real-stack test runs the notifier over HTTP (uvicorn, ServiceOverHttp) on the session's PostgreSQL
and broker, and Debian's `prometheus` scraping it every second with the rules of deploy/monitoring
loaded, their `for:` shortened to `FOR_SECONDS` (EmbeddedPrometheus's `alert_for_seconds`). The SMTP
server is down (the sink not started) when an integrator registers: EmailsFailing fires within its
`for:`, then resolves once the sink is up and the retries go through. A poison message on a topic the
notifier consumes makes DeadLetterWaiting fire.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from chassis import kafka
from chassis.devstack import MailSink, free_port
from chassis.testing import ServiceOverHttp
from contracts import topics
from contracts.events.common import Locale
from notifier import app as notifier_app
from platform_cli.monitoring import PROMETHEUS_RULE, EmbeddedPrometheus, render_prometheus_rule
from tests.support.load import budget
from tests.support.monitoring import ROOT, RULES
from tests.support.signed import POISON_TYPE, owner_of, signed_by
from tests.test_notifier import Upstream, registered

RULE_TESTS = ROOT / "deploy" / "monitoring" / "rules.test.yml"
RUNBOOK = ROOT / "docs" / "RUNBOOK.md"
#: The rules' `for:` in the real-stack test (5 minutes in the rule file).
FOR_SECONDS = 3.0
#: Scrape, evaluation and gauge refresh: each adds up to this to an alert's delay.
TICK_SECONDS = 1.0

T = TypeVar("T")


def alerts_of(rules_text: str) -> list[dict[str, Any]]:
    return [r for g in yaml.safe_load(rules_text)["groups"] for r in g["rules"] if "alert" in r]


def promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary, "promtool is installed by `make bootstrap` (Debian's prometheus package)"
    return subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


# --- the rule file ------------------------------------------------------------------------------------


def test_promtool_checks_the_rules() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerts_of(RULES.read_text()))} rules found" in result.stdout


def test_promtool_unit_tests_pass_and_cover_every_alert() -> None:
    result = promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    for alert in alerts_of(RULES.read_text()):
        cases = [c for t in tests for c in t.get("alert_rule_test", []) if c["alertname"] == alert["alert"]]
        assert any(c["exp_alerts"] for c in cases), f"{alert['alert']}: no test where it fires"
        assert any(not c["exp_alerts"] for c in cases), f"{alert['alert']}: no test where it stays silent"


def test_the_unit_tests_catch_a_broken_rule(tmp_path: Path) -> None:
    """The unit tests can fail: with a threshold changed, promtool reports the alerts that did not fire."""
    broken = RULES.read_text().replace(
        "platform_consumer_lag_messages) > 1000", "platform_consumer_lag_messages) > 5000"
    )
    assert broken != RULES.read_text()
    (tmp_path / "rules.yml").write_text(broken)
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    result = promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert result.returncode != 0
    assert "alertname: ConsumerLagHigh" in result.stdout + result.stderr


def test_the_prometheus_rule_of_deploy_k8s_is_the_rule_file() -> None:
    assert PROMETHEUS_RULE.read_text() == render_prometheus_rule(RULES.read_text()), (
        "regenerate it: uv run python -m platform_cli.monitoring"
    )
    rule = yaml.safe_load(PROMETHEUS_RULE.read_text())
    assert rule["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]


def test_every_alert_has_a_summary_and_a_runbook_section() -> None:
    runbook = RUNBOOK.read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
        for h in re.findall(r"^#+ (.+)$", runbook, re.M)
    }
    for alert in alerts_of(RULES.read_text()):
        annotations = alert["annotations"]
        assert annotations.get("summary"), alert["alert"]
        url = annotations["runbook_url"]
        assert url == f"docs/RUNBOOK.md#{alert['alert'].lower()}", url
        assert url.split("#")[1] in anchors, f"{alert['alert']}: no section in docs/RUNBOOK.md"
        section = runbook.split(f"## {alert['alert']}", 1)[1].split("\n## ", 1)[0]
        for part in ("What it means", "What to look at", "What to do"):
            assert part in section, f"{alert['alert']}: the runbook section has no '{part}'"


# --- a real Prometheus on the real stack ----------------------------------------------------------------


def wait_for(check: Callable[[], T], *, timeout: float, what: str) -> T:
    deadline = time.monotonic() + budget(timeout)
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached in {timeout}s (last: {last!r})")


def firing(prometheus: EmbeddedPrometheus, name: str) -> list[dict[str, Any]]:
    return [a for a in prometheus.alerts() if a["labels"]["alertname"] == name and a["state"] == "firing"]


def test_a_real_prometheus_fires_and_resolves_the_alerts(stack: Any, tmp_path: Path) -> None:
    mail_port = free_port()
    sink = MailSink(tmp_path / "mail", mail_port)
    notifier = ServiceOverHttp(
        stack,
        notifier_app,
        smtp_port=mail_port,
        smtp_backoff_seconds=0.2,
        smtp_max_attempts=50,  # retried, never given up during the test
        email_retry_check_seconds=0.1,
        metrics_refresh_seconds=0.5,
    ).start()
    prometheus = EmbeddedPrometheus(
        tmp_path / "prometheus",
        free_port(),
        {"notifier": notifier.base_url},
        RULES,
        scrape_interval_seconds=TICK_SECONDS,
        evaluation_interval_seconds=TICK_SECONDS,
        alert_for_seconds=FOR_SECONDS,
    ).start()
    try:
        assert runtime_settings(notifier) is not None
        wait_for(lambda: prometheus.query('up{job="notifier"} == 1'), timeout=15, what="the notifier scraped")
        assert firing(prometheus, "EmailsFailing") == [] and firing(prometheus, "DeadLetterWaiting") == []

        # SMTP down: an integrator registers, its welcome emails fail and wait for their retries.
        publish(notifier, registered(Locale.EN))
        wait_for(
            lambda: prometheus.query("sum(notifier_emails_retrying) > 0"), timeout=20, what="emails retrying"
        )
        retrying_since = time.monotonic()
        alert = wait_for(
            lambda: firing(prometheus, "EmailsFailing"),
            timeout=FOR_SECONDS + 10 * TICK_SECONDS,  # scrape, refresh, evaluation: a busy 2-core machine
            what="EmailsFailing firing",
        )
        fired_after = time.monotonic() - retrying_since
        assert fired_after >= FOR_SECONDS - TICK_SECONDS, f"fired after {fired_after:.1f}s, before its for:"
        assert alert[0]["labels"]["severity"] == "warning"
        assert alert[0]["annotations"]["runbook_url"] == "docs/RUNBOOK.md#emailsfailing"

        # SMTP back: the retries go through, the alert resolves.
        sink.start()
        wait_for(lambda: sink.received >= 1, timeout=30, what="an email sent once SMTP is back")
        wait_for(
            lambda: not [a for a in prometheus.alerts() if a["labels"]["alertname"] == "EmailsFailing"],
            timeout=30,
            what="EmailsFailing resolved",
        )

        # A poison message on a topic the notifier consumes: dead-lettered, and the alert fires.
        publish_raw(notifier, topics.ONBOARDING, b"\x00 not an event")
        dead = wait_for(
            lambda: firing(prometheus, "DeadLetterWaiting"), timeout=20, what="DeadLetterWaiting firing"
        )
        assert dead[0]["labels"]["consumer"] == "notifier.emails"
        assert firing(prometheus, "ServiceDown") == []
    finally:
        prometheus.stop()
        notifier.stop()
        sink.stop()


def runtime_settings(service: ServiceOverHttp) -> Any:
    assert service.runtime is not None
    return service.runtime.settings


def publish(service: ServiceOverHttp, event: Any) -> None:
    async def send() -> None:
        async with Upstream(runtime_settings(service)) as upstream:
            await upstream.publish(event)

    asyncio.run(send())


def publish_raw(service: ServiceOverHttp, topic: str, value: bytes) -> None:
    async def send() -> None:
        settings = runtime_settings(service)
        producer = kafka.producer(settings)
        await producer.start()
        try:
            # Signed by the topic's owner: what the alert is about is the body, read after the signature.
            headers = signed_by(owner_of(topic), b"poison", value, POISON_TYPE)
            await producer.send_and_wait(settings.topic(topic), value=value, key=b"poison", headers=headers)
        finally:
            await producer.stop()

    asyncio.run(send())
