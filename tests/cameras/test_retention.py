"""Retention of readings, device events and rollups (cameras.services.history.retention),
on SQLite (chunked deletes) and PostgreSQL (dropped partitions, the DEFAULT pruned)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cameras.choices import EventType
from cameras.models import (
    Device,
    DeviceEvent,
    IngestBatch,
    IngestFailure,
    Reading,
    ReadingHour,
    ReadingMinute,
)
from cameras.services import ingest_batch_process, ingest_batch_set_aside, ingest_failures_replay
from cameras.services.history import history_retain, rollups_compute
from cameras.services.history import retention as retention_module
from ioc.models import AuditEntry
from tests.support import OTHER_WARD, example_user, placed_device
from tests.support.history import hour_floor, readings_add, readings_scattered

pytestmark = pytest.mark.django_db

NOW = hour_floor(timezone.now())
OLD = NOW - timedelta(days=4)  # past a 2-day retention
RECENT = NOW - timedelta(hours=5)


@pytest.fixture
def sensor(demo_city: None) -> Device:
    return Device.objects.get(code=placed_device(OTHER_WARD, "sensor"))


@pytest.fixture
def short(settings: Any) -> Any:
    """Two days of raw readings and minutes, five of hours."""
    settings.IOC_RAW_RETENTION_DAYS = 2
    settings.IOC_ROLLUP_MINUTE_RETENTION_DAYS = 2
    settings.IOC_ROLLUP_RETENTION_DAYS = 5
    return settings


def events_add(device: Device, when: datetime, count: int, prefix: str) -> list[DeviceEvent]:
    return DeviceEvent.objects.bulk_create(
        DeviceEvent(
            device=device,
            event_id=f"{prefix}-{n}",
            type=EventType.HEARTBEAT,
            ts=when + timedelta(seconds=n),
            received_at=when + timedelta(seconds=n + 1),
            data={},
        )
        for n in range(count)
    )


def test_raw_readings_past_retention_go_only_once_rolled_up(sensor: Device, short: Any) -> None:
    readings_add(sensor, "pm25", readings_scattered(OLD, OLD + timedelta(hours=3), 300))
    readings_add(sensor, "pm25", readings_scattered(RECENT, RECENT + timedelta(hours=1), 50))
    history_retain(now=NOW, pause_seconds=0)
    assert Reading.objects.filter(device=sensor).count() == 350  # not rolled up: all stay
    rollups_compute(now=NOW)
    history_retain(now=NOW, pause_seconds=0)
    assert Reading.objects.filter(device=sensor).count() == 50
    assert not Reading.objects.filter(ts__lt=NOW - timedelta(days=2)).exists()
    hours = ReadingHour.objects.filter(device=sensor, bucket__lt=OLD + timedelta(hours=3))
    assert sum(hours.values_list("count", flat=True)) == 300  # their hours stay
    assert not ReadingMinute.objects.filter(bucket__lt=NOW - timedelta(days=2)).exists()


def test_rollups_past_their_retention_go(sensor: Device, short: Any) -> None:
    ancient = NOW - timedelta(days=9)
    readings_add(sensor, "pm25", readings_scattered(ancient, ancient + timedelta(hours=2), 100))
    readings_add(sensor, "pm25", readings_scattered(OLD, OLD + timedelta(hours=2), 100))
    rollups_compute(now=ancient + timedelta(hours=3))  # rolled up while they were young
    rollups_compute(now=NOW)
    assert ReadingHour.objects.filter(bucket__lt=ancient + timedelta(hours=2)).exists()
    history_retain(now=NOW, pause_seconds=0)
    # Hours are kept five days on SQLite; PostgreSQL drops whole months, so the month of
    # the nine-day-old hours may stay: what is asked is that none older than its month is.
    kept = ReadingHour.objects.filter(bucket__lt=NOW - timedelta(days=5))
    if connection.vendor == "postgresql":
        assert not kept.filter(bucket__lt=(NOW - timedelta(days=40))).exists()
    else:
        assert not kept.exists()
    assert ReadingHour.objects.filter(bucket__gte=OLD, bucket__lt=OLD + timedelta(hours=2)).exists()
    assert not ReadingMinute.objects.filter(bucket__lt=NOW - timedelta(days=2)).exists()


def test_device_events_past_retention_go_except_those_an_outbox_batch_waits_for(
    sensor: Device, short: Any
) -> None:
    old = events_add(sensor, OLD, 7, "old")
    recent = events_add(sensor, RECENT, 3, "recent")
    IngestBatch.objects.create(
        received_at=NOW, source="test", events=[old[0].pk], last_queued_at=NOW
    )
    history_retain(now=NOW, pause_seconds=0)
    left = set(DeviceEvent.objects.filter(device=sensor).values_list("event_id", flat=True))
    if connection.vendor == "postgresql":  # the day's partition stays whole, for now
        assert left == {e.event_id for e in old + recent}
    else:
        assert left == {"old-0", *(e.event_id for e in recent)}
    IngestBatch.objects.update(processed_at=NOW)
    history_retain(now=NOW, pause_seconds=0)
    left = set(DeviceEvent.objects.filter(device=sensor).values_list("event_id", flat=True))
    assert left == {e.event_id for e in recent}


def test_deletes_run_in_short_transactions(
    sensor: Device, short: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite deletes (and PostgreSQL's DEFAULT partition, where rows of a year ago sit)
    a chunk per transaction."""
    monkeypatch.setattr(retention_module, "CHUNK_ROWS", 3)
    year_ago = NOW - timedelta(days=366)  # no partition of its own: DEFAULT on PostgreSQL
    events_add(sensor, year_ago, 10, "ancient")
    with CaptureQueriesContext(connection) as queries:
        result = history_retain(now=NOW, pause_seconds=0)
    deletes = [q for q in queries if q["sql"].startswith('DELETE FROM "cameras_deviceevent')]
    deletes += [q for q in queries if q["sql"].startswith("DELETE FROM cameras_deviceevent")]
    assert len(deletes) == 4  # 3 + 3 + 3 + 1
    assert result.rows["cameras_deviceevent"] >= 10
    assert not DeviceEvent.objects.filter(event_id__startswith="ancient").exists()


