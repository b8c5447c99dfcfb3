"""``python manage.py import_wards FILE.geojson``: upsert wards by code, all or nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ioc.services import WardImportError, wards_import


class Command(BaseCommand):
    """Import ward boundaries from a GeoJSON FeatureCollection."""

    help = (
        "Create or update wards from a GeoJSON FeatureCollection. Each feature needs "
        "properties code, name and kind (phuong, xa, thi_tran) and a Polygon or "
        "MultiPolygon; optional parent_code, parent_name, province_code, province_name, "
        "valid_from, valid_to (YYYY-MM-DD) and successor (the code of the ward it merged "
        "into). A file with any problem changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="GeoJSON file (UTF-8)")
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would change, change nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError as exc:
            raise CommandError(f"No such file: {path}") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path} is not UTF-8 text: {exc}") from exc
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}") from exc
        try:
            collection = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(
                f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
            ) from exc
        try:
            report = wards_import(
                collection=collection,
                actor_label=f"import_wards {path.name}",
                dry_run=options["dry_run"],
            )
        except WardImportError as exc:
            lines = "\n".join(f"  - {problem}" for problem in exc.problems)
            raise CommandError(f"Nothing was imported. Fix these problems:\n{lines}") from exc
        prefix = "Dry run, nothing changed: would have " if options["dry_run"] else ""
        self.stdout.write(
            f"{prefix}created {len(report.created)}, updated {len(report.updated)}, "
            f"unchanged {len(report.unchanged)}."
        )
        for code in report.created:
            self.stdout.write(f"  + {code}")
        for code, fields in report.updated.items():
            self.stdout.write(f"  ~ {code}: {', '.join(fields)}")
