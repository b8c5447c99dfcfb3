"""A year of readings on PostgreSQL: charts, dropping a day, disk per day.

Builds (once, kept between runs) a year of readings of 5,000 sensors, 100 million in all,
as the default configuration keeps them: the raw readings of the last 90 days in their day
partitions, rolled up into minutes and hours by the platform's own job
(``rollups_compute``), and for the months before the raw retention only their hours
(aggregated in SQL from the same generated stream, as the rollup job had left them when
retention dropped the raw days). Then prints:

- p50/p95 of a 24-hour, a 30-day and a 1-year chart of a random sensor through the real
  selector (``reading_series``, 200 points; targets p95 <= 50, 100, 150 ms), with the level
  each read;
- the time to drop one day of raw readings (``history_retain`` on a day just past the
  cutoff, loaded again each run; target <= 1 s);
- the disk used per day of raw readings and per day of rollups.

    python bench/history.py [--readings 100000000] [--sensors 5000] [--rebuild] [--repeat 200]

The database (BENCH_HISTORY_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/ioc_bench_history) is reused when its marker row says
it holds the same dataset complete; ``--rebuild`` starts it again. The 100 million take
minutes to build on a 2-core machine; ``--readings 5000000`` for a quick one.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dashboard import database_exists, percentiles  # noqa: E402
from ingest import recreate_database  # noqa: E402

DATABASE_URL = os.environ.get(
    "BENCH_HISTORY_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ioc_bench_history"
)
YEAR = timedelta(days=365)
METRIC = "pm25"


def value_sql(k: str, device: str) -> str:
    """The generated stream's value of reading ``k`` of ``device``: a daily-ish wave."""
    return f"round((35 + 25 * sin({k} / 37.0 + {device}))::numeric, 2)::float8"


def stream_sql(since: str, until: str) -> str:
    """The generated readings in [since, until): sensor d's k-th reading is at
    t0 + k * step + its own offset (t0, step as parameters %(t0)s, %(step)s)."""
    first = f"floor(extract(epoch FROM ({since}) - %(t0)s) / %(step)s - s.off)::bigint"
    last = f"ceil(extract(epoch FROM ({until}) - %(t0)s) / %(step)s - s.off)::bigint"
    return f"""
        SELECT s.id AS device_id, k, ts, {value_sql("k", "s.id")} AS value
        FROM bench_sensors s,
             LATERAL generate_series(greatest(0, {first}), {last}) AS k,
             LATERAL (SELECT %(t0)s + (k + s.off) * %(step)s * interval '1 second' AS ts) AS t
        WHERE ts >= ({since}) AND ts < ({until})
    """  # noqa: S608 - our own SQL


def marker(cursor: Any) -> tuple[int, int, datetime] | None:
    cursor.execute("SELECT to_regclass('bench_history_marker') IS NOT NULL")
    if not cursor.fetchone()[0]:
        return None
    cursor.execute("SELECT readings, sensors, now_at FROM bench_history_marker")
    row = cursor.fetchone()
    return (int(row[0]), int(row[1]), row[2]) if row else None


