"""Reaction throughput (a consumer with the inbox, P3) beside a raw aiokafka consumer on the same topic."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any
from unittest import mock

from chassis import kafka
from chassis import subscriber as subscriber_module
from chassis.consumer import Reaction, ReactionContext, ReactionRunner
from chassis.eventstore import Recorded
from chassis.runtime import ServiceRuntime
from chassis.subscriber import ReactionsSubscriber
from contracts import topics


async def note_rejection(ctx: ReactionContext, rec: Recorded) -> None:
    """No effect beyond the inbox row the runner writes: the figure is the chassis' own cost."""


class _Unverified:
    """Stands in for the runtime's verifier when the bench measures a consumer without the signature
    check (`verify=False`): believes every message. Never used by a service."""

    def refusal(self, *_: Any) -> str | None:
        return None


@contextlib.contextmanager
def _own_group(runtime: ServiceRuntime, name: str) -> Iterator[None]:
    """The subscriber's consumer group for one run: each run reads the topic from its start (the
    service's one group, `<service>.reactions`, would resume where the previous run committed)."""
    with mock.patch.object(
        subscriber_module, "reactions_group", lambda rt: f"{rt.settings.kafka_topic_prefix}{name}.reactions"
    ):
        yield


@contextlib.contextmanager
def _verification(runtime: ServiceRuntime, verify: bool) -> Iterator[None]:
    if verify:
        yield
        return
    runtime.__dict__["event_signatures"] = _Unverified()  # over the cached_property, for this run
    try:
        yield
    finally:
        del runtime.__dict__["event_signatures"]


async def reaction_throughput(
    runtime: ServiceRuntime, n: int, timeout: float, *, verify: bool = True, name: str = "bench"
) -> dict[str, Any]:
    """A reaction (through the service's FastStream subscriber, its own consumer group here) reads the
    relay's topic from the start: every message's signature checked (unless `verify=False`), decoded,
    validated, traced and recorded in the inbox in its transaction; offsets committed after commit.
    `name`: the reaction's (its inbox rows) and its consumer group's, so that runs do not share them."""
    reaction = Reaction(
        name=name, topics=[topics.ONBOARDING], handles={"DossierItemRejected"}, handler=note_rejection
    )
    runner = ReactionRunner(runtime, reaction)
    with _own_group(runtime, name), _verification(runtime, verify):
        return await _run_reaction(runtime, runner, n, timeout)


async def _run_reaction(
    runtime: ServiceRuntime, runner: ReactionRunner, n: int, timeout: float
) -> dict[str, Any]:
    subscriber = ReactionsSubscriber(runtime, [runner])
    started = time.perf_counter()
    first_at: float | None = None
    first_count = 0
    subscriber.start()
    try:
        while runner.processed < n:
            now = time.perf_counter()
            if first_at is None and runner.processed > 0:
                first_at, first_count = now, runner.processed
            if now - started > timeout:
                raise TimeoutError(f"reaction handled {runner.processed}/{n} in {timeout:.0f} s")
            await asyncio.sleep(0.01)
        ended = time.perf_counter()
    finally:
        await subscriber.stop()
    inbox = await runtime.pool.fetchval(
        "SELECT count(*) FROM inbox WHERE consumer = $1", runner.consumer_name
    )
    return _figures(n, started, first_at or ended, first_count, ended) | {
        "inbox_rows": int(inbox),
        "messages_handled": runner.processed,
        # Handled more often than recorded: the runner went back to offset 0 (it believed the broker
        # wiped; Tansu's end offsets trail by the last record batch) and read everything again.
        "re_read_messages": max(0, runner.processed - int(inbox)),
        "dead_lettered": runner.dead_lettered,
    }


async def raw_consume(runtime: ServiceRuntime, n: int, timeout: float) -> dict[str, Any]:
    """The same topic, group settings and batch size: getmany, json.loads each value, commit per batch."""
    topic = runtime.settings.topic(topics.ONBOARDING)
    consumer = kafka.consumer(
        runtime.settings, topic, group_id=f"{runtime.settings.kafka_topic_prefix}raw-bench"
    )
    started = time.perf_counter()
    first_at: float | None = None
    first_count = 0
    seen = 0
    await consumer.start()
    try:
        while seen < n:
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"raw consumer read {seen}/{n} in {timeout:.0f} s")
            batches = await consumer.getmany(timeout_ms=200, max_records=500)
            for messages in batches.values():
                for m in messages:
                    json.loads(m.value or b"null")
                seen += len(messages)
            if batches:
                await consumer.commit()
            if first_at is None and seen:
                first_at, first_count = time.perf_counter(), seen
        ended = time.perf_counter()
    finally:
        await consumer.stop()
    return _figures(seen, started, first_at or ended, first_count, ended)


def _figures(n: int, started: float, first_at: float, first_count: int, ended: float) -> dict[str, Any]:
    """Steady rate from the first batch on (group join excluded; it is reported apart)."""
    steady = ended - first_at
    return {
        "events": n,
        "seconds": round(ended - started, 3),
        "seconds_to_first_batch": round(first_at - started, 3),
        "events_per_second": round((n - first_count) / steady) if steady > 0 else None,
    }
