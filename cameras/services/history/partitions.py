"""The history tables partitioned by time on PostgreSQL, with our own small maintenance
(pg_partman is not in the official postgres image the compose file and CI use).

Raw readings, device events and minute rollups have one partition per day, hour rollups
one per month, RANGE on their time column, plus a DEFAULT partition so that no accepted
row is ever refused (a device whose clock is years off, a day whose partition was dropped).
Days are the city's days (Asia/Ho_Chi_Minh, which has no daylight saving: every day is 24
hours): a partition is what a person calls a day, and a day's chart or a day dropped by
retention is one partition. ``partitions_ensure`` (beat, daily, and after ``migrate``)
creates them from the retention cutoff to ``IOC_PARTITIONS_AHEAD_DAYS`` ahead; it costs one
catalogue query when there is nothing to do. SQLite has no partitions: every function here
is a no-op there.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

Period = Literal["day", "month"]


@dataclass(frozen=True)
class PartitionedTable:
    """A table partitioned by time: its column, the length of a partition and the setting
    that says how many days of it are kept."""

    table: str
    column: str
    period: Period
    retention_setting: str

    @property
    def default(self) -> str:
        """The DEFAULT partition's name."""
        return f"{self.table}_default"

    def name(self, first: date) -> str:
        """The partition's name for the period starting on ``first``."""
        return (
            f"{self.table}_p{first:%Y%m%d}"
            if self.period == "day"
            else f"{self.table}_p{first:%Y%m}"
        )

    def retention_days(self) -> int:
        return int(getattr(settings, self.retention_setting))


READINGS = PartitionedTable("cameras_reading", "ts", "day", "IOC_RAW_RETENTION_DAYS")
EVENTS = PartitionedTable("cameras_deviceevent", "ts", "day", "IOC_RAW_RETENTION_DAYS")
MINUTES = PartitionedTable(
    "cameras_readingminute", "bucket", "day", "IOC_ROLLUP_MINUTE_RETENTION_DAYS"
)
HOURS = PartitionedTable("cameras_readinghour", "bucket", "month", "IOC_ROLLUP_RETENTION_DAYS")
TABLES = (READINGS, EVENTS, MINUTES, HOURS)


def city_zone() -> ZoneInfo:
    """The zone whose days the partitions are (the platform's TIME_ZONE)."""
    return ZoneInfo(settings.TIME_ZONE)


def city_day(moment: datetime) -> date:
    """The city's calendar day of a moment."""
    return moment.astimezone(city_zone()).date()


def period_start(period: Period, day: date) -> date:
    """The first day of the period holding ``day``."""
    return day if period == "day" else day.replace(day=1)


def period_next(period: Period, first: date) -> date:
    """The first day of the period after the one starting on ``first``."""
    if period == "day":
        return first + timedelta(days=1)
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


def period_bounds(period: Period, first: date) -> tuple[datetime, datetime]:
    """The period starting on ``first`` as [start, end) moments (city midnights)."""
    zone = city_zone()
    return (
        datetime.combine(first, time(), zone),
        datetime.combine(period_next(period, first), time(), zone),
    )


def periods_between(period: Period, first: date, last: date) -> Iterator[date]:
    """The first days of the periods from the one holding ``first`` to the one holding
    ``last``, both included."""
    current = period_start(period, first)
    while current <= last:
        yield current
        current = period_next(period, current)


def is_partitioned(table: str) -> bool:
    """Whether ``table`` is a partitioned table here (never on SQLite)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [table])
        row = cursor.fetchone()
    return bool(row) and row[0] == "p"


def partitions_of(cursor: Any, tables: Iterable[str]) -> dict[str, set[str]]:
    """Each partitioned table's partitions by name, in one catalogue query."""
    cursor.execute(
        "SELECT parent.relname, child.relname FROM pg_inherits"
        " JOIN pg_class parent ON parent.oid = pg_inherits.inhparent"
        " JOIN pg_class child ON child.oid = pg_inherits.inhrelid"
        " WHERE parent.relname = ANY(%s)",
        [list(tables)],
    )
    found: dict[str, set[str]] = {}
    for parent, child in cursor.fetchall():
        found.setdefault(parent, set()).add(child)
    return found


