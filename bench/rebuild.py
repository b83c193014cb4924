"""Projection rebuild (events/s) beside a raw asyncpg read + JSON decode + COPY of one row per event."""

from __future__ import annotations

import json
import time
from typing import Any

from bench.service import rejections
from chassis.runtime import ServiceRuntime


async def rebuild_speed(runtime: ServiceRuntime) -> dict[str, Any]:
    result = await runtime.projections.rebuild(rejections.name, producer=runtime.name, progress=False)
    return {
        "events": int(result["events"]),
        "rows": int(result["rows"]),
        "seconds": round(result["seconds"], 3),
        "events_per_second": round(result["events_per_second"]),
    }


async def raw_read_decode_copy(runtime: ServiceRuntime, batch: int = 5000) -> dict[str, Any]:
    """The same rows, pages and transaction as the rebuild; each payload decoded; one row per event
    (its stored payload text) COPYed into a scratch table as the pages arrive."""
    handles = sorted(rejections.handles)
    started = time.perf_counter()
    seen = 0
    async with runtime.pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "CREATE TEMP TABLE raw_rebuild_scratch (key text, integrator_id text, data jsonb, position bigint) "
            "ON COMMIT DROP"
        )
        last = 0
        while True:
            chunk = await conn.fetch(
                "SELECT position, event_id, stream_id, stream_version, event_type, schema_version, "
                "integrator_id, occurred_at, correlation_id, causation_id, payload, trace_context "
                "FROM events WHERE position > $1 AND event_type = any($2::text[]) ORDER BY position LIMIT $3",
                last,
                handles,
                batch,
            )
            if not chunk:
                break
            records = []
            for row in chunk:
                text = row["payload"]
                json.loads(text)  # decoded, as any reader must; the COPY carries the stored text
                records.append((str(row["event_id"]), row["integrator_id"], text, row["position"]))
            await conn.copy_records_to_table(
                "raw_rebuild_scratch", records=records, columns=["key", "integrator_id", "data", "position"]
            )
            last = chunk[-1]["position"]
            seen += len(chunk)
    elapsed = time.perf_counter() - started
    return {"events": seen, "seconds": round(elapsed, 3), "events_per_second": round(seen / elapsed)}
