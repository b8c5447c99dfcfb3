"""The statutory days off now come from the ``holidays`` package: the rows 0002 seeded go,
and the table keeps only what each year's announcement adds (its names say so).

A row goes only if it is still exactly as seeded (same date, same name, a day off): a row
the administrator renamed or turned into a working day is theirs and stays. Each seeded
day is a statutory day off in the package or a weekend
(tests/services/test_holidays.py checks it), so no deadline moves. Reversing puts the
seeded rows back, for the code before this change, which needs them.
"""

from datetime import date, timedelta

from django.db import migrations, models


def _days(first, last, name):
    return [(first + timedelta(days=n), name) for n in range((last - first).days + 1)]


# The list 0002 seeded, frozen here: the only record of what "as seeded" means.
SEEDED = [
    (date(2026, 1, 1), "Tết Dương lịch"),
    *_days(date(2026, 2, 14), date(2026, 2, 22), "Tết Nguyên đán Bính Ngọ"),
    (date(2026, 4, 27), "Giỗ Tổ Hùng Vương (nghỉ bù)"),
    (date(2026, 4, 30), "Ngày Giải phóng miền Nam, thống nhất đất nước"),
    (date(2026, 5, 1), "Ngày Quốc tế Lao động"),
    (date(2026, 9, 1), "Quốc khánh"),
    (date(2026, 9, 2), "Quốc khánh"),
    (date(2027, 1, 1), "Tết Dương lịch"),
    *_days(date(2027, 2, 5), date(2027, 2, 10), "Tết Nguyên đán Đinh Mùi (dự kiến)"),
]


def remove_seeded(apps, schema_editor):
    Holiday = apps.get_model("services", "Holiday")
    for day, name in SEEDED:
        Holiday.objects.filter(date=day, name=name, is_working_day=False).delete()


def restore_seeded(apps, schema_editor):
    Holiday = apps.get_model("services", "Holiday")
    for day, name in SEEDED:
        Holiday.objects.get_or_create(date=day, defaults={"name": name})


class Migration(migrations.Migration):
    dependencies = [("services", "0005_reporter_key_and_photo_names")]

    operations = [
        migrations.AlterModelOptions(
            name="holiday",
            options={
                "ordering": ["date"],
                "verbose_name": "announced day off or working day",
                "verbose_name_plural": "announced days off and working days",
            },
        ),
        migrations.AlterField(
            model_name="holiday",
            name="is_working_day",
            field=models.BooleanField(
                default=False,
                help_text=(
                    "Ticked: the day is worked (a weekend day worked to make up for a bridge "
                    "day, or a statutory day off that is moved). Unticked: an extra day off."
                ),
                verbose_name="working day",
            ),
        ),
        migrations.RunPython(remove_seeded, restore_seeded),
    ]
