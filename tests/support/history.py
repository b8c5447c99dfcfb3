"""Readings over time for the history tests: readings written as ingest writes them (the
database's trigger marks the late ones), and what a chart's buckets must hold, computed
from the readings themselves."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection

from cameras.models import Device, Reading

Row = tuple[datetime, float]


def readings_add(device: Device, metric: str, rows: Iterable[Row]) -> list[Row]:
    """Store readings of one metric (bulk, like ingest); returns them."""
    rows = list(rows)
    Reading.objects.bulk_create(
        [Reading(device=device, metric=metric, ts=ts, value=value) for ts, value in rows]
    )
    return rows


def readings_scattered(start: datetime, end: datetime, count: int, *, seed: int = 7) -> list[Row]:
    """``count`` readings at random moments (whole milliseconds) of [start, end)."""
    rng = random.Random(seed)
    span = int((end - start).total_seconds() * 1000)
    return sorted(
        (start + timedelta(milliseconds=rng.randrange(span)), round(rng.uniform(0, 500), 3))
        for _ in range(count)
    )


@dataclass(frozen=True)
class Truth:
    """A bucket as the raw readings make it."""

    start: datetime
    count: int
    min: float
    max: float
    avg: float


def buckets_of(rows: list[Row], start: datetime, end: datetime, points: int) -> list[Truth]:
    """The non-empty buckets of the grid [start, end) in ``points``, from the readings."""
    width = (end - start) / points
    found: dict[int, list[float]] = {}
    for ts, value in rows:
        if start <= ts < end:
            found.setdefault(int((ts - start) / width), []).append(value)
    return [
        Truth(
            start + width * index, len(values), min(values), max(values), sum(values) / len(values)
        )
        for index, values in sorted(found.items())
    ]


def partition_of(table: str, **where: object) -> list[str]:
    """PostgreSQL: the partitions holding the rows of ``table`` that match ``where``."""
    conditions = " AND ".join(f"{column} = %s" for column in where) or "true"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT tableoid::regclass::text FROM {table} WHERE {conditions}",  # noqa: S608
            list(where.values()),
        )
        return sorted(row[0] for row in cursor.fetchall())


def hour_floor(moment: datetime) -> datetime:
    """The start of a moment's hour (UTC)."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
