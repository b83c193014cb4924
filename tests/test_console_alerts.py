"""The staff console's operations page shows what a real Prometheus has firing (issue 17)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from chassis.devstack import free_port
from platform_cli.monitoring import EmbeddedPrometheus
from tests.support.load import budget
from web.backends import Backends
from web.pages.common import templates
from web.pages.console import firing_alerts

ALWAYS = """groups:
  - name: test
    rules:
      - alert: AlwaysFiring
        expr: vector(1) > 0
        labels: {severity: critical}
        annotations: {summary: "always", runbook_url: "https://runbook.example/always"}
"""


async def test_the_firing_alerts_of_a_real_prometheus_are_read_and_shown(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(ALWAYS)
    prometheus = EmbeddedPrometheus(
        tmp_path / "prom", port=free_port(), targets={}, rules_file=rules, evaluation_interval_seconds=1
    )
    backends = Backends({}, "x" * 40)
    with prometheus:
        deadline = time.monotonic() + budget(30)
        alerts = await firing_alerts(backends, prometheus.url)
        while not any(a["state"] == "firing" for a in alerts or []) and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            alerts = await firing_alerts(backends, prometheus.url)
        assert alerts and alerts[0]["labels"]["alertname"] == "AlwaysFiring", alerts
        html = templates.get_template("console/operations_live.html").render(
            alerts=alerts, prometheus_url=prometheus.url, services=[], failed_emails=[], refreshed_at=None
        )
        assert "AlwaysFiring" in html and "https://runbook.example/always" in html
    # Not configured, or gone: said so, not an error.
    assert await firing_alerts(backends, None) is None
    assert await firing_alerts(backends, prometheus.url) is None
    await backends.close()
