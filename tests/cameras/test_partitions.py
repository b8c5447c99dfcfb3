"""The history tables' partitions on PostgreSQL (cameras.services.history.partitions and
migration 0011), and an event's identity (device, event id, ts) on both databases."""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from cameras.choices import EventType
from cameras.models import Device, DeviceEvent, Reading
from cameras.services import ingest_accept
from cameras.services.history import history_retain, partitions_ensure, rollups_compute
from cameras.services.history.partitions import (
    READINGS,
    TABLES,
    PartitionedTable,
    city_day,
    partitions_of,
)
from cameras.services.ingest.validation import ParsedEvent
from tests.support import OTHER_WARD, placed_device
from tests.support.history import hour_floor, partition_of, readings_add, readings_scattered

pytestmark = pytest.mark.django_db

migration = importlib.import_module("cameras.migrations.0011_history")


@pytest.fixture
def sensor(demo_city: None) -> Device:
    return Device.objects.get(code=placed_device(OTHER_WARD, "sensor"))


def test_the_same_event_id_with_another_time_is_another_event(sensor: Device) -> None:
    """An event is identified by (device, event id, ts): what PostgreSQL partitions on."""
    now = timezone.now()

    def event(ts: Any) -> ParsedEvent:
        return ParsedEvent(
            device_id=sensor.pk,
            device_code=sensor.code,
            event_id="e-1",
            type=EventType.HEARTBEAT,
            ts=ts,
            data={},
        )

    first = ingest_accept(events=[event(now)], source="test")
    again = ingest_accept(events=[event(now)], source="test")
    later = ingest_accept(events=[event(now + timedelta(seconds=1))], source="test")
    assert (first.accepted, again.accepted, again.duplicates, later.accepted) == (1, 0, 1, 1)
    assert DeviceEvent.objects.filter(device=sensor, event_id="e-1").count() == 2


# --- PostgreSQL -------------------------------------------------------------------------------


@pytest.mark.integration
def test_history_tables_are_partitioned_by_city_day_with_a_default() -> None:
    today = city_day(timezone.now())
    with connection.cursor() as cursor:
        found = partitions_of(cursor, [spec.table for spec in TABLES])
        cursor.execute(
            "SELECT relname, relkind FROM pg_class WHERE relname = ANY(%s)",
            [[spec.table for spec in TABLES]],
        )
        kinds = dict(cursor.fetchall())
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'cameras_reading'::regclass AND contype = 'p'"
        )
        (primary_key,) = cursor.fetchone()
        cursor.execute(
            "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = %s",
            [READINGS.name(today)],
        )
        (bounds,) = cursor.fetchone()
    assert set(kinds.values()) == {"p"}
    assert primary_key == "PRIMARY KEY (id, ts)"
    # A city day: from midnight in Vietnam (17:00 UTC the day before).
    assert "17:00:00+00" in bounds
    for spec in TABLES:
        assert spec.default in found[spec.table]
        assert spec.name(today) in found[spec.table]
    assert READINGS.name(today + timedelta(days=7)) in found[READINGS.table]


@pytest.mark.integration
def test_partitions_ensure_moves_the_default_rows_of_a_day_it_creates(sensor: Device) -> None:
    ahead = timezone.now() + timedelta(days=20)  # past the week made ahead: DEFAULT
    readings_add(sensor, "pm25", [(ahead, 1.0), (ahead + timedelta(days=1), 2.0)])
    assert partition_of("cameras_reading", device_id=sensor.pk) == ["cameras_reading_default"]
    result = partitions_ensure(now=ahead - timedelta(days=7))
    assert READINGS.name(city_day(ahead)) in result.created
    assert result.moved == 1
    assert sorted(partition_of("cameras_reading", device_id=sensor.pk)) == [
        "cameras_reading_default",
        READINGS.name(city_day(ahead)),
    ]
    assert Reading.objects.filter(device=sensor).count() == 2


@pytest.mark.integration
def test_partitions_ensure_is_one_query_when_nothing_is_missing(
    django_assert_num_queries: Any,
) -> None:
    partitions_ensure()
    with django_assert_num_queries(1):
        assert partitions_ensure().created == []


@pytest.mark.integration
def test_a_day_of_raw_readings_goes_by_dropping_its_partition(
    sensor: Device, settings: Any
) -> None:
    settings.IOC_RAW_RETENTION_DAYS = 2
    now = hour_floor(timezone.now())
    old = now - timedelta(days=4)
    readings_add(sensor, "pm25", readings_scattered(old, old + timedelta(hours=2), 100))
    rollups_compute(now=now)
    name = READINGS.name(city_day(old))
    result = history_retain(now=now, pause_seconds=0)
    assert name in result.partitions
    with connection.cursor() as cursor:
        assert name not in partitions_of(cursor, [READINGS.table])[READINGS.table]


