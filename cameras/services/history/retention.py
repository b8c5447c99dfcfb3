"""Retention of readings, device events and their rollups (beat, daily).

Raw readings and device events are kept ``IOC_RAW_RETENTION_DAYS`` city days, minute
rollups ``IOC_ROLLUP_MINUTE_RETENTION_DAYS``, hour rollups ``IOC_ROLLUP_RETENTION_DAYS``.
Raw readings go only once their minutes and hours are rolled up, and the late hours among
them are rolled up again first, in the same transaction, so a late reading that arrives
afterwards for a dropped hour is merged rather than recomputed (``rollups``).

PostgreSQL drops whole partitions (a day of raw data costs the same whatever the table's
size) and prunes the DEFAULT partition with a DELETE. SQLite (embedded) deletes in short
transactions, pausing between them so the server stays responsive: raw readings an hour
of readings at a time (the unit a late reading is merged by), the rest 5,000 rows at a
time. What goes is logged with its counts, and one audit entry records the run.
"""

from __future__ import annotations

import logging
import time as monotonic_time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import Exists, Min, OuterRef
from django.utils import timezone

from cameras.models import DeviceEvent, IngestBatch, IngestFailure, Reading
from cameras.reading_selectors import HOUR, cutoff, floor_to
from cameras.services.history.partitions import (
    EVENTS,
    HOURS,
    MINUTES,
    READINGS,
    PartitionedTable,
    is_partitioned,
    partitions_droppable,
    period_bounds,
)
from cameras.services.history.rollups import (
    LATE_HOURS_PER_TRANSACTION,
    late_hours_roll,
    maintenance,
    rollup_state,
    sql_time,
    writers_hold,
)
from ioc.services import audit_record

logger = logging.getLogger(__name__)

CHUNK_ROWS = 5_000
# More events than this waiting in the outbox (a backlog): device events wait too.
MAX_WAITING = 20_000


@dataclass
class RetentionResult:
    """What one run removed: rows per table (the planner's estimate for an analysed
    partition), the
    partitions dropped, and the raw readings' new bound."""

    ran: bool = True
    rows: dict[str, int] = field(default_factory=dict)
    partitions: list[str] = field(default_factory=list)
    drop_seconds: list[float] = field(default_factory=list)
    raw_dropped_before: str | None = None

    def count(self, table: str, rows: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + max(rows, 0)


def history_retain(*, now: datetime | None = None, pause_seconds: float = 0.05) -> RetentionResult:
    """Remove what is past its retention (see the module's docstring); logged and audited
    once. Does nothing while another rollup or retention run holds the maintenance lock."""
    now = now or timezone.now()
    with maintenance() as acquired:
        if not acquired:
            return RetentionResult(ran=False)
        result = RetentionResult()
        _readings(result, cutoff(settings.IOC_RAW_RETENTION_DAYS, now), pause_seconds)
        _events(result, cutoff(settings.IOC_RAW_RETENTION_DAYS, now), pause_seconds)
        minute_cutoff = cutoff(settings.IOC_ROLLUP_MINUTE_RETENTION_DAYS, now)
        _rollups(result, MINUTES, minute_cutoff, pause_seconds)
        _rollups(result, HOURS, cutoff(settings.IOC_ROLLUP_RETENTION_DAYS, now), pause_seconds)
    if result.rows or result.partitions:
        logger.info(
            "retention: removed %s; %s partitions dropped%s",
            ", ".join(f"{table} {rows}" for table, rows in sorted(result.rows.items())),
            len(result.partitions),
            f" ({result.partitions[0]} ... {result.partitions[-1]})" if result.partitions else "",
        )
        audit_record(
            actor=None,
            action="history.retained",
            obj=None,
            object_type="history",
            object_repr="retention",
            actor_label="system",
            after={key: value for key, value in asdict(result).items() if key != "ran"},
        )
    return result


def _partition_rows(cursor: Any, table: str) -> int:
    """A partition's rows: the planner's estimate once autovacuum has analysed it (a
    partition past retention long since has), else counted."""
    cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [table])
    row = cursor.fetchone()
    if row and row[0] > 0:
        return int(row[0])
    cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - our own name
    return int(cursor.fetchone()[0])


class _Kept(Exception):
    """A partition that must stay for now."""


def _partition_drop(
    result: RetentionResult,
    spec: PartitionedTable,
    name: str,
    first: Any,
    end: datetime,
    *,
    waiting: list[int] | None = None,
) -> bool:
    """Drop one partition in a transaction of its own (a lock not had within 5 s, or an
    event of ``waiting`` in it: left for the next run). For raw readings, the late hours
    of its day are rolled up again first, while the lock holds every writer off."""
    started = monotonic_time.monotonic()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '5s'")
            # Deferred foreign-key checks of rows written earlier in this transaction
            # (none outside tests) would forbid the DROP: run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"LOCK TABLE {spec.table} IN ACCESS EXCLUSIVE MODE")
            if spec is READINGS:
                state = rollup_state(for_update=True)
                start = period_bounds(spec.period, first)[0]
                while late_hours_roll(state=state, before=end, since=start) == (
                    LATE_HOURS_PER_TRANSACTION
                ):
                    pass
            if waiting:
                cursor.execute(
                    f"SELECT EXISTS (SELECT 1 FROM {name} WHERE id = ANY(%s))",  # noqa: S608
                    [waiting],
                )
                if cursor.fetchone()[0]:
                    raise _Kept(f"{name} holds events an outbox batch waits to process")
            rows = _partition_rows(cursor, name)
            cursor.execute(f"DROP TABLE {name}")
            if spec is READINGS:
                _raw_dropped(result, end)
    except (OperationalError, _Kept) as exc:
        logger.warning("retention: %s not dropped now (%s); next run", name, exc)
        return False
    result.count(spec.table, rows)
    result.partitions.append(name)
    result.drop_seconds.append(monotonic_time.monotonic() - started)
    return True


