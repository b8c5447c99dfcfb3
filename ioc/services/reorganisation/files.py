"""Reading a reorganisation's files as people hand them over: the plan (GeoJSON of the new
units), the mapping (CSV, old unit to new unit) and the effective day; a file that cannot
be read is refused with a message that says what is wrong with it."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.utils.translation import gettext as _

from ioc.models import Transfer

# The mapping's columns: these three are required, the others (names, kinds, a note, as in
# the published conversion tables) are read by people, not by the platform.
MAPPING_COLUMNS = ("old_code", "new_code", "transfer")
MAPPING_OPTIONAL = ("old_kind", "old_name", "new_kind", "new_name", "note")


class ReorganisationError(Exception):
    """The reorganisation cannot be applied; ``problems`` lists everything to fix. Nothing
    was changed."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class MappingRow:
    """One line of the mapping: ``old_code`` goes (wholly or in part) into ``new_code``."""

    line: int
    old_code: str
    new_code: str
    transfer: str
    old_name: str = ""
    new_name: str = ""


def _text(data: bytes | str, not_utf8: str) -> str:
    """A file's text: UTF-8 (a byte-order mark, as spreadsheets write, is allowed);
    ``not_utf8`` is the message otherwise (with the byte and its position)."""
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        byte = f"0x{exc.object[exc.start]:02x}"
        raise ReorganisationError([not_utf8 % {"byte": byte, "position": exc.start}]) from exc


def plan_read(data: bytes | str) -> dict[str, Any]:
    """The plan as a GeoJSON FeatureCollection (its features are checked later, all at
    once, with the mapping)."""
    text = _text(
        data,
        _("The plan is not UTF-8 text (byte %(byte)s at position %(position)s): save it as UTF-8."),
    )
    try:
        plan = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReorganisationError(
            [
                _("The plan is not GeoJSON: line %(line)s, column %(column)s: %(reason)s.")
                % {"line": exc.lineno, "column": exc.colno, "reason": exc.msg}
            ]
        ) from exc
    if not isinstance(plan, dict) or plan.get("type") != "FeatureCollection":
        raise ReorganisationError(
            [_("The plan must be a GeoJSON FeatureCollection: one feature per new unit.")]
        )
    features = plan.get("features")
    if not isinstance(features, list) or not features:
        raise ReorganisationError([_("The plan has no features: it names no new unit.")])
    return plan


def mapping_read(data: bytes | str) -> list[MappingRow]:
    """The mapping's rows; every row that cannot be read is listed at once."""
    text = _text(
        data,
        _(
            "The mapping is not UTF-8 text (byte %(byte)s at position %(position)s): save it "
            "as UTF-8 (CSV UTF-8)."
        ),
    )
    if not text.strip():
        raise ReorganisationError([_("The mapping is empty.")])
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [column for column in MAPPING_COLUMNS if column not in header]
    if missing:
        raise ReorganisationError(
            [
                _(
                    "The mapping's first line must name the columns %(required)s (comma-"
                    "separated); it is: %(found)s"
                )
                % {"required": ",".join(MAPPING_COLUMNS), "found": ",".join(header)[:200]}
            ]
        )
    reader.fieldnames = header
    rows: list[MappingRow] = []
    problems: list[str] = []
    transfers = ", ".join(Transfer.values)
    for row in reader:
        line = reader.line_num
        values = {key: (value or "").strip() for key, value in row.items() if key}
        if not any(values.values()):
            continue
        if None in row:
            problems.append(
                _("Mapping line %(line)s has more cells than columns.") % {"line": line}
            )
            continue
        if not values.get("old_code") or not values.get("new_code"):
            problems.append(
                _("Mapping line %(line)s: old_code and new_code are both needed.") % {"line": line}
            )
            continue
        transfer = values.get("transfer", "").lower()
        if transfer not in Transfer.values:
            problems.append(
                _("Mapping line %(line)s: transfer is '%(value)s'; write one of %(choices)s.")
                % {"line": line, "value": values.get("transfer", ""), "choices": transfers}
            )
            continue
        rows.append(
            MappingRow(
                line=line,
                old_code=values["old_code"],
                new_code=values["new_code"],
                transfer=transfer,
                old_name=values.get("old_name", ""),
                new_name=values.get("new_name", ""),
            )
        )
    if problems:
        raise ReorganisationError(problems)
    if not rows:
        raise ReorganisationError([_("The mapping has a header but no rows.")])
    return rows


def effective_read(text: str) -> date:
    """The effective day, written YYYY-MM-DD."""
    try:
        return date.fromisoformat(text.strip())
    except (ValueError, AttributeError) as exc:
        raise ReorganisationError(
            [
                _("The effective day '%(value)s' is not a date: write it as YYYY-MM-DD.")
                % {"value": str(text)[:40]}
            ]
        ) from exc


def reorganisation_digest(plan: dict[str, Any], mapping: list[MappingRow], effective: date) -> str:
    """What identifies a reorganisation whatever the files' layout: its units, its mapping
    rows (in any order) and its day."""
    canonical = json.dumps(
        {
            "plan": plan,
            "mapping": sorted((r.old_code, r.new_code, r.transfer) for r in mapping),
            "effective": effective.isoformat(),
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def merger_files(*, codes: list[str], keep: str, name: str) -> tuple[dict[str, Any], str]:
    """The files of a merger of units in force today (``manage.py merger_files``): the plan,
    one unit of ``name`` whose area is the union of theirs and which keeps the code
    ``keep`` (one of theirs, as the 2025 reform did) and the kind of its unit, and the
    mapping, each unit ``whole`` into it. ValueError, saying what, when a code names no
    unit in force today, has no boundary, or ``keep`` is not among ``codes``."""
    import shapely

    from ioc import geo
    from ioc.models import Ward

    if len(set(codes)) < 2:
        raise ValueError(_("Name at least two units to merge."))
    if keep not in codes:
        raise ValueError(_("The code kept must be one of the merged units'."))
    units = {unit.code: unit for unit in Ward.objects.current().filter(code__in=codes)}
    problems = [
        _("No unit in force today has the code %(code)s.") % {"code": code}
        for code in codes
        if code not in units
    ]
    problems += [
        _("%(unit)s has no boundary yet.") % {"unit": unit.title}
        for unit in units.values()
        if unit.boundary is None
    ]
    if problems:
        raise ValueError(" ".join(problems))
    union = shapely.union_all([geo.boundary_shape(units[code].boundary) for code in codes])
    properties = {"code": keep, "name": name, "kind": units[keep].kind}
    plan = geo.feature_collection([geo.feature(geo.to_geojson(union), properties)])
    rows = "".join(f"{code},{keep},{Transfer.WHOLE},{units[code].name},{name}\n" for code in codes)
    return plan, "old_code,new_code,transfer,old_name,new_name\n" + rows
