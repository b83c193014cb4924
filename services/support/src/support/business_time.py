"""Support hours arithmetic: the vendor's one business calendar lives in `chassis.business_hours`
(shared with sim-logistics' validation-call booking); support's domain reads it through this module.

Statistics measure a ticket in the hours the support was open, not in wall-clock time: a ticket
opened on Friday at 17:30 and taken on Monday at 09:15 waited 45 minutes, not three days.
"""

from __future__ import annotations

from chassis.business_hours import (
    PARIS,
    WINDOWS,
    IsHoliday,
    add_business_days,
    business_hours,
    business_seconds,
    is_business_day,
    no_holidays,
)

__all__ = [
    "PARIS",
    "WINDOWS",
    "IsHoliday",
    "add_business_days",
    "business_hours",
    "business_seconds",
    "is_business_day",
    "no_holidays",
]
