"""Where a registration's database round trips go: `make run`'s platform with TRACE_DATABASE=true
(a span per query), a saturation run, then per service and statement how many per registration.

`uv run python -m bench.round_trips [--commands 300]`: prints the counted figure
(`db_round_trips_total`, as in `make bench`) and the statements that make it, most frequent first.
Prepares and COPY make round trips without a span of their own; a savepoint's name is numbered
(one line per statement shape: the numbers are masked).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import time
from collections import Counter
from typing import Any

from bench import e2e
from platform_cli.traces import read_spans

_SAVEPOINT = re.compile(r"__asyncpg_savepoint_\d+__")


def statements(traces: Any, since_ns: int, until_ns: int) -> Counter[tuple[str, str]]:
    """(service, statement shape) -> queries, for the database spans started in the window."""
    out: Counter[tuple[str, str]] = Counter()
    for span in read_spans(traces):
        statement = span.attributes.get("db.statement")
        if statement is None or not since_ns <= span.start_ns <= until_ns:
            continue
        out[(span.service, _SAVEPOINT.sub("…", " ".join(str(statement).split()))[:110])] += 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=300, help="registrations at saturation")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--top", type=int, default=40, help="statements printed")
    args = parser.parse_args()
    root = e2e.scratch_dir()
    platform = e2e.Platform(root)
    platform.embedded.env["TRACE_DATABASE"] = "true"
    platform.start()
    try:

        async def load() -> tuple[dict[str, Any], int, int]:
            await e2e.latency(platform, 20, 20, 20, 300)  # consumer groups joined, statements prepared
            since = time.time_ns()
            saturated = await e2e.saturation(platform, args.commands, args.concurrency, 600)
            return saturated, since, time.time_ns()

        saturated, since, until = asyncio.run(load())
        time.sleep(1.0)  # the services export their spans every 0.5 s
        queries = statements(platform.embedded.data_dir / "traces", since, until)
    finally:
        platform.stop()
        shutil.rmtree(root, ignore_errors=True)
    n = args.commands
    counted = saturated["round_trips"]
    print(
        f"counted (db_round_trips_total): {counted['per_command']} per registration, {counted['per_service']}"
    )
    by_service: Counter[str] = Counter()
    for (service, _), count in queries.items():
        by_service[service] += count
    print("query spans per registration:", {k: round(v / n, 2) for k, v in by_service.most_common()})
    for (service, statement), count in queries.most_common(args.top):
        print(f"{count / n:6.2f}  {service:16s} {statement}")


if __name__ == "__main__":
    main()
