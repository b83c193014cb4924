"""A consumer's batch that fails again and again on the same offset: counted, so it can be parked.

A poison message is normally dead-lettered by the consumer's reader or handler (chassis.consumer), and
its batch commits. A batch can still fail as a whole — a kind of poison nobody foresaw, a bug outside
the handlers, a row the database refuses — and a failed batch comes again from the same offsets
(chassis.subscriber), for ever. This counts, per partition, how many times in a row a batch starting
at the same offset failed; past the consumer's limit (CONSUMER_RESTARTS_BEFORE_PARKING) the runner
handles that batch one message at a time and parks the one that fails (a dead letter naming why)
instead of looping. An outage (database unreachable) is not counted: it is retried where it happens.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import ConsumerRecord


@dataclass
class _Failing:
    offset: int
    failures: int
    last_error: str


class FailingOffsets:
    """Per partition (topic, partition): the first offset of the batch that failed there, and how many
    times in a row a batch starting there failed."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._failing: dict[tuple[str, int], _Failing] = {}

    @staticmethod
    def _starts(messages: Iterable[ConsumerRecord[bytes, bytes]]) -> dict[tuple[str, int], int]:
        starts: dict[tuple[str, int], int] = {}
        for m in messages:
            tp = (m.topic, m.partition)
            starts[tp] = min(starts.get(tp, m.offset), m.offset)
        return starts

    def failed(self, messages: Iterable[ConsumerRecord[bytes, bytes]], error: BaseException) -> None:
        for tp, offset in self._starts(messages).items():
            known = self._failing.get(tp)
            failures = known.failures + 1 if known is not None and known.offset == offset else 1
            self._failing[tp] = _Failing(offset, failures, repr(error)[:300])

    def succeeded(self, messages: Iterable[ConsumerRecord[bytes, bytes]]) -> None:
        for tp in self._starts(messages):
            self._failing.pop(tp, None)

    def stuck(self, messages: Iterable[ConsumerRecord[bytes, bytes]]) -> int:
        """How many times in a row this batch already failed from where it starts, when that is the
        limit or more (the batch must then be parked), else 0."""
        worst = 0
        for tp, offset in self._starts(messages).items():
            known = self._failing.get(tp)
            if known is not None and known.offset == offset and known.failures >= self.limit:
                worst = max(worst, known.failures)
        return worst

    def describe(self) -> dict[str, Any]:
        """For /ops/status: each partition whose batch is failing, from which offset, how often."""
        return {
            f"{topic}[{partition}]": {"offset": f.offset, "failures": f.failures, "last_error": f.last_error}
            for (topic, partition), f in sorted(self._failing.items())
        }
