"""`make run` supervises (issue 16): a service SIGKILLed comes back by itself, with backoff, and says so;
the others stay up; so do the broker and PostgreSQL (issue 22, finding 12: they were not restarted,
and nothing was said); Ctrl-C (SIGINT) stops everything and leaves nothing running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from chassis.devstack import free_port
from platform_cli.stack import SERVICES
from tests.support.load import budget
from tests.support.processes import left_running


def _free_offset() -> int:
    """An offset that puts all six HTTP ports (8000-8005 + offset) on free ports."""
    import socket

    for _ in range(50):
        offset = free_port() % 20000 + 20000 - 8000
        ok = True
        for spec in SERVICES:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", spec.port + offset))
                except OSError:
                    ok = False
                    break
        if ok:
            return offset
    raise RuntimeError("no free port range")


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _is_broker(process: psutil.Process) -> bool:
    return "--storage-engine" in process.cmdline()


def _is_postmaster(process: psutil.Process) -> bool:
    command = process.cmdline()
    return bool(command) and command[0].endswith("/postgres") and "-D" in command


def test_a_killed_service_broker_or_database_comes_back_by_itself_and_ctrl_c_stops_all(
    tmp_path: Path, postgres_tmp_path: Path
) -> None:
    offset = _free_offset()
    env = dict(os.environ)
    env.update(
        PLATFORM_PORT_OFFSET=str(offset),
        PLATFORM_PG_PORT=str(free_port()),
        PLATFORM_KAFKA_PORT=str(free_port()),
        PLATFORM_SMTP_PORT=str(free_port()),
        PLATFORM_PROMETHEUS_PORT=str(free_port()),
        # `make run` gives up on a platform not ready in 120 s: as on an idle machine.
        PLATFORM_READY_TIMEOUT=str(budget(120)),
    )
    out = (tmp_path / "run.log").open("wb")
    run = subprocess.Popen(
        [str(Path(sys.executable).parent / "platform"), "run", "--data-dir", str(postgres_tmp_path / "data")],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    ports = {spec.name: spec.port + offset for spec in SERVICES}
    children: list[int] = []
    try:
        deadline = time.monotonic() + budget(90)
        while not all(_ready(p) for p in ports.values()):
            assert run.poll() is None, (tmp_path / "run.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "run.log").read_text()
            time.sleep(0.3)
        notifier = next(
            p for p in psutil.Process(run.pid).children(recursive=True) if "notifier" in " ".join(p.cmdline())
        )
        notifier.send_signal(signal.SIGKILL)
        notifier.wait(10)
        deadline = time.monotonic() + budget(60)
        while not _ready(ports["notifier"]):
            assert time.monotonic() < deadline, (tmp_path / "run.log").read_text()
            time.sleep(0.3)
        assert all(_ready(p) for p in ports.values())
        assert run.poll() is None
        log = (tmp_path / "run.log").read_text()
        assert "notifier exited with -9; restarting" in log

        # The broker, then PostgreSQL, SIGKILLed: each restarted by `make run`, which says so, and
        # every service ready again (readiness checks both) without anyone touching anything.
        for what, is_it in (
            ("the broker (Tansu) exited with -9; restarted", _is_broker),
            ("PostgreSQL exited with -9; restarted", _is_postmaster),  # or "…, not answering yet"
        ):
            victim = next(p for p in psutil.Process(run.pid).children(recursive=True) if is_it(p))
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            # PostgreSQL's crash recovery and six services reconnecting, on a busy machine: 120 s at most.
            deadline = time.monotonic() + 120
            while what not in (tmp_path / "run.log").read_text() or not all(
                _ready(p) for p in ports.values()
            ):
                assert run.poll() is None, (tmp_path / "run.log").read_text()
                assert time.monotonic() < deadline, (what, (tmp_path / "run.log").read_text())
                time.sleep(0.3)
            assert victim.pid not in [p.pid for p in psutil.Process(run.pid).children(recursive=True)]
        children = [p.pid for p in psutil.Process(run.pid).children(recursive=True)]
    finally:
        run.send_signal(signal.SIGINT)
        try:
            run.wait(60)
        except subprocess.TimeoutExpired:
            run.kill()
            run.wait()
    alive = left_running(children)
    assert alive == [], f"left behind: {alive}"
    assert run.returncode == 0
