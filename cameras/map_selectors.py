"""Reads of the live map at city scale (50,000 devices): viewport rows, grid aggregation
and search, scoped by ward. Split from ``cameras.selectors`` (past 400 lines, STYLE.md).

Every function here is one or two queries over ``values()`` rows (no model instances,
no per-object serializer), filtered on the indexed latitude/longitude and ward columns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import (
    Avg,
    BigIntegerField,
    Case,
    Count,
    F,
    FloatField,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Floor

from cameras.choices import DeviceKind, DeviceStatus
from cameras.models import Device
from cameras.selectors import devices_visible_to
from ioc import geo
from ioc.selectors import AnyUser, wards_named

# The columns of a map row, in the order of the compact endpoint's arrays.
MAP_FIELDS = ("code", "name", "kind", "status", "ward", "lat", "lon", "last_seen_at")
SEARCH_LIMIT = 20
GRID_COLUMNS_DEFAULT = 48
GRID_COLUMNS_MAX = 200


class MapQueryError(ValueError):
    """A map query parameter that cannot be used, with a message for the caller (400)."""


@dataclass(frozen=True)
class MapQuery:
    """What a map request narrows devices to: a box, kinds, statuses and a ward."""

    bbox: geo.BBox | None = None
    kinds: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    ward: str = ""


def map_query_parse(params: Mapping[str, Any]) -> MapQuery:
    """A MapQuery from query parameters; MapQueryError saying what is wrong otherwise."""
    bbox = None
    if bbox_text := str(params.get("bbox") or "").strip():
        try:
            bbox = geo.parse_bbox(bbox_text)
        except geo.GeometryError as exc:
            raise MapQueryError(str(exc)) from exc
    values: dict[str, tuple[str, ...]] = {}
    for name, allowed in (("kind", DeviceKind.values), ("status", DeviceStatus.values)):
        # One value, or several separated by commas (the map's layer toggles).
        chosen = tuple(v.strip() for v in str(params.get(name) or "").split(",") if v.strip())
        if any(value not in allowed for value in chosen):
            raise MapQueryError(f"{name} must be one of: {', '.join(allowed)}.")
        values[name] = chosen
    ward = str(params.get("ward") or "").strip()[:20]
    return MapQuery(bbox=bbox, kinds=values["kind"], statuses=values["status"], ward=ward)


def devices_on_map(user: AnyUser, query: MapQuery) -> QuerySet[Device]:
    """The devices ``user`` may see that match ``query`` (no ordering, no joins yet)."""
    queryset = devices_visible_to(user).select_related(None).order_by()
    if box := query.bbox:
        queryset = queryset.filter(
            latitude__gte=geo.coordinate(box.min_lat),
            latitude__lte=geo.coordinate(box.max_lat),
            longitude__gte=geo.coordinate(box.min_lon),
            longitude__lte=geo.coordinate(box.max_lon),
        )
    if query.kinds:
        queryset = queryset.filter(kind__in=query.kinds)
    if query.statuses:
        queryset = queryset.filter(status__in=query.statuses)
    if query.ward:
        queryset = queryset.filter(ward__in=wards_named(query.ward))
    return queryset


def _map_rows(queryset: QuerySet[Device], *extra: str) -> QuerySet[Device, tuple[Any, ...]]:
    """Rows in MAP_FIELDS order (then the ``extra`` annotations); coordinates cast to
    floats in SQL (no Decimal objects).

    Every column is an annotation, so the SQL selects exactly these, in this order (what
    ``device_map_rows`` relies on when it runs the SQL itself)."""
    return queryset.annotate(
        map_code=F("code"),
        map_name=F("name"),
        map_kind=F("kind"),
        map_status=F("status"),
        map_ward=F("ward__code"),
        lat=Cast("latitude", FloatField()),
        lon=Cast("longitude", FloatField()),
        map_seen=F("last_seen_at"),
    ).values_list(
        "map_code",
        "map_name",
        "map_kind",
        "map_status",
        "map_ward",
        "lat",
        "lon",
        "map_seen",
        *extra,
    )


def device_map_rows(user: AnyUser, query: MapQuery) -> list[tuple[Any, ...]]:
    """Every matching device as a MAP_FIELDS tuple, in one query. Not ``iterator()``: on
    PostgreSQL outside a transaction that declares a WITH HOLD cursor, which materialises
    the whole result first and then fetches it in several round trips.

    On PostgreSQL the compiled SQL runs on a plain cursor: psycopg2's rows are already the
    tuples wanted (floats, aware datetimes), and skipping the ORM's row handling saves
    about a third of the time for 50,000 devices. Elsewhere (SQLite) the ORM converts."""
    rows = _map_rows(devices_on_map(user, query))
    if connection.vendor != "postgresql":
        return list(rows)
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# One GeoJSON feature, written by PostgreSQL from the columns of ``_map_rows`` (``m``): text
# values through to_json (JSON's escaping), coordinates as float8 text (the shortest exact
# form, as Python's repr), last_seen_at in UTC as orjson writes it (no fraction when whole).
# The start of it (up to the ward) is kept on the row by a trigger (``map_feature``,
# migration cameras 0004): only status and last_seen_at, which change all day, are written
# per request. ``_FEATURE_HEAD_SQL`` writes the same start, for a row without it.
_FEATURE_HEAD_SQL = (
    """'{"type":"Feature","id":' || to_json(m.map_code)::text"""
    """ || ',"geometry":{"type":"Point","coordinates":[' || m.lon::text || ',' || m.lat::text"""
    """ || ']},"properties":{"code":' || to_json(m.map_code)::text"""
    """ || ',"name":' || to_json(m.map_name)::text"""
    """ || ',"kind":' || to_json(m.map_kind)::text"""
    """ || ',"ward":' || coalesce(to_json(m.map_ward)::text, 'null')"""
)
_FEATURE_SQL = (
    f"coalesce(m.map_head, {_FEATURE_HEAD_SQL})"
    """ || ',"status":' || to_json(m.map_status)::text"""
    """ || ',"last_seen_at":' || CASE WHEN m.map_seen IS NULL THEN 'null' ELSE"""
    """ '"' || to_char(m.map_seen AT TIME ZONE 'UTC', CASE WHEN"""
    """ mod(date_part('microseconds', m.map_seen)::bigint, 1000000) = 0"""
    """ THEN 'YYYY-MM-DD"T"HH24:MI:SS' ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US' END)"""
    """ || '+00:00"' END || '}}'"""
)
# Let the planner spread the rows over parallel workers for this statement only: scanning
# 50,000 rows and finishing their features goes about a third faster on both cores, even
# with the start of each kept on the row (SET LOCAL ends with the statement's implicit
# transaction, or with the caller's). Not for a street-level view: starting the workers
# costs more than the few thousand features it holds.
PARALLEL_MIN_BOX_DEGREES2 = 0.01  # about 10 km by 10 km
_PARALLEL = (
    "SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0; "
    "SET LOCAL min_parallel_table_scan_size = 0; "
)


