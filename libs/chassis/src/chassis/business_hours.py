"""The vendor's business calendar, one for every service: support hours 09:00–12:00 and 14:00–18:00,
Europe/Paris, Monday to Friday, French public holidays excluded (seed 004: the hours the support line
answers; the test-SIM validation call is held then too).

Support measures tickets in these hours and reminds integrators every N business days; sim-logistics
books the validation call in them. Two copies had drifted (sim-logistics' knew no holidays), hence one
module. Holidays are a predicate (`french_holidays()`, from the `holidays` package, kept up to date by
its maintainers with Easter-based and regional days), so a test can choose its own calendar.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")

#: The support's opening windows, local time (the lunch break 12:00–14:00 is closed).
WINDOWS: tuple[tuple[time, time], ...] = ((time(9), time(12)), (time(14), time(18)))

IsHoliday = Callable[[date], bool]


def no_holidays(day: date) -> bool:
    return False


@lru_cache(maxsize=8)
def french_holidays(subdivision: str = "") -> IsHoliday:
    """`subdivision` e.g. "57" (Moselle: Good Friday and 26 December too); "" for the national list."""
    import holidays  # the package is only needed by the services that ask for the real calendar

    calendar = holidays.country_holidays("FR", subdiv=subdivision or None)

    def is_holiday(day: date) -> bool:
        return day in calendar  # the package fills each year on first lookup

    return is_holiday


def is_business_day(day: date, is_holiday: IsHoliday) -> bool:
    return day.weekday() < 5 and not is_holiday(day)


def _windows_of(day: date) -> list[tuple[datetime, datetime]]:
    # Local wall-clock windows; daylight-saving changes happen at night, outside them.
    return [
        (datetime.combine(day, start, PARIS), datetime.combine(day, end, PARIS)) for start, end in WINDOWS
    ]


def within_business_hours(starts_at: datetime, duration: timedelta, is_holiday: IsHoliday) -> bool:
    """True when the whole appointment fits in one window of a business day (in Paris, whatever the
    offset it was given in: the daylight-saving change is zoneinfo's business)."""
    start = starts_at.astimezone(PARIS)
    end = (starts_at + duration).astimezone(PARIS)
    if end.date() != start.date() or not is_business_day(start.date(), is_holiday):
        return False
    return any(opens <= start.time() and end.time() <= closes for opens, closes in WINDOWS)


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
