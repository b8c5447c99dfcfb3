"""On PostgreSQL, each device row carries the start of its GeoJSON feature, kept by the
database (``map_feature``: type, id, geometry, and the code, name, kind and ward
properties; status and last_seen_at, which change all day, are appended when read).

The city-wide map writes 50,000 features per request; escaping the same texts every time
was most of its cost. A trigger recomputes the column whenever a device's code, name,
kind, position or ward is written, by any path (ORM, bulk writes, COPY, SQL), and a ward
whose code changes touches its devices. The ORM does not know the column (it is not a
model field), and ``cameras.map_selectors`` falls back to writing the start itself for a
row without it. SQLite has neither: its map is written in Python.
"""

from django.db import migrations

FORWARD = r"""
ALTER TABLE cameras_device ADD COLUMN map_feature text;

CREATE FUNCTION cameras_device_map_feature() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.map_feature := '{"type":"Feature","id":' || to_json(NEW.code)::text
        || ',"geometry":{"type":"Point","coordinates":['
        || NEW.longitude::double precision::text || ',' || NEW.latitude::double precision::text
        || ']},"properties":{"code":' || to_json(NEW.code)::text
        || ',"name":' || to_json(NEW.name)::text
        || ',"kind":' || to_json(NEW.kind)::text
        || ',"ward":' || coalesce(
            (SELECT to_json(ward.code)::text FROM ioc_ward AS ward WHERE ward.id = NEW.ward_id),
            'null');
    RETURN NEW;
END
$$;

CREATE TRIGGER cameras_device_map_feature
    BEFORE INSERT OR UPDATE OF code, name, kind, latitude, longitude, ward_id ON cameras_device
    FOR EACH ROW EXECUTE FUNCTION cameras_device_map_feature();

CREATE FUNCTION cameras_ward_code_map_feature() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cameras_device SET ward_id = ward_id WHERE ward_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER cameras_ward_code_map_feature
    AFTER UPDATE OF code ON ioc_ward
    FOR EACH ROW WHEN (OLD.code IS DISTINCT FROM NEW.code)
    EXECUTE FUNCTION cameras_ward_code_map_feature();

UPDATE cameras_device SET ward_id = ward_id;
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS cameras_ward_code_map_feature ON ioc_ward;
DROP FUNCTION IF EXISTS cameras_ward_code_map_feature();
DROP TRIGGER IF EXISTS cameras_device_map_feature ON cameras_device;
DROP FUNCTION IF EXISTS cameras_device_map_feature();
ALTER TABLE cameras_device DROP COLUMN IF EXISTS map_feature;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [
        ("cameras", "0003_event_reading_device_index"),
    ]

    operations = [migrations.RunPython(forward, backward)]
