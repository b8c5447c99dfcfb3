"""Reads of a device's readings: a metric's series, downsampled in SQL into equal time
buckets for the charts and the readings API. Split from ``cameras.selectors`` (past 450
lines, STYLE.md); the device always comes from a scoped selector there."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import NotSupportedError
from django.db.models import Avg, Count, FloatField, Func, IntegerField, Max, Min, Value
from django.db.models.functions import Cast, Floor

from cameras.models import Device, Reading


class EpochMilliseconds(Func):
    """Milliseconds since 1970-01-01 UTC of a datetime column, computed in SQL.

    PostgreSQL: ``EXTRACT(EPOCH FROM ts)`` is an exact numeric. SQLite stores UTC text that
    ``julianday`` reads with its fractional seconds (``strftime('%s')`` would drop them);
    rounding to whole milliseconds removes julianday's floating-point noise, so bucket
    edges fall exactly where they should.
    """

    arity = 1
    output_field = FloatField()

    def as_sql(
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> Any:
        # The vendor methods below call Func.as_sql with their own template.
        raise NotSupportedError("EpochMilliseconds supports PostgreSQL and SQLite only.")

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return super().as_sql(
            compiler, connection, template="(EXTRACT(EPOCH FROM %(expressions)s) * 1000)", **extra
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return super().as_sql(
            compiler,
            connection,
            template="ROUND((julianday(%(expressions)s) - 2440587.5) * 86400000.0)",
            **extra,
        )


@dataclass(frozen=True)
class ReadingBucket:
    """One slice of a downsampled series: when it starts and the values that fell in it."""

    start: datetime
    avg: float
    min: float
    max: float
    count: int


def reading_series(
    device: Device, *, metric: str, start: datetime, end: datetime, points: int
) -> list[ReadingBucket]:
    """A metric's readings in [start, end) split into ``points`` equal buckets, each with
    its average, minimum and maximum; empty buckets are left out. One aggregate query:

    bucket = floor((epoch_ms(ts) - epoch_ms(start)) * points / span_ms)

    (multiplying before dividing keeps the arithmetic exact for whole milliseconds).
    The device must come from a scoped selector.
    """
    start_ms = round(start.timestamp() * 1000)
    span_ms = round(end.timestamp() * 1000) - start_ms
    bucket = Cast(
        Floor((EpochMilliseconds("ts") - Value(start_ms)) * Value(points) / Value(span_ms)),
        IntegerField(),
    )
    rows = (
        Reading.objects.filter(device=device, metric=metric, ts__gte=start, ts__lt=end)
        .annotate(bucket=bucket)
        .order_by()
        .values("bucket")
        .annotate(avg=Avg("value"), low=Min("value"), high=Max("value"), count=Count("id"))
        .order_by("bucket")
    )
    merged: dict[int, ReadingBucket] = {}
    width = (end - start) / points
    for row in rows:
        # A reading less than half a millisecond before ``end`` rounds onto it (SQLite).
        index = min(max(int(row["bucket"]), 0), points - 1)
        current = ReadingBucket(
            start=start + width * index,
            avg=float(row["avg"]),
            min=float(row["low"]),
            max=float(row["high"]),
            count=int(row["count"]),
        )
        if index in merged:
            current = _merge_buckets(merged[index], current)
        merged[index] = current
    return [merged[index] for index in sorted(merged)]


def _merge_buckets(a: ReadingBucket, b: ReadingBucket) -> ReadingBucket:
    """Two partial aggregates of one bucket as one."""
    count = a.count + b.count
    return ReadingBucket(
        start=a.start,
        avg=(a.avg * a.count + b.avg * b.count) / count,
        min=min(a.min, b.min),
        max=max(a.max, b.max),
        count=count,
    )
