"""``python manage.py merger_files FOLDER --units A,B --keep A --name NAME``: write the files
of a merger of units in force today, for ``reorganise`` (a first try on the demo, or a
start for a real plan)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ioc.services.reorganisation.files import merger_files


class Command(BaseCommand):
    """Write plan.geojson and mapping.csv of a merger into FOLDER."""

    help = (
        "Write the files of a merger of units in force today (plan.geojson: one unit, their "
        "union, keeping one of their codes; mapping.csv: each unit whole into it) for "
        "manage.py reorganise."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("folder", help="where to write plan.geojson and mapping.csv")
        parser.add_argument("--units", required=True, help="the codes to merge, comma-separated")
        parser.add_argument("--keep", required=True, help="the code the merged unit keeps")
        parser.add_argument(
            "--name", required=True, help="the merged unit's name, without its kind"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        codes = [code.strip() for code in options["units"].split(",") if code.strip()]
        try:
            plan, mapping = merger_files(codes=codes, keep=options["keep"], name=options["name"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        folder = Path(options["folder"])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "plan.geojson").write_text(json.dumps(plan, ensure_ascii=False), "utf-8")
        (folder / "mapping.csv").write_text(mapping, "utf-8")
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {folder / 'plan.geojson'} and {folder / 'mapping.csv'}; try: "
                f"python manage.py reorganise {folder / 'plan.geojson'} "
                f"{folder / 'mapping.csv'} --effective YYYY-MM-DD --dry-run"
            )
        )
