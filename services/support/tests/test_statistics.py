"""Statistics over ticket files: counts by status/category/integrator, support-hour durations,
satisfaction average and response rate, and the period filter."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from support.business_time import no_holidays
from support.statistics import statistics


def ticket(
    integrator: str,
    opened: str,
    *,
    status: str = "closed",
    category: str | None = "incident",
    taken: str | None = None,
    resolved: str | None = None,
    ratings: tuple[int | None, ...] = (),
) -> dict[str, Any]:
    return {
        "integrator_id": integrator,
        "status": status,
        "category": category,
        "opened_at": opened,
        "first_taken_at": taken,
        "resolved_at": resolved,
        "surveys": [{"rating": r} for r in ratings],
    }


# All in UTC; Paris is UTC+1 in early March 2026. Monday 2 March 09:00 UTC = 10:00 Paris.
ROWS = [
    ticket(
        "acme",
        "2026-03-02T09:00:00+00:00",
        taken="2026-03-02T10:00:00+00:00",
        resolved="2026-03-02T14:00:00+00:00",
        ratings=(5,),
    ),  # take 1 h; resolve 10-12 + 14-15 = 3 h
    ticket(
        "acme",
        "2026-03-06T16:30:00+00:00",
        category="question",
        taken="2026-03-09T08:30:00+00:00",
        resolved="2026-03-09T09:00:00+00:00",
        ratings=(None, 3),
    ),  # Fri 17:30 -> Mon 09:30: 1 h; resolve 1.5 h
    ticket("bistro", "2026-03-10T09:00:00+00:00", status="new", category=None),
]


def test_counts_by_status_category_and_integrator() -> None:
    figures = statistics(ROWS, is_holiday=no_holidays)
    assert figures["overall"]["tickets"] == 3
    assert {k: v["tickets"] for k, v in figures["by_status"].items()} == {"closed": 2, "new": 1}
    assert {k: v["tickets"] for k, v in figures["by_category"].items()} == {
        "incident": 1,
        "question": 1,
        "unqualified": 1,
    }
    assert {k: v["tickets"] for k, v in figures["by_integrator"].items()} == {"acme": 2, "bistro": 1}


def test_durations_are_in_support_hours_over_the_tickets_that_reached_the_step() -> None:
    overall = statistics(ROWS, is_holiday=no_holidays)["overall"]
    assert overall["time_to_take"] == {
        "count": 2,
        "average_business_hours": 1.0,
        "median_business_hours": 1.0,
    }
    assert overall["time_to_resolve"]["count"] == 2
    assert overall["time_to_resolve"]["average_business_hours"] == (3 + 1.5) / 2


def test_satisfaction_average_and_response_rate() -> None:
    assert statistics(ROWS, is_holiday=no_holidays)["overall"]["satisfaction"] == {
        "surveys_sent": 3,
        "answers": 2,
        "response_rate": round(2 / 3, 4),
        "average_rating": 4.0,
    }
    assert statistics(ROWS, is_holiday=no_holidays)["by_integrator"]["bistro"]["satisfaction"] == {
        "surveys_sent": 0,
        "answers": 0,
        "response_rate": None,
        "average_rating": None,
    }


def test_the_period_selects_tickets_by_opening() -> None:
    figures = statistics(
        ROWS,
        is_holiday=no_holidays,
        since=datetime(2026, 3, 6, tzinfo=UTC),
        until=datetime(2026, 3, 10, 9, 0, tzinfo=UTC),
    )
    assert figures["overall"]["tickets"] == 1
    assert list(figures["by_category"]) == ["question"]


def test_counts_by_week_channel_and_technician_for_the_charts() -> None:
    rows = [
        {**ROWS[0], "channel": "phone", "technician": "tech-a"},
        {**ROWS[1], "channel": "email", "technician": "tech-a"},
        {**ROWS[2], "channel": "phone", "technician": None},
    ]
    figures = statistics(rows, is_holiday=no_holidays)
    # Mon 2 and Fri 6 March are ISO week 10, Tue 10 March week 11 (Paris time).
    assert {k: v["tickets"] for k, v in figures["by_week"].items()} == {"2026-W10": 2, "2026-W11": 1}
    assert {k: v["tickets"] for k, v in figures["by_channel"].items()} == {"email": 1, "phone": 2}
    assert {k: v["tickets"] for k, v in figures["by_technician"].items()} == {"": 1, "tech-a": 2}
    assert figures["by_technician"]["tech-a"]["time_to_take"]["average_business_hours"] == 1.0
