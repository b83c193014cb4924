"""The clock is injected: domains take `now` as an argument, tests move time instead of waiting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, at: datetime) -> None:
        self._now = at


class OffsetClock:
    """The system clock moved by an offset, still ticking: for the embedded demo, whose validation call
    must fall in support hours whenever it is run, and for journeys that skip ahead to an appointment
    while keeping real, increasing timestamps. Never set in production (`DEV_CLOCK_OFFSET_SECONDS`)."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> datetime:
        self.offset += delta
        return self.now()


def clock_for(offset_seconds: float) -> Clock:
    """The clock a service runs on: the system's, or (dev only) the system's moved by an offset."""
    return OffsetClock(timedelta(seconds=offset_seconds)) if offset_seconds else SystemClock()
