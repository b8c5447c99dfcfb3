"""Vietnam's statutory days off, from the ``holidays`` package: the days the Labour Code
gives (Tết by the lunar calendar, Hùng Kings' day, 30/4, 1/5, Quốc khánh…), the days off in
lieu when one falls on a weekend, and the swaps the package knows. The administrator's
table (``services.models.Holiday``) holds only what each year's announcement adds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from types import MappingProxyType

import holidays

COUNTRY = "VN"
# Names are for people, and the package has them in Vietnamese.
LANGUAGE = "vi"


@dataclass(frozen=True)
class StatutoryYear:
    """One year's statutory days off (with their names) and the weekend days worked to
    make up for a swap the package knows."""

    days_off: frozenset[date]
    names: Mapping[date, str]
    weekend_workdays: frozenset[date]


@lru_cache(maxsize=32)
def statutory_year(year: int) -> StatutoryYear:
    """The statutory days off of ``year``, computed once per process (the lunar tables
    cost ~70 ms on the first call, ~0.5 ms after; the answer never changes)."""
    found = holidays.country_holidays(COUNTRY, years=year, language=LANGUAGE)
    # The package lists cross-year swaps (a Saturday of December worked for a day off in
    # January) under every year: keep this year's days only.
    names = {day: name for day, name in found.items() if day.year == year}
    return StatutoryYear(
        days_off=frozenset(names),
        names=MappingProxyType(names),
        weekend_workdays=frozenset(day for day in found.weekend_workdays if day.year == year),
    )


def statutory_name(day: date) -> str:
    """What the law calls ``day`` off ("Tết Nguyên Đán"), or "" for an ordinary day."""
    return statutory_year(day.year).names.get(day, "")
