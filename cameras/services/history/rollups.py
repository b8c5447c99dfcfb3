"""Rollups of readings per device and metric, per minute and per hour: count, minimum,
maximum, total (the mean is total / count, exact to merge) and the last value with its
time. The beat runs ``rollups_compute`` every minute.

Three marks (``RollupState``) say where things stand:

- ``marked_until``: the end of the last complete minute, less ``IOC_ROLLUP_LAG_SECONDS``.
  A reading written with a time before it is late: a database trigger on the readings
  table records its device and hour (``RollupLateHour``) in the writer's transaction,
  however it was written (ingest, the demo's month, a hand's INSERT). On PostgreSQL
  every writer holds an advisory lock shared while it marks, and this job takes it alone
  to move the mark: a writer that read the old mark has committed before the job reads the
  readings up to the new one, so nothing falls between the two. SQLite has one writer at
  a time: the same holds without a lock.
- ``minutes_until``: minutes are complete before it (each run rolls up from it to the mark).
- ``hours_until``: hours are complete before it (from the minutes of whole hours).

A late hour is rolled up again from the raw readings of its device (minutes, then its
hour). Once retention has dropped the raw readings of that hour (``raw_dropped_before``),
the readings there are only the late ones: they are merged into the rollups and deleted.
Every step replaces what it computes, so running twice changes nothing.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time as monotonic_time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from cameras.models import Reading, ReadingMinute, RollupLateHour, RollupState
from cameras.reading_selectors import HOUR, MINUTE, floor_to

logger = logging.getLogger(__name__)

# PostgreSQL advisory locks: writers of readings take LATE_LOCK shared (the trigger), the
# mark and the late-hour steps take it alone; one rollup or retention run at a time holds
# MAINTENANCE_LOCK.
LATE_LOCK = 7_340_016
MAINTENANCE_LOCK = 7_340_017
# Late hours rolled up again per transaction.
LATE_HOURS_PER_TRANSACTION = 500
_embedded_maintenance = threading.Lock()

Level = Literal["minute", "hour"]
TABLE = {"minute": "cameras_readingminute", "hour": "cameras_readinghour"}
COLUMNS = "device_id, metric, bucket, count, minimum, maximum, total, last_value, last_at"


def sql_time(moment: datetime) -> Any:
    """A time as a raw query's parameter (SQLite: Django's UTC text)."""
    return connection.ops.adapt_datetimefield_value(moment)


def truncated(column: str, level: Level) -> str:
    """SQL of ``column`` rounded down to its minute or hour, in the column's own type."""
    if connection.vendor == "postgresql":
        return f"date_trunc('{level}', {column}, 'UTC')"
    return (
        f"substr({column}, 1, 16) || ':00'"
        if level == "minute"
        else (f"substr({column}, 1, 13) || ':00:00'")
    )


def _merge_set(table: str) -> str:
    """An upsert's SET that merges the new aggregate into the stored one."""
    low, high = ("least", "greatest") if connection.vendor == "postgresql" else ("min", "max")
    return (
        f"count = {table}.count + excluded.count,"
        f" minimum = {low}({table}.minimum, excluded.minimum),"
        f" maximum = {high}({table}.maximum, excluded.maximum),"
        f" total = {table}.total + excluded.total,"
        f" last_value = CASE WHEN excluded.last_at >= {table}.last_at"
        f" THEN excluded.last_value ELSE {table}.last_value END,"
        f" last_at = {high}({table}.last_at, excluded.last_at)"
    )


REPLACE_SET = (
    "count = excluded.count, minimum = excluded.minimum, maximum = excluded.maximum,"
    " total = excluded.total, last_value = excluded.last_value, last_at = excluded.last_at"
)


def from_raw_sql(level: Level, where: str, *, merge: bool = False) -> str:
    """Upsert the ``level`` rollups of the raw readings that match ``where``."""
    bucket = truncated("ts", level)
    table = TABLE[level]
    return (
        f"INSERT INTO {table} ({COLUMNS})"  # noqa: S608 - our own names
        " SELECT device_id, metric, bucket, count(*), min(value), max(value), sum(value),"
        " max(CASE WHEN latest = 1 THEN value END), max(ts)"
        f" FROM (SELECT device_id, metric, ts, value, {bucket} AS bucket, row_number()"
        f" OVER (PARTITION BY device_id, metric, {bucket} ORDER BY ts DESC, id DESC) AS latest"
        f" FROM cameras_reading WHERE {where}) AS raw WHERE true"
        " GROUP BY device_id, metric, bucket"
        " ON CONFLICT (device_id, metric, bucket) DO UPDATE SET "
        + (_merge_set(table) if merge else REPLACE_SET)
    )


