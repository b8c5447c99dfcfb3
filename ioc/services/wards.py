"""Writes of administrative units: importing wards and communes from GeoJSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

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
        problems.append(f"{label}: '{value}' is not a date (use YYYY-MM-DD).")
        return None


def _ward_values(index: int, feature: Any, problems: list[str]) -> dict[str, Any] | None:
    """The ward fields of one GeoJSON feature, or None (with problems noted) if unusable."""
    where = f"feature {index + 1}"
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        problems.append(f"{where}: not a GeoJSON Feature.")
        return None
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        problems.append(f"{where}: properties must be an object.")
        return None
    code = str(props.get("code") or "").strip()
    name = str(props.get("name") or "").strip()
    if code:
        where = f"feature {index + 1} ({code})"
    if not code or not name:
        problems.append(f"{where}: properties 'code' and 'name' are required.")
        return None
    kind = KIND_ALIASES.get(str(props.get("kind") or "").strip().lower())
    if kind is None:
        problems.append(f"{where}: 'kind' must be one of phuong, xa, thi_tran.")
        return None
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
        "successor": str(props.get("successor") or "").strip(),
    }
    for key in ("parent_code", "parent_name", "province_code", "province_name"):
        values[key] = str(props.get(key) or "").strip()
    if len(code) > 16 or len(name) > 120:
        problems.append(f"{where}: 'code' may have 16 characters and 'name' 120 at most.")
    if values["valid_from"] and values["valid_to"] and values["valid_to"] <= values["valid_from"]:
        problems.append(f"{where}: valid_to must be after valid_from.")
    return values


def _differences(ward: Ward, values: dict[str, Any], successor_code: str) -> list[str]:
    """The names of the fields whose imported value differs from the stored one."""
    changed = [name for name in WARD_IMPORT_FIELDS if getattr(ward, name) != values[name]]
    current_successor = ward.successor.code if ward.successor_id and ward.successor else ""
    if current_successor != successor_code:
        changed.append("successor")
    return changed


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


# One planned change: the ward as it will be saved, its successor's code, the names of
# the fields that change (["created"] for a new ward) and its audit "before".
PlannedWard = tuple[Ward, str, list[str], dict[str, Any] | None]


def wards_import(
    *, collection: Any, actor: User | None = None, actor_label: str = "", dry_run: bool = False
) -> WardImportReport:
    """Create or update wards from a GeoJSON FeatureCollection, matched by code.

    All or nothing: every feature is checked first (including the model's own validation),
    and any problem raises WardImportError without changing a row. A dry run reports
    exactly what a real run would change.
    """
    problems: list[str] = []
    rows = _rows_checked(collection, problems)
    report = WardImportReport()
    plan = _plan(rows, problems, report)
    if problems:
        raise WardImportError(problems)
    if not dry_run:
        _apply(plan, actor, actor_label)
    return report


def _rows_checked(collection: Any, problems: list[str]) -> list[dict[str, Any]]:
    """The features' ward values; what is wrong with them goes to ``problems``."""
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise WardImportError(["The file must be a GeoJSON FeatureCollection."])
    features = collection.get("features")
    if not isinstance(features, list) or not features:
        raise WardImportError(["The FeatureCollection has no features."])
    parsed = [_ward_values(i, feature, problems) for i, feature in enumerate(features)]
    rows = [row for row in parsed if row is not None]
    codes = [row["code"] for row in rows]
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    if duplicates:
        problems.append(f"codes appear more than once: {', '.join(duplicates)}.")
    known = set(Ward.objects.values_list("code", flat=True)) | set(codes)
    for row in rows:
        if row["successor"] and row["successor"] not in known:
            problems.append(f"ward {row['code']}: successor '{row['successor']}' is unknown.")
        if row["successor"] == row["code"]:
            problems.append(f"ward {row['code']}: a ward cannot be merged into itself.")
    return rows


def _plan(
    rows: list[dict[str, Any]], problems: list[str], report: WardImportReport
) -> list[PlannedWard]:
    """Every change, validating each ward as it would be saved, and the report of them."""
    existing = {
        ward.code: ward
        for ward in Ward.objects.filter(code__in=[row["code"] for row in rows]).select_related(
            "successor"
        )
    }
    plan: list[PlannedWard] = []
    for row in rows:
        successor_code = row.pop("successor")
        ward = existing.get(row["code"])
        if ward is None:
            ward, changed, before = Ward(**row), ["created"], None
        else:
            changed = _differences(ward, row, successor_code)
            before = snapshot(ward, exclude=("boundary",)) if changed else None
            for name in changed:
                if name != "successor":
                    setattr(ward, name, row[name])
        try:
            ward.full_clean(exclude=["successor"], validate_unique=False)
        except ValidationError as exc:
            for field_name, messages in exc.message_dict.items():
                problems.append(f"ward {row['code']}: {field_name}: {' '.join(messages)}")
        plan.append((ward, successor_code, changed, before))
        if changed == ["created"]:
            report.created.append(ward.code)
        elif changed:
            report.updated[ward.code] = changed
        else:
            report.unchanged.append(ward.code)
    return plan


@transaction.atomic
def _apply(plan: list[PlannedWard], actor: User | None, actor_label: str) -> None:
    """Save the planned wards, then their successors (which may be new wards), then audit."""
    for ward, _successor, changed, _before in plan:
        if changed == ["created"]:
            ward.save()
        elif [name for name in changed if name != "successor"]:
            ward.save(update_fields=[*(n for n in changed if n != "successor"), "updated_at"])
    by_code = {ward.code: ward for ward, *_rest in plan}
    for ward, successor_code, changed, _before in plan:
        if changed == ["created"] or "successor" in changed:
            target = by_code.get(successor_code) or (
                Ward.objects.get(code=successor_code) if successor_code else None
            )
            if ward.successor_id != (target.pk if target else None):
                ward.successor = target
                ward.save(update_fields=["successor", "updated_at"])
    for ward, _successor, changed, before in plan:
        if changed == ["created"]:
            _audit_ward(ward, "ward.created", None, actor, actor_label)
        elif changed:
            _audit_ward(ward, "ward.updated", before, actor, actor_label)
