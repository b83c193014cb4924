"""Support-hours arithmetic: 09-12 and 14-18 Europe/Paris, Monday-Friday, French holidays excluded."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from support.business_time import PARIS, add_business_days, business_hours, business_seconds
from support.calendar_fr import french_holidays

FR = french_holidays()


def paris(y: int, m: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=PARIS)


def test_within_one_morning_window_is_plain_time() -> None:
    assert business_seconds(paris(2026, 3, 2, 9, 15), paris(2026, 3, 2, 10, 0)) == 45 * 60


def test_the_lunch_break_does_not_count() -> None:
    # Monday 11:30 -> 14:30: 30 min before lunch, 30 min after
    assert business_hours(paris(2026, 3, 2, 11, 30), paris(2026, 3, 2, 14, 30)) == 1.0


def test_evenings_and_nights_do_not_count() -> None:
    # Monday 17:00 -> Tuesday 10:00: 1 h on Monday, 1 h on Tuesday
    assert business_hours(paris(2026, 3, 2, 17), paris(2026, 3, 3, 10)) == 2.0


def test_a_weekend_does_not_count() -> None:
    # Friday 17:30 -> Monday 09:15 = 30 min + 15 min
    assert business_seconds(paris(2026, 3, 6, 17, 30), paris(2026, 3, 9, 9, 15)) == 45 * 60


def test_a_whole_working_day_is_seven_hours() -> None:
    assert business_hours(paris(2026, 3, 2, 0), paris(2026, 3, 3, 0)) == 7.0


def test_a_french_public_holiday_does_not_count() -> None:
    # Thursday 14 May 2026 is Ascension: Wednesday 17:00 -> Friday 10:00 = 1 h + 1 h
    assert FR(date(2026, 5, 14))
    assert business_hours(paris(2026, 5, 13, 17), paris(2026, 5, 15, 10), FR) == 2.0
    # and Easter Monday 6 April 2026 (computed from Easter, not a fixed date)
    assert business_hours(paris(2026, 4, 3, 17), paris(2026, 4, 7, 10), FR) == 2.0


def test_moselle_also_closes_on_good_friday() -> None:
    moselle = french_holidays("57")
    assert moselle(date(2026, 4, 3)) and not FR(date(2026, 4, 3))


def test_instants_in_utc_are_read_in_paris_time_across_daylight_saving() -> None:
    # Summer: 07:00 UTC is 09:00 in Paris; winter: 08:00 UTC is 09:00
    assert business_seconds(datetime(2026, 7, 1, 7, tzinfo=UTC), datetime(2026, 7, 1, 8, tzinfo=UTC)) == 3600
    assert business_seconds(datetime(2026, 1, 5, 7, tzinfo=UTC), datetime(2026, 1, 5, 8, tzinfo=UTC)) == 0
    # The night of the change (Sunday 29 March 2026) is outside the windows: Friday 17 -> Monday 10 = 2 h
    assert business_hours(paris(2026, 3, 27, 17), paris(2026, 3, 30, 10)) == 2.0


def test_an_end_before_the_start_is_zero_and_naive_instants_are_refused() -> None:
    assert business_seconds(paris(2026, 3, 3, 10), paris(2026, 3, 2, 10)) == 0
    with pytest.raises(ValueError):
        business_seconds(datetime(2026, 3, 2, 10), paris(2026, 3, 2, 11))


def test_adding_business_days_skips_weekends_and_holidays() -> None:
    assert add_business_days(paris(2026, 3, 5, 10), 2) == paris(2026, 3, 9, 10)  # Thu + 2 -> Mon
    assert add_business_days(paris(2026, 5, 13, 10), 1, FR) == paris(2026, 5, 15, 10)  # over Ascension
    assert add_business_days(paris(2026, 3, 5, 10), 0) == paris(2026, 3, 5, 10)
