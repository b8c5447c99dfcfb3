"""Every spatial question the platform asks, on shapely (DESIGN.md, "Geography").

Coordinates are WGS84; GeoJSON output puts longitude first (RFC 7946). Ward lookup uses
an STRtree over the current wards' boundaries, built once per process and rebuilt when a
ward changes (the change bumps a generation number in the shared cache, so every web
process and worker notices within ``INDEX_CHECK_SECONDS``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

import shapely
from django.core.cache import cache
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from shapely.geometry import MultiPolygon, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

logger = logging.getLogger(__name__)

EARTH_RADIUS_M = 6_371_008.8
INDEX_CHECK_SECONDS = 5.0
_GENERATION_KEY = "geo:wards:generation"


class GeometryError(ValueError):
    """A geometry or coordinate that cannot be used, with a message a person can act on."""


class BBox(NamedTuple):
    """A longitude/latitude box, west-south-east-north as in GeoJSON and ``?bbox=``."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


def coordinate(value: float | Decimal) -> Decimal:
    """A coordinate as stored: a Decimal with 6 places (about 11 cm)."""
    return Decimal(f"{float(value):.6f}")


def point(lon: float | Decimal, lat: float | Decimal) -> dict[str, Any]:
    """A GeoJSON Point, longitude first."""
    return {"type": "Point", "coordinates": [round(float(lon), 6), round(float(lat), 6)]}


def feature(
    geometry: dict[str, Any] | None, properties: dict[str, Any], feature_id: str | None = None
) -> dict[str, Any]:
    """A GeoJSON Feature."""
    result: dict[str, Any] = {"type": "Feature", "geometry": geometry, "properties": properties}
    if feature_id is not None:
        result["id"] = feature_id
    return result


def feature_collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection."""
    return {"type": "FeatureCollection", "features": features}


def check_lon_lat(lon: float, lat: float) -> None:
    """Refuse coordinates outside WGS84's range (or not numbers at all)."""
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise GeometryError("Coordinates must be finite numbers.")
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise GeometryError(
            "Longitude must be between -180 and 180 and latitude between -90 and 90 "
            "(GeoJSON order is longitude, latitude)."
        )


def parse_bbox(text: str) -> BBox:
    """Parse ``minLon,minLat,maxLon,maxLat`` into a box, with a clear error when malformed."""
    parts = text.split(",")
    if len(parts) != 4:
        raise GeometryError("bbox needs four numbers: minLon,minLat,maxLon,maxLat.")
    try:
        min_lon, min_lat, max_lon, max_lat = (float(part) for part in parts)
    except ValueError as exc:
        raise GeometryError("bbox needs four numbers: minLon,minLat,maxLon,maxLat.") from exc
    check_lon_lat(min_lon, min_lat)
    check_lon_lat(max_lon, max_lat)
    if min_lon > max_lon or min_lat > max_lat:
        raise GeometryError("bbox minimums must not exceed its maximums.")
    return BBox(min_lon, min_lat, max_lon, max_lat)


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine; well under 0.5 % error at city scale)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def box_around(lon: float, lat: float, radius_m: float) -> BBox:
    """The box that holds every point within ``radius_m`` of a place: the cheap, indexed
    first filter of a "nearby" query, before the exact ``distance_m``."""
    dlat = radius_m / 111_320
    dlon = radius_m / (111_320 * max(0.1, math.cos(math.radians(lat))))
    return BBox(lon - dlon, lat - dlat, lon + dlon, lat + dlat)


def nearest(
    rows: QuerySet[Any],
    *,
    lon: float,
    lat: float,
    radius_m: float,
    limit: int,
    scan: int,
    fields: tuple[str, str] = ("longitude", "latitude"),
) -> list[tuple[Any, float]]:
    """The rows of ``rows`` within ``radius_m`` of a place, nearest first, each with its
    distance in metres, at most ``limit``: the one "nearby" query of the platform.

    The box on the indexed coordinate ``fields`` (lookups such as ``device__latitude``
    work) narrows the rows in the database; the exact distance is then taken over at
    most ``scan`` of them. Rows may be model instances or ``values()`` dicts.
    """
    lon_field, lat_field = fields
    box = box_around(lon, lat, radius_m)
    candidates = rows.filter(
        **{
            f"{lat_field}__range": (box.min_lat, box.max_lat),
            f"{lon_field}__range": (box.min_lon, box.max_lon),
        }
    )[:scan]
    found = []
    for row in candidates:
        distance = distance_m(
            lon, lat, float(_lookup(row, lon_field)), float(_lookup(row, lat_field))
        )
        if distance <= radius_m:
            found.append((row, distance))
    found.sort(key=lambda pair: pair[1])
    return found[:limit]


def _lookup(row: Any, path: str) -> Any:
    """A field of a row by its lookup path (``device__latitude``), on a dict or a model."""
    value = row
    for part in path.split("__"):
        value = value[part] if isinstance(value, dict) else getattr(value, part)
    return value


