"""Writes of administrative units: importing wards and communes (and their boundaries)
from GeoJSON, effective-dated.

A feature names a unit by its code on a day: its own ``valid_from`` if it gives one, else
the import's ``on`` (default today). Units are linked to their successors only by a
reorganisation (``ioc.services.reorganise``), never by an import."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ioc.choices import WardKind
from ioc.geo import GeometryError, boundary_shape, coordinate, inner_point
from ioc.models import User, Ward
from ioc.services.audit import audit_record, snapshot

KIND_ALIASES = {
    "phuong": WardKind.PHUONG,
    "phường": WardKind.PHUONG,
    "ward": WardKind.PHUONG,
    "xa": WardKind.XA,
    "xã": WardKind.XA,
    "commune": WardKind.XA,
    "thi_tran": WardKind.THI_TRAN,
    "thị trấn": WardKind.THI_TRAN,
    "township": WardKind.THI_TRAN,
    "dac_khu": WardKind.DAC_KHU,
    "đặc khu": WardKind.DAC_KHU,
    "special zone": WardKind.DAC_KHU,
}
WARD_IMPORT_FIELDS = (
    "name",
    "kind",
    "parent_code",
    "parent_name",
    "province_code",
    "province_name",
    "boundary",
    "centroid_lat",
    "centroid_lon",
    "valid_from",
    "valid_to",
)


class WardImportError(Exception):
    """The file cannot be imported; ``problems`` says what to fix. Nothing was changed."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class WardImportReport:
    """What an import did (or, in a dry run, would do)."""

    created: list[str] = field(default_factory=list)
    updated: dict[str, list[str]] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)


def _parse_date(value: Any, label: str, problems: list[str]) -> date | None:
    """An optional ISO date from a feature property."""
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        problems.append(
            _("%(where)s: '%(value)s' is not a date (use YYYY-MM-DD).")
            % {"where": label, "value": value}
        )
        return None


def ward_values(index: int, feature: Any, problems: list[str]) -> dict[str, Any] | None:
    """The ward fields of one GeoJSON feature, or None (with problems noted) if unusable
    (an import's features, and a reorganisation's plan)."""
    where = _("feature %(n)s") % {"n": index + 1}
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        problems.append(_("%(where)s: not a GeoJSON Feature.") % {"where": where})
        return None
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        problems.append(_("%(where)s: properties must be an object.") % {"where": where})
        return None
    code = str(props.get("code") or "").strip()
    name = str(props.get("name") or "").strip()
    if code:
        where = _("feature %(n)s (%(code)s)") % {"n": index + 1, "code": code}
    if not code or not name:
        problems.append(
            _("%(where)s: properties 'code' and 'name' are required.") % {"where": where}
        )
        return None
    kind = KIND_ALIASES.get(str(props.get("kind") or "").strip().lower())
    if kind is None:
        problems.append(
            _("%(where)s: 'kind' must be one of phuong, xa, dac_khu, thi_tran.") % {"where": where}
        )
        return None
    if props.get("successor"):
        problems.append(
            _(
                "%(where)s: 'successor' is not read by an import: a reorganisation links "
                "units to their successors (manage.py reorganise)."
            )
            % {"where": where}
        )
    try:
        geom = boundary_shape(feature.get("geometry"))
    except GeometryError as exc:
        problems.append(f"{where}: {exc}")
        return None
    lon, lat = inner_point(geom)
    values: dict[str, Any] = {
        "code": code,
        "name": name,
        "kind": kind.value,
        "boundary": feature["geometry"],
        "centroid_lat": coordinate(lat),
        "centroid_lon": coordinate(lon),
        "valid_from": _parse_date(props.get("valid_from"), where, problems),
        "valid_to": _parse_date(props.get("valid_to"), where, problems),
        # A period date the feature leaves out keeps the stored unit's.
        "keep": {key for key in ("valid_from", "valid_to") if key not in props},
    }
    for key in ("parent_code", "parent_name", "province_code", "province_name"):
        values[key] = str(props.get(key) or "").strip()
    if len(code) > 16 or len(name) > 120:
        problems.append(
            _("%(where)s: 'code' may have 16 characters and 'name' 120 at most.") % {"where": where}
        )
    if values["valid_from"] and values["valid_to"] and values["valid_to"] <= values["valid_from"]:
        problems.append(_("%(where)s: valid_to must be after valid_from.") % {"where": where})
    return values


def _differences(ward: Ward, values: dict[str, Any]) -> list[str]:
    """The names of the fields whose imported value differs from the stored one."""
    return [name for name in WARD_IMPORT_FIELDS if getattr(ward, name) != values[name]]


def _audit_ward(
    ward: Ward, action: str, before: dict[str, Any] | None, actor: User | None, label: str
) -> None:
    """The audit entry of one imported ward (the boundary is left out: it is large)."""
    audit_record(
        actor=actor,
        actor_label=label,
        action=action,
        obj=ward,
        before=before,
        after=snapshot(ward, exclude=("boundary",)),
        ward_code=ward.code,
    )


# One planned change: the ward as it will be saved, the names of the fields that change
# (["created"] for a new ward) and its audit "before".
PlannedWard = tuple[Ward, list[str], dict[str, Any] | None]


