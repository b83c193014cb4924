"""Ops' view of a running platform, through the services' public HTTP APIs only."""

from __future__ import annotations

import os
import sys
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from chassis.auth import mint_token
from chassis.settings import ServiceSettings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Ops' view of the running platform.")
#: Piped or redirected (not a terminal), the tables are printed whole: rich would otherwise cut them
#: to 80 columns, and a cut integrator id or error is useless in a log or a grep.
console = Console() if sys.stdout.isatty() else Console(width=10_000, soft_wrap=True)

DEFAULT_URLS = {
    "onboarding": "http://127.0.0.1:8001",
    "sim-logistics": "http://127.0.0.1:8002",
    "ism-provisioning": "http://127.0.0.1:8003",
    "support": "http://127.0.0.1:8004",
    "notifier": "http://127.0.0.1:8005",
}


def service_url(name: str) -> str:
    """`ONBOARDING_URL`, `SIM_LOGISTICS_URL`... override the `make run` defaults."""
    return os.environ.get(f"{name.upper().replace('-', '_')}_URL", DEFAULT_URLS[name])


def client() -> httpx.Client:
    token = mint_token(ServiceSettings().auth_secret.get_secret_value(), role="ops", subject="ops-cli")
    return httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10)


def _get(http: httpx.Client, service: str, path: str, **params: Any) -> Any:
    r = http.get(service_url(service) + path, params={k: v for k, v in params.items() if v is not None})
    r.raise_for_status()
    return r.json()


@app.command()
def integrators(
    step: str = typer.Option(None, help="only integrators at this step"),
    overdue: bool = typer.Option(False, help="only integrators with an overdue step"),
) -> None:
    """Integrators by onboarding step, with overdue flags."""
    with client() as http:
        rows = _get(http, "onboarding", "/integrators", step=step, overdue=overdue or None)
    items = rows["items"] if isinstance(rows, dict) and "items" in rows else rows
    table = Table(title="Integrators")
    for col in ("integrator", "name", "step", "overdue", "live"):
        table.add_column(col)
    for row in items:
        table.add_row(
            str(row.get("integrator_id", "")),
            str(row.get("legal_name", "")),
            str(row.get("step", row.get("current_step", ""))),
            "[red]yes[/red]" if row.get("overdue") else "",
            "yes" if row.get("live") else "",
        )
    console.print(table)


@app.command()
def timeline(integrator_id: str) -> None:
    """One integrator's events across every service, in time order."""
    events: list[dict[str, Any]] = []
    with client() as http:
        for service in DEFAULT_URLS:
            try:
                events += _get(http, service, f"/ops/integrators/{integrator_id}/events")
            except httpx.HTTPError as error:
                console.print(f"[yellow]{service}: {error}[/yellow]")
    events.sort(key=lambda e: e["occurred_at"])
    table = Table(title=f"Timeline of {integrator_id}")
    for col in ("when", "service", "event", "stream"):
        table.add_column(col)
    for e in events:
        table.add_row(e["occurred_at"], e["service"], e["event_type"], e["stream_id"])
    console.print(table)


@app.command()
def lag() -> None:
    """Consumer lag, relay leadership, dead letters and held events per service."""
    table = Table(title="Services")
    for col in (
        "service",
        "events",
        "relay leader",
        "consumer lag",
        "dead letters",
        "held (oldest s)",
        "max RSS MB",
    ):
        table.add_column(col)
    with client() as http:
        for service in DEFAULT_URLS:
            try:
                s = _get(http, service, "/ops/status")
            except httpx.HTTPError as error:
                table.add_row(service, f"[red]{error}[/red]", "", "", "", "", "")
                continue
            lags = ", ".join(f"{c.split('.', 1)[1]}={sum(p.values())}" for c, p in s["consumer_lag"].items())
            # Events waiting for their integrator's registration (chassis.known_integrators).
            held = s.get("held_events") or {}
            waiting = (
                f"{sum(h['held'] for h in held.values())} ({max(h['oldest_held_seconds'] for h in held.values()):.0f})"
                if held
                else "0"
            )
            table.add_row(
                service,
                str(s["events"]),
                "yes" if s["relay_leader"] else "no",
                lags or "-",
                str(s["dead_letters"]),
                waiting,
                str(s["max_rss_mb"]),
            )
    console.print(table)


@app.command("dead-letters")
def dead_letters() -> None:
    """Poison messages of every service's consumers, with their reason."""
    table = Table(title="Dead letters")
    for col in ("service", "id", "consumer", "topic@offset", "reason", "replayed"):
        table.add_column(col)
    with client() as http:
        for service in DEFAULT_URLS:
            try:
                letters = _get(http, service, "/ops/dead-letters")
            except httpx.HTTPError as error:
                table.add_row(service, "", "", "", f"[red]unreachable: {error}[/red]", "")
                continue
            for d in letters:
                table.add_row(
                    service,
                    str(d["id"]),
                    d["consumer"],
                    f"{d['topic']}@{d['kafka_offset']}",
                    d["reason"][:80],
                    str(d["replayed_at"] or ""),
                )
    console.print(table)


@app.command("failed-emails")
def failed_emails() -> None:
    """Emails the notifier gave up on (resend them with the notifier's API)."""
    with client() as http:
        items = _get(http, "notifier", "/emails", status="failed")["emails"]
    table = Table(title="Failed emails")
    for col in ("email id", "template", "to", "attempts", "last error"):
        table.add_column(col)
    for e in items:
        table.add_row(
            str(e.get("email_id")),
            str(e.get("template")),
            ", ".join(e.get("recipients", [])),
            str(e.get("attempts")),
            str(e.get("last_error", ""))[:80],
        )
    console.print(table)