def build(readings: int, sensors: int) -> datetime:
    """The dataset (see the module's docstring); returns its 'now'."""
    from django.db import connection

    from cameras.models import Device
    from cameras.services.history import partitions_ensure, rollups_compute
    from cameras.services.history.partitions import READINGS, city_day, period_bounds

    now = datetime.now().astimezone().replace(second=0, microsecond=0)
    t0 = now - YEAR
    per_sensor = readings / sensors
    step = YEAR.total_seconds() / per_sensor
    template = Device.objects.filter(kind="sensor").order_by("pk").first()
    assert template is not None, "the demo's sensors are missing"
    Device.objects.bulk_create(
        [
            Device(
                code=f"HIST-{n:05d}",
                name=f"Bench sensor {n}",
                kind="sensor",
                ward_id=template.ward_id,
                latitude=template.latitude,
                longitude=template.longitude,
                status="online",
            )
            for n in range(sensors)
        ],
        batch_size=5000,
    )
    params = {"t0": t0, "step": step}
    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_sensors AS SELECT id, mod(id * 7919, 1000) / 1000.0 AS off"
            " FROM cameras_device WHERE code LIKE 'HIST-%'"
        )
        # Bulk loading: the late-reading trigger is for writers after the rollups' mark.
        cursor.execute("ALTER TABLE cameras_reading DISABLE TRIGGER cameras_reading_late")
    raw_from = period_bounds("day", city_day(now) - timedelta(days=90))[0]
    partitions_ensure(now=now)
    day = raw_from
    raw_rows = 0
    while day < now:
        following = min(day + timedelta(days=1), now)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {READINGS.table} (device_id, metric, ts, value)"  # noqa: S608
                f" SELECT device_id, '{METRIC}', ts, value"
                f" FROM ({stream_sql('%(a)s', '%(b)s')}) r",
                {**params, "a": day, "b": following},
            )
            raw_rows += cursor.rowcount
        day = following
        print(
            f"  raw {day:%Y-%m-%d}: {raw_rows:,} rows, {time.perf_counter() - began:.0f} s",
            end="\r",
        )
    print(
        f"\nraw readings of the last 90 days: {raw_rows:,} in {time.perf_counter() - began:.0f} s"
    )
    began = time.perf_counter()
    # Whole hours from the first: a chunk's last hour is not another's first.
    month = t0.replace(minute=0)
    hour_rows = 0
    while month < raw_from:
        following = min(month + timedelta(days=7), raw_from)
        with connection.cursor() as cursor:
            # The last value is the stream's at the hour's last k (no sort for it).
            cursor.execute(
                "INSERT INTO cameras_readinghour (device_id, metric, bucket, count, minimum,"  # noqa: S608
                " maximum, total, last_value, last_at)"
                f" SELECT device_id, '{METRIC}', hour, count(*), min(value), max(value),"
                f" sum(value), {value_sql('max(k)', 'device_id')}, max(ts)"
                f" FROM (SELECT *, date_trunc('hour', ts) AS hour"
                f" FROM ({stream_sql('%(a)s', '%(b)s')}) r) h GROUP BY device_id, hour",
                {**params, "a": month, "b": following},
            )
            hour_rows += cursor.rowcount
        month = following
    with connection.cursor() as cursor:
        cursor.execute("SELECT sum(count) FROM cameras_readinghour WHERE bucket < %s", [raw_from])
        older = cursor.fetchone()[0]
    print(
        f"hours of the {older:,} readings before: {hour_rows:,} rows"
        f" in {time.perf_counter() - began:.0f} s"
    )
    began = time.perf_counter()
    result = rollups_compute(now=now, budget_seconds=10**9, chunk=timedelta(days=1))
    print(
        f"rollups_compute over the raw days: {result.minute_rows:,} minutes,"
        f" {result.hour_rows:,} hours in {time.perf_counter() - began:.0f} s"
    )
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE cameras_reading ENABLE TRIGGER cameras_reading_late")
        cursor.execute(
            "CREATE TABLE bench_history_marker (readings bigint, sensors int, now_at timestamptz)"
        )
        cursor.execute(
            "INSERT INTO bench_history_marker VALUES (%s, %s, %s)", [older + raw_rows, sensors, now]
        )
    return now


def charts(now: datetime, repeat: int) -> list[tuple[str, str]]:
    """p50/p95 of the three charts of random sensors, through the selector."""
    from cameras.models import Device
    from cameras.reading_selectors import reading_series

    sensors = list(Device.objects.filter(code__startswith="HIST-"))
    rng = random.Random(16)
    rows = []
    for label, span in (
        ("24 hours", timedelta(hours=24)),
        ("30 days", timedelta(days=30)),
        ("1 year", YEAR),
    ):
        samples, levels, points = [], set(), []
        for _ in range(repeat):
            device = rng.choice(sensors)
            began = time.perf_counter()
            series = reading_series(
                device, metric=METRIC, start=now - span, end=now, points=200, now=now
            )
            samples.append(time.perf_counter() - began)
            levels.add(series.level)
            points.append(sum(b.count for b in series.buckets))
        rows.append(
            (
                f"chart {label}",
                f"{percentiles(samples)}   ({'/'.join(sorted(levels))},"
                f" {statistics.mean(points):,.0f} readings a chart)",
            )
        )
    return rows


