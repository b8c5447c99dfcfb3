"""Charts read the level that fits the range (cameras.reading_selectors.reading_series):
raw readings, minute or hour rollups; across the rollups' marks no gap and no double
count, on SQLite and PostgreSQL, and a long chart never reads old raw readings."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from cameras.models import Device, Reading
from cameras.reading_selectors import ReadingSeries, reading_series
from cameras.services.history import history_retain, rollups_compute
from cameras.services.history.rollups import rollup_state
from tests.support import OTHER_WARD, placed_device
from tests.support.history import buckets_of, hour_floor, readings_add, readings_scattered

pytestmark = pytest.mark.django_db

START = hour_floor(timezone.now() - timedelta(days=3))
SENSOR = placed_device(OTHER_WARD, "sensor")


@pytest.fixture
def sensor(demo_city: None) -> Device:
    return Device.objects.get(code=SENSOR)


def assert_truth(series: ReadingSeries, rows: list[tuple[datetime, float]]) -> None:
    """Every bucket as the raw readings make it on the series' own grid."""
    truth = buckets_of(rows, series.start, series.end, series.points)
    assert [b.start for b in series.buckets] == [t.start for t in truth]
    for got, want in zip(series.buckets, truth, strict=True):
        assert (got.count, got.min, got.max) == (want.count, want.min, want.max), got.start
        assert got.avg == pytest.approx(want.avg), got.start


def test_a_chart_across_the_marks_counts_each_reading_once_in_hours(sensor: Device) -> None:
    rows = readings_add(sensor, "pm25", readings_scattered(START, START + timedelta(days=3), 3000))
    # Hours complete to START + 2 days, minutes to 29 minutes past it, raw after.
    rollups_compute(now=START + timedelta(days=2, minutes=30, seconds=17))
    state = rollup_state()
    assert state.hours_until == START + timedelta(days=2)
    assert state.minutes_until == START + timedelta(days=2, minutes=29)
    series = reading_series(
        sensor,
        metric="pm25",
        start=START + timedelta(minutes=5, seconds=13),
        end=START + timedelta(days=3),
        points=50,
    )
    assert series.level == "hour"
    # Aligned on whole hours: 2-hour buckets from the hour of the start.
    assert (series.start, series.bucket_seconds) == (START, 7200)
    assert series.points == 36 and series.end == START + timedelta(days=3)
    assert sum(b.count for b in series.buckets) == 3000
    assert_truth(series, rows)


def test_a_chart_across_the_mark_counts_each_reading_once_in_minutes(sensor: Device) -> None:
    rows = readings_add(
        sensor, "pm25", readings_scattered(START, START + timedelta(hours=12), 2000)
    )
    rollups_compute(now=START + timedelta(hours=7, minutes=40))
    series = reading_series(
        sensor,
        metric="pm25",
        start=START + timedelta(seconds=31),
        end=START + timedelta(hours=12, seconds=31),
        points=100,
    )
    assert series.level == "minute"
    assert series.bucket_seconds == 480  # 7.2 minutes asked, whole minutes given
    assert series.points <= 100
    assert sum(b.count for b in series.buckets) == 2000
    assert_truth(series, rows)


def test_without_rollups_in_the_range_the_grid_is_the_one_asked(sensor: Device) -> None:
    rows = readings_add(sensor, "pm25", readings_scattered(START, START + timedelta(hours=12), 500))
    start = START + timedelta(seconds=31)
    series = reading_series(
        sensor, metric="pm25", start=start, end=start + timedelta(hours=12), points=100
    )
    assert (series.start, series.points, series.level) == (start, 100, "raw")
    assert_truth(series, rows)


RANGE_START = re.compile(r'"cameras_reading"\."ts" >= (?:\')?([0-9][0-9:. T+-]+)')


def test_a_year_chart_reads_hours_and_only_the_raw_readings_after_the_mark(
    sensor: Device,
) -> None:
    now = timezone.now()
    readings_add(sensor, "pm25", readings_scattered(now - timedelta(days=2), now, 500))
    rollups_compute(now=now)
    mark = rollup_state().minutes_until
    assert mark is not None
    with CaptureQueriesContext(connection) as queries:
        series = reading_series(
            sensor, metric="pm25", start=now - timedelta(days=365), end=now, points=200
        )
    assert series.level == "hour"
    raw = [q["sql"] for q in queries if 'FROM "cameras_reading"' in q["sql"]]
    assert len(raw) == 1, raw
    found = RANGE_START.search(raw[0])
    assert found, raw[0]
    since = parse_datetime(found[1].strip().replace(" ", "T", 1))
    assert since is not None
    if timezone.is_naive(since):  # SQLite: UTC without its offset
        since = since.replace(tzinfo=UTC)
    assert since == mark
    assert any('FROM "cameras_readinghour"' in q["sql"] for q in queries)
    assert sum(b.count for b in series.buckets) == 500


def test_a_chart_starting_before_the_raw_retention_cutoff_reads_the_rollups(
    sensor: Device, settings: Any
) -> None:
    settings.IOC_RAW_RETENTION_DAYS = 1
    settings.IOC_ROLLUP_MINUTE_RETENTION_DAYS = 1
    rows = readings_add(sensor, "pm25", readings_scattered(START, START + timedelta(days=3), 2000))
    now = START + timedelta(days=3)
    rollups_compute(now=now)
    history_retain(now=now, pause_seconds=0)
    kept = Reading.objects.filter(device=sensor).count()
    assert 0 < kept < 2000  # the days before the cutoff are gone from the raw table
    series = reading_series(sensor, metric="pm25", start=START, end=now, points=36, now=now)
    assert series.level == "hour"
    assert sum(b.count for b in series.buckets) == 2000
    assert_truth(series, rows)
    # A short chart of a day whose raw readings and minutes are gone reads the hours.
    day = reading_series(
        sensor, metric="pm25", start=START, end=START + timedelta(hours=1), points=60, now=now
    )
    assert day.level == "hour" and day.points == 1
    assert_truth(day, rows)


def test_the_readings_api_says_the_aligned_grid_in_the_same_shape(
    sensor: Device, login: Any
) -> None:
    now = timezone.now()
    readings_add(sensor, "pm25", readings_scattered(now - timedelta(hours=30), now, 800))
    rollups_compute(now=now)
    body = login("operator").get(f"/api/v1/devices/{SENSOR}/readings", {"metric": "pm25"}).json()
    assert set(body) == {
        "device",
        "metric",
        "unit",
        "low",
        "high",
        "from",
        "to",
        "points",
        "bucket_seconds",
        "buckets",
    }
    assert body["bucket_seconds"] == 480 and body["points"] <= 200
    start = datetime.fromisoformat(body["from"])
    end = datetime.fromisoformat(body["to"])
    assert start.second == 0 and end - start == timedelta(seconds=480 * body["points"])
    assert set(body["buckets"][0]) == {"start", "avg", "min", "max", "count"}