def wards_import(
    *,
    collection: Any,
    on: date | None = None,
    actor: User | None = None,
    actor_label: str = "",
    dry_run: bool = False,
) -> WardImportReport:
    """Create or update units from a GeoJSON FeatureCollection.

    A feature with ``valid_from`` is the unit of that code starting that day; one without
    is the unit of that code in force on ``on`` (default today), created if there is none.
    All or nothing: every feature is checked first (the model's own validation, and no two
    units of one code in force on the same day), and any problem raises WardImportError
    without changing a row. A dry run reports exactly what a real run would change.
    """
    problems: list[str] = []
    rows = _rows_checked(collection, problems)
    report = WardImportReport()
    plan = _plan(rows, on or timezone.localdate(), problems, report)
    problems += code_collisions([ward for ward, changed, _before in plan if changed])
    if problems:
        raise WardImportError(problems)
    if not dry_run:
        wards_apply(plan, actor=actor, actor_label=actor_label)
    return report


def _rows_checked(collection: Any, problems: list[str]) -> list[dict[str, Any]]:
    """The features' ward values; what is wrong with them goes to ``problems``."""
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise WardImportError([_("The file must be a GeoJSON FeatureCollection.")])
    features = collection.get("features")
    if not isinstance(features, list) or not features:
        raise WardImportError([_("The FeatureCollection has no features.")])
    parsed = [ward_values(i, feature, problems) for i, feature in enumerate(features)]
    rows = [row for row in parsed if row is not None]
    keys = [(row["code"], row["valid_from"]) for row in rows]
    duplicates = sorted({code for code, start in keys if keys.count((code, start)) > 1})
    if duplicates:
        problems.append(
            _("codes appear more than once: %(codes)s.") % {"codes": ", ".join(duplicates)}
        )
    return rows


def _matching_unit(row: dict[str, Any], on: date) -> Ward | None:
    """The stored unit a feature names: same code and start, or in force on ``on``."""
    same_code = Ward.objects.filter(code=row["code"])
    if row["valid_from"] is not None:
        return same_code.filter(valid_from=row["valid_from"]).first()
    return same_code.current(on).first()


def periods_overlap(a: Ward, b: Ward) -> bool:
    """Whether two units' periods in force share a day."""
    a_from, b_from = a.valid_from or date.min, b.valid_from or date.min
    a_to, b_to = a.valid_to or date.max, b.valid_to or date.max
    return a_from < b_to and b_from < a_to


def code_collisions(units: list[Ward], *, ending: Mapping[int, date] | None = None) -> list[str]:
    """Problems where two of ``units``, or one of them and a stored unit, would share a
    code on some day (a code names one unit a day). ``ending``: stored units (by id) that
    will end on a day, compared as they will be (a reorganisation retiring them)."""
    problems: list[str] = []
    codes = {unit.code for unit in units}
    stored = [w for w in Ward.objects.filter(code__in=codes) if w.pk not in {u.pk for u in units}]
    for ward in stored:
        if ending and ward.pk in ending:
            ward.valid_to = ending[ward.pk]
    for i, unit in enumerate(units):
        for other in [*units[i + 1 :], *stored]:
            if other.code == unit.code and periods_overlap(unit, other):
                problems.append(
                    _(
                        "ward %(code)s: '%(name)s' and '%(other)s' would both be in force "
                        "with code %(code)s (%(period)s and %(other_period)s)."
                    )
                    % {
                        "code": unit.code,
                        "name": unit.name,
                        "other": other.name,
                        "period": _period(unit),
                        "other_period": _period(other),
                    }
                )
    return problems


def _period(unit: Ward) -> str:
    start = f"{unit.valid_from:%d/%m/%Y}" if unit.valid_from else "…"
    end = f"{unit.valid_to:%d/%m/%Y}" if unit.valid_to else "…"
    return f"{start}–{end}"


def _plan(
    rows: list[dict[str, Any]], on: date, problems: list[str], report: WardImportReport
) -> list[PlannedWard]:
    """Every change, validating each ward as it would be saved, and the report of them."""
    plan: list[PlannedWard] = []
    for row in rows:
        keep = row.pop("keep")
        ward = _matching_unit(row, on)
        if ward is None:
            ward, changed, before = Ward(**row), ["created"], None
        else:
            for key in keep:
                row[key] = getattr(ward, key)
            changed = _differences(ward, row)
            before = snapshot(ward, exclude=("boundary",)) if changed else None
            for name in changed:
                setattr(ward, name, row[name])
        try:
            ward.full_clean(validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            for field_name, messages in exc.message_dict.items():
                problems.append(
                    _("ward %(code)s: %(field)s: %(problem)s")
                    % {"code": row["code"], "field": field_name, "problem": " ".join(messages)}
                )
        plan.append((ward, changed, before))
        if changed == ["created"]:
            report.created.append(ward.code)
        elif changed:
            report.updated[ward.code] = changed
        else:
            report.unchanged.append(ward.code)
    return plan


@transaction.atomic
def wards_apply(plan: list[PlannedWard], *, actor: User | None, actor_label: str) -> None:
    """Save planned units (created, or updated in the fields named), then audit each change:
    the last step of every service that writes units from a list (an import, the official
    list of a province)."""
    for ward, changed, _before in plan:
        if changed == ["created"]:
            ward.save()
        elif changed:
            ward.save(update_fields=[*changed, "updated_at"])
    for ward, changed, before in plan:
        if changed == ["created"]:
            _audit_ward(ward, "ward.created", None, actor, actor_label)
        elif changed:
            _audit_ward(ward, "ward.updated", before, actor, actor_label)
