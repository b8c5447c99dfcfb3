"""The Vietnamese working calendar: office hours on working days, in Asia/Ho_Chi_Minh.

A day is decided in this order: the administrator's table (``Holiday``: the extra days off
and the days worked that each year's announcement sets) has the last word; then the
statutory days off of the ``holidays`` package (``services.holidays``: Tết by the lunar
calendar, days off in lieu, the swaps it knows) are off and the weekend days it swaps in
are worked; then Monday–Friday is worked and the weekend is not. Deadlines count working
hours from when a request arrives: one that arrives out of hours starts counting at the
next opening.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo

from django.conf import settings

from services.holidays import StatutoryYear, statutory_year

CITY_TIME_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
# Far enough to cross any run of holidays (Tết is at most ~10 days).
MAX_DAYS_AHEAD = 400


@dataclass(frozen=True)
class Calendar:
    """Office hours (periods of a working day), the statutory days off of any year, and
    the administrator's exceptions to both."""

    periods: tuple[tuple[time, time], ...]
    extra_days_off: frozenset[date] = frozenset()
    days_worked: frozenset[date] = frozenset()
    # Per year and cached for the process (``services.holidays``).
    statutory: Callable[[int], StatutoryYear] = statutory_year
    # Year -> (days off, weekend days worked), the table merged in: the loops below ask
    # once a day, and two set lookups are all a day then costs.
    _years: dict[int, tuple[frozenset[date], frozenset[date]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def is_working_day(self, day: date) -> bool:
        """The table's word if it has one; else off on a statutory day off; else
        Monday–Friday, and a weekend day only when a statutory swap makes it worked."""
        days_off, weekend_days_worked = self._years.get(day.year) or self._merge(day.year)
        if day in days_off:
            return False
        if day.weekday() >= 5:
            return day in weekend_days_worked
        return True

    def _merge(self, year: int) -> tuple[frozenset[date], frozenset[date]]:
        """The year's statutory days with the table laid over them (the table wins)."""
        statutory = self.statutory(year)
        merged = (
            (statutory.days_off | self.extra_days_off) - self.days_worked,
            (statutory.weekend_workdays | self.days_worked) - self.extra_days_off,
        )
        self._years[year] = merged
        return merged

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
        raise ValueError("No working hours within a year: check the days off and days worked.")

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


@lru_cache(maxsize=8)
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


def calendar_from(exceptions: Iterable[tuple[date, bool]]) -> Calendar:
    """A calendar with the configured office hours, the statutory days off and the
    administrator's (date, is_working_day) exceptions."""
    rows = list(exceptions)
    return Calendar(
        periods=parse_office_hours(settings.IOC_OFFICE_HOURS),
        extra_days_off=frozenset(day for day, working in rows if not working),
        days_worked=frozenset(day for day, working in rows if working),
    )


def working_calendar() -> Calendar:
    """The calendar as it stands: the statutory days and the administrator's table, read
    anew each time (one small query) so an edit in the admin counts at once in every
    process."""
    from services.models import Holiday

    return calendar_from(Holiday.objects.values_list("date", "is_working_day"))