def boundary_shape(geometry: Any) -> Polygon | MultiPolygon:
    """A valid area from a GeoJSON Polygon or MultiPolygon, or GeometryError saying why not."""
    if not isinstance(geometry, dict) or geometry.get("type") not in {"Polygon", "MultiPolygon"}:
        raise GeometryError(_("A ward boundary must be a GeoJSON Polygon or MultiPolygon."))
    try:
        geom = shape(geometry)
    except (
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        IndexError,
        shapely.errors.ShapelyError,
    ) as exc:
        raise GeometryError(
            _("The boundary's coordinates cannot be read: %(problem)s.") % {"problem": exc}
        ) from exc
    if geom.is_empty:
        raise GeometryError(_("The boundary is empty."))
    minx, miny, maxx, maxy = geom.bounds
    check_lon_lat(minx, miny)
    check_lon_lat(maxx, maxy)
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        raise GeometryError(
            _("The boundary is not a valid polygon (%(reason)s).") % {"reason": reason}
        )
    assert isinstance(geom, Polygon | MultiPolygon)
    return geom


def inner_point(geom: BaseGeometry) -> tuple[float, float]:
    """A point for the label: the centroid when it lies inside, else a point surely inside."""
    centroid = geom.centroid
    chosen = centroid if geom.contains(centroid) else geom.representative_point()
    return round(chosen.x, 6), round(chosen.y, 6)


def to_geojson(geom: BaseGeometry, precision: int = 6) -> dict[str, Any]:
    """A shapely geometry as a GeoJSON geometry dict, coordinates rounded."""
    rounded = shapely.set_precision(geom, 10**-precision)
    mapping: dict[str, Any] = shapely.geometry.mapping(rounded)
    return _as_lists(mapping)


def _as_lists(value: Any) -> Any:
    """shapely's mapping() uses tuples; JSON fields and tests expect lists."""
    if isinstance(value, dict):
        return {key: _as_lists(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_as_lists(item) for item in value]
    return value


@dataclass(frozen=True)
class WardIndex:
    """The current wards' boundaries in an STRtree, for point-in-ward lookups."""

    codes: tuple[str, ...]
    shapes: tuple[BaseGeometry, ...]
    tree: STRtree

    def ward_at(self, lon: float, lat: float) -> str | None:
        """The code of the ward containing the point (on a shared edge, the first by code)."""
        hits = self.tree.query(Point(lon, lat), predicate="intersects")
        if len(hits) == 0:
            return None
        return min(self.codes[int(i)] for i in hits)

    @property
    def outline(self) -> BaseGeometry:
        """The union of all wards: the city's outline."""
        return shapely.union_all(list(self.shapes))


_lock = threading.Lock()
# Set when this thread saved a ward whose transaction has not committed yet: an index built
# now must not be cached (the transaction may still roll back).
_uncommitted = threading.local()
_index: WardIndex | None = None
_index_generation: str | None = None
_index_checked_at = 0.0


def build_ward_index() -> WardIndex:
    """Read the current wards' boundaries from the database into a fresh index."""
    from ioc.models import Ward

    codes: list[str] = []
    shapes: list[BaseGeometry] = []
    for code, boundary in (
        Ward.objects.current()
        .filter(boundary__isnull=False)
        .values_list("code", "boundary")
        .order_by("code")
    ):
        try:
            shapes.append(boundary_shape(boundary))
        except GeometryError:
            continue  # import_wards refuses these; an admin edit might still let one in
        codes.append(code)
    return WardIndex(tuple(codes), tuple(shapes), STRtree(shapes))


def ward_index() -> WardIndex:
    """The cached index, rebuilt when another process reported a ward change."""
    global _index, _index_generation, _index_checked_at
    if getattr(_uncommitted, "changed", False):
        from django.db import connection

        if connection.in_atomic_block:
            return build_ward_index()  # this transaction's own view, never cached
        # The change was rolled back (a commit would have cleared the flag): start afresh.
        _uncommitted.changed = False
        with _lock:
            _index = None
    now = time.monotonic()
    with _lock:
        if _index is not None and now - _index_checked_at < INDEX_CHECK_SECONDS:
            return _index
        try:
            generation = cache.get(_GENERATION_KEY)
        except Exception:  # Redis away: keep the index we have; ask again next time
            logger.warning("geo: ward index generation unavailable", exc_info=True)
            generation = _index_generation
        if _index is None or generation != _index_generation:
            _index = build_ward_index()
            _index_generation = generation
        _index_checked_at = now
        return _index


def invalidate_ward_index() -> None:
    """Forget the index here and tell every other process to rebuild theirs."""
    global _index
    try:
        cache.set(_GENERATION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:  # Redis away: other processes rebuild when it answers again (an
        # emptied Redis has lost the generation they compare with)
        logger.warning("geo: could not tell other processes the wards changed", exc_info=True)
    _uncommitted.changed = False
    with _lock:
        _index = None


def ward_changed_in_transaction() -> None:
    """Called when a ward is saved: lookups in this transaction see the change at once,
    other processes once it commits."""
    from django.db import transaction

    _uncommitted.changed = True
    transaction.on_commit(invalidate_ward_index)


def ward_for_point(lon: float | Decimal, lat: float | Decimal) -> str | None:
    """The code of the current ward containing a point, or None outside the city."""
    lon_f, lat_f = float(lon), float(lat)
    check_lon_lat(lon_f, lat_f)
    return ward_index().ward_at(lon_f, lat_f)
