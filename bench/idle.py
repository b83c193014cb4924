"""The idle platform's CPU: `make run`'s processes at rest, each one's share of a core over a window.

`uv run python -m bench.idle [--seconds 20] [--settle 15]`: starts the embedded platform (as `make run`
does, on free ports in a temporary directory), lets it settle, then reads each process's CPU time
(psutil, children included: PostgreSQL's backends) before and after the window. Prints JSON.
"""

from __future__ import annotations

import argparse
import functools
import json
import tempfile
import time
from pathlib import Path

import psutil

from chassis.devstack import free_port
from platform_cli.stack import SERVICES, EmbeddedPlatform


def _cpu_seconds(process: psutil.Process) -> float:
    total = 0.0
    for p in [process, *process.children(recursive=True)]:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def measure(seconds: float, settle: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        platform = EmbeddedPlatform(
            Path(tmp) / "data",
            http_ports={spec.name: free_port() for spec in SERVICES},
            pg_port=free_port(),
            kafka_port=free_port(),
            smtp_port=free_port(),
        )
        # A loaded machine starts the services slowly: wait longer than `make run` does.
        platform.wait_ready = functools.partial(platform.wait_ready, timeout=300)  # type: ignore[method-assign]
        try:
            platform.start()
            time.sleep(settle)  # start-up work (migrations, first schedules) is not idling
            watched = {name: psutil.Process(proc.pid) for name, proc in platform.processes.items()}
            mine = psutil.Process()
            services = {p.pid for p in watched.values()}
            # The broker and PostgreSQL are the platform's other children (the mail sink is a thread).
            for child in mine.children():
                if child.pid not in services:
                    watched[_name_of(child)] = child
            before = {name: _cpu_seconds(p) for name, p in watched.items()}
            started = time.monotonic()
            time.sleep(seconds)
            elapsed = time.monotonic() - started
            after = {name: _cpu_seconds(p) for name, p in watched.items()}
        finally:
            platform.stop()
    load = psutil.getloadavg()[0]
    shares = {name: round(100 * (after[name] - before[name]) / elapsed, 2) for name in watched}
    return {
        "window_seconds": round(elapsed, 1),
        "load_average_1min": round(load, 1),  # the machine's other work: shares are of a starved core above 2
        "total_percent_of_a_core": round(sum(shares.values()), 2),
    } | {f"{name}_percent": share for name, share in sorted(shares.items())}


def _name_of(process: psutil.Process) -> str:
    command = " ".join(process.cmdline()).lower()
    if "postgres" in command:
        return "postgresql"
    if "tansu" in command or "calfkit" in command or "kafka" in command:
        return "broker"
    return process.name()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--settle", type=float, default=15.0)
    args = parser.parse_args()
    print(json.dumps(measure(args.seconds, args.settle), indent=2))
