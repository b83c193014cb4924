"""`make run`: the whole platform on embedded defaults, each service its own OS process.

PostgreSQL (one database per service, data kept under .data/pg), the Tansu broker (memory: empty at
every start — the relays republish from the event stores and the consumers deduplicate), an SMTP sink
writing each email to .data/mail/, the five services and the web front (port 8000, the public origin
every email link opens). A service, PostgreSQL or the broker that dies is restarted with backoff, as
Kubernetes would, and `make run` says so; Ctrl-C stops everything.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from chassis.devstack import EmbeddedKafka, EmbeddedPostgres, MailSink, _die_with_parent, wait_for_port

console = Console(stderr=True)


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # the console script and the service's name
    database: str
    port: int


SERVICES = (
    ServiceSpec("onboarding", "onboarding", 8001),
    ServiceSpec("sim-logistics", "sim_logistics", 8002),
    ServiceSpec("ism-provisioning", "ism_provisioning", 8003),
    ServiceSpec("support", "support", 8004),
    ServiceSpec("notifier", "notifier", 8005),
    ServiceSpec("web", "web", 8000),
)

#: The web front calls the services' HTTP APIs at these settings (web.app.Settings).
URL_SETTINGS = {
    "onboarding": "ONBOARDING_URL",
    "sim-logistics": "SIM_LOGISTICS_URL",
    "ism-provisioning": "ISM_PROVISIONING_URL",
    "support": "SUPPORT_URL",
    "notifier": "NOTIFIER_URL",
}


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


class EmbeddedPlatform:
    def __init__(
        self,
        data_dir: Path,
        http_ports: dict[str, int] | None = None,
        *,
        pg_port: int | None = None,
        kafka_port: int | None = None,
        smtp_port: int | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir.resolve()
        # PLATFORM_PORT_OFFSET moves every HTTP port (a second platform beside `make run`, the tests).
        offset = _env_int("PLATFORM_PORT_OFFSET", 0)
        self.http_ports = {s.name: s.port + offset for s in SERVICES} | (http_ports or {})
        self.pg_port = pg_port or _env_int("PLATFORM_PG_PORT", 54329)
        self.kafka_port = kafka_port or _env_int("PLATFORM_KAFKA_PORT", 19092)
        self.smtp_port = smtp_port or _env_int("PLATFORM_SMTP_PORT", 2525)
        #: Extra environment for every service (the demo's DEV_CLOCK_OFFSET_SECONDS).
        self.env = dict(env or {})
        self.postgres = EmbeddedPostgres(self.data_dir / "pg", self.pg_port)
        self.kafka = EmbeddedKafka(self.kafka_port, self.data_dir / "logs" / "tansu.log")
        self.mail = MailSink(self.data_dir / "mail", self.smtp_port)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def service_env(self, spec: ServiceSpec) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": self.postgres.url_for(spec.database),
                "KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap,
                "HTTP_PORT": str(self.http_ports[spec.name]),
                "TRACES_DIR": str(self.data_dir / "traces"),
                "DATA_DIR": str(self.data_dir / "files" / spec.database),
                # A developer's platform: the services may start on the built-in (public) secrets.
                "DEV_MODE": "true",
                **self.env,
            }
        )
        if spec.name == "notifier":
            env.setdefault("SMTP_HOST", "127.0.0.1")
            env["SMTP_PORT"] = str(self.smtp_port)
        if spec.name == "web":
            for service, variable in URL_SETTINGS.items():
                env[variable] = self.url(service)
        # Every link in every email opens the web front of this platform.
        env.setdefault("PUBLIC_BASE_URL", f"http://localhost:{self.http_ports['web']}")
        return env

    def start(self) -> float:
        started = time.perf_counter()
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        self.postgres.start()
        for spec in SERVICES:
            asyncio.run(self.postgres.create_database(spec.database))
        self.kafka.start()
        self.mail.start()
        for spec in SERVICES:
            self.spawn(spec)
        self.wait_ready()
        return time.perf_counter() - started

    def spawn(self, spec: ServiceSpec) -> None:
        bin_dir = Path(sys.executable).parent
        with open(self.data_dir / "logs" / f"{spec.name}.log", "ab") as log:
            self.processes[spec.name] = subprocess.Popen(
                [str(bin_dir / spec.name), "serve"],
                env=self.service_env(spec),
                stdout=log,
                stderr=log,
                preexec_fn=_die_with_parent(signal.SIGTERM),
            )

    def supervise(self, restarts: dict[str, list[float]]) -> list[str]:
        """Restart PostgreSQL, the broker and each service that exited, with backoff (1, 2, 4… up to
        30 s after repeated crashes within a minute), like a Kubernetes restart policy. Returns what
        it did, to print. The services ride out the outage by themselves (their pools reconnect, the
        relays republish to a broker restarted empty, readiness is false meanwhile)."""
        said = []
        now = time.monotonic()
        infrastructure = (
            ("PostgreSQL", self.postgres, self.postgres.start, f"{self.postgres.data_dir}/server.log"),
            (
                "the broker (Tansu)",
                self.kafka,
                self.kafka.start,
                f"{self.kafka.log_path}; it restarts empty: the relays publish every event again",
            ),
        )
        for name, server, start, where in infrastructure:
            proc = server.proc
            if proc is None or proc.poll() is None:
                continue  # not started here, or running
            if not self._due(name, restarts, now):
                continue
            returncode = proc.returncode
            recent = restarts[name][:-1]
            try:
                start()
                said.append(
                    f"{name} exited with {returncode}; restarted"
                    + (f" (restart {len(recent) + 1} within a minute)" if recent else "")
                    + f" — see {where}"
                )
            except Exception as error:
                if server.proc is not None and server.proc.poll() is None:
                    # Started, but slow to accept connections (PostgreSQL's crash recovery): it goes on.
                    said.append(f"{name} exited with {returncode}; restarted, not answering yet ({error})")
                else:  # a port not free yet, a server still shutting down: again after the backoff
                    said.append(f"{name} exited with {returncode}; restarting failed ({error}), trying again")
        for spec in SERVICES:
            proc = self.processes.get(spec.name)
            if proc is None or proc.poll() is None:
                continue
            if not self._due(spec.name, restarts, now):
                continue
            recent = restarts[spec.name][:-1]
            said.append(
                f"{spec.name} exited with {proc.returncode}; restarting"
                + (f" (restart {len(recent) + 1} within a minute)" if recent else "")
                + f" — see {self.data_dir}/logs/{spec.name}.log"
            )
            self.spawn(spec)
        return said

    @staticmethod
    def _due(name: str, restarts: dict[str, list[float]], now: float) -> bool:
        """Whether `name` may be restarted now (backoff after crashes within a minute); if so, the
        restart is counted."""
        recent = [t for t in restarts.get(name, []) if now - t < 60]
        delay = min(30.0, 2.0 ** max(0, len(recent) - 1)) if recent else 0.0
        last = recent[-1] if recent else 0.0
        if now - last < delay:
            return False
        restarts[name] = [*recent, now]
        return True

    def wait_ready(self, timeout: float | None = None) -> None:
        # PLATFORM_READY_TIMEOUT: a busy machine (a CI runner, the tests' own load) starts slower.
        timeout = timeout or float(os.environ.get("PLATFORM_READY_TIMEOUT", 120))
        deadline = time.monotonic() + timeout
        pending = {s.name: s for s in SERVICES}
        with httpx.Client(timeout=1.0) as client:
            while pending:
                for name in list(pending):
                    proc = self.processes[name]
                    if proc.poll() is not None:
                        raise RuntimeError(
                            f"{name} exited ({proc.returncode}); see {self.data_dir}/logs/{name}.log"
                        )
                    try:
                        if client.get(f"{self.url(name)}/readyz").status_code == 200:
                            del pending[name]
                    except httpx.HTTPError:
                        pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"not ready after {timeout}s: {', '.join(pending)}")
                time.sleep(0.1)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.http_ports[service]}"

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.processes.clear()
        self.mail.stop()
        self.kafka.stop()
        self.postgres.stop()

    def print_summary(self, seconds: float) -> None:
        table = Table(title=f"Integrator platform — all services ready in {seconds:.1f}s")
        table.add_column("what")
        table.add_column("where")
        for spec in SERVICES:
            what = (
                "  (portal, staff console, every email link)" if spec.name == "web" else "  (API docs: /docs)"
            )
            table.add_row(spec.name, f"{self.url(spec.name)}{what}")
        table.add_row("PostgreSQL", self.postgres.url + "  (one database per service)")
        table.add_row("Kafka (Tansu)", self.kafka.bootstrap)
        table.add_row("SMTP sink", f"127.0.0.1:{self.smtp_port} -> {self.data_dir / 'mail'}")
        table.add_row("traces", str(self.data_dir / "traces") + "  (`platform trace <id>`)")
        table.add_row("logs", str(self.data_dir / "logs"))
        console.print(table)
        console.print(
            f"Open {self.url('web')} — first staff account: `make user EMAIL=you@vendor.example ROLE=ops`. "
            "Drive a journey: `make demo`. Ctrl-C stops all."
        )


def run(data_dir: Path) -> None:
    from platform_cli.monitoring import EmbeddedPrometheus

    platform = EmbeddedPlatform(data_dir)
    # Ops' local monitoring: a real Prometheus scraping the six services with the alert rules loaded;
    # the console's operations page shows its firing alerts.
    prometheus_port = _env_int("PLATFORM_PROMETHEUS_PORT", 9090)
    platform.env.setdefault("PROMETHEUS_URL", f"http://127.0.0.1:{prometheus_port}")
    prometheus = EmbeddedPrometheus(
        platform.data_dir / "prometheus",
        port=prometheus_port,
        targets={spec.name: platform.url(spec.name) for spec in SERVICES},
    )
    stop_requested = False

    def request_stop(*_: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        seconds = platform.start()
        try:
            prometheus.start()
        except (RuntimeError, OSError) as error:
            console.print(f"[yellow]no local Prometheus ({error}); the platform runs without it[/yellow]")
        platform.print_summary(seconds)
        if prometheus.proc is not None:
            console.print(f"Prometheus (graphs, firing alerts): {prometheus.url}/alerts")
        restarts: dict[str, list[float]] = {}
        while not stop_requested:
            for line in platform.supervise(restarts):
                console.print(f"[yellow]{line}[/yellow]")
            time.sleep(0.3)
    finally:
        console.print("stopping…")
        prometheus.stop()
        platform.stop()
        console.print("stopped; nothing left running.")
    wait_for_port  # noqa: B018 — re-exported for tools