def drop_day(now: datetime) -> list[tuple[str, str]]:
    """Load the day just past the raw cutoff again and time retention dropping it."""
    from django.db import connection, transaction

    from cameras.services.history import history_retain
    from cameras.services.history.partitions import (
        READINGS,
        city_day,
        partition_create,
        partitions_of,
        period_bounds,
    )

    day = city_day(now) - timedelta(days=91)
    start, end = period_bounds("day", day)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT now_at - interval '365 days', readings, sensors FROM bench_history_marker"
        )
        t0, readings, sensors = cursor.fetchone()
        if READINGS.name(day) not in partitions_of(cursor, [READINGS.table]).get(
            READINGS.table, set()
        ):
            with transaction.atomic():
                partition_create(cursor, READINGS, day)
        cursor.execute("ALTER TABLE cameras_reading DISABLE TRIGGER cameras_reading_late")
        cursor.execute(
            f"INSERT INTO {READINGS.name(day)} (device_id, metric, ts, value)"  # noqa: S608
            f" SELECT device_id, '{METRIC}', ts, value FROM ({stream_sql('%(a)s', '%(b)s')}) r",
            {"t0": t0, "step": YEAR.total_seconds() / (readings / sensors), "a": start, "b": end},
        )
        loaded = cursor.rowcount
        cursor.execute("ALTER TABLE cameras_reading ENABLE TRIGGER cameras_reading_late")
        cursor.execute(f"ANALYZE {READINGS.name(day)}")
    began = time.perf_counter()
    result = history_retain(now=now, pause_seconds=0)
    total = time.perf_counter() - began
    name = READINGS.name(day)
    took = [s for p, s in zip(result.partitions, result.drop_seconds, strict=True) if p == name]
    return [
        (
            "drop one day of raw",
            f"{took[0] * 1000:7.1f} ms   ({loaded:,} readings; whole retention run {total:.2f} s)"
            if took
            else "not dropped (see the log)",
        )
    ]


def disk(now: datetime) -> list[tuple[str, str]]:
    """Disk per day: a full raw day partition, and the rollups' partitions per day."""
    from django.db import connection

    from cameras.services.history.partitions import HOURS, MINUTES, READINGS, city_day

    def size(names: list[str]) -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
                " WHERE relname = ANY(%s)",
                [names],
            )
            return int(cursor.fetchone()[0])

    days = [city_day(now) - timedelta(days=n) for n in range(2, 32)]
    raw = size([READINGS.name(d) for d in days]) / len(days)
    minutes = size([MINUTES.name(d) for d in days]) / len(days)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits"
            " WHERE inhparent = %s::regclass",
            [HOURS.table],
        )
        hours = int(cursor.fetchone()[0]) / 365
    mib = 1024 * 1024
    return [
        ("disk per day, raw", f"{raw / mib:8.1f} MiB   (readings with their indexes)"),
        ("disk per day, minutes", f"{minutes / mib:8.1f} MiB   (kept as long as raw by default)"),
        ("disk per day, hours", f"{hours / mib:8.1f} MiB   (kept five years)"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=100_000_000)
    parser.add_argument("--sensors", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--rebuild", action="store_true", help="build the dataset again")
    options = parser.parse_args()
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "IOC_VAR_DIR": tempfile.mkdtemp(prefix="ioc-bench-history-"),
        "IOC_LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "ioc.settings",
    }
    env.pop("REDIS_URL", None)
    for name in (
        "IOC_RAW_RETENTION_DAYS",
        "IOC_ROLLUP_RETENTION_DAYS",
        "IOC_ROLLUP_MINUTE_RETENTION_DAYS",
    ):
        env.pop(name, None)  # the default configuration
    if options.rebuild or not database_exists(DATABASE_URL):
        recreate_database(DATABASE_URL)
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('cameras_device') IS NOT NULL")
        migrated = cursor.fetchone()[0]
        found = marker(cursor) if migrated else None
    if found is not None and found[:2] == (options.readings, options.sensors):
        now = found[2]
        print(
            f"dataset reused: {found[0]:,} readings of {found[1]:,} sensors,"
            f" up to {now:%d/%m/%Y %H:%M}"
        )
    else:
        if migrated:  # another dataset, or one left half-built
            recreate_database(DATABASE_URL)
            connection.close()
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True
        )
        subprocess.run(
            [sys.executable, "manage.py", "load_demo", "--no-month"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        began = time.perf_counter()
        now = build(options.readings, options.sensors)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        print(f"dataset built in {time.perf_counter() - began:.0f} s")
    rows = charts(now, options.repeat) + drop_day(now) + disk(now)
    for label, value in rows:
        print(f"{label + ':':<24}{value}")


if __name__ == "__main__":
    main()
