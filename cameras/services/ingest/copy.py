"""The bulk SQL of ingestion: accepted events in, readings appended.

On PostgreSQL both go through COPY (several times faster than INSERT for these batch
sizes); on other databases (the embedded SQLite mode) through multi-row INSERTs.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import orjson
from django.db import connection

from cameras.models import DeviceEvent, Reading
from cameras.services.ingest.validation import ParsedEvent


def insert_new_events(events: list[ParsedEvent], received_at: datetime) -> list[int]:
    """Insert the events, skipping those already stored; return the new rows' ids.

    The database decides what is a duplicate (ON CONFLICT DO NOTHING on the unique device
    and event id), even across processes. On PostgreSQL the batch goes in by COPY to a
    temporary table and one INSERT ... SELECT from it: half the time of a 500-row VALUES
    list, most of which went to adapting 3,000 parameters. Elsewhere, multi-row INSERTs.
    """
    if connection.vendor == "postgresql":
        return _insert_new_events_copy(events, received_at)
    table = connection.ops.quote_name(DeviceEvent._meta.db_table)
    row = "(%s, %s, %s, %s, %s, %s)"
    received = connection.ops.adapt_datetimefield_value(received_at)
    new: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(events), 500):
            chunk = events[start : start + 500]
            params: list[Any] = []
            for event in chunk:
                params += [
                    event.device_id,
                    event.event_id,
                    event.type,
                    connection.ops.adapt_datetimefield_value(event.ts),
                    received,
                    orjson.dumps(event.data).decode(),
                ]
            cursor.execute(
                f"INSERT INTO {table} (device_id, event_id, type, ts, received_at, data) "  # noqa: S608
                f"VALUES {', '.join([row] * len(chunk))} "
                "ON CONFLICT (device_id, event_id) DO NOTHING RETURNING id",
                params,
            )
            new.extend(int(row[0]) for row in cursor.fetchall())
    return new


# The session's staging table for accepted events (emptied at every commit).
EVENTS_IN = "ioc_ingest_events_in"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(value: str) -> str:
    """``value`` as a field of COPY's text format (backslash, tab and line ends escaped)."""
    return value.translate(_COPY_ESCAPES)


def _insert_new_events_copy(events: list[ParsedEvent], received_at: datetime) -> list[int]:
    """insert_new_events on PostgreSQL: COPY to the staging table, then one INSERT."""
    received = received_at.isoformat()
    buffer = io.StringIO()
    for event in events:
        data = copy_text(orjson.dumps(event.data).decode())
        buffer.write(
            f"{event.device_id}\t{copy_text(event.event_id)}\t{event.type}\t"
            f"{event.ts.isoformat()}\t{received}\t{data}\n"
        )
    buffer.seek(0)
    table = connection.ops.quote_name(DeviceEvent._meta.db_table)
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {EVENTS_IN} (device_id bigint, "
            "event_id text, type text, ts timestamptz, received_at timestamptz, data jsonb) "
            "ON COMMIT DELETE ROWS"
        )
        cursor.copy_expert(f"COPY {EVENTS_IN} FROM STDIN", buffer)
        cursor.execute(
            f"INSERT INTO {table} (device_id, event_id, type, ts, received_at, data) "  # noqa: S608
            f"SELECT device_id, event_id, type, ts, received_at, data FROM {EVENTS_IN} "
            "ON CONFLICT (device_id, event_id) DO NOTHING RETURNING id"
        )
        new = [int(row[0]) for row in cursor.fetchall()]
        # Emptied now too: a caller's later statement in the same transaction (or a
        # second batch in it) must not see these rows again.
        cursor.execute(f"DELETE FROM {EVENTS_IN}")  # noqa: S608
    return new


def copy_readings(rows: list[tuple[int, str, datetime, float]]) -> None:
    """Append readings: COPY on PostgreSQL (several times faster than INSERT), else bulk."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        Reading.objects.bulk_create(
            [Reading(device_id=d, metric=m, ts=ts, value=v) for d, m, ts, v in rows],
            batch_size=1000,
        )
        return
    buffer = io.StringIO()
    stamps: dict[datetime, str] = {}  # the metrics of one event share its timestamp
    for device_id, metric, ts, value in rows:
        stamp = stamps.get(ts)
        if stamp is None:
            stamp = stamps[ts] = ts.isoformat()
        buffer.write(f"{device_id}\t{metric}\t{stamp}\t{value!r}\n")
    buffer.seek(0)
    table = Reading._meta.db_table
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {table} (device_id, metric, ts, value) FROM STDIN", buffer)
