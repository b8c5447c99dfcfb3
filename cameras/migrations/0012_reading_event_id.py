"""A reading carries the id of the event it came from, and (device, metric, ts, event_id)
is unique: ingest stores a reading event as its readings alone and recognises one sent
again by this key, instead of storing it a second time as a device event. On PostgreSQL
the outbox payload is compressed with LZ4 where the server has it.

The column comes with an empty default (no table rewrite on PostgreSQL), and its unique
index replaces the (device, metric, ts) one. Readings stored before had no event id: where
two of them share a device, metric and time, each takes its row id as its event id first,
so that the unique index can be built (one pass over the table, once).
"""

from django.db import migrations, models

DUPLICATES = """
UPDATE cameras_reading SET event_id = CAST(id AS varchar(64))
WHERE event_id = '' AND EXISTS (
    SELECT 1 FROM cameras_reading other
    WHERE other.device_id = cameras_reading.device_id AND other.metric = cameras_reading.metric
      AND other.ts = cameras_reading.ts AND other.id <> cameras_reading.id
)
"""


def forward(apps, schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE cameras_reading ADD COLUMN event_id varchar(64) NOT NULL DEFAULT ''"
        )
        # the (device, metric, ts) index still serves the search for shared keys
        cursor.execute(DUPLICATES)
        if schema_editor.connection.vendor == "postgresql":
            cursor.execute(
                "ALTER TABLE cameras_reading ADD CONSTRAINT reading_device_metric_ts_event"
                " UNIQUE (device_id, metric, ts, event_id)"
            )
        else:
            cursor.execute(
                "CREATE UNIQUE INDEX reading_device_metric_ts_event"
                " ON cameras_reading (device_id, metric, ts, event_id)"
            )
        cursor.execute("DROP INDEX reading_device_metric_ts")
        if schema_editor.connection.vendor == "postgresql":
            _payload_lz4(cursor)


def _payload_lz4(cursor) -> None:
    """The outbox payload compressed by LZ4 instead of pglz: half PostgreSQL's CPU for
    the payload (bench/ingest.py). A server built without LZ4 keeps pglz."""
    cursor.execute("SAVEPOINT payload_lz4")
    try:
        cursor.execute(
            "ALTER TABLE cameras_ingestbatch ALTER COLUMN payload SET COMPRESSION lz4"
        )
    except Exception:
        cursor.execute("ROLLBACK TO SAVEPOINT payload_lz4")
    else:
        cursor.execute("RELEASE SAVEPOINT payload_lz4")


def backward(apps, schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "CREATE INDEX reading_device_metric_ts ON cameras_reading (device_id, metric, ts)"
        )
        if schema_editor.connection.vendor == "postgresql":
            cursor.execute(
                "ALTER TABLE cameras_reading DROP CONSTRAINT reading_device_metric_ts_event"
            )
        else:
            cursor.execute("DROP INDEX reading_device_metric_ts_event")
        cursor.execute("ALTER TABLE cameras_reading DROP COLUMN event_id")


class Migration(migrations.Migration):
    dependencies = [("cameras", "0011_history")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="reading", name="reading_device_metric_ts"),
                migrations.AddField(
                    model_name="reading",
                    name="event_id",
                    field=models.CharField(
                        blank=True, db_default="", max_length=64, verbose_name="event id"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="reading",
                    constraint=models.UniqueConstraint(
                        fields=("device", "metric", "ts", "event_id"),
                        name="reading_device_metric_ts_event",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(forward, backward)],
        )
    ]
