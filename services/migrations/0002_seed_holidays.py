"""Seed the public holidays of the current and next year (the administrator maintains them)."""

from django.db import migrations

from services.holidays import seed_holidays


def seed(apps, schema_editor):
    seed_holidays(apps.get_model("services", "Holiday"))


class Migration(migrations.Migration):
    dependencies = [("services", "0001_requests")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
