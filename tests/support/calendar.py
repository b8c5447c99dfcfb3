"""The working calendar in tests: moments in Vietnam time, the administrator's announced
exceptions, and a calendar of office hours alone (no statutory days) for the arithmetic."""

from __future__ import annotations

from datetime import date, datetime, time

from services.calendar import CITY_TIME_ZONE, Calendar, parse_office_hours
from services.holidays import StatutoryYear
from services.models import Holiday

OFFICE_HOURS = parse_office_hours("07:30-11:30,13:30-17:00")  # 7.5 working hours a day
NO_STATUTORY_DAYS = StatutoryYear(days_off=frozenset(), names={}, weekend_workdays=frozenset())


def at(day: str, clock: str) -> datetime:
    """``at("2026-02-13", "16:00")``: that moment in Vietnam time."""
    return datetime.combine(
        date.fromisoformat(day), time.fromisoformat(clock), tzinfo=CITY_TIME_ZONE
    )


def office_hours_only(**exceptions: frozenset[date]) -> Calendar:
    """Monday–Friday office hours and the given exceptions, without any statutory day."""
    return Calendar(periods=OFFICE_HOURS, statutory=lambda _year: NO_STATUTORY_DAYS, **exceptions)


def announce(day: str, name: str, *, worked: bool = False) -> Holiday:
    """A row of the administrator's table: an extra day off, or a day ``worked``."""
    return Holiday.objects.create(date=date.fromisoformat(day), name=name, is_working_day=worked)
