"""The validation call's slot picker: only times the vendor's support answers (pure).

The calendar is the vendor's one (`chassis.business_hours`: 09:00–12:00 and 14:00–18:00, Paris,
Monday to Friday, French public holidays excluded), so the page offers exactly what sim-logistics
accepts — it still refuses anything else, the picker only spares the person a refusal.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

from chassis.business_hours import PARIS, WINDOWS, IsHoliday, is_business_day, within_business_hours

CALL_MINUTES = 30
#: Business days offered ahead; a call further away can still be booked by asking support.
DAYS_AHEAD = 10
#: A slot starting sooner than this is not offered: someone must be ready to call.
NOTICE = timedelta(hours=1)


def call_slots(
    now: datetime, is_holiday: IsHoliday, *, days: int = DAYS_AHEAD, minutes: int = CALL_MINUTES
) -> list[tuple[date, list[datetime]]]:
    """The next `days` business days, each with its start times (aware, Paris) of `minutes`-long
    calls that fit in a support window and start at least NOTICE from now."""
    earliest = now + NOTICE
    length = timedelta(minutes=minutes)
    offered: list[tuple[date, list[datetime]]] = []
    for day in _business_days(now.astimezone(PARIS).date(), is_holiday):
        starts = [
            start
            for opens, closes in WINDOWS
            for start in _every(
                datetime.combine(day, opens, PARIS), datetime.combine(day, closes, PARIS), length
            )
            if start >= earliest and within_business_hours(start, length, is_holiday)
        ]
        if starts:
            offered.append((day, starts))
        if len(offered) == days:
            break
    return offered


def _business_days(first: date, is_holiday: IsHoliday) -> Iterator[date]:
    day = first
    for _ in range(366):  # a year holds far more than any `days` asked for
        if is_business_day(day, is_holiday):
            yield day
        day += timedelta(days=1)


def _every(opens: datetime, closes: datetime, length: timedelta) -> Iterator[datetime]:
    start = opens
    while start + length <= closes:
        yield start
        start += length
