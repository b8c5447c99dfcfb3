"""``python manage.py reorganise PLAN.geojson MAPPING.csv --effective YYYY-MM-DD
[--dry-run]``: reorganise administrative units (ioc.services.reorganisation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from ioc.choices import ReorganisationState
from ioc.models import Transfer
from ioc.services.reorganisation import (
    SUBJECTS,
    ReorganisationError,
    effective_read,
    reorganisation_check,
    reorganisation_submit,
)


def _transfer(value: str) -> str:
    """``whole`` or ``part`` as people read it."""
    return str(Transfer(value).label) if value in Transfer.values else value


def report_lines(report: dict[str, Any]) -> list[str]:
    """A reorganisation's report as lines of text: the new units, then each old unit with
    what it holds and where each thing goes, then what needs a person."""
    lines = []
    for unit in report["units"]:
        origins = ", ".join(
            f"{w['code']} {w['title']} ({_transfer(w['transfer'])})" for w in unit["from"]
        )
        lines.append(f"+ {unit['code']} {unit['title']} <- {origins}")
    for ward in report["old"]:
        into = ", ".join(
            f"{w['code']} {w['title']} ({_transfer(w['transfer'])})" for w in ward["into"]
        )
        lines.append(f"- {ward['code']} {ward['title']} -> {into}")
        for subject, label in SUBJECTS.items():
            items = ward["moves"].get(subject, [])
            lines.append(f"    {label}: {len(items)}")
            for item in items:
                to = ", ".join(f"{w['code']} {w['title']}" for w in item["to"]) or "?"
                note = f"  [{item['reason']}]" if item["reason"] else ""
                lines.append(f"      {item['label']} -> {to}{note}")
    lines.append(_("Needs a person: %(n)s") % {"n": len(report["needs_person"])})
    for item in report["needs_person"]:
        where = f"{item['unit']['code']} {item['unit']['title']}"
        lines.append(f"  {item['subject']} {item['label']} ({where}): {item['reason']}")
    return lines


class Command(BaseCommand):
    """Apply (or schedule, or only report) a reorganisation of administrative units."""

    help = (
        "Reorganise administrative units. PLAN is a GeoJSON FeatureCollection of the new "
        "units (properties code, name, kind; a Polygon or MultiPolygon each); MAPPING a CSV "
        "with the columns old_code,new_code,transfer (whole or part; other columns such as "
        "old_name, new_name, note are allowed). Old codes name the units in force the day "
        "before --effective. A day today or past is applied at once, in one transaction; a "
        "later day is scheduled and applied at midnight of that day. --dry-run prints what "
        "would move where and changes nothing. Any problem: every problem listed, nothing "
        "changed. Running it again changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("plan", help="GeoJSON of the new units (UTF-8)")
        parser.add_argument("mapping", help="CSV: old_code,new_code,transfer (UTF-8)")
        parser.add_argument(
            "--effective", required=True, help="The first day of the new units (YYYY-MM-DD)."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Print what would move, change nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        plan, mapping = self._read(options["plan"]), self._read(options["mapping"])
        label = f"reorganise {Path(options['plan']).name}"
        try:
            effective = effective_read(options["effective"])
            if options["dry_run"]:
                report = reorganisation_check(plan=plan, mapping=mapping, effective=effective)
                self.stdout.write(
                    _("Dry run, nothing changed. On %(day)s:") % {"day": f"{effective:%d/%m/%Y}"}
                )
                for line in report_lines(report):
                    self.stdout.write(line)
                return
            reorganisation = reorganisation_submit(
                plan=plan, mapping=mapping, effective=effective, actor_label=label
            )
        except ReorganisationError as exc:
            problems = "\n".join(f"  - {problem}" for problem in exc.problems)
            raise CommandError(
                _("Nothing was changed. Fix these problems:") + f"\n{problems}"
            ) from exc
        report = reorganisation.report
        if reorganisation.state == ReorganisationState.SCHEDULED:
            self.stdout.write(
                _("Scheduled (reorganisation %(pk)s): applied at midnight of %(day)s.")
                % {"pk": reorganisation.pk, "day": f"{effective:%d/%m/%Y}"}
            )
        elif not report.get("changed", True):
            self.stdout.write(
                _("Already applied (reorganisation %(pk)s): nothing to change.")
                % {"pk": reorganisation.pk}
            )
            return
        elif report.get("later"):
            counts = report["later"][-1]["counts"]
            moved = ", ".join(f"{n} {SUBJECTS.get(s, s)}" for s, n in counts.items() if n)
            self.stdout.write(
                _(
                    "Already applied (reorganisation %(pk)s); moved what was left in its old "
                    "units since: %(moved)s."
                )
                % {"pk": reorganisation.pk, "moved": moved}
            )
            return
        else:
            self.stdout.write(_("Applied (reorganisation %(pk)s).") % {"pk": reorganisation.pk})
        for line in report_lines(report):
            self.stdout.write(line)

    @staticmethod
    def _read(name: str) -> bytes:
        try:
            return Path(name).read_bytes()
        except FileNotFoundError as exc:
            raise CommandError(_("No such file: %(path)s") % {"path": name}) from exc
        except OSError as exc:
            raise CommandError(
                _("Cannot read %(path)s: %(problem)s") % {"path": name, "problem": exc.strerror}
            ) from exc
