"""Support statistics over ticket files (rows of `support_tickets`), pure.

Seed 004 / DOMAIN.md §2: requests by status and category, time to take a ticket, time to resolve
it, satisfaction (average, response rate) — here also by integrator, over a period of opening.
Times are in support hours (`business_time`): what the integrator waited while the support was
open. Time to resolve runs to the *last* resolution (a reopened ticket was not resolved the first
time); time to take runs to the *first* taking.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from statistics import fmean, median
from typing import Any

from support.business_time import PARIS, IsHoliday, business_hours

Row = dict[str, Any]


def _hours(row: Row, end_field: str, is_holiday: IsHoliday) -> float | None:
    end: str | None = row.get(end_field)
    if end is None:
        return None
    return business_hours(datetime.fromisoformat(row["opened_at"]), datetime.fromisoformat(end), is_holiday)


def _durations(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "average_business_hours": None, "median_business_hours": None}
    return {
        "count": len(values),
        "average_business_hours": round(fmean(values), 4),
        "median_business_hours": round(median(values), 4),
    }


def summarise(rows: list[Row], is_holiday: IsHoliday) -> dict[str, Any]:
    surveys = [s for r in rows for s in r["surveys"]]
    ratings = [s["rating"] for s in surveys if s["rating"] is not None]
    take = [h for r in rows if (h := _hours(r, "first_taken_at", is_holiday)) is not None]
    resolve = [h for r in rows if (h := _hours(r, "resolved_at", is_holiday)) is not None]
    return {
        "tickets": len(rows),
        "time_to_take": _durations(take),
        "time_to_resolve": _durations(resolve),
        "satisfaction": {
            "surveys_sent": len(surveys),
            "answers": len(ratings),
            "response_rate": round(len(ratings) / len(surveys), 4) if surveys else None,
            "average_rating": round(fmean(ratings), 4) if ratings else None,
        },
    }


def _grouped(rows: Iterable[Row], by: Callable[[Row], str], is_holiday: IsHoliday) -> dict[str, Any]:
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(by(row), []).append(row)
    return {name: summarise(group, is_holiday) for name, group in sorted(groups.items())}


def in_period(row: Row, since: datetime | None, until: datetime | None) -> bool:
    """Tickets opened in [since, until)."""
    opened = datetime.fromisoformat(row["opened_at"])
    return (since is None or opened >= since) and (until is None or opened < until)


def statistics(
    rows: Iterable[Row],
    *,
    is_holiday: IsHoliday,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    chosen = [r for r in rows if in_period(r, since, until)]
    return {
        "period": {
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
        },
        "overall": summarise(chosen, is_holiday),
        "by_status": _grouped(chosen, lambda r: r["status"], is_holiday),
        "by_category": _grouped(chosen, lambda r: r["category"] or "unqualified", is_holiday),
        "by_integrator": _grouped(chosen, lambda r: r["integrator_id"], is_holiday),
        "by_week": _grouped(chosen, _week, is_holiday),
        "by_channel": _grouped(chosen, lambda r: r.get("channel") or "", is_holiday),
        # The technician who took it (last taken); "" for tickets nobody took yet.
        "by_technician": _grouped(chosen, lambda r: r.get("technician") or "", is_holiday),
    }


def _week(row: Row) -> str:
    """The ISO week the ticket was opened in, in Paris (`2026-W10`): sorts in time order."""
    year, week, _ = datetime.fromisoformat(row["opened_at"]).astimezone(PARIS).isocalendar()
    return f"{year:04d}-W{week:02d}"
