"""French public holidays: moved to the vendor's one business calendar, `chassis.business_hours`."""

from __future__ import annotations

from chassis.business_hours import french_holidays

__all__ = ["french_holidays"]
