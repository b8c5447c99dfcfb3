"""Vietnam's public holidays as seeded on a new installation; the administrator keeps the
table current each year (the government announces Tết and bridge days yearly)."""

from datetime import date, timedelta
from typing import Any


def _days(first: date, last: date, name: str) -> list[tuple[date, str]]:
    return [(first + timedelta(days=n), name) for n in range((last - first).days + 1)]


# (date, name): days off. Weekends inside a holiday are listed too, for the record.
DAYS_OFF: list[tuple[date, str]] = [
    (date(2026, 1, 1), "Tết Dương lịch"),
    *_days(date(2026, 2, 14), date(2026, 2, 22), "Tết Nguyên đán Bính Ngọ"),
    (date(2026, 4, 27), "Giỗ Tổ Hùng Vương (nghỉ bù)"),
    (date(2026, 4, 30), "Ngày Giải phóng miền Nam, thống nhất đất nước"),
    (date(2026, 5, 1), "Ngày Quốc tế Lao động"),
    (date(2026, 9, 1), "Quốc khánh"),
    (date(2026, 9, 2), "Quốc khánh"),
    (date(2027, 1, 1), "Tết Dương lịch"),
    *_days(date(2027, 2, 5), date(2027, 2, 10), "Tết Nguyên đán Đinh Mùi (dự kiến)"),
]


def seed_holidays(Holiday: Any) -> None:
    """Add the seeded days that are not in the table yet (edited rows are left alone)."""
    for day, name in DAYS_OFF:
        Holiday.objects.get_or_create(date=day, defaults={"name": name})
