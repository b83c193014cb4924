"""The consumer's fetch wait adapts: long when idle (an idle platform stops polling the broker 50 times a
second per consumer), short again as soon as a message comes, so the next one is not held back (p99)."""

from __future__ import annotations

import time

from tests.support import chassis_app
from tests.support.waiting import eventually

SHORT_MS, LONG_MS, IDLE_AFTER_MS = 20, 4000, 2000


async def test_the_fetch_wait_is_long_when_idle_and_short_again_once_a_message_comes(service):
    async with service(
        chassis_app,
        kafka_fetch_max_wait_ms=SHORT_MS,
        kafka_idle_fetch_max_wait_ms=LONG_MS,
        kafka_idle_after_ms=IDLE_AFTER_MS,
    ) as svc:
        rt = svc.runtime
        runner = rt.runner_for("onboarding.echo")

        def fetch_wait() -> int | None:
            # What aiokafka puts in its next FetchRequest (the attribute AdaptiveFetchWait sets).
            consumer = runner._consumer
            fetcher = getattr(consumer, "_fetcher", None)
            return getattr(fetcher, "_fetch_max_wait_ms", None)

        async def consumed() -> int:
            return await rt.pool.fetchval("SELECT count(*) FROM consumed")

        async def sheet(sender: str) -> float:
            """Send a sheet; the seconds until the reaction has handled it."""
            before = await consumed()
            started = time.perf_counter()
            r = await svc.http.post("/sheets", json={"integrator_id": f"i-{sender}", "sender": sender})
            assert r.status_code == 201, r.text
            await eventually(lambda: _more_than(consumed, before), timeout=30, what=f"{sender} consumed")
            return time.perf_counter() - started

        # Nothing for IDLE_AFTER_MS: the consumer asks the broker to hold its fetches for LONG_MS.
        await eventually(lambda: _equals(fetch_wait, LONG_MS), timeout=30, what="the idle (long) wait")
        first = await sheet("after-a-lull")
        # The message that ended the lull made the wait short before the next fetch went out…
        assert fetch_wait() == SHORT_MS
        # …so the next message is not held back by a long fetch: it arrives well within LONG_MS.
        second = await sheet("right-after")
        assert fetch_wait() == SHORT_MS
        assert second < LONG_MS / 1000 / 2, (first, second)


async def _more_than(count, before: int) -> bool:
    return await count() > before


async def _equals(read, expected: int) -> bool:
    return read() == expected