def hours_from_minutes_sql(where: str) -> str:
    """Upsert the hours of the minute rollups that match ``where``."""
    hour = truncated("bucket", "hour")
    return (
        f"INSERT INTO cameras_readinghour ({COLUMNS})"  # noqa: S608 - our own names
        " SELECT device_id, metric, hour, sum(count), min(minimum), max(maximum), sum(total),"
        " max(CASE WHEN latest = 1 THEN last_value END), max(last_at)"
        " FROM (SELECT device_id, metric, count, minimum, maximum, total, last_value, last_at,"
        f" {hour} AS hour, row_number() OVER (PARTITION BY device_id, metric, {hour}"
        f" ORDER BY last_at DESC) AS latest FROM cameras_readingminute WHERE {where}) AS m"
        " WHERE true GROUP BY device_id, metric, hour"
        f" ON CONFLICT (device_id, metric, bucket) DO UPDATE SET {REPLACE_SET}"
    )


def writers_hold() -> None:
    """Take the writers' lock alone until the end of the transaction (PostgreSQL; SQLite
    has one writer at a time). Waits at most 10 s for the writers in flight."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '10s'")
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LATE_LOCK])


@contextlib.contextmanager
def maintenance() -> Iterator[bool]:
    """One rollup or retention run at a time (across processes on PostgreSQL): yields
    False, at once, when another run holds it."""
    if connection.vendor != "postgresql":
        acquired = _embedded_maintenance.acquire(blocking=False)
        try:
            yield acquired
        finally:
            if acquired:
                _embedded_maintenance.release()
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [MAINTENANCE_LOCK])
        acquired = bool(cursor.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MAINTENANCE_LOCK])


def rollup_state(*, for_update: bool = False) -> RollupState:
    """The one row of marks (created empty the first time)."""
    rows = RollupState.objects.select_for_update() if for_update else RollupState.objects
    state = rows.order_by("pk").first()
    return state if state is not None else RollupState.objects.create()


@dataclass
class RollupResult:
    """What one run did."""

    ran: bool = True
    minute_rows: int = 0
    hour_rows: int = 0
    late_hours: int = 0
    caught_up: bool = True


def rollups_compute(
    *,
    now: datetime | None = None,
    budget_seconds: float = 20.0,
    chunk: timedelta = HOUR,
) -> RollupResult:
    """Roll readings up to the mark: minutes, the hours they complete, and the late hours
    marked meanwhile. Each chunk is its own transaction; a run stops after
    ``budget_seconds`` and the next goes on from where it stopped (a new installation's
    history is caught up over a few runs). Idempotent."""
    with maintenance() as acquired:
        if not acquired:
            return RollupResult(ran=False)
        deadline = monotonic_time.monotonic() + budget_seconds
        result = RollupResult()
        _mark(now or timezone.now())
        result.caught_up = _minutes(result, deadline, chunk)
        late_done = _late_hours(result, deadline)
        result.caught_up = _hours(result, deadline) and result.caught_up and late_done
        return result


def _mark(now: datetime) -> None:
    """Move the late mark to the last complete minute, less the lag; the first time,
    start the rollups at the hour of the oldest reading (or of the mark)."""
    mark = floor_to(now - timedelta(seconds=settings.IOC_ROLLUP_LAG_SECONDS), MINUTE)
    first: datetime | None = None
    if rollup_state().marked_until is None:
        # Read before the writers' lock: a full scan must not hold up ingest. Readings
        # older than the hours are kept (a clock years off) are not worth rolling up.
        kept = mark - timedelta(days=settings.IOC_ROLLUP_RETENTION_DAYS)
        first = Reading.objects.filter(ts__gte=kept).aggregate(first=Min("ts"))["first"]
    with transaction.atomic():
        writers_hold()
        state = rollup_state(for_update=True)
        if state.marked_until is None:
            start = floor_to(min(first or mark, mark), HOUR)
            state.minutes_until = state.hours_until = start
        elif mark <= state.marked_until:
            return
        state.marked_until = mark
        state.save()


def _minutes(result: RollupResult, deadline: float, chunk: timedelta) -> bool:
    """Minutes from ``minutes_until`` to the mark, a chunk per transaction; an empty chunk
    skips to the next reading. True when it reached the mark."""
    state = rollup_state()
    assert state.minutes_until is not None and state.marked_until is not None
    start, mark = state.minutes_until, state.marked_until
    while start < mark:
        if monotonic_time.monotonic() > deadline:
            return False
        end = min(start + chunk, mark)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                from_raw_sql("minute", "ts >= %s AND ts < %s"), [sql_time(start), sql_time(end)]
            )
            written = max(cursor.rowcount, 0)
            RollupState.objects.filter(pk=state.pk).update(minutes_until=end)
        result.minute_rows += written
        if not written and end < mark:
            following = Reading.objects.filter(ts__gte=end, ts__lt=mark).aggregate(first=Min("ts"))[
                "first"
            ]
            if following is None or following > end + chunk:
                end = mark if following is None else floor_to(following, MINUTE)
                RollupState.objects.filter(pk=state.pk, minutes_until__lt=end).update(
                    minutes_until=end
                )
        start = end
    return True


def _hours(result: RollupResult, deadline: float) -> bool:
    """Hours from ``hours_until`` to the last hour whose minutes are complete, a day per
    transaction. True when it reached them."""
    state = rollup_state()
    assert state.hours_until is not None and state.minutes_until is not None
    start, complete = state.hours_until, floor_to(state.minutes_until, HOUR)
    while start < complete:
        if monotonic_time.monotonic() > deadline:
            return False
        end = min(start + timedelta(days=1), complete)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                hours_from_minutes_sql("bucket >= %s AND bucket < %s"),
                [sql_time(start), sql_time(end)],
            )
            written = max(cursor.rowcount, 0)
            if not written:  # nothing here: on to the next minute rolled up
                following = ReadingMinute.objects.filter(
                    bucket__gte=end, bucket__lt=complete
                ).aggregate(first=Min("bucket"))["first"]
                end = complete if following is None else max(end, floor_to(following, HOUR))
            RollupState.objects.filter(pk=state.pk).update(hours_until=end)
        result.hour_rows += written
        start = end
    return True


def _late_hours(result: RollupResult, deadline: float) -> bool:
    """Roll up again the late hours whose minutes were already rolled up. True when none
    is left."""
    while monotonic_time.monotonic() <= deadline:
        before = rollup_state().minutes_until
        if before is None or not RollupLateHour.objects.filter(hour__lt=before).exists():
            return True  # the usual case: no writer held up for nothing
        with transaction.atomic():
            writers_hold()
            state = rollup_state()
            if state.minutes_until is None:
                return True
            done = late_hours_roll(state=state, before=state.minutes_until)
        result.late_hours += done
        if done < LATE_HOURS_PER_TRANSACTION:
            return True
    return False


def late_hours_roll(*, state: RollupState, before: datetime, since: datetime | None = None) -> int:
    """Roll up again up to LATE_HOURS_PER_TRANSACTION late hours in [since, before), in the
    caller's transaction, which holds the writers' lock. Returns how many."""
    keys = RollupLateHour.objects.filter(hour__lt=before).order_by("hour")
    if since is not None:
        keys = keys.filter(hour__gte=since)
    chosen = list(keys.values_list("pk", "device_id", "hour")[:LATE_HOURS_PER_TRANSACTION])
    by_hour: dict[datetime, list[int]] = defaultdict(list)
    for _pk, device_id, hour in chosen:
        by_hour[hour].append(device_id)
    with connection.cursor() as cursor:
        for hour, devices in by_hour.items():
            _late_hour_roll(cursor, state, hour, devices)
    RollupLateHour.objects.filter(pk__in=[pk for pk, _d, _h in chosen]).delete()
    return len(chosen)


def _late_hour_roll(cursor: Any, state: RollupState, hour: datetime, devices: list[int]) -> None:
    """One late hour of some devices: merged and deleted when its raw readings were
    dropped (only the late ones are left), else rolled up again from them."""
    assert state.minutes_until is not None and state.hours_until is not None
    marks = ", ".join(["%s"] * len(devices))
    end = hour + HOUR
    where = f"device_id IN ({marks}) AND ts >= %s AND ts < %s"
    if state.raw_dropped_before is not None and end <= state.raw_dropped_before:
        params = [*devices, sql_time(hour), sql_time(end)]
        cursor.execute(from_raw_sql("minute", where, merge=True), params)
        cursor.execute(from_raw_sql("hour", where, merge=True), params)
        cursor.execute(f"DELETE FROM cameras_reading WHERE {where}", params)  # noqa: S608
        return
    bucket = f"device_id IN ({marks}) AND bucket >= %s AND bucket < %s"
    minutes_end = min(end, state.minutes_until)
    cursor.execute(
        f"DELETE FROM cameras_readingminute WHERE {bucket}",  # noqa: S608
        [*devices, sql_time(hour), sql_time(end)],
    )
    cursor.execute(from_raw_sql("minute", where), [*devices, sql_time(hour), sql_time(minutes_end)])
    if end <= state.hours_until:
        params = [*devices, sql_time(hour), sql_time(end)]
        cursor.execute(f"DELETE FROM cameras_readinghour WHERE {bucket}", params)  # noqa: S608
        cursor.execute(hours_from_minutes_sql(bucket), params)
