"""The working calendar: office hours and weekends; the statutory days off (Tết by the lunar
calendar) with no row in the table; the administrator's announced days off and days worked
on top; deadlines counted across them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from services.calendar import parse_office_hours, working_calendar
from services.models import Holiday
from services.services.common import deadline_after
from tests.support import announce, at, office_hours_only


@pytest.fixture
def no_announcements(db: Any) -> None:
    """The administrator's table empty: only the statutory days off remain."""
    Holiday.objects.all().delete()


def days_off_between(first: date, last: date) -> list[date]:
    """The Monday–Friday days from ``first`` to ``last`` that the working calendar keeps off."""
    calendar = working_calendar()
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [day for day in days if day.weekday() < 5 and not calendar.is_working_day(day)]


# --- The arithmetic of office hours ----------------------------------------------------


def test_hours_inside_one_morning() -> None:
    calendar = office_hours_only()
    assert calendar.add_working_hours(at("2026-11-23", "08:00"), 2) == at("2026-11-23", "10:00")


def test_the_lunch_break_does_not_count() -> None:
    calendar = office_hours_only()
    assert calendar.add_working_hours(at("2026-11-23", "11:00"), 1) == at("2026-11-23", "14:00")


def test_a_request_filed_at_night_starts_counting_at_the_next_opening() -> None:
    calendar = office_hours_only()
    assert calendar.add_working_hours(at("2026-11-23", "22:15"), 1) == at("2026-11-24", "08:30")


def test_friday_afternoon_runs_over_the_weekend() -> None:
    # Friday 27/11/2026, 16:00: one hour on Friday, the next 7 on Monday.
    calendar = office_hours_only()
    assert calendar.add_working_hours(at("2026-11-27", "16:00"), 8) == at("2026-11-30", "16:30")


@pytest.mark.parametrize("text", ["08:00", "17:00-08:00", "07:30-11:30,11:00-13:00", "x-y"])
def test_bad_office_hours_are_refused_with_the_reason(text: str) -> None:
    with pytest.raises(ValueError):
        parse_office_hours(text)


# --- Statutory days off, from the library, with no row in the table -------------------


def test_tet_binh_ngo_2026_is_off_without_any_table_row(no_announcements: None) -> None:
    # Mùng 1 Tết Bính Ngọ is Tuesday 17/02/2026: the eve (Monday 16/02) to mùng 4 (20/02).
    assert days_off_between(date(2026, 2, 9), date(2026, 2, 27)) == [
        date(2026, 2, 16),
        date(2026, 2, 17),
        date(2026, 2, 18),
        date(2026, 2, 19),
        date(2026, 2, 20),
    ]


def test_tet_dinh_mui_2027_is_off_without_any_table_row(no_announcements: None) -> None:
    # Mùng 1 Tết Đinh Mùi is Saturday 06/02/2027; mùng 1 and 2 fall on the weekend, so two
    # days off in lieu: Thursday 04/02 before the eve and Wednesday 10/02 after mùng 4.
    assert days_off_between(date(2027, 2, 1), date(2027, 2, 12)) == [
        date(2027, 2, 4),
        date(2027, 2, 5),
        date(2027, 2, 8),
        date(2027, 2, 9),
        date(2027, 2, 10),
    ]


def test_tet_canh_tuat_2030_is_off_with_no_table_for_that_year(no_announcements: None) -> None:
    # Vietnam's mùng 1 is Saturday 02/02/2030, a day before China's: the new moon falls
    # before midnight in UTC+7. Eve Friday 01/02; mùng 3 and 4 Monday 04 and Tuesday 05/02.
    calendar = working_calendar()
    for day_off in (date(2030, 2, 1), date(2030, 2, 4), date(2030, 2, 5)):
        assert not calendar.is_working_day(day_off), day_off
    assert calendar.is_working_day(date(2030, 2, 7))


def test_hung_kings_day_is_off_on_the_tenth_of_the_third_lunar_month(
    no_announcements: None,
) -> None:
    calendar = working_calendar()
    assert not calendar.is_working_day(date(2027, 4, 16))  # 10/3 Đinh Mùi, a Friday
    # 10/3 Bính Ngọ is Sunday 26/04/2026: Monday 27/04 is off in lieu.
    assert not calendar.is_working_day(date(2026, 4, 27))
    assert calendar.is_working_day(date(2026, 4, 28))


def test_a_weekend_day_the_library_swaps_in_is_worked(no_announcements: None) -> None:
    # 2026: Monday 31/08 off before Quốc khánh, worked on Saturday 22/08 instead.
    calendar = working_calendar()
    assert calendar.is_working_day(date(2026, 8, 22))
    assert not calendar.is_working_day(date(2026, 8, 31))


# --- The administrator's table: what each year's announcement adds -------------------


def test_an_announced_bridge_day_is_off_and_its_make_up_saturday_is_worked(
    no_announcements: None,
) -> None:
    calendar = working_calendar()
    assert calendar.is_working_day(date(2027, 4, 29))
    assert not calendar.is_working_day(date(2027, 5, 8))

    announce("2027-04-29", "Nghỉ bù dịp 30/4 - 1/5")  # Thursday, before Friday 30/04
    announce("2027-05-08", "Làm bù cho ngày 29/04/2027", worked=True)  # a Saturday
    calendar = working_calendar()

    assert not calendar.is_working_day(date(2027, 4, 29))
    # Wednesday 28/04, 16:00: 1 h that day; Thursday (bridge), Friday 30/04, the weekend
    # and Monday 03/05 (1/5 in lieu) off; 7.5 h on Tuesday 04/05 and 0.5 h on Wednesday.
    assert calendar.add_working_hours(at("2027-04-28", "16:00"), 9) == at("2027-05-05", "08:00")
    assert calendar.is_working_day(date(2027, 5, 8))
    assert calendar.add_working_hours(at("2027-05-07", "16:30"), 1) == at("2027-05-08", "08:00")


def test_the_table_can_move_a_statutory_day_off(no_announcements: None) -> None:
    # Should an announcement place Tết 2027 otherwise than the library's estimate: 04/02
    # worked after all, Thursday 11/02 off instead.
    announce("2027-02-04", "Làm việc", worked=True)
    announce("2027-02-11", "Nghỉ Tết Nguyên đán")
    assert days_off_between(date(2027, 2, 1), date(2027, 2, 12)) == [
        date(2027, 2, 5),
        date(2027, 2, 8),
        date(2027, 2, 9),
        date(2027, 2, 10),
        date(2027, 2, 11),
    ]


# --- Deadlines across Tết -------------------------------------------------------------


def test_a_request_filed_on_the_friday_before_tet_waits_for_the_holiday_to_end(
    no_announcements: None, django_assert_num_queries: Any
) -> None:
    friday = at("2026-02-13", "16:00")
    # A 40-hour category: 1 h on Friday 13/02, none in Tết (16–20/02), 7.5 h on each of
    # 23–27/02 (37.5 h), the last 1.5 h on Monday 02/03.
    with django_assert_num_queries(1):  # the table, once; the statutory days are cached
        deadline = deadline_after(friday, 40)
    assert deadline == at("2026-03-02", "09:00")
    assert working_calendar().working_hours_between(friday, deadline) == pytest.approx(40)


def test_a_deadline_across_tet_2027_counts_only_working_days(no_announcements: None) -> None:
    wednesday = at("2027-02-03", "16:00")
    # 1 h on Wednesday 03/02; Thursday 04 to Wednesday 10/02 off; 7.5 h on Thursday 11/02,
    # the last 0.5 h on Friday 12/02.
    assert deadline_after(wednesday, 9) == at("2027-02-12", "08:00")
