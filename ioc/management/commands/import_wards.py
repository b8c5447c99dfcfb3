"""``python manage.py import_wards FILE.geojson [--on YYYY-MM-DD]``: create or update units
and their boundaries, each named by its code on a day; all or nothing."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from ioc.services import WardImportError, wards_import


class Command(BaseCommand):
    """Import ward boundaries from a GeoJSON FeatureCollection."""

    help = (
        "Create or update units (wards, communes, special zones) from a GeoJSON "
        "FeatureCollection. Each feature needs properties code, name and kind (phuong, xa, "
        "dac_khu; thi_tran before July 2025) and a Polygon or MultiPolygon; optional "
        "province_code, province_name, parent_code and parent_name (a former district), "
        "valid_from and valid_to (YYYY-MM-DD). A feature with valid_from is the unit of that "
        "code starting that day; one without is the unit of that code in force on --on "
        "(default today). Successors are linked by `reorganise`, not here. A file with any "
        "problem changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="GeoJSON file (UTF-8)")
        parser.add_argument(
            "--on",
            type=date.fromisoformat,
            default=None,
            help="The day whose units the codes name (YYYY-MM-DD; default today).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would change, change nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError as exc:
            raise CommandError(_("No such file: %(path)s") % {"path": path}) from exc
        except UnicodeDecodeError as exc:
            raise CommandError(
                _("%(path)s is not UTF-8 text: %(problem)s") % {"path": path, "problem": exc}
            ) from exc
        except OSError as exc:
            raise CommandError(
                _("Cannot read %(path)s: %(problem)s") % {"path": path, "problem": exc.strerror}
            ) from exc
        try:
            collection = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(
                _("%(path)s is not valid JSON (line %(line)s, column %(column)s: %(problem)s).")
                % {"path": path, "line": exc.lineno, "column": exc.colno, "problem": exc.msg}
            ) from exc
        try:
            report = wards_import(
                collection=collection,
                on=options["on"],
                actor_label=f"import_wards {path.name}",
                dry_run=options["dry_run"],
            )
        except WardImportError as exc:
            lines = "\n".join(f"  - {problem}" for problem in exc.problems)
            raise CommandError(
                _("Nothing was imported. Fix these problems:") + f"\n{lines}"
            ) from exc
        counts = {
            "created": len(report.created),
            "updated": len(report.updated),
            "unchanged": len(report.unchanged),
        }
        if options["dry_run"]:
            summary = _(
                "Dry run, nothing changed: would have created %(created)s, updated "
                "%(updated)s, unchanged %(unchanged)s."
            )
        else:
            summary = _("created %(created)s, updated %(updated)s, unchanged %(unchanged)s.")
        self.stdout.write(summary % counts)
        for code in report.created:
            self.stdout.write(f"  + {code}")
        for code, fields in report.updated.items():
            self.stdout.write(f"  ~ {code}: {', '.join(fields)}")
