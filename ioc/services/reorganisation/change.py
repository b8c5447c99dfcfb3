"""A reorganisation checked against the units as they are: the plan's new units, the old
units the mapping names (those in force the day before the effective day), and where a
place falls among the new units. Every problem is found before any is reported, and a
reorganisation with any problem changes nothing.

Checked: each new unit (code, name, kind, a valid boundary, in force from the effective day,
no code twice); each old unit (known, in force the day before, not ending on another day);
the mapping's parts (a unit that goes whole goes into one unit, a split one into two or
more, every new unit comes from at least one old unit, every new code is in the plan); no
code named by two units on one day; the new units overlap neither each other nor the units
that stay in force, and cover the whole of every old unit (within ``AREA_TOLERANCE``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import shapely
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

from ioc.geo import GeometryError, boundary_shape
from ioc.models import Transfer, Ward, WardSuccession
from ioc.services.reorganisation.files import MappingRow, ReorganisationError
from ioc.services.wards import code_collisions, ward_values

# Overlaps and gaps smaller than this share of the smaller unit are drawing noise (two
# boundaries traced from different maps never meet exactly), not a fault of the plan.
AREA_TOLERANCE = 0.001


@dataclass
class NewUnit:
    """A unit of the plan: the fields it is created with, its area and where it comes from."""

    code: str
    values: dict[str, Any]
    shape: BaseGeometry
    predecessors: list[tuple[Ward, str]] = field(default_factory=list)
    # The unit an earlier run of the same reorganisation created (a second run creates
    # nothing).
    existing: Ward | None = None

    @property
    def title(self) -> str:
        """ "Phường Phan Đình Phùng"."""
        return Ward(code=self.code, name=self.values["name"], kind=self.values["kind"]).title


@dataclass
class Move:
    """Where one thing of an old unit goes: ``targets`` are new units' codes (several for
    an official of a split unit); none when a person must place it (``reason`` says why:
    it then stays where it is)."""

    subject: str
    pk: int
    label: str
    source: Ward
    targets: list[str]
    reason: str = ""
    # Moved, but a person should look: an official given every part of a split unit.
    review: bool = False

    @property
    def needs_person(self) -> bool:
        """Whether someone must place it, or check where it went."""
        return not self.targets or self.review


@dataclass
class Change:
    """A checked reorganisation: the new units by code, the old units by id, which new
    units each old unit goes into, and (once planned) what moves where."""

    effective: date
    units: dict[str, NewUnit]
    old: dict[int, Ward]
    into: dict[int, list[tuple[str, str]]]
    moves: dict[str, list[Move]] = field(default_factory=dict)
    claimed: set[tuple[str, int]] = field(default_factory=set)
    _codes: tuple[str, ...] = ()
    _tree: STRtree | None = None

    def __post_init__(self) -> None:
        self._codes = tuple(sorted(self.units))
        self._tree = STRtree([self.units[code].shape for code in self._codes])

    def locate(self, lon: Any, lat: Any) -> str | None:
        """The code of the new unit that holds a place (on a shared edge, the first by
        code, as ``geo.WardIndex`` decides), or None when none does."""
        if lon is None or lat is None or self._tree is None:
            return None
        hits = self._tree.query(Point(float(lon), float(lat)), predicate="intersects")
        return min((self._codes[int(i)] for i in hits), default=None)

    def successors(self, ward_id: int) -> list[str]:
        """The codes of the new units an old unit goes into."""
        return [code for code, _transfer in self.into.get(ward_id, [])]

    def sole_successor(self, ward_id: int) -> str | None:
        """The new unit an old unit goes into when it goes into one only."""
        codes = self.successors(ward_id)
        return codes[0] if len(codes) == 1 else None

    def claim(self, subject: str, pk: int) -> bool:
        """Take charge of one thing; False when another follower already has it."""
        key = (subject, pk)
        if key in self.claimed:
            return False
        self.claimed.add(key)
        return True

    def moves_of(self, subject: str) -> list[Move]:
        """Every planned move of one subject ("device", "request"...), whoever planned it."""
        return [move for moves in self.moves.values() for move in moves if move.subject == subject]

    @property
    def already_applied(self) -> bool:
        """Whether an earlier run did the units' part: every old unit ends on the effective
        day and every new unit exists."""
        return all(ward.valid_to == self.effective for ward in self.old.values()) and all(
            unit.existing is not None for unit in self.units.values()
        )


def change_build(
    *, plan: dict[str, Any], mapping: list[MappingRow], effective: date, lock: bool = False
) -> Change:
    """Check a reorganisation against the stored units; ReorganisationError lists every
    problem. ``lock``: lock the old units for the transaction that applies it."""
    problems: list[str] = []
    units = _new_units(plan, effective, problems)
    old = _old_units(mapping, effective, problems, lock=lock)
    into = _mapping_checked(mapping, units, old, problems)
    _earlier_runs(units, old, effective, problems)
    collisions = [
        Ward(code=unit.code, name=unit.values["name"], valid_from=effective)
        for unit in units.values()
        if unit.existing is None
    ]
    problems += code_collisions(collisions, ending={w.pk: effective for w in old.values()})
    _geometry_checked(units, old, into, effective, problems)
    if problems:
        raise ReorganisationError(problems)
    by_id = {ward.pk: ward for ward in old.values()}
    for pk, edges in into.items():
        for code, transfer in edges:
            units[code].predecessors.append((by_id[pk], transfer))
    return Change(effective=effective, units=units, old=by_id, into=into)


def _new_units(plan: dict[str, Any], effective: date, problems: list[str]) -> dict[str, NewUnit]:
    """The plan's units, each in force from ``effective``; a code twice is a problem."""
    units: dict[str, NewUnit] = {}
    for index, feature in enumerate(plan["features"]):
        values = ward_values(index, feature, problems)
        if values is None:
            continue
        values.pop("keep", None)
        code = values["code"]
        if values["valid_from"] not in (None, effective) or values["valid_to"] is not None:
            problems.append(
                _(
                    "The new unit %(code)s gives its own dates: a plan's units are in force "
                    "from the effective day (%(effective)s), with no end."
                )
                % {"code": code, "effective": f"{effective:%d/%m/%Y}"}
            )
        if code in units:
            problems.append(
                _("The plan names code %(code)s twice: a code names one unit a day.")
                % {"code": code}
            )
            continue
        values.update(valid_from=effective, valid_to=None)
        units[code] = NewUnit(code=code, values=values, shape=boundary_shape(values["boundary"]))
    return units