def _parallel_for(query: MapQuery) -> str:
    """``_PARALLEL`` for a city-wide view, nothing for a street-level one."""
    box = query.bbox
    area = (box.max_lon - box.min_lon) * (box.max_lat - box.min_lat) if box else math.inf
    return _PARALLEL if area >= PARALLEL_MIN_BOX_DEGREES2 else ""


def device_features(user: AnyUser, query: MapQuery) -> bytes | None:
    """On PostgreSQL, every matching device as a GeoJSON feature, written by the database
    and joined with commas, as UTF-8 (one query; for 50,000 devices a fraction of the time
    of reading the rows and writing them in Python). None elsewhere: the caller writes
    them from ``device_map_rows``."""
    if connection.vendor != "postgresql":
        return None
    import psycopg2.extensions

    # The column the trigger keeps (not a model field); a constant name, no input.
    head = RawSQL(f'"{Device._meta.db_table}"."map_feature"', ())  # noqa: S611
    devices = devices_on_map(user, query).annotate(map_head=head)
    sql, params = _map_rows(devices, "map_head").query.sql_with_params()
    parallel = _parallel_for(query)
    with connection.cursor() as cursor:
        # Text as the bytes the server sent (UTF-8): the response is bytes, so 12 MB are
        # neither decoded nor encoded again (this cursor only).
        psycopg2.extensions.register_type(psycopg2.extensions.BYTES, cursor.cursor)
        # The inner SQL is compiled by the ORM with its values as parameters.
        cursor.execute(f"{parallel}SELECT {_FEATURE_SQL} FROM ({sql}) AS m", params)  # noqa: S608
        return b",".join(row[0] for row in cursor.fetchall())


