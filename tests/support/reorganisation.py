"""Reorganisations built from the demo's own units, by role (own, other, third), never by
literal codes: the demo's units may change, these follow them.

``merger()`` merges the own and the third unit into one that keeps one of their codes (as
the 2025 reform did), ``split()`` cuts the own unit in two; ``reorganise(...)`` runs
``manage.py reorganise`` on such files.
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import shapely
from django.core.management import call_command
from django.utils import timezone, translation
from shapely.geometry import box

from ioc import geo
from ioc.models import Ward
from tests.support.examples import OWN_WARD, THIRD_WARD

# The name of the unit a merger makes, and the code of the new half of a split.
MERGED_NAME = "Hợp Nhất"
SPLIT_CODE = "99901"


def unit(code: str) -> Ward:
    """The unit ``code`` names today."""
    return Ward.objects.current().get(code=code)


def area(code: str) -> Any:
    """The area of the unit ``code`` names today (shapely)."""
    return geo.boundary_shape(unit(code).boundary)


def feature(code: str, name: str, geometry: Any, kind: str = "phuong") -> dict[str, Any]:
    """A plan's unit: GeoJSON (or a shapely area) with its code, name and kind."""
    mapping = geometry if isinstance(geometry, dict) else geo.to_geojson(geometry)
    properties = {"code": code, "name": name, "kind": kind}
    return {"type": "Feature", "geometry": mapping, "properties": properties}


def plan_of(*features: dict[str, Any]) -> dict[str, Any]:
    """A plan: the new units as a FeatureCollection."""
    return {"type": "FeatureCollection", "features": list(features)}


def csv_of(*rows: tuple[str, str, str]) -> str:
    """A mapping: (old code, new code, whole or part) rows under the required header."""
    return "old_code,new_code,transfer\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows)


def merger(
    keep: str = OWN_WARD, others: tuple[str, ...] = (THIRD_WARD,)
) -> tuple[dict[str, Any], str]:
    """The own unit and ``others`` (the third) merge, wholly, into one unit named
    ``MERGED_NAME`` that keeps the code ``keep``."""
    codes = (OWN_WARD, *others)
    union = shapely.union_all([area(code) for code in codes])
    plan = plan_of(feature(keep, MERGED_NAME, union))
    return plan, csv_of(*((code, keep, "whole") for code in codes))


def halves(code: str) -> tuple[Any, Any]:
    """A unit's area cut in two by the meridian through its middle: (west, east)."""
    shape = area(code)
    minx, miny, maxx, maxy = shape.bounds
    middle = (minx + maxx) / 2
    return (
        shape.intersection(box(minx - 1, miny - 1, middle, maxy + 1)),
        shape.intersection(box(middle, miny - 1, maxx + 1, maxy + 1)),
    )


def split() -> tuple[dict[str, Any], str]:
    """The own unit split in two, each part ``part``: its west keeps its code, its east is
    a new unit (``SPLIT_CODE``)."""
    west, east = halves(OWN_WARD)
    plan = plan_of(feature(OWN_WARD, "Tây", west), feature(SPLIT_CODE, "Đông", east))
    return plan, csv_of((OWN_WARD, OWN_WARD, "part"), (OWN_WARD, SPLIT_CODE, "part"))


def reorganise(
    folder: Path,
    plan: dict[str, Any] | bytes,
    mapping: str | bytes,
    effective: Any = None,
    *,
    dry_run: bool = False,
) -> str:
    """``manage.py reorganise`` on files written to ``folder`` (effective today unless
    given); its output, in English."""
    plan_path, mapping_path = folder / "plan.geojson", folder / "mapping.csv"
    plan_path.write_bytes(plan if isinstance(plan, bytes) else json.dumps(plan).encode())
    mapping_path.write_bytes(mapping if isinstance(mapping, bytes) else mapping.encode())
    out = StringIO()
    with translation.override("en"):
        call_command(
            "reorganise",
            str(plan_path),
            str(mapping_path),
            effective=str(effective or timezone.localdate()),
            dry_run=dry_run,
            stdout=out,
        )
    return out.getvalue()
