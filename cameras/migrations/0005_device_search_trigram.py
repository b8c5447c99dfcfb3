"""On PostgreSQL, trigram indexes for the map's search box (``devices.search``): it finds
a device whose code or name contains the typed text, in any case, which a B-tree cannot
serve (a sequential scan of every device: 35 ms at 50,000 devices, for each search).

The indexed expressions are the ones Django writes for ``icontains`` on PostgreSQL,
``UPPER(column::text)``, so the planner uses them for the ORM's own query. pg_trgm ships
with PostgreSQL and is a trusted extension (13+): a database owner may create it. SQLite
has neither, and scans its few devices.
"""

from django.db import migrations

FORWARD = r"""
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX IF NOT EXISTS cameras_device_code_trgm
    ON cameras_device USING gin (UPPER(code::text) gin_trgm_ops);
CREATE INDEX IF NOT EXISTS cameras_device_name_trgm
    ON cameras_device USING gin (UPPER(name::text) gin_trgm_ops);
"""

BACKWARD = r"""
DROP INDEX IF EXISTS cameras_device_name_trgm;
DROP INDEX IF EXISTS cameras_device_code_trgm;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [
        ("cameras", "0004_device_map_feature"),
    ]

    operations = [migrations.RunPython(forward, backward)]
