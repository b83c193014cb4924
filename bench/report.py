"""The printed table: each chassis figure beside its raw baseline and the ratio to its target."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

LABELS = {
    "relay": ("Relay: event store → topic", "raw aiokafka produce"),
    "rebuild": ("Projection rebuild", "raw asyncpg read + json + COPY"),
    "consumer": ("Reaction with inbox", "raw aiokafka consume + json"),
}


def print_table(report: dict[str, Any]) -> None:
    console = Console()
    table = Table(title=f"make bench — {report['events']:,} events, {report['machine']['cpus']} CPUs")
    table.add_column("figure")
    table.add_column("chassis", justify="right")
    table.add_column("baseline", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("target", justify="right")
    table.add_column("events")
    for name, (label, baseline) in LABELS.items():
        figure = report.get(name)
        if figure is None:
            continue
        target = figure["target_ratio"]
        ok = target is None or figure["ratio"] >= target
        colour = "green" if ok else "red"
        table.add_row(
            label,
            f"{figure['events_per_second']:,} ev/s",
            f"{figure['baseline_events_per_second']:,} ev/s\n[dim]{baseline}[/dim]",
            f"[{colour}]{figure['ratio']:.2f}[/{colour}]",
            f"≥ {target}" if target is not None else "—",
            f"{figure['chassis']['events']:,}",
        )
    console.print(table)
    load = report.get("load")
    if load:
        console.print(
            f"[dim]loaded {load['events']:,} events by COPY at {load['events_per_second']:,} ev/s; "
            f"relay message {report['relay']['message_bytes']} B + "
            f"{report['relay']['message_header_bytes']} B headers[/dim]"
        )
    for name in LABELS:
        figure = report.get(name)
        if figure and figure.get("dominated_by"):
            console.print(
                f"[yellow]{name}[/yellow] profile (loop thread, own time): {figure['dominated_by']}"
            )
            for fn in figure["profile"]["top_functions"][:5]:
                console.print(f"  {fn['own_share']:>5.1%}  {fn['function']}  ({fn['calls']:,} calls)")
