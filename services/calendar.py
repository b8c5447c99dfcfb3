"""The Vietnamese working calendar: office hours on working days, in Asia/Ho_Chi_Minh.

Weekends are off unless the holiday table marks one as a working day (a day worked to
make up for a bridge holiday); holidays (Tết, national days) are off. Deadlines count
working hours from when a request arrives: one that arrives out of hours starts counting
at the next opening.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from django.conf import settings

CITY_TIME_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
# Far enough to cross any run of holidays (Tết is at most ~10 days).
MAX_DAYS_AHEAD = 400


@dataclass(frozen=True)
class Calendar:
    """Office hours (periods of a working day) and the exceptions to Monday–Friday."""

    periods: tuple[tuple[time, time], ...]
    days_off: frozenset[date]
    working_weekends: frozenset[date]

    def is_working_day(self, day: date) -> bool:
        """Monday–Friday unless a holiday; a weekend day only when marked as worked."""
        if day in self.days_off:
            return False
        if day.weekday() >= 5:
            return day in self.working_weekends
        return True

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The moment ``hours`` working hours after ``start`` (an aware datetime)."""
        remaining = timedelta(hours=hours)
        moment = start.astimezone(CITY_TIME_ZONE)
        for _ in range(MAX_DAYS_AHEAD):
            day = moment.date()
            if self.is_working_day(day):
                for opens, closes in self.periods:
                    begin = max(moment, _at(day, opens))
                    end = _at(day, closes)
                    if begin >= end:
                        continue
                    if begin + remaining <= end:
                        return begin + remaining
                    remaining -= end - begin
                    moment = end
            moment = _at(day + timedelta(days=1), time.min)
        raise ValueError("No working hours within a year: check the holiday table.")

    def working_hours_between(self, start: datetime, end: datetime) -> float:
        """Working hours from ``start`` to ``end`` (0 if ``end`` is not after ``start``)."""
        if end <= start:
            return 0.0
        total = timedelta()
        day = start.astimezone(CITY_TIME_ZONE).date()
        last = end.astimezone(CITY_TIME_ZONE).date()
        while day <= last:
            if self.is_working_day(day):
                for opens, closes in self.periods:
                    begin, finish = max(start, _at(day, opens)), min(end, _at(day, closes))
                    if finish > begin:
                        total += finish - begin
            day += timedelta(days=1)
        return total.total_seconds() / 3600


def _at(day: date, moment: time) -> datetime:
    return datetime.combine(day, moment, tzinfo=CITY_TIME_ZONE)


def parse_office_hours(text: str) -> tuple[tuple[time, time], ...]:
    """``"07:30-11:30,13:30-17:00"`` as periods; ValueError with the reason otherwise."""
    periods = []
    for part in text.split(","):
        opens_text, _sep, closes_text = part.strip().partition("-")
        opens, closes = (
            time.fromisoformat(opens_text.strip()),
            time.fromisoformat(closes_text.strip()),
        )
        if closes <= opens:
            raise ValueError(f"office hours {part!r}: the period must end after it starts")
        periods.append((opens, closes))
    ordered = sorted(periods)
    for (_o1, c1), (o2, _c2) in pairwise(ordered):
        if o2 < c1:
            raise ValueError(f"office hours {text!r}: periods overlap")
    return tuple(ordered)


def calendar_from(holidays: Iterable[tuple[date, bool]]) -> Calendar:
    """A calendar with the configured office hours and (date, is_working_day) exceptions."""
    rows = list(holidays)
    return Calendar(
        periods=parse_office_hours(settings.IOC_OFFICE_HOURS),
        days_off=frozenset(day for day, working in rows if not working),
        working_weekends=frozenset(day for day, working in rows if working),
    )


def working_calendar() -> Calendar:
    """The calendar from the holiday table the administrator maintains."""
    from services.models import Holiday

    return calendar_from(Holiday.objects.values_list("date", "is_working_day"))
