"""The statutory days off from the ``holidays`` package (names in Vietnamese, swaps, a year
far ahead), and the migration that took the hand-kept seed out of the table."""

from __future__ import annotations

import importlib
from datetime import date
from typing import Any

from django.apps import apps

from services.calendar import working_calendar
from services.holidays import statutory_name, statutory_year
from services.models import Holiday
from tests.support import announce

MIGRATION = importlib.import_module("services.migrations.0006_holidays_from_the_library")


def test_statutory_days_carry_their_vietnamese_names() -> None:
    assert statutory_name(date(2026, 2, 17)) == "Tết Nguyên Đán"
    assert statutory_name(date(2026, 2, 16)) == "Giao thừa Tết Nguyên Đán"
    assert statutory_name(date(2027, 4, 16)) == "Ngày Giỗ Tổ Hùng Vương"
    assert statutory_name(date(2026, 4, 27)) == "Ngày Giỗ Tổ Hùng Vương (nghỉ bù)"
    assert statutory_name(date(2026, 3, 17)) == ""


def test_a_year_far_ahead_has_tet_by_the_vietnamese_lunar_calendar() -> None:
    assert statutory_name(date(2030, 2, 2)) == "Tết Nguyên Đán"  # China's is on 03/02
    assert date(2030, 2, 1) in statutory_year(2030).days_off


def test_a_year_keeps_only_its_own_swapped_saturdays() -> None:
    year = statutory_year(2026)
    assert year.weekend_workdays == {date(2026, 8, 22)}
    assert all(day.year == 2026 for day in year.days_off)


def test_every_seeded_day_is_off_without_its_row(db: Any) -> None:
    # So removing the seed moves no deadline.
    Holiday.objects.all().delete()
    calendar = working_calendar()
    assert [day for day, _name in MIGRATION.SEEDED if calendar.is_working_day(day)] == []


def test_the_migration_removes_the_seeded_rows_and_keeps_the_edited_ones(db: Any) -> None:
    Holiday.objects.all().delete()
    MIGRATION.restore_seeded(apps, None)
    assert Holiday.objects.count() == len(MIGRATION.SEEDED)
    Holiday.objects.filter(date=date(2027, 2, 10)).update(name="Nghỉ Tết (theo thông báo)")
    Holiday.objects.filter(date=date(2026, 2, 21)).update(is_working_day=True)
    announce("2027-04-29", "Nghỉ bù dịp 30/4 - 1/5")

    MIGRATION.remove_seeded(apps, None)

    assert sorted(Holiday.objects.values_list("date", flat=True)) == [
        date(2026, 2, 21),
        date(2027, 2, 10),
        date(2027, 4, 29),
    ]


def test_each_year_is_worked_out_once_per_process() -> None:
    first = statutory_year(2031)
    assert statutory_year(2031) is first
