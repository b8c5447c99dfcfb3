"""Readings and device events over time: rollups per minute and hour, the marks of late
readings, and an event identified by (device, event id, ts).

On PostgreSQL the readings, device events and both rollup tables become partitioned
tables (RANGE on their time column; a partition per city day, per month for hours, and a
DEFAULT one), their primary key (id, ts) in the database while Django keeps addressing
rows by ``id``: each existing table is renamed, a partitioned one created in its place
with partitions for the days its rows cover (the last 400 days; older rows go to DEFAULT,
where retention finds them), the rows moved, the indexes and foreign keys made again,
the old table dropped. ``partitions_ensure`` then adds the days from the retention cutoff
to a week ahead (after ``migrate``). BRIN indexes give the rollup job its time ranges.
On SQLite: the unique constraint changed by Django's table rebuild, B-tree indexes on the
time columns (for rollups and chunked retention).

On both, a trigger marks the hours of readings written before the rollups' mark
(``RollupLateHour``), whoever writes them: a gateway's backlog is rolled up again.
"""

from datetime import timedelta

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

from cameras.services.history.partitions import (
    EVENTS,
    HOURS,
    MINUTES,
    READINGS,
    PartitionedTable,
    city_day,
    period_bounds,
    periods_between,
)
from cameras.services.history.rollups import LATE_LOCK

# Rows older than this go to the DEFAULT partition rather than get a partition each.
EXISTING_DAYS = 400

PG_INDEXES = {
    READINGS: [
        "CREATE INDEX reading_device_metric_ts ON cameras_reading (device_id, metric, ts)",
        "CREATE INDEX reading_ts_brin ON cameras_reading USING brin (ts)",
    ],
    EVENTS: [
        "ALTER TABLE cameras_deviceevent ADD CONSTRAINT event_device_id_ts"
        " UNIQUE (device_id, event_id, ts)",
        "CREATE INDEX event_device_ts ON cameras_deviceevent (device_id, ts)",
    ],
    MINUTES: [
        "ALTER TABLE cameras_readingminute ADD CONSTRAINT reading_minute_key"
        " UNIQUE (device_id, metric, bucket)",
        "CREATE INDEX reading_minute_bucket_brin ON cameras_readingminute USING brin (bucket)",
    ],
    # A year's chart reads a device's 8,760 hours: from the index alone (its rows lie on as
    # many heap pages, every device's hours written together).
    HOURS: [
        "ALTER TABLE cameras_readinghour ADD CONSTRAINT reading_hour_key"
        " UNIQUE (device_id, metric, bucket) INCLUDE (count, minimum, maximum, total)",
    ],
}

SQLITE_INDEXES = [
    "CREATE INDEX reading_ts ON cameras_reading (ts)",
    "CREATE INDEX event_ts ON cameras_deviceevent (ts)",
    "CREATE INDEX reading_minute_bucket ON cameras_readingminute (bucket)",
    "CREATE INDEX reading_hour_bucket ON cameras_readinghour (bucket)",
]

PG_LATE_TRIGGER = f"""
CREATE FUNCTION cameras_reading_late_mark() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    late_before timestamptz;
BEGIN
    -- Shared with every writer; the rollup job takes it alone to move the mark, so a
    -- transaction that read the old mark commits before the job reads what is new.
    PERFORM pg_advisory_xact_lock_shared({LATE_LOCK});
    SELECT marked_until INTO late_before FROM cameras_rollupstate ORDER BY id LIMIT 1;
    IF late_before IS NOT NULL THEN
        INSERT INTO cameras_rolluplatehour (device_id, hour)
        SELECT DISTINCT device_id, date_trunc('hour', ts, 'UTC') FROM written WHERE ts < late_before
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER cameras_reading_late AFTER INSERT ON cameras_reading
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION cameras_reading_late_mark();
"""

# Django keeps a SQLite time as UTC text, "YYYY-MM-DD HH:MM:SS[.ffffff]": its hour is text.
SQLITE_LATE_TRIGGER = """
CREATE TRIGGER cameras_reading_late AFTER INSERT ON cameras_reading
WHEN NEW.ts < (SELECT marked_until FROM cameras_rollupstate ORDER BY id LIMIT 1)
BEGIN
    INSERT OR IGNORE INTO cameras_rolluplatehour (device_id, hour)
    VALUES (NEW.device_id, substr(NEW.ts, 1, 13) || ':00:00');
END
"""


def partition(cursor, spec: PartitionedTable, indexes: list[str]) -> None:
    """Turn ``spec.table`` into a partitioned table holding the same rows."""
    table, column, old = spec.table, spec.column, f"{spec.table}_unpartitioned"
    cursor.execute(f"ALTER TABLE {table} RENAME TO {old}")
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype = 'f'",
        [old],
    )
    foreign_keys = cursor.fetchall()
    # Free the names the new table's indexes take (a constraint's index goes with it).
    cursor.execute(
        "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype IN ('p', 'u')",
        [old],
    )
    for (name,) in cursor.fetchall():
        cursor.execute(f"ALTER TABLE {old} DROP CONSTRAINT {name}")
    cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [old])
    for (name,) in cursor.fetchall():
        cursor.execute(f"DROP INDEX {name}")
    # PostgreSQL before 17 has no identity column on a partitioned table: a sequence.
    cursor.execute(f"CREATE SEQUENCE {table}_id_partitioned")
    cursor.execute(
        f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS) PARTITION BY RANGE ({column})"
    )
    cursor.execute(
        f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('{table}_id_partitioned')"
    )
    cursor.execute(f"CREATE TABLE {spec.default} PARTITION OF {table} DEFAULT")
    zone = str(timezone.get_default_timezone())
    now = timezone.now()
    cursor.execute(
        f"SELECT DISTINCT date({column} AT TIME ZONE %s) FROM {old}"
        f" WHERE {column} >= %s AND {column} < %s",
        [zone, now - timedelta(days=EXISTING_DAYS), now + timedelta(days=8)],
    )
    days = sorted(row[0] for row in cursor.fetchall())
    firsts = sorted({next(periods_between(spec.period, day, day)) for day in days})
    for first in firsts:
        lower, upper = (moment.isoformat() for moment in period_bounds(spec.period, first))
        cursor.execute(
            f"CREATE TABLE {spec.name(first)} PARTITION OF {table} FOR VALUES FROM (%s) TO (%s)",
            [lower, upper],
        )
    cursor.execute(f"INSERT INTO {table} SELECT * FROM {old}")
    cursor.execute(
        f"SELECT setval('{table}_id_partitioned', COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
    )
    cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (id, {column})")
    for statement in indexes:
        cursor.execute(statement)
    for name, definition in foreign_keys:
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    cursor.execute(f"DROP TABLE {old}")
    cursor.execute(f"ALTER SEQUENCE {table}_id_partitioned RENAME TO {table}_id_seq")
    cursor.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")


