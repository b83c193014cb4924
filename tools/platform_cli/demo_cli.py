"""`platform demo`: run the `Journey` against a running `make run`, or (`--embedded`) against an
embedded platform started for it and stopped afterwards; print the timeline, the emails and the trace."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from chassis.devstack import free_port
from chassis.settings import ServiceSettings
from platform_cli.demo import (
    PARIS,
    SERVICES,
    Journey,
    JourneyFailed,
    JourneyReport,
    clock_offset_for_support_hours,
)
from platform_cli.ops import service_url
from platform_cli.stack import SERVICES as SPECS
from platform_cli.stack import EmbeddedPlatform
from platform_cli.traces import read_spans, render, trace_tree

# Piped to a file or CI, rich would wrap at 80 columns: the tables read better wider.
console = Console(width=None if sys.stdout.isatty() else 150)


def _shown(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _port(default: int) -> int:
    """The `make run` port when it is free, else any free one (a `make run` may be up beside us)."""
    return default if _port_free(default) else free_port()


async def _drive(urls: dict[str, str], mail_dir: Path) -> JourneyReport:
    secret = ServiceSettings().auth_secret.get_secret_value()
    clients = {name: httpx.AsyncClient(base_url=urls[name], timeout=30) for name in SERVICES}
    try:
        journey = Journey(
            clients=clients, auth_secret=secret, mail_dir=mail_dir, log=lambda line: console.print(line)
        )
        return await journey.run()
    finally:
        for client in clients.values():
            await client.aclose()


def run_against(urls: dict[str, str], mail_dir: Path, traces_dir: Path) -> JourneyReport:
    """The journey against services already running (`make run`)."""
    console.rule("Seed 000: one integrator from registration to GO intégrateur; seed 004: one ticket")
    report = asyncio.run(_drive(urls, mail_dir))
    time.sleep(1.0)  # the services export spans in batches every 500 ms
    show(report, traces_dir)
    return report


def run_embedded(data_dir: Path) -> JourneyReport:
    """Start the embedded platform (PostgreSQL, Tansu, SMTP sink, five services), run the journey,
    print it, and stop everything — nothing is left running, whatever happens."""
    now = datetime.now(UTC)
    offset = clock_offset_for_support_hours(now)
    env: dict[str, str] = {}
    if offset > timedelta(0):
        env["DEV_CLOCK_OFFSET_SECONDS"] = str(int(offset.total_seconds()) + 1)
        console.print(
            f"[yellow]Support hours are closed ({now.astimezone(PARIS):%a %H:%M} in Paris) and the SIM "
            f"validation call is held in them: this platform's clock runs {_duration(offset)} ahead "
            f"(DEV_CLOCK_OFFSET_SECONDS).[/yellow]"
        )
    ports = {spec.name: _port(spec.port) for spec in SPECS}
    platform = EmbeddedPlatform(
        data_dir,
        http_ports=ports,
        pg_port=_port(54329),
        kafka_port=_port(19092),
        smtp_port=_port(2525),
        env=env,
    )
    try:
        seconds = platform.start()
        console.print(f"embedded platform ready in {seconds:.1f}s (data under {platform.data_dir})")
        console.rule("Seed 000: one integrator from registration to GO intégrateur; seed 004: one ticket")
        report = asyncio.run(_drive({name: platform.url(name) for name in SERVICES}, platform.mail.directory))
    finally:
        console.print("stopping the embedded platform…")
        platform.stop()  # the services flush their spans as they stop
    show(report, platform.data_dir / "traces")
    console.print("stopped; nothing left running.")
    return report


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}" if minutes >= 60 else f"{minutes} min"


def show(report: JourneyReport, traces_dir: Path) -> None:
    day = (
        datetime.fromisoformat(report.timeline[0]["occurred_at"]).astimezone(PARIS)
        if report.timeline
        else None
    )
    timeline = Table(
        title=f"Timeline of integrator {report.integrator_id}: {len(report.timeline)} events"
        + (f", {day:%A %d %B %Y} (Paris time)" if day else "")
    )
    for column in ("time", "service", "event", "stream"):
        timeline.add_column(column, no_wrap=True)
    for event in report.timeline:
        at = datetime.fromisoformat(event["occurred_at"]).astimezone(PARIS)
        style = "dim" if event["service"] == "notifier" else None
        timeline.add_row(
            at.strftime("%H:%M:%S.%f")[:-3],
            event["service"],
            event["event_type"],
            event["stream_id"],
            style=style,
        )
    console.print(timeline)

    emails = Table(title=f"Emails produced: {len(report.emails)}")
    for column in ("event", "subject", "to", "file"):
        emails.add_column(column, overflow="fold")
    for email in report.emails:
        emails.add_row(
            email.source_event_type, email.subject, ", ".join(email.recipients), _shown(email.path)
        )
    console.print(emails)

    trace_id = report.production_order_trace_id
    spans = read_spans(traces_dir) if traces_dir.exists() else []
    tree = render(trace_tree(spans, trace_id)) if any(s.trace_id == trace_id for s in spans) else ""
    option = "" if traces_dir.resolve() == Path(".data/traces").resolve() else f" --traces-dir {traces_dir}"
    text = Text(tree + "\n\n" if tree else "")
    text.append(
        "The production order's request is trace "
        + trace_id
        + ": from the HTTP request in sim-logistics through the event store, the relay (its batch span is "
        "linked to the append), onboarding's and the notifier's consumers, to the email sent. See it with:\n"
    )
    text.append(f"  uv run platform trace {trace_id}{option}\n", style="bold")
    text.append(
        f"Every service's spans: {_shown(traces_dir)}{os.sep}<service>.jsonl (OTLP JSON lines), or your "
        "collector when OTEL_EXPORTER_OTLP_ENDPOINT is set."
    )
    console.print(Panel(text, title="Traces"))
    console.print(
        f"[green]Done in {report.seconds:.1f}s: integrator {report.integrator_id} is live, ticket "
        f"{report.ticket_id} rated, {len(report.emails)} emails sent.[/green]"
    )


def main(embedded: bool, data_dir: Path, mail_dir: Path | None, traces_dir: Path | None) -> int:
    try:
        if embedded:
            run_embedded(data_dir)
        else:
            urls = {name: service_url(name) for name in SERVICES}
            run_against(urls, mail_dir or data_dir / "mail", traces_dir or data_dir / "traces")
    except JourneyFailed as failed:
        console.print(f"[red]the journey stopped: {failed}[/red]")
        return 1
    except httpx.ConnectError as error:
        console.print(f"[red]cannot reach a service ({error}): is `make run` up? Or use --embedded.[/red]")
        return 1
    return 0
