"""Seeded the public holidays of 2026 and 2027 until the statutory days off came from the
``holidays`` package; now nothing (0006 removes the rows it seeded where it ran, and
keeps the list they are recognised by)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("services", "0001_requests")]

    operations = []