def _old_units(
    mapping: list[MappingRow], effective: date, problems: list[str], *, lock: bool
) -> dict[str, Ward]:
    """The units the mapping's old codes name the day before ``effective``, by code."""
    day_before = effective - timedelta(days=1)
    codes = list(dict.fromkeys(row.old_code for row in mapping))
    in_force: QuerySet[Ward] = Ward.objects.current(day_before).filter(code__in=codes)
    if lock:
        in_force = in_force.select_for_update()
    found = {ward.code: ward for ward in in_force}
    known = set(Ward.objects.filter(code__in=codes).values_list("code", flat=True))
    for code in codes:
        ward = found.get(code)
        if ward is None and code in known:
            problems.append(
                _(
                    "No unit of code %(code)s is in force on %(day)s, the day before the "
                    "effective day: it was retired already, or is not yet in force."
                )
                % {"code": code, "day": f"{day_before:%d/%m/%Y}"}
            )
        elif ward is None:
            problems.append(_("No unit has code %(code)s.") % {"code": code})
        elif ward.valid_to is not None and ward.valid_to != effective:
            problems.append(
                _("%(unit)s (%(code)s) already ends on %(end)s, not on %(effective)s.")
                % {
                    "unit": ward.title,
                    "code": code,
                    "end": f"{ward.valid_to:%d/%m/%Y}",
                    "effective": f"{effective:%d/%m/%Y}",
                }
            )
    return found


def _mapping_checked(
    mapping: list[MappingRow],
    units: dict[str, NewUnit],
    old: dict[str, Ward],
    problems: list[str],
) -> dict[int, list[tuple[str, str]]]:
    """Which new units each old unit goes into, once the parts add up."""
    lines: dict[tuple[str, str], list[int]] = defaultdict(list)
    by_old: dict[str, list[MappingRow]] = defaultdict(list)
    for row in mapping:
        lines[(row.old_code, row.new_code)].append(row.line)
        if row.new_code not in units:
            problems.append(
                _("Mapping line %(line)s: the new unit %(code)s is not in the plan.")
                % {"line": row.line, "code": row.new_code}
            )
        if len(lines[(row.old_code, row.new_code)]) == 1:
            by_old[row.old_code].append(row)
    for (old_code, new_code), numbers in lines.items():
        if len(numbers) > 1:
            problems.append(
                _("Mapping lines %(lines)s say the same: %(old)s into %(new)s.")
                % {"lines": ", ".join(map(str, numbers)), "old": old_code, "new": new_code}
            )
    for code, unit in units.items():
        if not any(row.new_code == code for row in mapping):
            problems.append(
                _("The new unit %(code)s (%(name)s) has no predecessor in the mapping.")
                % {"code": code, "name": unit.values["name"]}
            )
    into: dict[int, list[tuple[str, str]]] = {}
    for old_code, rows in by_old.items():
        transfers = {row.transfer for row in rows}
        targets = ", ".join(row.new_code for row in rows)
        if Transfer.WHOLE in transfers and len(rows) > 1:
            problems.append(
                _(
                    "%(old)s goes whole into more than one unit (%(codes)s): a unit that "
                    "goes whole goes into one; write part on each line of a split unit."
                )
                % {"old": old_code, "codes": targets}
            )
        elif transfers == {Transfer.PART} and len(rows) == 1:
            problems.append(
                _(
                    "%(old)s goes in part into %(new)s only: where does the rest go? A split "
                    "unit goes into two units or more; write whole if all of it goes there."
                )
                % {"old": old_code, "new": targets}
            )
        if old_code in old:
            into[old[old_code].pk] = [(row.new_code, row.transfer) for row in rows]
    return into