def device_map_count(user: AnyUser, query: MapQuery) -> int:
    """How many devices match ``query`` (one count on the indexed columns)."""
    return devices_on_map(user, query).count()


def grid_cell_degrees(box: geo.BBox | None, columns: int) -> float:
    """The side of a grid cell: about ``columns`` across the box, rounded to a power of two
    so that cells stay put while the map pans and change only when it zooms."""
    width = (box.max_lon - box.min_lon) if box else 360.0
    raw = max(width, 1e-6) / max(1, columns)
    return float(2.0 ** math.ceil(math.log2(raw)))


# The columns of a grid row, in order (each an annotation: see ``_map_rows``).
_GRID_COLUMNS = ("cx", "cy", "count", "lat", "lon", *(f"n_{s}" for s in DeviceStatus.values))


def device_grid(user: AnyUser, query: MapQuery, *, columns: int) -> dict[str, Any]:
    """Matching devices aggregated into square cells: each cell's device count, counts by
    status and mean position, from one GROUP BY query (whatever the number of devices).

    Grouped by cell alone, the statuses counted with FILTER. PostgreSQL cannot estimate
    how many cells there are (it guesses 40,000 for 120), so it would sort every device,
    on disk, before grouping: on PostgreSQL the statement runs with sorting priced out
    (hashed instead) and, for a city-wide view, on parallel workers. City view with
    50,000 devices, the statement alone: 85 -> 44 ms (median, one run), against grouping
    by cell and status."""
    size = grid_cell_degrees(query.bbox, columns)
    rows = (
        devices_on_map(user, query)
        .annotate(
            cx=Cast(Floor(Cast("longitude", FloatField()) / Value(size)), BigIntegerField()),
            cy=Cast(Floor(Cast("latitude", FloatField()) / Value(size)), BigIntegerField()),
        )
        .values("cx", "cy")
        .annotate(
            count=Count("id"),
            lat=Avg(Cast("latitude", FloatField())),
            lon=Avg(Cast("longitude", FloatField())),
            **{f"n_{s}": Count("id", filter=Q(status=s)) for s in DeviceStatus.values},
        )
        .order_by()  # no ORDER BY: it leads the planner to sort before grouping
        .values_list(*_GRID_COLUMNS)
    )
    if connection.vendor == "postgresql":
        sql, params = rows.query.sql_with_params()
        with connection.cursor() as cursor:
            prefix = "SET LOCAL enable_sort = off; " + _parallel_for(query)
            cursor.execute(prefix + sql, params)
            found = cursor.fetchall()
    else:
        found = list(rows)
    statuses = DeviceStatus.values
    cells = []
    for cx, cy, count, lat, lon, *by_status in sorted(found):
        cells.append(
            {
                "lat": round(lat, 6),
                "lon": round(lon, 6),
                "count": count,
                "status": dict(zip(statuses, by_status, strict=True)),
                "bounds": [cx * size, cy * size, (cx + 1) * size, (cy + 1) * size],
            }
        )
    return {"cell_degrees": size, "cells": cells}


def device_search(user: AnyUser, text: str, *, limit: int = SEARCH_LIMIT) -> list[tuple[Any, ...]]:
    """Devices ``user`` may see whose code or name contains ``text``: the exact code first,
    then codes starting with it, then the rest by code (one query)."""
    text = text.strip()[:100]
    if not text:
        return []
    rank = Case(
        When(code__iexact=text, then=Value(0)),
        When(code__istartswith=text, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    queryset = (
        devices_visible_to(user)
        .select_related(None)
        .filter(Q(code__icontains=text) | Q(name__icontains=text))
        .annotate(rank=rank)
        .order_by("rank", F("code").asc())
    )
    return list(_map_rows(queryset)[:limit])