def _raw_dropped(result: RetentionResult, before: datetime) -> None:
    """Record that no raw reading before ``before`` is left (in the caller's transaction)."""
    state = rollup_state(for_update=True)
    if state.raw_dropped_before is None or before > state.raw_dropped_before:
        state.raw_dropped_before = before
        state.save(update_fields=["raw_dropped_before"])
    result.raw_dropped_before = (state.raw_dropped_before or before).isoformat()


def _readings(result: RetentionResult, raw_cutoff: datetime, pause_seconds: float) -> None:
    """Raw readings before the cutoff that are rolled up."""
    state = rollup_state()
    if state.minutes_until is None or state.hours_until is None:
        return  # nothing rolled up yet: nothing may go
    bound = min(raw_cutoff, floor_to(state.minutes_until, HOUR), state.hours_until)
    if is_partitioned(READINGS.table):
        with connection.cursor() as cursor:
            droppable = partitions_droppable(cursor, READINGS, bound)
        kept = None
        for name, first, end in droppable:
            if not _partition_drop(result, READINGS, name, first, end):
                kept = period_bounds(READINGS.period, first)[0]
                break
        bound = min(bound, kept) if kept else bound
        _readings_hours(result, READINGS.default, bound, pause_seconds)
        return
    _readings_hours(result, READINGS.table, bound, pause_seconds)


def _readings_hours(
    result: RetentionResult, table: str, bound: datetime, pause_seconds: float
) -> None:
    """Delete the raw readings of ``table`` before ``bound`` an hour at a time, oldest
    first, each hour's late hours rolled up again in the same transaction."""
    start: datetime | None = None
    while True:
        first = Reading.objects.filter(ts__lt=bound)
        if start is not None:
            first = first.filter(ts__gte=start)
        oldest = first.aggregate(first=Min("ts"))["first"]
        if oldest is None:
            break
        end = min(floor_to(oldest, HOUR) + HOUR, bound)
        with transaction.atomic():
            writers_hold()
            state = rollup_state(for_update=True)
            while late_hours_roll(state=state, before=end) == LATE_HOURS_PER_TRANSACTION:
                pass
            with connection.cursor() as cursor:
                cursor.execute(
                    f"DELETE FROM {table} WHERE ts < %s",  # noqa: S608 - our own names
                    [sql_time(end)],
                )
                result.count(READINGS.table, cursor.rowcount)
            _raw_dropped(result, end)
        start = end
        if pause_seconds:
            monotonic_time.sleep(pause_seconds)


def _events(result: RetentionResult, raw_cutoff: datetime, pause: float) -> None:
    """Device events before the cutoff, except those an outbox batch still waits to
    process (a partition holding one is kept to the next run); then the set-aside
    failures whose events went with them."""
    waiting = sorted(
        {
            pk
            for events in IngestBatch.objects.filter(processed_at__isnull=True).values_list(
                "events", flat=True
            )
            for pk in events
        }
    )
    if len(waiting) > MAX_WAITING:
        logger.warning("retention: device events kept while %s wait in the outbox", len(waiting))
        return
    table = EVENTS.table
    if is_partitioned(EVENTS.table):
        with connection.cursor() as cursor:
            droppable = partitions_droppable(cursor, EVENTS, raw_cutoff)
        for name, first, end in droppable:
            if not _partition_drop(result, EVENTS, name, first, end, waiting=waiting):
                break
        table = EVENTS.default
    where, params = "ts < %s", [sql_time(raw_cutoff)]
    if waiting:
        where += f" AND id NOT IN ({', '.join(['%s'] * len(waiting))})"
        params += waiting
    _chunks_delete(result, EVENTS.table, table, where, params, pause)
    dangling = IngestFailure.objects.filter(
        ~Exists(DeviceEvent.objects.filter(pk=OuterRef("event_id")))
    )
    removed, _ = dangling.delete()
    result.count(IngestFailure._meta.db_table, removed)


def _rollups(
    result: RetentionResult, spec: PartitionedTable, before: datetime, pause: float
) -> None:
    """One rollup level before its cutoff."""
    table = spec.table
    if is_partitioned(spec.table):
        with connection.cursor() as cursor:
            droppable = partitions_droppable(cursor, spec, before)
        for name, first, end in droppable:
            if not _partition_drop(result, spec, name, first, end):
                break
        table = spec.default
    _chunks_delete(result, spec.table, table, "bucket < %s", [sql_time(before)], pause)


def _chunks_delete(
    result: RetentionResult,
    counted_as: str,
    table: str,
    where: str,
    params: list[Any],
    pause: float,
) -> None:
    """DELETE what matches, CHUNK_ROWS rows per transaction, pausing between them."""
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table}"  # noqa: S608
                f" WHERE {where} LIMIT {CHUNK_ROWS})",
                params,
            )
            deleted = cursor.rowcount
        result.count(counted_as, deleted)
        if deleted < CHUNK_ROWS:
            return
        if pause:
            monotonic_time.sleep(pause)