def _earlier_runs(
    units: dict[str, NewUnit], old: dict[str, Ward], effective: date, problems: list[str]
) -> None:
    """Recognise what an earlier run of the same reorganisation did (its new units, the
    old units it ended); refuse what another reorganisation did on that day."""
    existing = {
        ward.code: ward for ward in Ward.objects.filter(code__in=list(units), valid_from=effective)
    }
    mapped = {ward.pk for ward in old.values()}
    sources: dict[int, set[int]] = defaultdict(set)
    targets: dict[int, set[int]] = defaultdict(set)
    for edge in WardSuccession.objects.filter(effective=effective).values(
        "predecessor_id", "successor_id"
    ):
        sources[edge["successor_id"]].add(edge["predecessor_id"])
        targets[edge["predecessor_id"]].add(edge["successor_id"])
    for code, ward in existing.items():
        if sources[ward.pk] - mapped:
            problems.append(
                _(
                    "A unit of code %(code)s already starts on %(effective)s, made by another "
                    "reorganisation."
                )
                % {"code": code, "effective": f"{effective:%d/%m/%Y}"}
            )
        units[code].existing = ward
    created = {ward.pk for ward in existing.values()}
    for ward in old.values():
        if ward.valid_to == effective and targets[ward.pk] - created:
            problems.append(
                _("%(unit)s (%(code)s) already ends on %(effective)s by another reorganisation.")
                % {"unit": ward.title, "code": ward.code, "effective": f"{effective:%d/%m/%Y}"}
            )


def _share(part: float, whole: float) -> str:
    """A share as people read it: "12.5 %"."""
    return f"{100 * part / whole:.1f} %" if whole else "100 %"


def _significant(area: float, reference: float) -> bool:
    """Whether an overlap or gap is more than drawing noise."""
    return area > max(AREA_TOLERANCE * reference, 1e-12)


def _geometry_checked(
    units: dict[str, NewUnit],
    old: dict[str, Ward],
    into: dict[int, list[tuple[str, str]]],
    effective: date,
    problems: list[str],
) -> None:
    """The new units overlap neither each other nor the units that stay, and cover every
    old unit that has a boundary (one without cannot be checked)."""
    codes = sorted(units)
    shapes = [units[code].shape for code in codes]
    tree = STRtree(shapes)
    for i, j in zip(*tree.query(shapes, predicate="intersects"), strict=True):
        if i >= j:
            continue
        a, b = shapes[int(i)], shapes[int(j)]
        overlap = a.intersection(b).area
        smaller = min(a.area, b.area)
        if _significant(overlap, smaller):
            problems.append(
                _("The new units %(a)s and %(b)s overlap (%(share)s of the smaller).")
                % {"a": codes[int(i)], "b": codes[int(j)], "share": _share(overlap, smaller)}
            )
    existing = [unit.existing.pk for unit in units.values() if unit.existing is not None]
    staying = (
        Ward.objects.current(effective)
        .exclude(pk__in=[ward.pk for ward in old.values()] + existing)
        .exclude(boundary=None)
    )
    for ward in staying.only("pk", "code", "name", "kind", "boundary"):
        try:
            area = boundary_shape(ward.boundary)
        except GeometryError:
            continue
        for i in tree.query(area, predicate="intersects"):
            overlap = shapes[int(i)].intersection(area).area
            if _significant(overlap, min(area.area, shapes[int(i)].area)):
                problems.append(
                    _(
                        "The new unit %(new)s overlaps %(unit)s (%(code)s), which stays in "
                        "force (%(share)s of it)."
                    )
                    % {
                        "new": codes[int(i)],
                        "unit": ward.title,
                        "code": ward.code,
                        "share": _share(overlap, area.area),
                    }
                )
    for ward in old.values():
        if ward.boundary is None or ward.pk not in into:
            continue
        try:
            area = boundary_shape(ward.boundary)
        except GeometryError:
            continue
        parts = [(code, transfer) for code, transfer in into[ward.pk] if code in units]
        if not parts:
            continue
        union = shapely.union_all([units[code].shape for code, _transfer in parts])
        uncovered = area.difference(union).area
        if _significant(uncovered, area.area):
            problems.append(
                _(
                    "%(share)s of %(unit)s (%(code)s) lies in none of the units it goes into "
                    "(%(codes)s)."
                )
                % {
                    "share": _share(uncovered, area.area),
                    "unit": ward.title,
                    "code": ward.code,
                    "codes": ", ".join(code for code, _transfer in parts),
                }
            )
        for code, transfer in parts:
            shared = area.intersection(units[code].shape).area
            if transfer == Transfer.PART and not _significant(shared, area.area):
                problems.append(
                    _("%(unit)s (%(code)s) goes in part into %(new)s, but they share no land.")
                    % {"unit": ward.title, "code": ward.code, "new": code}
                )
