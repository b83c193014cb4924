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
    print_platform_table(console, report)
    print_round_trips(console, report)
    cost = report.get("metrics_cost")
    if cost:
        ok = cost["ratio"] <= cost["target_ratio"]
        colour = "green" if ok else "red"
        console.print(
            f"metrics cost: services' CPU per command {cost['metrics_off']} ms without metrics, "
            f"{cost['metrics_on']} ms with them (scraped every {cost['scrape_interval_seconds']:g} s): "
            f"[{colour}]×{cost['ratio']}[/{colour}] (target ≤ ×{cost['target_ratio']})"
        )
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


def _ms(figure: dict[str, Any] | None) -> str:
    if not figure:
        return "—"
    return f"p50 {figure['p50_ms']:,} / p99 {figure['p99_ms']:,} ms"


def print_platform_table(console: Console, report: dict[str, Any]) -> None:
    """The whole platform (`make run`'s processes): throughput, latency, memory, cold start."""
    e2e, latency = report.get("e2e"), report.get("latency")
    memory, cold = report.get("memory"), report.get("cold_start")
    if not (e2e or latency or memory or cold):
        return
    table = Table(title="the whole platform — every service its own process, on the same 2 cores")
    table.add_column("figure")
    table.add_column("platform", justify="right")
    table.add_column("baseline", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("target", justify="right")

    def verdict(ok: bool, text: str) -> str:
        colour = "green" if ok else "red"
        return f"[{colour}]{text}[/{colour}]"

    if e2e:
        ok = e2e["commands_per_second"] >= e2e["target_commands_per_second"]
        table.add_row(
            "End to end: HTTP → store → relay → notifier projection",
            verdict(ok, f"{e2e['commands_per_second']:,} cmd/s"),
            f"{e2e['baseline_messages_per_second']:,} msg/s\n[dim]raw aiokafka produce + consume[/dim]",
            f"{e2e['ratio']:.3f}",
            f"≥ {e2e['target_commands_per_second']:,} cmd/s",
        )
    if latency and latency.get("command_to_projection"):
        target = latency["target_p99_ms"]
        base = _ms(latency["baseline_produce_to_consume"])
        for label, key, ratio in (
            ("command → projection", "command_to_projection", "projection_p99_ratio_to_raw"),
            ("command → email file", "command_to_email", "email_p99_ratio_to_raw"),
        ):
            fig = latency[key]
            table.add_row(
                f"Latency at {latency['rate_per_second']:g} cmd/s: {label}",
                verdict(fig["p99_ms"] <= target, _ms(fig)),
                f"{base}\n[dim]raw produce → consume, fetch wait {latency['fetch_max_wait_ms']} ms[/dim]",
                f"{latency[ratio]:.1f} (p99)",
                f"p99 ≤ {target} ms",
            )
        for run in latency["runs"][1:]:
            table.add_row(
                f"  at {run['rate_per_second']:g} cmd/s",
                f"{_ms(run['command_to_projection'])}\n{_ms(run['command_to_email'])} (email)",
                "",
                "",
                "",
            )
    if memory:
        for name, fig in memory["peak_rss_mb"].items():
            table.add_row(
                f"Peak RSS {name}",
                verdict(fig["peak_rss_mb"] < memory["target_mb"], f"{fig['peak_rss_mb']} MB"),
                "—",
                f"{fig['peak_rss_mb'] / memory['target_mb']:.2f}",
                f"< {memory['target_mb']} MB",
            )
    if cold:
        table.add_row(
            "Cold start to all ready",
            verdict(cold["seconds"] < cold["target_seconds"], f"{cold['seconds']} s"),
            f"restart {cold['restart_seconds']} s",
            f"{cold['ratio_to_target']:.2f}",
            f"< {cold['target_seconds']:g} s",
        )
    console.print(table)
    if e2e:
        cpu = e2e["saturation"]["cpu_ms_per_command"]
        parts = ", ".join(f"{k} {v}" for k, v in sorted(cpu.items(), key=lambda kv: -kv[1]))
        console.print(f"[yellow]e2e[/yellow] CPU ms per command at saturation: {parts}")


def print_round_trips(console: Console, report: dict[str, Any]) -> None:
    """Issue 18's database round trips (per registration, per plain command) and the idle platform."""
    trips, idle = report.get("round_trips"), report.get("idle")
    if not (trips or idle):
        return
    table = Table(title="database round trips and the idle platform")
    table.add_column("figure")
    table.add_column("measured", justify="right")
    table.add_column("target", justify="right")
    table.add_column("detail")

    def verdict(value: float | None, target: float) -> str:
        if value is None:
            return "—"
        colour = "green" if value <= target else "red"
        return f"[{colour}]{value:g}[/{colour}]"

    if trips:
        by_service = trips.get("per_registration_by_service") or {}
        table.add_row(
            "Round trips per registration (every service)",
            verdict(trips["per_registration"], trips["per_registration_target"]),
            f"≤ {trips['per_registration_target']}",
            ", ".join(f"{k} {v:g}" for k, v in sorted(by_service.items(), key=lambda kv: -kv[1])),
        )
        plain = trips.get("plain_command") or {}
        table.add_row(
            "Round trips per plain command (ServiceRuntime.execute)",
            verdict(trips["per_plain_command"], trips["per_plain_command_target"]),
            f"≤ {trips['per_plain_command_target']}",
            f"{plain.get('commands', 0)} commands, {plain.get('cpu_ms_per_command', '—')} ms CPU each",
        )
        platform = trips.get("platform") or {}
        sheet = platform.get("onboarding_configuration_sheet")
        if sheet:
            table.add_row(
                "  onboarding: POST …/configuration-sheet",
                f"{sheet['per_command']:g}",
                "",
                "onboarding's round trips, its relay included",
            )
        for run in platform.get("latency_runs", []):
            table.add_row(
                f"  per registration at {run['rate_per_second']:g} cmd/s",
                f"{run['per_command']:g}" if run.get("per_command") is not None else "—",
                "",
                ", ".join(f"{k} {v:g}" for k, v in sorted(run["per_service"].items(), key=lambda kv: -kv[1])),
            )
        if platform.get("idle_per_second"):
            rest = platform["idle_per_second"]
            table.add_row(
                "  at rest, per second",
                f"{sum(rest.values()):g}",
                "",
                ", ".join(f"{k} {v:g}" for k, v in sorted(rest.items(), key=lambda kv: -kv[1])),
            )
    if idle:
        shares = {k.removesuffix("_percent"): v for k, v in idle.items() if k.endswith("_percent")}
        table.add_row(
            f"Idle platform, % of a core ({idle['window_seconds']:g} s)",
            verdict(idle["total_percent_of_a_core"], idle["target_percent_of_a_core"]),
            f"≤ {idle['target_percent_of_a_core']:g} %",
            ", ".join(f"{k} {v:g}" for k, v in sorted(shares.items(), key=lambda kv: -kv[1]))
            + f" (load average {idle['load_average_1min']})",
        )
    console.print(table)
