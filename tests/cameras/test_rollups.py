"""Rollups of readings per minute and hour (cameras.services.history.rollups), on SQLite
and on PostgreSQL: what they hold, that a second run changes nothing, and that late
readings (a gateway's backlog) are not lost from them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from cameras.models import Device, Reading, ReadingHour, ReadingMinute, RollupLateHour
from cameras.services.history import history_retain, rollups_compute
from cameras.services.history.rollups import rollup_state
from tests.support import OTHER_WARD, placed_device
from tests.support.history import hour_floor, readings_add, readings_scattered

pytestmark = pytest.mark.django_db

# Two days ago at a whole hour: partitions exist for it on PostgreSQL.
START = hour_floor(timezone.now() - timedelta(days=2))
NOW = START + timedelta(hours=6, minutes=20)


@pytest.fixture
def sensor(demo_city: None) -> Device:
    return Device.objects.get(code=placed_device(OTHER_WARD, "sensor"))


def rollups(model: Any) -> list[tuple[Any, ...]]:
    return sorted(
        model.objects.values_list(
            "device_id",
            "metric",
            "bucket",
            "count",
            "minimum",
            "maximum",
            "total",
            "last_value",
            "last_at",
        )
    )


def expected(
    rows: list[tuple[datetime, float]], step: timedelta
) -> dict[datetime, tuple[Any, ...]]:
    """(count, min, max, total, last value, last at) per minute or hour, from the rows."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    found: dict[datetime, list[tuple[datetime, float]]] = {}
    for ts, value in rows:
        found.setdefault(epoch + ((ts - epoch) // step) * step, []).append((ts, value))
    return {
        bucket: (
            len(items),
            min(v for _, v in items),
            max(v for _, v in items),
            sum(v for _, v in items),
            max(items)[1],
            max(items)[0],
        )
        for bucket, items in found.items()
    }


def stored(model: Any, device: Device, metric: str) -> dict[datetime, tuple[Any, ...]]:
    return {
        row.bucket: (row.count, row.minimum, row.maximum, row.total, row.last_value, row.last_at)
        for row in model.objects.filter(device=device, metric=metric)
    }


def assert_rollups_hold(device: Device, metric: str, rows: list[tuple[datetime, float]]) -> None:
    for model, step in ((ReadingMinute, timedelta(minutes=1)), (ReadingHour, timedelta(hours=1))):
        got, want = stored(model, device, metric), expected(rows, step)
        assert set(got) == set(want), model
        for bucket, values in want.items():
            count, low, high, total, last, last_at = got[bucket]
            assert (count, low, high, last, last_at) == (
                values[0],
                values[1],
                values[2],
                values[4],
                values[5],
            ), (model, bucket)
            assert total == pytest.approx(values[3])


def test_minutes_and_hours_hold_count_extremes_total_and_the_last_value(sensor: Device) -> None:
    rows = readings_add(sensor, "pm25", readings_scattered(START, START + timedelta(hours=5), 900))
    result = rollups_compute(now=NOW)
    assert result.caught_up
    assert_rollups_hold(sensor, "pm25", rows)
    state = rollup_state()
    # Minutes up to the last complete minute less the lag; hours only whole ones.
    assert state.marked_until == NOW - timedelta(minutes=1)
    assert state.minutes_until == NOW - timedelta(minutes=1)
    assert state.hours_until == START + timedelta(hours=6)


def test_running_twice_changes_nothing(sensor: Device) -> None:
    readings_add(sensor, "pm25", readings_scattered(START, START + timedelta(hours=3), 300))
    rollups_compute(now=NOW)
    minutes, hours = rollups(ReadingMinute), rollups(ReadingHour)
    again = rollups_compute(now=NOW)
    assert (again.minute_rows, again.hour_rows, again.late_hours) == (0, 0, 0)
    assert (rollups(ReadingMinute), rollups(ReadingHour)) == (minutes, hours)


def test_a_late_reading_is_marked_by_the_database_and_rolled_up_again(sensor: Device) -> None:
    rows = readings_add(sensor, "pm25", readings_scattered(START, START + timedelta(hours=4), 400))
    rollups_compute(now=NOW)
    # A gateway's backlog: two readings of an hour already rolled up, written now.
    late = readings_add(
        sensor,
        "pm25",
        [(START + timedelta(hours=1, minutes=3), 999.0), (START + timedelta(minutes=59), -5.0)],
    )
    assert sorted(RollupLateHour.objects.values_list("device_id", "hour")) == [
        (sensor.pk, START),
        (sensor.pk, START + timedelta(hours=1)),
    ]
    result = rollups_compute(now=NOW + timedelta(minutes=1))
    assert result.late_hours == 2
    assert not RollupLateHour.objects.exists()
    assert_rollups_hold(sensor, "pm25", rows + late)


def test_readings_after_the_mark_are_not_marked_late(sensor: Device) -> None:
    rollups_compute(now=NOW)
    readings_add(sensor, "pm25", [(NOW - timedelta(seconds=10), 1.0), (NOW, 2.0)])
    assert not RollupLateHour.objects.exists()


def test_a_late_reading_of_an_hour_whose_raw_readings_were_dropped_is_merged(
    sensor: Device, settings: Any
) -> None:
    settings.IOC_RAW_RETENTION_DAYS = 1
    settings.IOC_ROLLUP_MINUTE_RETENTION_DAYS = 30
    old = readings_add(sensor, "pm25", readings_scattered(START, START + timedelta(hours=3), 200))
    later = NOW + timedelta(days=2)
    rollups_compute(now=later)
    history_retain(now=later, pause_seconds=0)
    assert not Reading.objects.filter(device=sensor).exists()  # raw gone, rollups kept
    assert rollup_state().raw_dropped_before is not None
    late = readings_add(
        sensor, "pm25", [(START + timedelta(minutes=30, seconds=1), 1234.5), (START, -1.0)]
    )
    assert RollupLateHour.objects.filter(hour=START).exists()
    rollups_compute(now=later)
    # Merged into what was there (not recomputed from the two alone), then deleted.
    assert_rollups_hold(sensor, "pm25", old + late)
    assert not Reading.objects.filter(device=sensor).exists()
    assert not RollupLateHour.objects.exists()


def test_a_run_stops_at_its_budget_and_the_next_goes_on(sensor: Device) -> None:
    rows = readings_add(sensor, "pm25", readings_scattered(START, START + timedelta(hours=5), 500))
    first = rollups_compute(now=NOW, budget_seconds=0)
    assert not first.caught_up
    assert rollups_compute(now=NOW).caught_up
    assert_rollups_hold(sensor, "pm25", rows)