@pytest.mark.integration
def test_the_migration_turns_a_table_with_rows_into_a_partitioned_one(sensor: Device) -> None:
    """Migration 0011's conversion, on a table shaped like the readings of before."""
    spec = PartitionedTable("history_scratch", "ts", "day", "IOC_RAW_RETENTION_DAYS")
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE history_scratch (id bigint GENERATED BY DEFAULT AS IDENTITY"
            " PRIMARY KEY, metric varchar(32) NOT NULL, ts timestamptz NOT NULL,"
            " value double precision NOT NULL, device_id bigint NOT NULL"
            " REFERENCES cameras_device (id) DEFERRABLE INITIALLY DEFERRED)"
        )
        cursor.execute("CREATE INDEX history_scratch_key ON history_scratch (device_id, ts)")
        cursor.execute(
            "INSERT INTO history_scratch (metric, ts, value, device_id)"
            " SELECT 'pm25', %s - n * interval '7 hours', n, %s FROM generate_series(1, 30) n",
            [now, sensor.pk],
        )
        cursor.execute(
            "INSERT INTO history_scratch (metric, ts, value, device_id)"
            " VALUES ('pm25', '0001-01-01T00:00:00+00:00', -1, %s)",
            [sensor.pk],
        )
        cursor.execute("SELECT count(*), sum(value), max(id) FROM history_scratch")
        before = cursor.fetchone()
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # as if committed before migrating
        migration.partition(
            cursor, spec, ["CREATE INDEX history_scratch_key ON history_scratch (device_id, ts)"]
        )
        cursor.execute("SELECT count(*), sum(value), max(id) FROM history_scratch")
        assert cursor.fetchone() == before
        found = partitions_of(cursor, ["history_scratch"])["history_scratch"]
        days = {city_day(now - timedelta(hours=7 * n)) for n in range(1, 31)}
        assert found == {spec.default} | {spec.name(day) for day in days}
        cursor.execute("SELECT count(*) FROM history_scratch_default")
        assert cursor.fetchone()[0] == 1  # the year-1 row: no partition of its own
        cursor.execute(
            "INSERT INTO history_scratch (metric, ts, value, device_id)"
            " VALUES ('pm25', now(), 5, %s) RETURNING id",
            [sensor.pk],
        )
        assert cursor.fetchone()[0] == before[2] + 1  # the ids go on
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'history_scratch'::regclass"
        )
        constraints = {row[0] for row in cursor.fetchall()}
        assert "history_scratch_pkey" in constraints
        assert any("fk" in name or "device_id" in name for name in constraints)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("overlap", ["whole", "half"])
def test_batches_with_the_same_readings_accepted_at_once_store_each_once(
    demo_city_committed: None, monkeypatch: pytest.MonkeyPatch, overlap: str
) -> None:
    """Two accepts of overlapping reading events at the same moment, each on its own
    connection: the one whose COPY meets the other's rows (waiting for its commit, or after
    it) goes again with ON CONFLICT, and between them every event is accepted once."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    from cameras.services.ingest import outbox

    monkeypatch.setattr(outbox, "enqueue_batch", lambda *args, **kwargs: None)
    sensor = Device.objects.get(code=placed_device(OTHER_WARD, "sensor"))
    now = timezone.now() - timedelta(minutes=1)

    def reading(n: int) -> ParsedEvent:
        return ParsedEvent(
            sensor.pk,
            sensor.code,
            f"c-{n}",
            EventType.READING,
            now + timedelta(seconds=n),
            {"pm25": float(n), "pm10": float(n + 1)},
        )

    second = range(0, 200) if overlap == "whole" else range(100, 300)
    batches = [[reading(n) for n in range(0, 200)], [reading(n) for n in second]]
    start = threading.Barrier(2)

    def accept(events: list[ParsedEvent]) -> tuple[int, int]:
        try:
            start.wait()
            result = ingest_accept(events=events, source="test")
            return result.accepted, result.duplicates
        finally:
            connections.close_all()

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(accept, batches))
    distinct = len({*range(0, 200), *second})
    assert sum(accepted for accepted, _ in results) == distinct
    assert sum(duplicates for _, duplicates in results) == 400 - distinct
    stored = Reading.objects.filter(device=sensor, event_id__startswith="c-")
    assert stored.count() == 2 * distinct
    assert stored.values("event_id").distinct().count() == distinct