def partition_create(cursor: Any, spec: PartitionedTable, first: date) -> int:
    """Create the partition of the period starting on ``first``; rows of that period that
    landed in the DEFAULT partition meanwhile move into it in the same transaction (the
    caller's). Returns how many rows moved.

    Without such rows: CREATE TABLE ... PARTITION OF. With them (PostgreSQL refuses a
    partition whose rows sit in DEFAULT): the table created empty, the rows moved, then
    attached; the CHECK constraint spares the attach a scan of the new table.
    """
    name = spec.name(first)
    lower, upper = (moment.isoformat() for moment in period_bounds(spec.period, first))
    table, column, default = spec.table, spec.column, spec.default
    cursor.execute(
        f"SELECT EXISTS (SELECT 1 FROM {default} WHERE {column} >= %s AND {column} < %s)",  # noqa: S608
        [lower, upper],
    )
    if not cursor.fetchone()[0]:
        cursor.execute(
            f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM (%s) TO (%s)",
            [lower, upper],
        )
        return 0
    cursor.execute(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS)")
    cursor.execute(
        f"ALTER TABLE {name} ADD CONSTRAINT {name}_range CHECK ({column} >= %s AND {column} < %s)",
        [lower, upper],
    )
    cursor.execute(
        f"WITH moved AS (DELETE FROM {default} WHERE {column} >= %s AND {column} < %s"  # noqa: S608
        f" RETURNING *) INSERT INTO {name} SELECT * FROM moved",
        [lower, upper],
    )
    moved = int(cursor.rowcount)
    cursor.execute(
        f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)",
        [lower, upper],
    )
    cursor.execute(f"ALTER TABLE {name} DROP CONSTRAINT {name}_range")
    logger.info("partitions: %s created with %s rows moved from %s", name, moved, default)
    return moved


@dataclass
class EnsureResult:
    """What ``partitions_ensure`` did."""

    created: list[str]
    moved: int = 0
    skipped: list[str] | None = None


def wanted_periods(spec: PartitionedTable, now: datetime) -> list[date]:
    """The periods ``spec`` should have a partition for: from its retention cutoff to
    ``IOC_PARTITIONS_AHEAD_DAYS`` ahead."""
    today = city_day(now)
    first = today - timedelta(days=spec.retention_days())
    last = today + timedelta(days=settings.IOC_PARTITIONS_AHEAD_DAYS)
    return list(periods_between(spec.period, first, last))


def partitions_ensure(*, now: datetime | None = None) -> EnsureResult:
    """Create the partitions the history tables lack, from each table's retention cutoff
    to ``IOC_PARTITIONS_AHEAD_DAYS`` ahead, each in its own short transaction (a lock not
    had within 5 s: left to the next run). One catalogue query when none is missing; a
    no-op on SQLite and on tables that are not partitioned."""
    result = EnsureResult(created=[], skipped=[])
    if connection.vendor != "postgresql":
        return result
    now = now or timezone.now()
    with connection.cursor() as cursor:
        existing = partitions_of(cursor, [spec.table for spec in TABLES])
    for spec in TABLES:
        if spec.default not in existing.get(spec.table, set()):
            continue  # not partitioned (yet): nothing to attach to
        for first in wanted_periods(spec, now):
            name = spec.name(first)
            if name in existing[spec.table]:
                continue
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '5s'")
                    result.moved += partition_create(cursor, spec, first)
            except OperationalError as exc:
                logger.warning("partitions: %s not created now (%s); next run", name, exc)
                assert result.skipped is not None
                result.skipped.append(name)
                continue
            result.created.append(name)
    if result.created:
        logger.info(
            "partitions: %s created (%s ... %s)",
            len(result.created),
            result.created[0],
            result.created[-1],
        )
    return result


def partitions_droppable(
    cursor: Any, spec: PartitionedTable, before: datetime
) -> list[tuple[str, date, datetime]]:
    """The partitions of ``spec`` that end at or before ``before``, oldest first, as
    (name, first day, end)."""
    found = partitions_of(cursor, [spec.table]).get(spec.table, set())
    prefix = f"{spec.table}_p"
    droppable = []
    for name in sorted(found):
        if not name.startswith(prefix):
            continue
        digits = name[len(prefix) :]
        try:
            if spec.period == "day":
                first = datetime.strptime(digits, "%Y%m%d").date()
            else:
                first = datetime.strptime(digits, "%Y%m").date()
        except ValueError:
            continue
        end = period_bounds(spec.period, first)[1]
        if end <= before:
            droppable.append((name, first, end))
    return droppable
