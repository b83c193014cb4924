"""`make run`: the whole platform as separate OS processes on the embedded stack — all five services
ready within 15 s, and nothing left running after the stop; restarting loses nothing."""

from __future__ import annotations

import time

import httpx
import psutil
import pytest

from chassis.devstack import free_port
from platform_cli.stack import SERVICES, EmbeddedPlatform

# Under pytest-xdist, the tests that start `make run`'s whole platform run one after the other on one
# worker: two cold starts at once on a shared 2-core machine would measure the machine, not the platform.
pytestmark = pytest.mark.xdist_group("make_run")


def test_the_platform_starts_all_services_ready_and_stops_leaving_nothing(tmp_path, monkeypatch):
    for var in ("PLATFORM_PG_PORT", "PLATFORM_KAFKA_PORT", "PLATFORM_SMTP_PORT"):
        monkeypatch.setenv(var, str(free_port()))
    ports = {spec.name: free_port() for spec in SERVICES}
    platform = EmbeddedPlatform(tmp_path / "data", http_ports=ports)
    # The test session's own PostgreSQL and broker are children of pytest too: not ours to judge.
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    children: list[int] = []
    try:
        seconds = platform.start()
        assert seconds < 15, f"cold start took {seconds:.1f}s"
        with httpx.Client(timeout=5) as http:
            for spec in SERVICES:
                r = http.get(f"http://127.0.0.1:{ports[spec.name]}/readyz")
                assert r.status_code == 200, (spec.name, r.text)
        children = [p.pid for p in psutil.Process().children(recursive=True) if p.pid not in before]
        assert len(children) >= len(SERVICES) + 2  # the services, PostgreSQL, the broker
    finally:
        platform.stop()
    time.sleep(0.5)
    alive = [
        p for p in children if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
    ]
    assert alive == [], f"left behind: {alive}"
