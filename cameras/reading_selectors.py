"""Reads of a device's readings: a metric's series, downsampled in SQL into equal time
buckets for the charts and the readings API, from the raw readings or their minute and
hour rollups as the range asks (``cameras.services.history``). Split from
``cameras.selectors`` (past 450 lines, STYLE.md); the device always comes from a scoped
selector there."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import NotSupportedError
from django.db.models import Count, FloatField, Func, IntegerField, Max, Min, Sum, Value
from django.db.models.functions import Cast, Floor
from django.utils import timezone

from cameras.models import Device, Reading, ReadingHour, ReadingMinute, RollupState

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def floor_to(moment: datetime, step: timedelta) -> datetime:
    """``moment`` rounded down to a whole ``step`` since the epoch (minutes and hours:
    UTC and the city's agree, Vietnam's offset being whole hours)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return (epoch + ((moment - epoch) // step) * step).astimezone(moment.tzinfo)


def cutoff(days: int, now: datetime) -> datetime:
    """The start of the oldest city day a retention of ``days`` days keeps."""
    zone = ZoneInfo(settings.TIME_ZONE)
    day = now.astimezone(zone).date() - timedelta(days=days)
    return datetime.combine(day, time(), zone)


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


@dataclass(frozen=True)
class ReadingSeries:
    """A downsampled series: its buckets and the grid they are on, [start, end) in
    ``points`` equal buckets; ``level`` says what was read beside the raw readings after
    the rollups' mark (``raw``, ``minute`` or ``hour``)."""

    start: datetime
    end: datetime
    points: int
    level: str
    buckets: list[ReadingBucket]

    @property
    def bucket_seconds(self) -> float:
        return (self.end - self.start).total_seconds() / self.points


@dataclass
class _Sums:
    """A bucket's partial aggregate, exact to merge (the mean is total / count)."""

    count: int
    low: float
    high: float
    total: float

    def add(self, other: _Sums) -> None:
        self.count += other.count
        self.low = min(self.low, other.low)
        self.high = max(self.high, other.high)
        self.total += other.total


def series_level(width: timedelta, start: datetime, now: datetime) -> str:
    """The coarsest level whose step fits in a bucket (raw under a minute, minutes under
    an hour, hours beyond), or a coarser one when the range starts before that level is
    kept: a chart of a day long past reads its minutes or hours."""
    if width < MINUTE and start >= cutoff(settings.IOC_RAW_RETENTION_DAYS, now):
        return "raw"
    if width < HOUR and start >= cutoff(settings.IOC_ROLLUP_MINUTE_RETENTION_DAYS, now):
        return "minute"
    return "hour"


def reading_series(
    device: Device,
    *,
    metric: str,
    start: datetime,
    end: datetime,
    points: int,
    now: datetime | None = None,
) -> ReadingSeries:
    """A metric's readings in [start, end) split into ``points`` equal buckets, each with
    its average, minimum, maximum and count; empty buckets are left out.

    The level read is chosen by the bucket width (``series_level``). Rollups hold whole
    minutes or hours, so when they serve part of the range the grid is aligned on their
    step: the start rounded down, the width rounded up, as many buckets as then cover the
    range (never more than asked); the series says the grid it used. Hours are read up to
    the hours' mark, minutes from there to the minutes' mark, raw readings after it: each
    reading is counted once, wherever the marks stand. With no rollup in the range (a raw
    chart, rollups not yet this far) the raw readings on the grid asked, as before.
    One aggregate query per level. The device must come from a scoped selector.
    """
    now = now or timezone.now()
    level = series_level((end - start) / points, start, now)
    marks = (
        None
        if level == "raw"
        else RollupState.objects.order_by("pk").values("minutes_until", "hours_until").first()
    )
    minutes_until = marks["minutes_until"] if marks else None
    hours_until = (marks["hours_until"] if marks else None) or minutes_until
    if minutes_until is None or minutes_until <= start:
        return _series(
            start, end, points, "raw", _raw_sums(device, metric, start, end, start, end, points)
        )
    step = MINUTE if level == "minute" else HOUR
    start = floor_to(start, step)
    width = step * math.ceil((end - start) / points / step)
    points = math.ceil((end - start) / width)
    end = start + width * points
    sums: dict[int, _Sums] = {}
    minutes_from = start
    if level == "hour" and hours_until is not None and hours_until > start:
        hours_to = min(end, hours_until)
        _merge(sums, _rollup_sums(ReadingHour, device, metric, start, hours_to, start, end, points))
        minutes_from = hours_to
    minutes_to = min(end, max(minutes_until, minutes_from))
    if minutes_from < minutes_to:
        _merge(
            sums,
            _rollup_sums(
                ReadingMinute, device, metric, minutes_from, minutes_to, start, end, points
            ),
        )
    if minutes_to < end:
        _merge(sums, _raw_sums(device, metric, minutes_to, end, start, end, points))
    return _series(start, end, points, level, sums)


def _bucket_index(column: str, start: datetime, end: datetime, points: int) -> Any:
    """bucket = floor((epoch_ms(column) - epoch_ms(start)) * points / span_ms), in SQL
    (multiplying before dividing keeps the arithmetic exact for whole milliseconds)."""
    start_ms = round(start.timestamp() * 1000)
    span_ms = round(end.timestamp() * 1000) - start_ms
    return Cast(
        Floor((EpochMilliseconds(column) - Value(start_ms)) * Value(points) / Value(span_ms)),
        IntegerField(),
    )


def _raw_sums(
    device: Device,
    metric: str,
    since: datetime,
    until: datetime,
    start: datetime,
    end: datetime,
    points: int,
) -> dict[int, _Sums]:
    """The raw readings in [since, until) by bucket of the grid."""
    rows = (
        Reading.objects.filter(device=device, metric=metric, ts__gte=since, ts__lt=until)
        .annotate(bucket=_bucket_index("ts", start, end, points))
        .order_by()
        .values("bucket")
        .annotate(total=Sum("value"), low=Min("value"), high=Max("value"), count=Count("id"))
    )
    return _collect(rows, points)


def _rollup_sums(
    model: type[ReadingMinute] | type[ReadingHour],
    device: Device,
    metric: str,
    since: datetime,
    until: datetime,
    start: datetime,
    end: datetime,
    points: int,
) -> dict[int, _Sums]:
    """A rollup level's rows in [since, until) by bucket of the (aligned) grid."""
    rows = (
        model.objects.filter(device=device, metric=metric, bucket__gte=since, bucket__lt=until)
        .annotate(index=_bucket_index("bucket", start, end, points))
        .order_by()
        .values("index")
        .annotate(total=Sum("total"), low=Min("minimum"), high=Max("maximum"), count=Sum("count"))
        .values("index", "total", "low", "high", "count")
    )
    return _collect(({**row, "bucket": row["index"]} for row in rows), points)


def _collect(rows: Any, points: int) -> dict[int, _Sums]:
    sums: dict[int, _Sums] = {}
    for row in rows:
        # A reading less than half a millisecond before ``end`` rounds onto it (SQLite).
        index = min(max(int(row["bucket"]), 0), points - 1)
        part = _Sums(int(row["count"]), float(row["low"]), float(row["high"]), float(row["total"]))
        if index in sums:
            sums[index].add(part)
        else:
            sums[index] = part
    return sums


def _merge(into: dict[int, _Sums], part: dict[int, _Sums]) -> None:
    for index, sums in part.items():
        if index in into:
            into[index].add(sums)
        else:
            into[index] = sums


def _series(
    start: datetime, end: datetime, points: int, level: str, sums: dict[int, _Sums]
) -> ReadingSeries:
    width = (end - start) / points
    return ReadingSeries(
        start=start,
        end=end,
        points=points,
        level=level,
        buckets=[
            ReadingBucket(
                start=start + width * index,
                avg=sums[index].total / sums[index].count,
                min=sums[index].low,
                max=sums[index].high,
                count=sums[index].count,
            )
            for index in sorted(sums)
        ],
    )
