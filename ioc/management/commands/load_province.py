"""``python manage.py load_province [CODE] [--dry-run]``: every commune-level unit of the
installation's province from the official list, in force from 1 July 2025."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ioc.provinces import ProvinceUnknown, list_version, official_provinces
from ioc.services import ProvinceLoadError, province_load


class Command(BaseCommand):
    """Load a province's units (wards, communes, special zones) from the official list."""

    help = (
        "Create the commune-level units (phường, xã, đặc khu) of a province from the official "
        "list of units since 1 July 2025 (the vietnam-provinces package), in force from "
        "01/07/2025 and without boundaries (import them with import_wards). The unit of a "
        "code already in force is given the list's name and kind, not created again; running "
        "it twice changes nothing. CODE defaults to the IOC_PROVINCE setting."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "code", nargs="?", default=None, help="Province code (e.g. 19); default IOC_PROVINCE."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would change, change nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        code = options["code"] or settings.IOC_PROVINCE
        try:
            report = province_load(
                code=code, actor_label=f"load_province {code}", dry_run=options["dry_run"]
            )
        except ProvinceUnknown as exc:
            known = ", ".join(f"{p.code} {p.name}" for p in official_provinces())
            raise CommandError(f"{exc} The provinces are: {known}.") from exc
        except ProvinceLoadError as exc:
            lines = "\n".join(f"  - {problem}" for problem in exc.problems)
            raise CommandError(f"Nothing was loaded. Fix these problems:\n{lines}") from exc
        prefix = "Dry run, nothing changed: would have " if options["dry_run"] else ""
        province = report.province
        self.stdout.write(
            f"{province.code} {province.name} ({list_version()}): {prefix}created "
            f"{len(report.created)}, updated {len(report.updated)}, unchanged "
            f"{len(report.unchanged)}."
        )
        for unit_code in report.created:
            self.stdout.write(f"  + {unit_code}")
        for unit_code, fields in report.updated.items():
            self.stdout.write(f"  ~ {unit_code}: {', '.join(fields)}")
        if report.not_listed:
            self.stdout.write(
                self.style.WARNING(
                    f"In force but not in the official list (left as they are; a "
                    f"reorganisation ends units): {', '.join(report.not_listed)}"
                )
            )
