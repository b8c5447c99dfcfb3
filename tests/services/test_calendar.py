"""The working calendar: office hours, weekends, holidays (Tết) and worked weekends."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import pytest

from services.calendar import (
    CITY_TIME_ZONE,
    Calendar,
    calendar_from,
    parse_office_hours,
    working_calendar,
)

HOURS = parse_office_hours("07:30-11:30,13:30-17:00")  # 7.5 working hours a day


def at(day: str, clock: str) -> datetime:
    return datetime.combine(
        date.fromisoformat(day), time.fromisoformat(clock), tzinfo=CITY_TIME_ZONE
    )


def plain(**extra: Any) -> Calendar:
    return Calendar(periods=HOURS, days_off=frozenset(), working_weekends=frozenset(), **extra)


def test_hours_inside_one_morning() -> None:
    assert plain().add_working_hours(at("2026-11-23", "08:00"), 2) == at("2026-11-23", "10:00")


def test_the_lunch_break_does_not_count() -> None:
    assert plain().add_working_hours(at("2026-11-23", "11:00"), 1) == at("2026-11-23", "14:00")


def test_a_request_filed_at_night_starts_counting_at_the_next_opening() -> None:
    assert plain().add_working_hours(at("2026-11-23", "22:15"), 1) == at("2026-11-24", "08:30")


def test_friday_afternoon_runs_over_the_weekend() -> None:
    # Friday 27/11/2026, 16:00: one hour on Friday, the next 7 on Monday.
    assert plain().add_working_hours(at("2026-11-27", "16:00"), 8) == at("2026-11-30", "16:30")


@pytest.mark.django_db
def test_a_request_filed_on_the_friday_before_tet_waits_for_the_holiday_to_end() -> None:
    # Tết Bính Ngọ 2026: off from Saturday 14/02 to Sunday 22/02 (seeded holiday table).
    calendar = working_calendar()
    assert not calendar.is_working_day(date(2026, 2, 16))  # a Monday inside Tết
    friday = at("2026-02-13", "16:00")
    # 1 h on Friday, then 7.5 h on Monday 23/02, then 0.5 h on Tuesday 24/02.
    assert calendar.add_working_hours(friday, 9) == at("2026-02-24", "08:00")
    assert calendar.working_hours_between(friday, at("2026-02-24", "08:00")) == pytest.approx(9)


def test_a_worked_saturday_counts_and_a_holiday_weekday_does_not() -> None:
    calendar = calendar_from([(date(2026, 4, 27), False), (date(2026, 5, 9), True)])
    assert calendar.add_working_hours(at("2026-04-24", "16:00"), 2) == at("2026-04-28", "08:30")
    assert calendar.is_working_day(date(2026, 5, 9))  # a Saturday made a working day
    assert calendar.add_working_hours(at("2026-05-08", "16:30"), 1) == at("2026-05-09", "08:00")


@pytest.mark.parametrize("text", ["08:00", "17:00-08:00", "07:30-11:30,11:00-13:00", "x-y"])
def test_bad_office_hours_are_refused_with_the_reason(text: str) -> None:
    with pytest.raises(ValueError):
        parse_office_hours(text)
