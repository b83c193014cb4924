"""Support hours (seed 004, DOMAIN.md §2): 09:00–12:00 and 14:00–18:00, Monday to Friday, Paris time.

The validation call of the test SIMs is a phone appointment with vendor staff, so it is held then.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
WINDOWS: tuple[tuple[time, time], ...] = ((time(9), time(12)), (time(14), time(18)))


def within_support_hours(starts_at: datetime, duration: timedelta) -> bool:
    """True when the whole appointment fits in one support window of a working day (in Paris,
    whatever the offset it was given in: the daylight-saving change is zoneinfo's business)."""
    start = starts_at.astimezone(PARIS)
    end = (starts_at + duration).astimezone(PARIS)
    if start.weekday() >= 5 or end.date() != start.date():
        return False
    return any(opens <= start.time() and end.time() <= closes for opens, closes in WINDOWS)
