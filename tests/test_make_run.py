"""`make run`: the whole platform as separate OS processes on the embedded stack — all five services
ready within 15 s, and nothing left running after the stop; restarting loses nothing."""

from __future__ import annotations

import httpx
import psutil

from chassis.devstack import free_port
from platform_cli.stack import SERVICES, EmbeddedPlatform
from tests.support.load import budget
from tests.support.processes import left_running


def test_the_platform_starts_all_services_ready_and_stops_leaving_nothing(postgres_tmp_path, monkeypatch):
    for var in ("PLATFORM_PG_PORT", "PLATFORM_KAFKA_PORT", "PLATFORM_SMTP_PORT"):
        monkeypatch.setenv(var, str(free_port()))
    # Its own give-up time (120 s) as on an idle machine, so that a slow start fails on the budget below.
    monkeypatch.setenv("PLATFORM_READY_TIMEOUT", str(budget(120)))
    ports = {spec.name: free_port() for spec in SERVICES}
    platform = EmbeddedPlatform(postgres_tmp_path / "data", http_ports=ports)
    # The test session's own PostgreSQL and broker are children of pytest too: not ours to judge.
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    children: list[int] = []
    try:
        seconds = platform.start()
        # 15 s on an idle machine; the suite's own workers and other sessions share the cores.
        assert seconds < budget(15), f"cold start took {seconds:.1f}s (budget {budget(15):.0f}s at this load)"
        with httpx.Client(timeout=5) as http:
            for spec in SERVICES:
                r = http.get(f"http://127.0.0.1:{ports[spec.name]}/readyz")
                assert r.status_code == 200, (spec.name, r.text)
        children = [p.pid for p in psutil.Process().children(recursive=True) if p.pid not in before]
        assert len(children) >= len(SERVICES) + 2  # the services, PostgreSQL, the broker
    finally:
        platform.stop()
    alive = left_running(children)
    assert alive == [], f"left behind: {alive}"
