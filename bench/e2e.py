"""The whole platform under load: `make run`'s embedded stack (PostgreSQL, Tansu, the SMTP sink and the
five services, each its own OS process), driven through onboarding's HTTP API.

The command: ops register an integrator (`POST /integrators`, onboarding) — a real command with its
validation, bearer token, SIRET lock, event store append and inline projection. What follows is what
follows every registration: onboarding's relay publishes `IntegratorRegistered`; the notifier (another
service, its own database) consumes it, records the contacts (`notifier_contacts` projection) and
the welcome email as intended (`notifier_emails`), and sends the email to the SMTP sink after commit.

- saturation: commands/s from the first request to the last projection row in the notifier;
- latency at a fixed rate: command sent → notifier projection row visible, and → email file in the sink;
- peak RSS of every service while it runs, and the cold start of the whole stack.

Baselines on the same broker, in the same run: raw aiokafka produce + consume of messages of the
same size (throughput, and latency at the same rate with the services' fetch wait).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

from chassis import kafka
from chassis.auth import mint_token
from chassis.devstack import free_port
from chassis.settings import ServiceSettings
from platform_cli import samples
from platform_cli.stack import SERVICES, EmbeddedPlatform

CONTACTS = "notifier_contacts"


class SinkProcess:
    """`make run`'s SMTP sink (chassis.devstack.MailSink), in a process of its own as under `platform
    run` (whose supervisor does nothing else): in the bench's process its thread would wait for the
    load generator's GIL at every SMTP line. When an email landed is its file's modification time."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        code = (
            "import sys, time; from pathlib import Path; from chassis.devstack import MailSink; "
            "s = MailSink(Path(sys.argv[1]), int(sys.argv[2])); s.start(); print('ready', flush=True); "
            "sys.stdin.read(); s.stop()"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, str(self.directory), str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != b"ready":
            raise RuntimeError("the SMTP sink did not start")

    def stop(self) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()  # end of input: the sink stops
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def count(self) -> int:
        return sum(1 for e in os.scandir(self.directory) if e.name.endswith(".eml"))

    def landed(self, template: str = "welcome") -> dict[str, float]:
        """Recipient address -> when its email of this template was written (time.time() seconds).
        By template: a registration also invites its contacts to the portal (the web front), by
        another email to the same address."""
        out: dict[str, float] = {}
        wanted = f"X-Notifier-Template: {template}".encode()
        for entry in os.scandir(self.directory):
            if not entry.name.endswith(".eml"):
                continue
            with open(entry.path, "rb") as f:
                head = f.read(4096)
            match = _TO.search(head)
            if match and wanted in head:
                out[match.group(1).decode().lower()] = entry.stat().st_mtime_ns / 1e9
        return out


_TO = re.compile(rb"^To: *(?:[^<\r\n]*<)?([^>\s]+@[^>\s]+)>?\s*$", re.MULTILINE | re.IGNORECASE)


class HttpConnection:
    """A keep-alive HTTP/1.1 connection with just what a JSON POST needs: the load generator shares
    the two cores with what it measures, so it must cost little (httpx costs ~10x more per request)."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.head = (
            f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        ).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.used_at = 0.0

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        # uvicorn closes a keep-alive connection idle for 5 s: open a new one well before that.
        if self.writer is None or time.monotonic() - self.used_at > 2.0:
            await self.close()
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None and self.writer is not None
        self.used_at = time.monotonic()
        self.writer.write(
            b"POST %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n%s"
            % (path.encode(), self.head, len(body), body)
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        self.used_at = time.monotonic()
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length) if length else b""

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
            self.reader = self.writer = None


_SIRENS_USED: set[str] = set()


def registrations(n: int, seed: int, tag: str) -> list[tuple[str, bytes]]:
    """`n` registrations of distinct companies (a SIRET registers once), one contact each, whose
    address says which command it was: `(contact address, JSON body)`."""
    rng = random.Random(seed)
    seen = _SIRENS_USED  # across calls: every run registers companies not seen by the platform yet
    out = []
    while len(out) < n:
        siret = samples.siret(rng)
        if siret[:9] in seen:
            continue
        seen.add(siret[:9])
        body = samples.registration(siret)
        address = f"bench-{tag}-{len(out)}@example.com"
        body["contacts"] = [{"name": "Jeanne Martin", "email": address, "phone": "0601020304"}]
        out.append((address, json.dumps(body).encode()))
    return out


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(values)
    cut = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
    return {
        "p50_ms": round(cut[49] * 1000, 1),
        "p99_ms": round(cut[98] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


class Platform:
    """`make run`'s platform on free ports, in a scratch directory, with the timed SMTP sink."""

    def __init__(self, root: Path) -> None:
        for name in ("PLATFORM_PG_PORT", "PLATFORM_KAFKA_PORT", "PLATFORM_SMTP_PORT"):
            os.environ[name] = str(free_port())
        ports = {spec.name: free_port() for spec in SERVICES}
        # Saturation is thousands of registrations by one staff member: past their rate limit
        # (RATE_LIMIT_REGISTRATIONS), which is what the bench does not measure.
        self.embedded = EmbeddedPlatform(root, http_ports=ports, env={"RATE_LIMITS_ENABLED": "false"})
        self.embedded.mail = self.sink = SinkProcess(root / "mail", self.embedded.smtp_port)  # type: ignore[assignment]
        self.token = mint_token(
            ServiceSettings().auth_secret.get_secret_value(), role="ops", subject="bench-ops"
        )

    def start(self) -> float:
        return self.embedded.start()

    def stop(self) -> None:
        self.embedded.stop()

    def restart(self) -> float:
        """Stop every process and start again on the same data (what `make run` does the 2nd time)."""
        self.embedded.stop()
        return self.embedded.start()

    @property
    def onboarding_port(self) -> int:
        return self.embedded.http_ports["onboarding"]

    def notifier_db(self) -> str:
        return self.embedded.postgres.url_for("notifier")

    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.embedded.processes.items()}


class CpuWatch:
    """CPU seconds spent by each part of the stack during a phase: where the two cores went."""

    def __init__(self, platform: Platform) -> None:
        embedded = platform.embedded
        self.parts: dict[str, list[psutil.Process]] = {
            name: [psutil.Process(pid)] for name, pid in platform.pids().items()
        }
        assert embedded.postgres.proc is not None and embedded.kafka.proc is not None
        self.parts["postgresql"] = [psutil.Process(embedded.postgres.proc.pid)]
        self.parts["tansu"] = [psutil.Process(embedded.kafka.proc.pid)]
        self.parts["bench (load generator)"] = [psutil.Process()]
        if platform.sink.proc is not None:
            self.parts["smtp sink"] = [psutil.Process(platform.sink.proc.pid)]
        self.before = self._now()
        self.machine_before = psutil.cpu_times()
        self.started = time.perf_counter()

    def _now(self) -> dict[str, float]:
        out = {}
        for name, procs in self.parts.items():
            total = 0.0
            for proc in procs:
                family = [proc, *proc.children(recursive=True)] if name == "postgresql" else [proc]
                for p in family:
                    with contextlib.suppress(psutil.Error):
                        t = p.cpu_times()
                        total += t.user + t.system
            out[name] = total
        return out

    def machine_busy(self) -> dict[str, float]:
        """The whole machine's CPU use since the start (other engineers' work included): a figure
        taken while the machine was busy elsewhere reads low, and this says so."""
        before, after = self.machine_before, psutil.cpu_times()
        idle = (after.idle + after.iowait) - (before.idle + before.iowait)
        total = sum(after) - sum(before)
        wall = time.perf_counter() - self.started
        return {
            "busy_percent": round(100 * (1 - idle / total), 1) if total else 0.0,
            "wall_seconds": round(wall, 2),
        }

    def seconds(self) -> dict[str, float]:
        # PostgreSQL backends come and go: a backend gone since `before` is not counted (minor).
        after = self._now()
        return {name: round(max(0.0, after[name] - self.before.get(name, 0.0)), 2) for name in after}


class RssWatch:
    """Peak resident memory of each service process: sampled, and the kernel's high-water mark."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.sampled: dict[str, int] = dict.fromkeys(pids, 0)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            for name, proc in self.processes.items():
                with contextlib.suppress(psutil.Error):
                    self.sampled[name] = max(self.sampled[name], proc.memory_info().rss)
            await asyncio.sleep(0.1)

    async def stop(self) -> dict[str, dict[str, float]]:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return {
            name: {
                "peak_rss_mb": round(max(self.sampled[name], _hwm(proc.pid)) / 2**20, 1),
                "sampled_peak_rss_mb": round(self.sampled[name] / 2**20, 1),
            }
            for name, proc in self.processes.items()
        }


def span_profile(traces_dir: Path, top: int = 15) -> list[dict[str, Any]]:
    """Where a command's time goes, from the services' own spans: per (service, span name), how many,
    their p50/p99 and their total seconds — the biggest totals first."""
    from platform_cli.traces import read_spans

    durations: dict[tuple[str, str], list[float]] = {}
    for span in read_spans(traces_dir):
        durations.setdefault((span.service, span.name), []).append(span.ms)
    rows = []
    for (service, name), values in durations.items():
        values.sort()
        rows.append(
            {
                "service": service,
                "span": name,
                "count": len(values),
                "p50_ms": round(values[len(values) // 2], 2),
                "p99_ms": round(values[min(len(values) - 1, int(len(values) * 0.99))], 2),
                "total_seconds": round(sum(values) / 1000, 2),
            }
        )
    rows.sort(key=lambda r: -r["total_seconds"])
    return rows[:top]


class PySpy:
    """py-spy sampling of service processes during a phase, when `py-spy` is on PATH
    (`uv tool install py-spy`): own-time top functions, with and without the GIL held."""

    def __init__(self, pids: dict[str, int], seconds: float, out: Path) -> None:
        self.binary = shutil.which("py-spy")
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.out = out
        if self.binary is None:
            return
        for name, pid in pids.items():
            self.procs[name] = subprocess.Popen(
                [self.binary, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "200", "-f", "raw",
                 "-o", str(out / f"py-spy-{name}.txt"), "--nonblocking"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip

    def report(self, top: int = 12) -> dict[str, Any] | None:
        if self.binary is None:
            return None
        out: dict[str, Any] = {}
        for name, proc in self.procs.items():
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                continue
            path = self.out / f"py-spy-{name}.txt"
            if path.exists():
                out[name] = _collapsed_top(path, top)
        return out


def _collapsed_top(path: Path, top: int) -> dict[str, Any]:
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for frame in set(frames):
            if any(f"{s}/" in frame for s in ("chassis", "notifier", "onboarding", "web")):
                inclusive[frame] = inclusive.get(frame, 0) + n
    share = {k: round(v / total, 3) for k, v in sorted(own.items(), key=lambda kv: -kv[1])[:top]}
    ours = {k: round(v / total, 3) for k, v in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]}
    return {"samples": total, "own_share": share, "inclusive_share_of_our_code": ours}


def _hwm(pid: int) -> int:
    """VmHWM: the process's peak RSS since it started, from the kernel."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


_ROUND_TRIPS = re.compile(rb'^db_round_trips_total\{service="([^"]+)"\} ([0-9.e+]+)$', re.MULTILINE)


async def round_trips(platform: Platform) -> dict[str, float]:
    """Each service's `db_round_trips_total` (chassis.db), from its /metrics; a service without
    metrics (METRICS_ENABLED=false) is left out."""
    out: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=5.0) as client:
        for name, port in platform.embedded.http_ports.items():
            with contextlib.suppress(httpx.HTTPError):
                answer = await client.get(f"http://127.0.0.1:{port}/metrics")
                for match in _ROUND_TRIPS.finditer(answer.content):
                    out[name] = float(match.group(2))
    return out


class RoundTripWatch:
    """The services' round trips to PostgreSQL over a phase, per command: read before, and after
    the platform has gone quiet (the other consumers of the events done too)."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.before: dict[str, float] = {}

    async def start(self) -> None:
        self.before = await round_trips(self.platform)

    async def settled(self, quiet: float = 60.0, longest: float = 20.0) -> dict[str, float]:
        """The counters once they grow by less than `quiet` round trips in half a second (what the
        relays, schedules and metrics refreshes of an idle platform make), or after `longest` s."""
        last = await round_trips(self.platform)
        deadline = time.perf_counter() + longest
        while time.perf_counter() < deadline:
            await asyncio.sleep(0.5)
            now = await round_trips(self.platform)
            grew = sum(now.values()) - sum(last.values())
            last = now
            if grew < quiet:
                break
        return last

    def per_command(self, after: dict[str, float], commands: int) -> dict[str, Any]:
        services = {
            name: round((after[name] - self.before[name]) / commands, 2)
            for name in sorted(after)
            if name in self.before
        }
        total = sum(after[name] - self.before[name] for name in services)
        return {
            "per_command": round(total / commands, 2) if services else None,
            "per_service": services,
            "round_trips": int(total),
            "commands": commands,
        }


async def configuration_sheets(platform: Platform, n: int) -> dict[str, Any]:
    """A plain command of a real service, one at a time: ops send the configuration sheet
    (`POST /integrators/{id}/configuration-sheet`: load the integrator's stream, decide, append) to
    `n` integrators registered by the saturation run. Onboarding's round trips per command, its
    relay's publishing of the event included (and whatever onboarding ran meanwhile)."""
    onboarding = await asyncpg.connect(platform.embedded.postgres.url_for("onboarding"))
    try:
        # Registered, and sent nothing yet: the command's first step for each.
        ids = [
            row["integrator_id"]
            for row in await onboarding.fetch(
                "SELECT integrator_id FROM events GROUP BY integrator_id HAVING count(*) = 1 LIMIT $1", n
            )
        ]
    finally:
        await onboarding.close()
    conn = HttpConnection(platform.onboarding_port, platform.token)
    refused: dict[int, int] = {}
    before = await round_trips(platform)
    try:
        for integrator_id in ids:
            status, _ = await conn.post(f"/integrators/{integrator_id}/configuration-sheet", b"")
            if status != 201:
                refused[status] = refused.get(status, 0) + 1
    finally:
        await conn.close()
    await asyncio.sleep(1.0)  # the relay publishes the last events
    after = await round_trips(platform)
    if refused:
        raise RuntimeError(f"configuration sheets refused: {refused}")
    made = after["onboarding"] - before["onboarding"]
    return {
        "per_command": round(made / len(ids), 2) if ids else None,
        "round_trips": int(made),
        "commands": len(ids),
        "what": (
            "onboarding's round trips per POST /integrators/{id}/configuration-sheet, one at a time "
            "(its relay publishing the event included)"
        ),
    }


async def idle_round_trips(platform: Platform, seconds: float = 3.0) -> dict[str, float]:
    """Round trips per second of the platform at rest (relays, schedules, metrics refreshes): what
    a phase's figure holds besides its commands."""
    before = await round_trips(platform)
    await asyncio.sleep(seconds)
    after = await round_trips(platform)
    return {name: round((after[name] - before[name]) / seconds, 1) for name in after if name in before}


async def _wait_for(
    predicate: Callable[[], Awaitable[bool]], timeout: float, what: str, every: float = 0.02
) -> float:
    deadline = time.perf_counter() + timeout
    while not await predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{what} after {timeout:.0f} s")
        await asyncio.sleep(every)
    return time.perf_counter()


async def saturation(
    platform: Platform, n: int, concurrency: int, timeout: float, tag: str = "sat"
) -> dict[str, Any]:
    """`n` registrations as fast as `concurrency` keep-alive connections get answers; the figure runs
    from the first request to the last of the notifier's projection rows (then to the last email)."""
    commands = registrations(n, seed=7, tag=tag)
    notifier = await asyncpg.connect(platform.notifier_db())
    before = await notifier.fetchval(f"SELECT count(*) FROM {CONTACTS}")
    mailed_before = platform.sink.count()
    rss = RssWatch(platform.pids())
    next_index = 0
    statuses: dict[int, int] = {}
    accepted_at: list[float] = []

    async def client() -> None:
        nonlocal next_index
        conn = HttpConnection(platform.onboarding_port, platform.token)
        try:
            while next_index < n:
                i = next_index
                next_index += 1
                status, _ = await conn.post("/integrators", commands[i][1])
                statuses[status] = statuses.get(status, 0) + 1
                accepted_at.append(time.perf_counter())
        finally:
            await conn.close()

    async def projected() -> bool:
        return int(await notifier.fetchval(f"SELECT count(*) FROM {CONTACTS}")) - before >= n

    async def mailed() -> bool:
        return platform.sink.count() - mailed_before >= n

    trips = RoundTripWatch(platform)
    await trips.start()
    rss.start()
    cpu = CpuWatch(platform)
    spy = PySpy(
        {k: v for k, v in platform.pids().items() if k in ("onboarding", "notifier", "web")},
        seconds=min(15.0, max(3.0, n / 150)),
        out=platform.embedded.data_dir,
    )
    started = time.perf_counter()
    try:
        clients = asyncio.gather(*(client() for _ in range(concurrency)))
        projected_at = asyncio.create_task(_wait_for(projected, timeout, "projection rows"))
        await clients
        http_done = max(accepted_at)
        projected_done = await projected_at
        mailed_done = await _wait_for(mailed, timeout, "emails", every=0.1)
        cpu_seconds = cpu.seconds()
    finally:
        memory = await rss.stop()
        await notifier.close()
    settled_at = time.perf_counter()
    round_trip_figures = trips.per_command(await trips.settled(), n) | {
        "window_seconds": round(time.perf_counter() - started, 1),
        "settle_seconds": round(time.perf_counter() - settled_at, 1),
    }
    refused = {str(k): v for k, v in statuses.items() if k != 201}
    if refused:
        raise RuntimeError(f"commands refused: {refused}")
    seconds = projected_done - started
    return {
        "commands": n,
        "concurrency": concurrency,
        "seconds": round(seconds, 3),
        "commands_per_second": round(n / seconds),
        "http_commands_per_second": round(n / (http_done - started)),
        "emails_per_second": round(n / (mailed_done - started)),
        "seconds_to_last_email": round(mailed_done - started, 3),
        "services": memory,
        "cpu_seconds_to_last_email": cpu_seconds,
        "cpu_ms_per_command": {k: round(v * 1000 / n, 2) for k, v in cpu_seconds.items()},
        "machine": cpu.machine_busy(),
        "py_spy": spy.report(),
        "round_trips": round_trip_figures,
    }


async def latency(platform: Platform, rate: float, n: int, warmup: int, timeout: float) -> dict[str, Any]:
    """`n` registrations at `rate` per second, each sent on time whatever the others do (open loop).
    Each is timed from its request being written to: its 201, its notifier projection row becoming
    visible (the notifier's commit wakes us by NOTIFY), and its welcome email's file in the sink."""
    tag = f"lat{int(rate)}"
    commands = registrations(warmup + n, seed=int(rate * 1000) + 11, tag=tag)
    notifier = await asyncpg.connect(platform.notifier_db())
    woken = asyncio.Event()
    last_notify = [0.0]

    def on_notify(*_: Any) -> None:
        last_notify[0] = time.perf_counter()
        woken.set()

    await notifier.add_listener("events_appended", on_notify)
    sent: dict[str, float] = {}  # integrator id -> sent at
    sent_wall: dict[str, float] = {}  # the same in time.time(), for the email files' mtime
    accepted: dict[str, float] = {}
    projected: dict[str, float] = {}
    address_of: dict[str, str] = {}
    idle: list[HttpConnection] = []
    failures: list[int] = []

    async def one(i: int) -> None:
        conn = idle.pop() if idle else HttpConnection(platform.onboarding_port, platform.token)
        address, body = commands[i]
        wall = time.time()
        t0 = time.perf_counter()
        status, answer = await conn.post("/integrators", body)
        t1 = time.perf_counter()
        idle.append(conn)
        if status != 201:
            failures.append(status)
            return
        integrator_id = json.loads(answer)["integrator_id"]
        sent[integrator_id], accepted[integrator_id], sent_wall[integrator_id] = t0, t1, wall
        address_of[integrator_id] = address
        woken.set()

    async def watch_projection() -> None:
        while True:
            await woken.wait()
            woken.clear()
            at = last_notify[0] or time.perf_counter()
            pending = [i for i in sent if i not in projected]
            if not pending:
                continue
            for row in await notifier.fetch(
                f"SELECT key FROM {CONTACTS} WHERE key = any($1::text[])", pending
            ):
                # Visible since the commit that notified us (not since our query).
                projected[row["key"]] = max(at, sent[row["key"]])

    trips = RoundTripWatch(platform)
    await trips.start()
    watcher = asyncio.create_task(watch_projection())
    tasks = []
    try:
        start = time.perf_counter() + 0.05
        for i in range(warmup + n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        if failures:
            raise RuntimeError(f"commands refused: {failures[:10]}")
        measured = list(sent)[warmup:] if len(sent) > warmup else list(sent)

        async def all_projected() -> bool:
            woken.set()
            return all(i in projected for i in measured)

        async def all_mailed() -> bool:
            return set(address_of.values()) <= platform.sink.landed().keys()

        await _wait_for(all_projected, timeout, "projection rows", every=0.05)
        await _wait_for(all_mailed, timeout, "emails", every=0.1)
        landed = platform.sink.landed()
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        for conn in idle:
            await conn.close()
        await notifier.close()
    trips_figure = trips.per_command(await trips.settled(), warmup + n)
    # Order of completion is not order of sending: measure the commands sent after the warm-up.
    order = sorted(sent, key=sent.__getitem__)[warmup:]
    return {
        "rate_per_second": rate,
        "commands": len(order),
        "warmup_commands": warmup,
        "http_accepted": percentiles([accepted[i] - sent[i] for i in order]),
        "command_to_projection": percentiles([projected[i] - sent[i] for i in order]),
        "command_to_email": percentiles([landed[address_of[i]] - sent_wall[i] for i in order]),
        "round_trips": trips_figure,
    }


# --- baselines: raw aiokafka on the same broker --------------------------------------------------------


def _raw_settings(platform: Platform) -> ServiceSettings:
    return ServiceSettings(kafka_bootstrap_servers=platform.embedded.kafka.bootstrap)


@contextlib.asynccontextmanager
async def _raw_pair(platform: Platform, name: str) -> AsyncIterator[tuple[str, Any, Any]]:
    """A fresh topic with a producer (the chassis' settings) and a consumer in a group that has
    joined it (the services' settings): the first message does not wait for a rebalance."""
    settings = _raw_settings(platform)
    topic = f"bench-raw-{name}-{random.randint(0, 1 << 30)}"
    await kafka.ensure_topics(settings, [topic])
    producer = kafka.producer(settings)
    consumer = kafka.consumer(settings, topic, group_id=f"{topic}-group")
    await producer.start()
    await consumer.start()
    try:
        await producer.partitions_for(topic)
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        yield topic, producer, consumer
    finally:
        await consumer.stop()
        await producer.stop()


async def raw_produce_consume(platform: Platform, n: int, value_bytes: int, timeout: float) -> dict[str, Any]:
    """`n` messages of the event's size through the broker: a producer sends them all (keys as
    integrators, the chassis' producer settings) while a consumer in a group reads them (the
    services' consumer settings, commit per batch). From the first send to the last message read."""
    value = b"x" * value_bytes
    keys = [f"integrator-{i % 1000:06d}".encode() for i in range(n)]
    seen = 0
    async with _raw_pair(platform, "e2e") as (topic, producer, consumer):

        async def consume() -> float:
            nonlocal seen
            while seen < n:
                batches = await consumer.getmany(timeout_ms=200, max_records=500)
                for messages in batches.values():
                    seen += len(messages)
                if batches:
                    await consumer.commit()
            return time.perf_counter()

        started = time.perf_counter()
        reader = asyncio.create_task(consume())
        futures = [await producer.send(topic, value=value, key=keys[i]) for i in range(n)]
        await asyncio.gather(*futures)
        ended = await asyncio.wait_for(reader, timeout)
    return {
        "messages": n,
        "message_bytes": value_bytes,
        "seconds": round(ended - started, 3),
        "messages_per_second": round(n / (ended - started)),
    }


async def raw_latency(platform: Platform, rate: float, n: int, value_bytes: int) -> dict[str, Any]:
    """Produce → consume latency of single messages at `rate` per second, with the services' fetch wait
    (`KAFKA_FETCH_MAX_WAIT_MS`): the floor of any cross-service hop on this broker."""
    settings = _raw_settings(platform)
    sent: dict[int, float] = {}
    received: dict[int, float] = {}
    async with _raw_pair(platform, "latency") as (topic, producer, consumer):

        async def consume() -> None:
            while len(received) < n:
                batches = await consumer.getmany(timeout_ms=200, max_records=500)
                now = time.perf_counter()
                for messages in batches.values():
                    for m in messages:
                        received[int(m.key or b"0")] = now
                if batches:
                    await consumer.commit()

        reader = asyncio.create_task(consume())
        padding = b"x" * value_bytes
        start = time.perf_counter() + 0.05
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent[i] = time.perf_counter()
            await producer.send(topic, value=padding, key=str(i).encode())
        await asyncio.wait_for(reader, 60)
    return {
        "rate_per_second": rate,
        "messages": n,
        "fetch_max_wait_ms": settings.kafka_fetch_max_wait_ms,
        "produce_to_consume": percentiles([received[i] - sent[i] for i in range(n)]),
    }


def scratch_dir() -> Path:
    root = Path(tempfile.mkdtemp(prefix="platform-bench-"))
    os.chmod(root, 0o755)
    return root
