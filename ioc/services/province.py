"""Writes of the official list: an installation's province and all its units
(``manage.py load_province``), from ``ioc.provinces``.

A unit of the list is created in force from 1 July 2025, without a boundary (one comes
later from ``import_wards``); the unit of its code in force today, if there is one, is
brought to the list's name and kind instead, never duplicated. Units of the province the
list no longer names are reported and left alone: ending a unit is a reorganisation's
work, not a list's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.core.exceptions import ValidationError
from django.utils import timezone

from ioc.models import User, Ward
from ioc.provinces import (
    REFORM_DATE,
    OfficialProvince,
    OfficialUnit,
    official_province,
    official_units,
)
from ioc.services.audit import snapshot
from ioc.services.wards import PlannedWard, code_collisions, wards_apply

# The fields the official list sets on a unit; boundaries, periods and former districts
# are not the list's to say.
LISTED_FIELDS = ("name", "kind", "province_code", "province_name")


class ProvinceLoadError(Exception):
    """The list cannot be loaded as the database stands; ``problems`` says why. Nothing
    was changed."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class ProvinceLoadReport:
    """What loading a province did (or, in a dry run, would do)."""

    province: OfficialProvince
    created: list[str] = field(default_factory=list)
    updated: dict[str, list[str]] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    # Units of the province in force today whose code the list does not have.
    not_listed: list[str] = field(default_factory=list)


def province_load(
    *,
    code: str,
    actor: User | None = None,
    actor_label: str = "",
    dry_run: bool = False,
) -> ProvinceLoadReport:
    """Create or update every commune-level unit of province ``code`` from the official
    list; running it again changes nothing. ``ioc.provinces.ProvinceUnknown`` for a code
    the list does not have; ProvinceLoadError (nothing changed) when a unit cannot be
    written. Each change is audited like an import's."""
    province = official_province(code)
    units = official_units(province.code)
    report = ProvinceLoadReport(province)
    problems: list[str] = []
    plan = _plan(province, units, problems, report)
    problems += code_collisions([ward for ward, changed, _before in plan if changed])
    if problems:
        raise ProvinceLoadError(problems)
    listed = {unit.code for unit in units}
    report.not_listed = sorted(
        Ward.objects.current(_day())
        .filter(province_code=province.code)
        .exclude(code__in=listed)
        .values_list("code", flat=True)
    )
    if not dry_run:
        wards_apply(plan, actor=actor, actor_label=actor_label)
    return report


def _day() -> date:
    """The day whose units the list's codes name: today, or the reform's first day if
    the clock is before it."""
    return max(timezone.localdate(), REFORM_DATE)


def _plan(
    province: OfficialProvince,
    units: list[OfficialUnit],
    problems: list[str],
    report: ProvinceLoadReport,
) -> list[PlannedWard]:
    """Every unit as it will be saved, checked, with what changes (see ``wards_apply``)."""
    in_force = {
        ward.code: ward
        for ward in Ward.objects.current(_day()).filter(code__in=[u.code for u in units])
    }
    plan: list[PlannedWard] = []
    for unit in units:
        values = {
            "name": unit.name,
            "kind": unit.kind.value,
            "province_code": province.code,
            "province_name": province.name,
        }
        ward = in_force.get(unit.code)
        if ward is not None and ward.parent_code:
            # A unit with a district is from before July 2025 (there are no districts
            # since): renaming it would put the new unit's name on the old land.
            problems.append(
                f"ward {unit.code}: '{ward.name}' of district {ward.parent_code} "
                f"({ward.parent_name}) is still in force with this code; the official list "
                f"names {unit.code} '{unit.name}' since {REFORM_DATE:%d/%m/%Y}. End the "
                "former units with a reorganisation first."
            )
            continue
        if ward is None:
            ward = Ward(code=unit.code, valid_from=REFORM_DATE, **values)
            changed, before = ["created"], None
            report.created.append(unit.code)
        else:
            changed = [name for name in LISTED_FIELDS if getattr(ward, name) != values[name]]
            before = snapshot(ward, exclude=("boundary",)) if changed else None
            for name in changed:
                setattr(ward, name, values[name])
            if changed:
                report.updated[unit.code] = changed
            else:
                report.unchanged.append(unit.code)
        try:
            ward.full_clean(validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            for field_name, messages in exc.message_dict.items():
                problems.append(f"ward {unit.code}: {field_name}: {' '.join(messages)}")
        plan.append((ward, changed, before))
    return plan
