"""Seed the standard incident types and their checklists (the administrator edits them)."""

from django.db import migrations

# The data lives in the app so the demo loader (and a test database flush) seed the same.
from ioc.incident_defaults import seed_types


def seed(apps, schema_editor):
    seed_types(apps.get_model("ioc", "IncidentType"), apps.get_model("ioc", "IncidentTypeStep"))


class Migration(migrations.Migration):
    dependencies = [("ioc", "0002_incidents")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
