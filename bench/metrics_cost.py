"""What the metrics cost: the services' CPU per command with METRICS_ENABLED on and off (issue 17:
at most 5 % more with them).

`make run`'s platform (every service its own process), the e2e saturation run of `bench.e2e` (ops
register integrators; the notifier records the contacts and sends the welcome email), alternately with
the metrics off and on, restarting the services on the same data in between. With the metrics on, a
real Prometheus scrapes every service every `scrape_seconds` (15 s by default, as a usual
Prometheus; 1 s shows the scrapes' own cost at its worst), and the services refresh their gauges at
their default interval. The figure is the sum of the six service processes' CPU seconds to the last
email, per command; PostgreSQL, Tansu and the load generator are left out (the metrics do not run
there), and so is Prometheus itself (reported beside).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import statistics
import sys
from typing import Any

import psutil

from bench import e2e
from chassis.devstack import free_port
from platform_cli.monitoring import EmbeddedPrometheus

#: The most the metrics may add to the services' CPU per command (issue 17).
TARGET_RATIO = 1.05


async def _one_round(platform: e2e.Platform, n: int, concurrency: int, timeout: float, tag: str) -> float:
    """Services' CPU ms per command over one saturation run."""
    await e2e.saturation(platform, 50, 8, timeout, tag=f"{tag}w")  # consumer groups joined, caches warm
    saturated = await e2e.saturation(platform, n, concurrency, timeout, tag=tag)
    services = set(platform.pids())
    cpu = saturated["cpu_seconds_to_last_email"]
    return sum(v for k, v in cpu.items() if k in services) * 1000 / n


def run(
    commands: int, concurrency: int, rounds: int, timeout: float, scrape_seconds: float = 15.0
) -> dict[str, Any]:
    root = e2e.scratch_dir()
    platform = e2e.Platform(root)
    figures: dict[str, list[float]] = {"off": [], "on": []}
    prometheus_cpu: list[float] = []
    platform.start()
    try:
        for index in range(rounds * 2):
            setting = ("off", "on")[index % 2]
            platform.embedded.env["METRICS_ENABLED"] = "true" if setting == "on" else "false"
            try:
                platform.restart()
            except TimeoutError:  # a machine busy elsewhere (it is shared) starts the services slower
                platform.embedded.wait_ready(300)
            prometheus = None
            if setting == "on":
                targets = {
                    name: f"http://127.0.0.1:{port}" for name, port in platform.embedded.http_ports.items()
                }
                prometheus = EmbeddedPrometheus(
                    root / f"prometheus-{index}",
                    free_port(),
                    targets,
                    scrape_interval_seconds=scrape_seconds,
                    evaluation_interval_seconds=scrape_seconds,
                ).start()
            print(f"metrics cost: round {index + 1}/{rounds * 2}, metrics {setting}…", file=sys.stderr)
            try:
                before = _cpu(prometheus)
                figures[setting].append(
                    asyncio.run(_one_round(platform, commands, concurrency, timeout, tag=f"m{index}"))
                )
                if prometheus is not None:
                    prometheus_cpu.append((_cpu(prometheus) - before) * 1000 / commands)
                    up = prometheus.query("up == 1")
                    if len(up) != len(platform.embedded.http_ports):
                        raise RuntimeError(f"Prometheus scraped {len(up)} services, not all: {up}")
            finally:
                if prometheus is not None:
                    prometheus.stop()
    finally:
        platform.stop()
        shutil.rmtree(root, ignore_errors=True)
    off, on = statistics.median(figures["off"]), statistics.median(figures["on"])
    return {
        "unit": "CPU ms per command (the services' processes)",
        "metrics_off": round(off, 3),
        "metrics_on": round(on, 3),
        "ratio": round(on / off, 3),
        "target_ratio": TARGET_RATIO,
        "rounds": {k: [round(v, 3) for v in vs] for k, vs in figures.items()},
        "prometheus_cpu_ms_per_command": round(statistics.median(prometheus_cpu), 3)
        if prometheus_cpu
        else None,
        "commands": commands,
        "scrape_interval_seconds": scrape_seconds,
        "what": (
            "e2e saturation (POST /integrators → relay → notifier → email), METRICS_ENABLED off and on "
            "alternately, the services restarted in between; on: Prometheus scraping every service every "
            f"{scrape_seconds:g} s. Median of the rounds; the sum of the service processes' CPU to the last email."
        ),
    }


def _cpu(prometheus: EmbeddedPrometheus | None) -> float:
    if prometheus is None or prometheus.proc is None:
        return 0.0
    with contextlib.suppress(psutil.Error):
        times = psutil.Process(prometheus.proc.pid).cpu_times()
        return times.user + times.system
    return 0.0