def forward(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for spec, indexes in PG_INDEXES.items():
                partition(cursor, spec, indexes)
            cursor.execute(PG_LATE_TRIGGER)
        return
    # The unique (device, event id, ts) of the state: SQLite rebuilds the table for it.
    event = apps.get_model("cameras", "DeviceEvent")
    schema_editor.add_constraint(event, event._meta.constraints[0])
    for statement in [*SQLITE_INDEXES, SQLITE_LATE_TRIGGER]:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("cameras", "0010_ingest_payload_no_device_constraints"),
    ]

    operations = [
        migrations.CreateModel(
            name="ReadingHour",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("metric", models.CharField(max_length=32, verbose_name="metric")),
                ("bucket", models.DateTimeField(verbose_name="from")),
                ("count", models.PositiveIntegerField(verbose_name="count")),
                ("minimum", models.FloatField(verbose_name="minimum")),
                ("maximum", models.FloatField(verbose_name="maximum")),
                ("total", models.FloatField(verbose_name="total")),
                ("last_value", models.FloatField(verbose_name="last value")),
                ("last_at", models.DateTimeField(verbose_name="last value at")),
            ],
            options={
                "verbose_name": "reading hour",
                "verbose_name_plural": "reading hours",
            },
        ),
        migrations.CreateModel(
            name="ReadingMinute",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("metric", models.CharField(max_length=32, verbose_name="metric")),
                ("bucket", models.DateTimeField(verbose_name="from")),
                ("count", models.PositiveIntegerField(verbose_name="count")),
                ("minimum", models.FloatField(verbose_name="minimum")),
                ("maximum", models.FloatField(verbose_name="maximum")),
                ("total", models.FloatField(verbose_name="total")),
                ("last_value", models.FloatField(verbose_name="last value")),
                ("last_at", models.DateTimeField(verbose_name="last value at")),
            ],
            options={
                "verbose_name": "reading minute",
                "verbose_name_plural": "reading minutes",
            },
        ),
        migrations.CreateModel(
            name="RollupLateHour",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("hour", models.DateTimeField(verbose_name="hour")),
            ],
            options={
                "verbose_name": "late reading hour",
                "verbose_name_plural": "late reading hours",
            },
        ),
        migrations.CreateModel(
            name="RollupState",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("marked_until", models.DateTimeField(null=True, verbose_name="late before")),
                (
                    "minutes_until",
                    models.DateTimeField(null=True, verbose_name="minutes complete before"),
                ),
                (
                    "hours_until",
                    models.DateTimeField(null=True, verbose_name="hours complete before"),
                ),
                (
                    "raw_dropped_before",
                    models.DateTimeField(null=True, verbose_name="raw readings dropped before"),
                ),
            ],
            options={
                "verbose_name": "rollup state",
                "verbose_name_plural": "rollup state",
            },
        ),
        migrations.AlterField(
            model_name="ingestfailure",
            name="event",
            field=models.OneToOneField(
                db_constraint=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="failure",
                to="cameras.deviceevent",
                verbose_name="event",
            ),
        ),
        migrations.AddField(
            model_name="readinghour",
            name="device",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="cameras.device",
            ),
        ),
        migrations.AddField(
            model_name="readingminute",
            name="device",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="cameras.device",
            ),
        ),
        migrations.AddField(
            model_name="rolluplatehour",
            name="device",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="cameras.device",
            ),
        ),
        migrations.AddConstraint(
            model_name="readinghour",
            constraint=models.UniqueConstraint(
                fields=("device", "metric", "bucket"), name="reading_hour_key"
            ),
        ),
        migrations.AddConstraint(
            model_name="readingminute",
            constraint=models.UniqueConstraint(
                fields=("device", "metric", "bucket"), name="reading_minute_key"
            ),
        ),
        migrations.AddConstraint(
            model_name="rolluplatehour",
            constraint=models.UniqueConstraint(fields=("device", "hour"), name="rollup_late_key"),
        ),
        # The event's identity moves to (device, event id, ts): in the state here, in the
        # database by ``forward`` (PostgreSQL builds it on the partitioned table).
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(model_name="deviceevent", name="event_device_id"),
                migrations.AddConstraint(
                    model_name="deviceevent",
                    constraint=models.UniqueConstraint(
                        fields=("device", "event_id", "ts"), name="event_device_id_ts"
                    ),
                ),
            ],
        ),
        migrations.RunPython(forward, elidable=False),
    ]
