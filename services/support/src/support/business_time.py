"""Support hours arithmetic, pure: 09:00–12:00 and 14:00–18:00, Europe/Paris, Monday to Friday,
public holidays excluded (seed 004: the hours the support line answers).

Statistics measure a ticket in the hours the support was open, not in wall-clock time: a ticket
opened on Friday at 17:30 and taken on Monday at 09:15 waited 45 minutes, not three days.
Holidays are a predicate passed in (`french_holidays()` in `calendar_fr`), so this module stays
standard-library only and its tests choose their own calendar.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")

#: The support's opening windows, local time (the lunch break 12:00–14:00 is closed).
WINDOWS: tuple[tuple[time, time], ...] = ((time(9), time(12)), (time(14), time(18)))

IsHoliday = Callable[[date], bool]


def no_holidays(day: date) -> bool:
    return False


def is_business_day(day: date, is_holiday: IsHoliday) -> bool:
    return day.weekday() < 5 and not is_holiday(day)


def _windows_of(day: date) -> list[tuple[datetime, datetime]]:
    # Local wall-clock windows; daylight-saving changes happen at night, outside them.
    return [
        (datetime.combine(day, start, PARIS), datetime.combine(day, end, PARIS)) for start, end in WINDOWS
    ]


def business_seconds(start: datetime, end: datetime, is_holiday: IsHoliday = no_holidays) -> float:
    """Seconds of support hours between two aware instants (0 when end is not after start)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("business time needs aware datetimes")
    if end <= start:
        return 0.0
    total = 0.0
    day = start.astimezone(PARIS).date()
    last = end.astimezone(PARIS).date()
    while day <= last:
        if is_business_day(day, is_holiday):
            for opens, closes in _windows_of(day):
                overlap = (min(end, closes) - max(start, opens)).total_seconds()
                if overlap > 0:
                    total += overlap
        day += timedelta(days=1)
    return total


def business_hours(start: datetime, end: datetime, is_holiday: IsHoliday = no_holidays) -> float:
    return business_seconds(start, end, is_holiday) / 3600


def add_business_days(start: datetime, days: int, is_holiday: IsHoliday = no_holidays) -> datetime:
    """The same local time `days` business days later (weekends and holidays skipped): when a
    reminder "every N business days" falls due."""
    if days < 0:
        raise ValueError("days must be >= 0")
    local = start.astimezone(PARIS)
    day = local.date()
    remaining = days
    while remaining:
        day += timedelta(days=1)
        if is_business_day(day, is_holiday):
            remaining -= 1
    return datetime.combine(day, local.timetz().replace(tzinfo=None), PARIS)