def test_a_run_is_logged_with_its_counts_and_audited_once(
    sensor: Device, short: Any, caplog: pytest.LogCaptureFixture
) -> None:
    readings_add(sensor, "pm25", readings_scattered(OLD, OLD + timedelta(hours=1), 40))
    events_add(sensor, OLD, 5, "old")
    rollups_compute(now=NOW)
    with caplog.at_level("INFO", logger="cameras.services.history.retention"):
        history_retain(now=NOW, pause_seconds=0)
    entries = AuditEntry.objects.filter(action="history.retained")
    assert entries.count() == 1
    after = entries.get().after
    assert after["rows"]["cameras_deviceevent"] >= 5
    assert after["rows"]["cameras_reading"] >= 40 or after["partitions"]
    assert "retention: removed" in caplog.text


def test_a_set_aside_event_is_replayed_from_the_history_table(
    sensor: Device, django_capture_on_commit_callbacks: Any
) -> None:
    (event,) = events_add(sensor, RECENT, 1, "poison")
    DeviceEvent.objects.filter(pk=event.pk).update(type=EventType.READING, data={"pm25": 7})
    batch = IngestBatch.objects.create(
        received_at=RECENT, source="test", events=[event.pk], last_queued_at=RECENT
    )
    assert ingest_batch_set_aside(batch=batch, error="boom") == 1
    failure = IngestFailure.objects.get()
    assert failure.event_id == event.pk
    with django_capture_on_commit_callbacks(execute=False):
        replay = ingest_failures_replay(actor=example_user("admin"), failures=[failure])
    assert replay is not None
    ingest_batch_process(replay)
    assert list(Reading.objects.filter(device=sensor).values_list("value", flat=True)) == [7.0]
    assert not IngestFailure.objects.exists()


def test_a_failure_goes_with_its_event_when_retention_drops_it(sensor: Device, short: Any) -> None:
    (event,) = events_add(sensor, OLD, 1, "poison")
    batch = IngestBatch.objects.create(
        received_at=OLD, source="test", events=[event.pk], last_queued_at=OLD
    )
    ingest_batch_set_aside(batch=batch, error="boom")
    history_retain(now=NOW, pause_seconds=0)
    assert not DeviceEvent.objects.filter(pk=event.pk).exists()
    assert not IngestFailure.objects.exists()
