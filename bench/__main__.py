"""`make bench` (`uv run python -m bench --help`): chassis figures beside raw baselines, one process, one run."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import consume, e2e, idle, metrics_cost, rebuild, relay, web
from bench.profiling import dominant, profiled
from bench.report import print_table
from bench.service import load_events, plain_command_round_trips, started_runtime
from chassis.logs import configure_logging
from chassis.testing import Stack

RESULTS = Path(__file__).parent / "results"
TARGETS = {"relay": 0.5, "rebuild": 0.5, "consumer": None}
#: The issue's targets for the whole platform on this 2-core machine.
E2E_TARGET_COMMANDS_PER_SECOND = 1000
LATENCY_TARGET_P99_MS = 100
RSS_TARGET_MB = 150
COLD_START_TARGET_SECONDS = 5.0
#: Issue 18: database round trips per registration (every service) and per plain command.
ROUND_TRIPS_PER_REGISTRATION_TARGET = 15
ROUND_TRIPS_PER_PLAIN_COMMAND_TARGET = 4
#: Issue 18: `make run`'s platform at rest, every process together.
IDLE_TARGET_PERCENT_OF_A_CORE = 5.0


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--events",
        type=int,
        default=_env_int("BENCH_EVENTS", 1_000_000),
        help="events in the store for the relay and the rebuild (env BENCH_EVENTS; default 1,000,000)",
    )
    parser.add_argument(
        "--consumer-events",
        type=int,
        default=None,
        help="events the reaction reads (env BENCH_CONSUMER_EVENTS; default min(events, 100,000))",
    )
    parser.add_argument("--skip-consumer", action="store_true", help="no reaction figure")
    parser.add_argument(
        "--compare-signing",
        action="store_true",
        help="the relay and the reaction also without signing / verification, same run (signed, "
        "unsigned, unsigned, signed): `signing` in their figures",
    )
    parser.add_argument(
        "--skip-e2e", action="store_true", help="no whole-platform figures (e2e, latency, RSS, cold start)"
    )
    parser.add_argument(
        "--e2e-commands",
        type=int,
        default=_env_int("BENCH_E2E_COMMANDS", 3000),
        help="registrations at saturation (env BENCH_E2E_COMMANDS)",
    )
    parser.add_argument("--e2e-concurrency", type=int, default=32, help="HTTP connections at saturation")
    parser.add_argument(
        "--latency-rates",
        default=os.environ.get("BENCH_LATENCY_RATES", "100,50,25"),
        help="commands/s of the latency runs; the first is the headline (env BENCH_LATENCY_RATES)",
    )
    parser.add_argument(
        "--latency-seconds",
        type=float,
        default=float(os.environ.get("BENCH_LATENCY_SECONDS", 10)),
        help="seconds of each latency run (env BENCH_LATENCY_SECONDS)",
    )
    parser.add_argument(
        "--profile",
        choices=["auto", "always", "never"],
        default="auto",
        help="cProfile a phase again when its ratio misses the target (auto), always, or never",
    )
    parser.add_argument("--profile-events", type=int, default=50_000, help="events in a profiled re-run")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per phase")
    parser.add_argument("--no-save", action="store_true", help="print only, write no JSON")
    parser.add_argument(
        "--skip-web", action="store_true", help="no web front figures (portal home, staff pages)"
    )
    parser.add_argument(
        "--skip-metrics-cost", action="store_true", help="no CPU per command with metrics on vs off"
    )
    parser.add_argument(
        "--metrics-commands",
        type=int,
        default=_env_int("BENCH_METRICS_COMMANDS", 1500),
        help="registrations per round of the metrics cost (env BENCH_METRICS_COMMANDS)",
    )
    parser.add_argument(
        "--metrics-rounds", type=int, default=2, help="rounds of (off, on) for the metrics cost"
    )
    parser.add_argument(
        "--metrics-scrape-seconds", type=float, default=15.0, help="Prometheus's scrape interval, metrics on"
    )
    parser.add_argument(
        "--plain-commands", type=int, default=200, help="plain commands whose round trips are counted"
    )
    parser.add_argument("--skip-idle", action="store_true", help="no idle platform CPU figure")
    parser.add_argument("--idle-seconds", type=float, default=20.0, help="the idle platform's window")
    parser.add_argument("--idle-settle", type=float, default=15.0, help="seconds at rest before the window")
    web.add_arguments(parser)
    return parser.parse_args(argv)


def ratio(chassis: dict[str, Any], raw: dict[str, Any]) -> float:
    return round(float(chassis["events_per_second"]) / float(raw["events_per_second"]), 3)


async def run(args: argparse.Namespace, stack: Stack) -> dict[str, Any]:
    n = args.events
    m = min(n, args.consumer_events or _env_int("BENCH_CONSUMER_EVENTS", 100_000))
    runtime = await started_runtime(stack, "bench", prefix="bench.")
    results: dict[str, Any] = {}
    try:
        print(f"loading {n:,} events into the event store…", file=sys.stderr)
        results["load"] = await load_events(runtime, n)

        print(f"round trips of {args.plain_commands} plain commands…", file=sys.stderr)
        results["plain_command"] = await plain_command_round_trips(runtime, args.plain_commands)

        print("relay: raw producer, then the relay…", file=sys.stderr)
        relay_figures = await relay.relay_throughput(runtime, n, args.timeout)
        value, headers = await relay.sample_message(runtime)
        raw_produce = await relay.raw_produce(runtime, n, value, headers)
        relay_signing = None
        if args.compare_signing:
            # Signed, unsigned, unsigned, signed (the headline run above is the first): a drift of the
            # shared machine over the four runs weighs on both sides alike. The unsigned runs go to a
            # topic of their own: the service's holds only signed messages, which the reaction reads.
            print("relay without signing, twice, then signed again…", file=sys.stderr)
            unsigned = [
                await relay.relay_throughput(
                    runtime, n, args.timeout, sign=False, topic=f"{runtime.topic}.unsigned"
                )
                for _ in range(2)
            ]
            signed = [relay_figures, await relay.relay_throughput(runtime, n, args.timeout)]
            relay_signing = _signing_figures(signed, unsigned, raw_produce)
        results["relay"] = {
            "unit": "events/s",
            "events_per_second": relay_figures["events_per_second"],
            "baseline_events_per_second": raw_produce["events_per_second"],
            "ratio": ratio(relay_figures, raw_produce),
            "target_ratio": TARGETS["relay"],
            "message_bytes": len(value),
            "message_header_bytes": sum(len(k) + len(v) for k, v in headers),
            "chassis": relay_figures,
            "baseline": raw_produce
            | {
                "what": "raw aiokafka producer, chassis.kafka.producer settings, same size/keys/headers, send all + gather"
            },
        }
        if relay_signing is not None:
            results["relay"]["signing"] = relay_signing

        print("rebuild: raw read + decode + COPY, then the projection rebuild…", file=sys.stderr)
        raw_rebuild = await rebuild.raw_read_decode_copy(runtime)
        rebuilt = await rebuild.rebuild_speed(runtime)
        results["rebuild"] = {
            "unit": "events/s",
            "events_per_second": rebuilt["events_per_second"],
            "baseline_events_per_second": raw_rebuild["events_per_second"],
            "ratio": ratio(rebuilt, raw_rebuild),
            "target_ratio": TARGETS["rebuild"],
            "chassis": rebuilt,
            "baseline": raw_rebuild
            | {
                "what": "raw asyncpg read of the same pages + json.loads(payload) + COPY of one row per event"
            },
        }

        if not args.skip_consumer:
            print(
                f"consumer: raw aiokafka consumer, then a reaction with the inbox, {m:,} events…",
                file=sys.stderr,
            )
            raw_consumed = await consume.raw_consume(runtime, m, args.timeout)
            reacted = await consume.reaction_throughput(runtime, m, args.timeout)
            consumer_signing = None
            if args.compare_signing:
                print("reaction without verifying, twice, then verifying again…", file=sys.stderr)
                unverified = [
                    await consume.reaction_throughput(
                        runtime, m, args.timeout, verify=False, name=f"bench-nosig{i}"
                    )
                    for i in range(2)
                ]
                verified = [
                    reacted,
                    await consume.reaction_throughput(runtime, m, args.timeout, name="bench-sig1"),
                ]
                consumer_signing = _signing_figures(verified, unverified, raw_consumed)
            results["consumer"] = {
                "unit": "events/s",
                "events_per_second": reacted["events_per_second"],
                "baseline_events_per_second": raw_consumed["events_per_second"],
                "ratio": ratio(reacted, raw_consumed),
                "target_ratio": TARGETS["consumer"],
                "chassis": reacted,
                "baseline": raw_consumed
                | {"what": "raw aiokafka consumer in a group, getmany(500) + json.loads + commit per batch"},
            }
            if consumer_signing is not None:
                results["consumer"]["signing"] = consumer_signing

        await profile_misses(args, runtime, results)
    finally:
        await runtime.stop()
    return results


def _signing_figures(
    signed: list[dict[str, Any]], unsigned: list[dict[str, Any]], raw: dict[str, Any]
) -> dict[str, Any]:
    """Events/s and ratio to the same raw baseline, with and without signing (mean of the runs)."""

    def mean(runs: list[dict[str, Any]]) -> float:
        return sum(float(r["events_per_second"]) for r in runs) / len(runs)

    on, off = mean(signed), mean(unsigned)
    return {
        "events_per_second_signed": round(on),
        "events_per_second_unsigned": round(off),
        "ratio_signed": round(on / float(raw["events_per_second"]), 3),
        "ratio_unsigned": round(off / float(raw["events_per_second"]), 3),
        "signed_over_unsigned": round(on / off, 3),
        "runs_signed": [r["events_per_second"] for r in signed],
        "runs_unsigned": [r["events_per_second"] for r in unsigned],
        "what": "runs in the order signed, unsigned, unsigned, signed; each side's mean",
    }


async def profile_misses(args: argparse.Namespace, runtime: Any, results: dict[str, Any]) -> None:
    """Run a phase again under cProfile when it misses its target (or always): name what dominates."""
    if args.profile == "never":
        return
    k = min(args.events, args.profile_events)

    def wanted(name: str) -> bool:
        figure = results.get(name)
        if figure is None:
            return False
        if args.profile == "always":
            return True
        target = figure["target_ratio"]
        return target is not None and figure["ratio"] < target

    if wanted("relay"):
        print(f"profiling the relay over {k:,} events…", file=sys.stderr)
        _, prof = await profiled(relay.relay_throughput(runtime, k, args.timeout))
        results["relay"]["profile"] = prof
        # cProfile sees the loop's thread only; the span exporter's thread competes for the GIL.
        print("relay again with tracing varied (what the profile cannot see)…", file=sys.stderr)
        variants = await relay.tracing_variants(runtime, k, args.timeout)
        results["relay"]["tracing_variants"] = variants
        results["relay"]["dominated_by"] = (
            f"span export thread: {variants['spans_exported']:,} ev/s as configured vs "
            f"{variants['spans_not_exported']:,} with spans made but not exported, "
            f"{variants['no_op_tracer']:,} with a no-op tracer; loop thread: {dominant(prof)}"
        )
    if wanted("rebuild"):
        print("profiling the rebuild…", file=sys.stderr)
        _, prof = await profiled(rebuild.rebuild_speed(runtime))
        results["rebuild"]["profile"] = prof
        results["rebuild"]["dominated_by"] = dominant(prof)
    if wanted("consumer"):
        print("profiling the reaction…", file=sys.stderr)
        await runtime.pool.execute("DELETE FROM inbox")
        _, prof = await profiled(consume.reaction_throughput(runtime, min(k, 20_000), args.timeout))
        results["consumer"]["profile"] = prof
        results["consumer"]["dominated_by"] = dominant(prof)


def whole_platform(args: argparse.Namespace) -> dict[str, Any]:
    """`make run`'s platform (each service its own process) from a cold start: saturation, latency at
    fixed rates, peak RSS, and the raw aiokafka baselines on the same broker; then a restart."""
    root = e2e.scratch_dir()
    platform = e2e.Platform(root)
    print("whole platform: cold start (initdb, PostgreSQL, Tansu, SMTP sink, 5 services)…", file=sys.stderr)
    cold = platform.start()
    try:
        measured = asyncio.run(_whole_platform_load(args, platform))
        print("whole platform: restart on the same data…", file=sys.stderr)
        restart = platform.restart()
    finally:
        platform.stop()
        shutil.rmtree(root, ignore_errors=True)
    e2e_figure, latency_figure, memory, round_trips = measured
    return {
        "round_trips_e2e": round_trips,
        "e2e": e2e_figure,
        "latency": latency_figure,
        "memory": memory,
        "cold_start": {
            "unit": "s",
            "seconds": round(cold, 2),
            "restart_seconds": round(restart, 2),
            "target_seconds": COLD_START_TARGET_SECONDS,
            "ratio_to_target": round(cold / COLD_START_TARGET_SECONDS, 2),
            "what": (
                "EmbeddedPlatform.start() on an empty data directory (initdb, PostgreSQL, 5 databases, "
                "Tansu, SMTP sink, 5 service processes) until every /readyz answers 200; restart: the "
                "same on the data left by the first run"
            ),
        },
    }


async def _whole_platform_load(
    args: argparse.Namespace, platform: e2e.Platform
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    rates = [float(r) for r in args.latency_rates.split(",") if r.strip()]
    # The pipeline live end to end (consumer groups joined) before anything is timed.
    await e2e.latency(platform, 20, 20, 20, args.timeout)
    idle_round_trips = await e2e.idle_round_trips(platform)
    print(f"whole platform: {args.e2e_commands:,} registrations at saturation…", file=sys.stderr)
    saturated = await e2e.saturation(platform, args.e2e_commands, args.e2e_concurrency, args.timeout)
    await asyncio.sleep(1.0)  # the services export their spans every 0.5 s
    saturated["span_profile"] = e2e.span_profile(platform.embedded.data_dir / "traces")
    runs = []
    for rate in rates:
        print(
            f"whole platform: latency at {rate:g} commands/s for {args.latency_seconds:g} s…", file=sys.stderr
        )
        n = max(50, int(rate * args.latency_seconds))
        runs.append(await e2e.latency(platform, rate, n, max(10, int(rate * 2)), args.timeout))
    print(
        "whole platform: configuration sheets, one at a time (a plain command's round trips)…",
        file=sys.stderr,
    )
    sheets = await e2e.configuration_sheets(platform, 200)
    print("whole platform: raw aiokafka produce + consume on the same broker…", file=sys.stderr)
    value_bytes = 1100  # an IntegratorRegistered message with its envelope, about
    raw = await e2e.raw_produce_consume(platform, 50_000, value_bytes, args.timeout)
    raw_latency = await e2e.raw_latency(platform, rates[0] if rates else 100, 1000, value_bytes)
    e2e_figure = {
        "unit": "commands/s",
        "commands_per_second": saturated["commands_per_second"],
        "baseline_messages_per_second": raw["messages_per_second"],
        "ratio": round(saturated["commands_per_second"] / raw["messages_per_second"], 4),
        "target_commands_per_second": E2E_TARGET_COMMANDS_PER_SECOND,
        "ratio_to_target": round(saturated["commands_per_second"] / E2E_TARGET_COMMANDS_PER_SECOND, 3),
        "what": (
            "POST /integrators (onboarding: validation, token, SIRET lock, event store, projections) → "
            "relay → Tansu → notifier reaction (inbox, IntegratorContactsNoted into notifier_contacts, "
            "the welcome email intended) → email sent to the SMTP sink after commit; from the first "
            "request to the last notifier_contacts row"
        ),
        "cpu_ms_per_command": saturated["cpu_ms_per_command"],
        "saturation": saturated,
        "baseline": raw
        | {"what": "raw aiokafka: one producer sends all, one consumer in a group reads all, same broker"},
    }
    head = runs[0] if runs else {}
    raw_p99 = raw_latency["produce_to_consume"]["p99_ms"] or 1.0
    latency_figure = {
        "unit": "ms",
        "rate_per_second": head.get("rate_per_second"),
        "command_to_projection": head.get("command_to_projection"),
        "command_to_email": head.get("command_to_email"),
        "http_accepted": head.get("http_accepted"),
        "baseline_produce_to_consume": raw_latency["produce_to_consume"],
        "projection_p99_ratio_to_raw": round((head["command_to_projection"]["p99_ms"] or 0) / raw_p99, 2)
        if head
        else None,
        "email_p99_ratio_to_raw": round((head["command_to_email"]["p99_ms"] or 0) / raw_p99, 2)
        if head
        else None,
        "target_p99_ms": LATENCY_TARGET_P99_MS,
        "email_p99_ratio_to_target": round(
            (head["command_to_email"]["p99_ms"] or 0) / LATENCY_TARGET_P99_MS, 2
        )
        if head
        else None,
        "fetch_max_wait_ms": raw_latency["fetch_max_wait_ms"],
        "runs": runs,
        "baseline": raw_latency
        | {"what": "raw aiokafka: one message at a time at the same rate, produce → consume, same broker"},
    }
    services = saturated["services"]
    peak = max(v["peak_rss_mb"] for v in services.values())
    memory = {
        "unit": "MB",
        "peak_rss_mb": services,
        "max_peak_rss_mb": peak,
        "target_mb": RSS_TARGET_MB,
        "ratio_to_target": round(peak / RSS_TARGET_MB, 2),
        "what": "each service process's peak RSS (kernel VmHWM, and psutil every 100 ms) during the saturation run",
    }
    round_trips = {
        "saturation": saturated["round_trips"],
        "latency_runs": [{"rate_per_second": r["rate_per_second"]} | r["round_trips"] for r in runs],
        "idle_per_second": idle_round_trips,
        "onboarding_configuration_sheet": sheets,
    }
    return e2e_figure, latency_figure, memory, round_trips


def round_trips_figure(results: dict[str, Any]) -> dict[str, Any]:
    """Issue 18's two round-trip figures with their targets, and what they come from."""
    plain = results.pop("plain_command", None)
    platform = results.pop("round_trips_e2e", None)
    saturation = platform["saturation"] if platform else {}
    return {
        "unit": "database round trips",
        "per_registration": saturation.get("per_command"),
        "per_registration_target": ROUND_TRIPS_PER_REGISTRATION_TARGET,
        "per_registration_by_service": saturation.get("per_service"),
        "per_plain_command": plain["per_command"] if plain else None,
        "per_plain_command_target": ROUND_TRIPS_PER_PLAIN_COMMAND_TARGET,
        "plain_command": plain,
        "platform": platform,
        "what": (
            "per registration: every service's db_round_trips_total (read from /metrics) over the "
            "saturation run, until the platform is quiet again, divided by the registrations — the "
            "relays, consumers, schedules and metrics refreshes of every service included (their rate "
            "at rest: platform.idle_per_second); per plain command: ServiceRuntime.execute (load, "
            "decide, append, projection) counted on the runtime's pool, the pool's reset included"
        ),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging("bench", "WARNING")
    started_at = datetime.now(UTC)
    wall = time.perf_counter()
    print("starting the embedded stack (PostgreSQL, Tansu)…", file=sys.stderr)
    stack = Stack.start()
    try:
        results = asyncio.run(run(args, stack))
    finally:
        stack.stop()
    if not args.skip_e2e:
        results |= whole_platform(args)
    results["round_trips"] = round_trips_figure(results)
    if not args.skip_idle:
        print(f"idle platform: `make run`'s processes at rest for {args.idle_seconds:g} s…", file=sys.stderr)
        results["idle"] = idle.measure(args.idle_seconds, args.idle_settle) | {
            "target_percent_of_a_core": IDLE_TARGET_PERCENT_OF_A_CORE,
            "what": "bench/idle.py: every process of `make run` (services, PostgreSQL, broker) at rest",
        }
    if not args.skip_metrics_cost:
        results["metrics_cost"] = metrics_cost.run(
            args.metrics_commands,
            args.e2e_concurrency,
            args.metrics_rounds,
            args.timeout,
            args.metrics_scrape_seconds,
        )
    if not args.skip_web:
        print("web front: the portal home and the staff pages on `make run`'s platform…", file=sys.stderr)
        results["web"] = web.run(args)
    report: dict[str, Any] = {
        "started_at": started_at.isoformat(),
        "command": "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "events": args.events,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "stack": (
            "relay, rebuild, consumer: embedded PostgreSQL + Tansu, the chassis in the bench's process; "
            "e2e, latency, memory, cold start: `make run`'s platform, every service its own process"
        ),
        "wall_seconds": round(time.perf_counter() - wall, 1),
        **results,
    }
    print_table(report)
    if "web" in results:
        print("\n".join(web.summary(results["web"])))
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        text = json.dumps(report, indent=2, default=str)
        path = RESULTS / f"{started_at.strftime('%Y%m%dT%H%M%SZ')}.json"
        path.write_text(text + "\n")
        (RESULTS / "latest.json").write_text(text + "\n")
        print(f"results: {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
