"""The demo's generated boundaries: the former city's 32 units as Voronoi cells around their
centres, and the 8 units they went into as unions of those cells (a split unit's cell
divided between its two successors).

Pure geometry from ``ioc.demo.data``: nothing here reads or writes the database.
"""

from __future__ import annotations

from functools import lru_cache

import shapely
from shapely.geometry import MultiPoint, Point, Polygon
from shapely.geometry.base import BaseGeometry

from ioc.demo import data

# Stored boundaries are snapped to 6 decimal places (about 11 cm), as ``geo.to_geojson``.
GRID = 1e-6
# The share of a split unit's cell its smaller part gets, as near as the cell's corners
# allow (the dividing lines are not published).
SMALLER_SHARE = 1 / 3


def city_outline() -> BaseGeometry:
    """A smooth outline around the former units' centres: the area their cells tile."""
    centres = MultiPoint([(lon, lat) for _c, _n, _k, lat, lon in data.FORMER_WARDS])
    return centres.convex_hull.buffer(0.018, quad_segs=4)


@lru_cache(maxsize=1)
def _cells() -> dict[str, BaseGeometry]:
    outline = city_outline()
    points = [Point(lon, lat) for _c, _n, _k, lat, lon in data.FORMER_WARDS]
    cells = shapely.voronoi_polygons(MultiPoint(points), extend_to=outline.envelope)
    result: dict[str, BaseGeometry] = {}
    for cell in cells.geoms:
        for (code, *_rest), centre in zip(data.FORMER_WARDS, points, strict=True):
            if cell.contains(centre):
                result[code] = shapely.set_precision(cell.intersection(outline), GRID)
                break
    return result


def former_cells() -> dict[str, BaseGeometry]:
    """Former unit code -> polygon: the Voronoi cells of the centres, clipped to the outline.

    Voronoi cells tile the plane, so the clipped cells cover the outline with no gap and
    no overlap, and each unit's centre lies inside its own cell.
    """
    return dict(_cells())


def _chords(cell: BaseGeometry) -> list[tuple[Polygon, Polygon]]:
    """The two sides of every straight cut of ``cell`` from one of its corners to another
    (not a neighbour): a cut between corners adds no corner to any other unit's edge, so
    the pieces and the neighbouring cells still meet edge to edge."""
    assert isinstance(cell, Polygon)  # a convex cell of a Voronoi tiling
    corners = list(cell.exterior.coords)[:-1]
    count = len(corners)
    cuts = []
    for i in range(count):
        for j in range(i + 2, count - (1 if i == 0 else 0)):
            one = Polygon(corners[i : j + 1])
            other = Polygon(corners[j:] + corners[: i + 1])
            if one.is_valid and other.is_valid and one.area > 0 and other.area > 0:
                cuts.append((one, other))
    return cuts


def _one_piece(parts: list[BaseGeometry]) -> bool:
    """Whether ``parts`` join into one polygon (meeting along edges, not at a point)."""
    return shapely.union_all(parts).geom_type == "Polygon"


def _divide(
    cell: BaseGeometry, smaller_rest: list[BaseGeometry], larger_rest: list[BaseGeometry]
) -> tuple[Polygon, Polygon]:
    """A split unit's cell cut in two, (smaller, larger): the cut between two corners whose
    smaller side joins the rest of the successor that the mapping gives the smaller part,
    and whose larger side the rest of the other, in one piece each; of those, the one whose
    smaller side is nearest ``SMALLER_SHARE`` of the cell."""
    best: tuple[float, Polygon, Polygon] | None = None
    for one, other in _chords(cell):
        smaller, larger = (one, other) if one.area < other.area else (other, one)
        if not (_one_piece([*smaller_rest, smaller]) and _one_piece([*larger_rest, larger])):
            continue
        miss = abs(smaller.area / cell.area - SMALLER_SHARE)
        if best is None or miss < best[0]:
            best = (miss, smaller, larger)
    if best is None:
        raise ValueError("no cut keeps both successors of a split unit in one piece")
    return best[1], best[2]


@lru_cache(maxsize=1)
def _new_units() -> dict[str, BaseGeometry]:
    cells = _cells()
    rows = [row for row in data.reform_rows() if row.old_code in cells]
    # Each new unit's pieces: whole cells first; a split cell counts whole for both of its
    # successors until it is divided, so each cut is checked against what is known.
    pieces: dict[str, list[BaseGeometry]] = {row.new_code: [] for row in rows}
    pending: dict[str, list[str]] = {code: [] for code in pieces}
    for row in rows:
        if row.transfer == "whole":
            pieces[row.new_code].append(cells[row.old_code])
        else:
            pending[row.new_code].append(row.old_code)

    def rest(code: str, skip: str) -> list[BaseGeometry]:
        return pieces[code] + [cells[old] for old in pending[code] if old != skip]

    split_codes = list(dict.fromkeys(row.old_code for row in rows if row.transfer == "part"))
    for old_code in split_codes:
        parts = [row for row in rows if row.old_code == old_code]
        small_to = next(row.new_code for row in parts if row.smaller_part)
        large_to = next(row.new_code for row in parts if not row.smaller_part)
        smaller, larger = _divide(
            cells[old_code], rest(small_to, old_code), rest(large_to, old_code)
        )
        for code, piece in ((small_to, smaller), (large_to, larger)):
            pieces[code].append(piece)
            pending[code].remove(old_code)
    return {
        code: shapely.set_precision(shapely.union_all(parts), GRID)
        for code, parts in pieces.items()
    }


def new_unit_boundaries() -> dict[str, BaseGeometry]:
    """New unit code -> polygon, for the 8 units the former city went into: the union of
    the cells of the former units that went into it, and of its part of a split one."""
    return dict(_new_units())
