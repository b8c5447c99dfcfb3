"""cameras 0012: readings carry their event's id, unique with device, metric and time.
Readings stored before shared no id; two of them at one device, metric and time (two events
at one instant) must both survive the new unique key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("cameras", "0011_history")]
AFTER = [("cameras", "0012_reading_event_id")]
T = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)


def migrate(target: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)


@pytest.mark.django_db(transaction=True)
def test_readings_sharing_device_metric_and_time_keep_both_with_their_row_ids() -> None:
    migrate(BEFORE)
    try:
        moment = connection.ops.adapt_datetimefield_value(T)
        with connection.cursor() as cursor:
            for metric, value in (("pm25", 1.0), ("pm25", 2.0), ("pm10", 3.0)):
                cursor.execute(
                    "INSERT INTO cameras_reading (device_id, metric, ts, value)"
                    " VALUES (%s, %s, %s, %s)",
                    [4242, metric, moment, value],
                )
        migrate(AFTER)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, metric, value, event_id FROM cameras_reading WHERE device_id = 4242"
                " ORDER BY value"
            )
            rows = cursor.fetchall()
        assert [(metric, value) for _id, metric, value, _event in rows] == [
            ("pm25", 1.0),
            ("pm25", 2.0),
            ("pm10", 3.0),
        ]
        # the two that shared a key took their row ids; the one alone kept the empty id
        assert [event for _id, _m, _v, event in rows] == [str(rows[0][0]), str(rows[1][0]), ""]
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM cameras_reading WHERE device_id = 4242")
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
