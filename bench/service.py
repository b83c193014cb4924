"""The benchmarked service: the chassis as a service uses it (event store, projection, relay, inbox),
with no business rules, and a fast loader that fills its event store."""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from chassis.context import new_id
from chassis.projections import Projection
from chassis.runtime import ServiceRuntime
from chassis.settings import ServiceSettings
from chassis.testing import Stack
from contracts.events.common import DossierItem
from contracts.events.onboarding import DossierItemRejected

#: Events per stream (one stream and one projection row per integrator).
EVENTS_PER_STREAM = 50
#: About 1 KB on the wire, the size of the raw baseline in ARCHITECTURE.md.
REASON = ("The electrical profile sheet is missing the supply voltage of the installation; " * 8)[:640]
ITEMS = list(DossierItem)


def count_rejections(row: dict[str, Any] | None, envelope: Any, event: Any) -> dict[str, Any]:
    row = row or {"rejections": 0, "items": {}}
    items = dict(row["items"])
    items[event.item] = items.get(event.item, 0) + 1
    return {"rejections": row["rejections"] + 1, "items": items, "last_by": event.rejected_by}


rejections = Projection(
    name="bench_rejections",
    handles={"DossierItemRejected"},
    key=lambda env, ev: env.integrator_id,
    apply=count_rejections,
)


def settings_for(stack: Stack, database: str, prefix: str) -> ServiceSettings:
    return ServiceSettings(
        database_url=stack.postgres.url_for(database),
        kafka_bootstrap_servers=stack.kafka.bootstrap,
        kafka_topic_prefix=prefix,
        traces_dir=stack.root / "traces",
        data_dir=stack.root / "files",
        log_level="WARNING",
        dev_mode=True,  # the built-in secrets
        # The gauges computed once, at start: a refresh's queries would land in a phase's figures
        # (the round trips of a plain command are counted on this runtime's pool).
        metrics_refresh_seconds=3600,
    )


async def started_runtime(stack: Stack, database: str, prefix: str) -> ServiceRuntime:
    """The service's runtime without relay, reactions or schedules: the bench starts those itself."""
    await stack.postgres.create_database(database)
    runtime = ServiceRuntime(
        name="onboarding",
        settings=settings_for(stack, database, prefix),
        projections=[rejections],
        run_relay=False,
        run_reactions=False,
        run_schedules=False,
    )
    await runtime.start()
    return runtime


def integrator_of(i: int) -> str:
    return f"integrator-{i // EVENTS_PER_STREAM:06d}"


async def load_events(runtime: ServiceRuntime, n: int, chunk: int = 20_000) -> dict[str, float]:
    """Append `n` valid DossierItemRejected events: COPY into `events` (every column the store writes),
    `chunk` events per transaction, so the relay sees many transaction ids as in real life."""
    columns = [
        "event_id", "stream_id", "stream_version", "event_type", "schema_version", "integrator_id",
        "occurred_at", "correlation_id", "causation_id", "payload", "trace_context",
    ]  # fmt: skip
    occurred_at = datetime.now(UTC)
    payloads = [
        json.dumps(
            DossierItemRejected(item=item, reason=REASON, rejected_by="ops-user").model_dump(mode="json"),
            separators=(",", ":"),
            ensure_ascii=False,
        )
        for item in ITEMS
    ]
    started = time.perf_counter()
    async with runtime.pool.acquire() as conn:
        for base in range(0, n, chunk):
            records = []
            for i in range(base, min(base + chunk, n)):
                integrator = integrator_of(i)
                # A stored W3C trace context, as a command's request span leaves it (P7).
                traceparent = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
                records.append(
                    (
                        new_id(),
                        f"dossier-{integrator}",
                        i % EVENTS_PER_STREAM + 1,
                        "DossierItemRejected",
                        DossierItemRejected.schema_version,
                        integrator,
                        occurred_at,
                        new_id(),
                        None,
                        payloads[i % len(payloads)],
                        json.dumps({"traceparent": traceparent}),
                    )
                )
            async with conn.transaction():
                await conn.copy_records_to_table("events", records=records, columns=columns)
    elapsed = time.perf_counter() - started
    return {"events": n, "seconds": round(elapsed, 3), "events_per_second": round(n / elapsed)}


async def plain_command_round_trips(runtime: ServiceRuntime, n: int = 200) -> dict[str, Any]:
    """The round trips of a plain load-decide-append command (`runtime.execute`: read the stream,
    decide one DossierItemRejected, append, the projection live), warm, one at a time on new streams:
    the runtime's counter (chassis.db) over `n` commands. Nothing else uses the pool meanwhile (the
    bench's runtime runs no relay, reaction, schedule; its metrics refresh runs at start only)."""
    event = DossierItemRejected(item=ITEMS[0], reason="missing supply voltage", rejected_by="ops-user")

    async def command(i: int) -> None:
        await runtime.execute(
            stream_id=f"dossier-plain-{i:06d}", integrator_id=f"plain-{i:06d}", decide=lambda _: [event]
        )

    for i in range(5):  # the connection's statements prepared
        await command(i)
    before = runtime.round_trips.total
    started = time.process_time()
    for i in range(5, 5 + n):
        await command(i)
    cpu = time.process_time() - started
    total = runtime.round_trips.total - before
    return {
        "per_command": round(total / n, 2),
        "round_trips": total,
        "commands": n,
        "cpu_ms_per_command": round(cpu * 1000 / n, 3),
        "what": (
            "ServiceRuntime.execute on a new stream: BEGIN, stream read, append, the projection's "
            "row, COMMIT, and the pool's reset on release; the bench's runtime in this process"
        ),
    }
