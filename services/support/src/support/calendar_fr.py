"""French public holidays from the `holidays` package (kept up to date by its maintainers, with
Easter-based and regional holidays), as the predicate `business_time` takes."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import holidays

from support.business_time import IsHoliday


@lru_cache(maxsize=8)
def french_holidays(subdivision: str = "") -> IsHoliday:
    """`subdivision` e.g. "57" (Moselle: Good Friday and 26 December too); "" for the national list."""
    calendar = holidays.country_holidays("FR", subdiv=subdivision or None)

    def is_holiday(day: date) -> bool:
        return day in calendar  # the package fills each year on first lookup

    return is_holiday
