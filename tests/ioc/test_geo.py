"""ioc.geo: bbox parsing, distances, boundary validation and the point-in-ward index."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from django.utils import translation
from shapely.geometry import MultiPolygon, Polygon

from ioc.geo import (
    BBox,
    GeometryError,
    boundary_shape,
    distance_m,
    parse_bbox,
    point,
    ward_for_point,
)
from ioc.models import Ward
from tests.support import FORMER_OF_OTHER, LAST_FORMER_DAY, square
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN

HANOI = (105.85, 21.03)  # lon, lat: about 65 km south of the demo city
pytestmark = pytest.mark.usefixtures("fresh_ward_index")  # wards change in rolled-back transactions


# --- parse_bbox -----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _in_english() -> Iterator[None]:
    """The messages below are matched in English (the catalogue gives them in Vietnamese)."""
    with translation.override("en"):
        yield


def test_parse_bbox_reads_west_south_east_north() -> None:
    box = parse_bbox("105.80,21.55, 105.90,21.65")

    assert box == BBox(min_lon=105.80, min_lat=21.55, max_lon=105.90, max_lat=21.65)


def test_parse_bbox_accepts_a_single_point_box() -> None:
    assert parse_bbox("105.8,21.5,105.8,21.5") == BBox(105.8, 21.5, 105.8, 21.5)


@pytest.mark.parametrize("text", ["", "105.8,21.5,105.9", "105.8,21.5,105.9,21.6,0"])
def test_parse_bbox_with_wrong_count_names_the_expected_format(text: str) -> None:
    with pytest.raises(GeometryError, match="four numbers: minLon,minLat,maxLon,maxLat"):
        parse_bbox(text)


@pytest.mark.parametrize("text", ["a,21.5,105.9,21.6", "105.8,,105.9,21.6", "105.8,21.5,1e,21.6"])
def test_parse_bbox_with_non_numbers_names_the_expected_format(text: str) -> None:
    with pytest.raises(GeometryError, match="four numbers"):
        parse_bbox(text)


@pytest.mark.parametrize("text", ["nan,21.5,105.9,21.6", "105.8,21.5,inf,21.6"])
def test_parse_bbox_refuses_non_finite_numbers(text: str) -> None:
    with pytest.raises(GeometryError, match="finite"):
        parse_bbox(text)


@pytest.mark.parametrize(
    "text",
    [
        "-181,21.5,105.9,21.6",
        "105.8,21.5,180.5,21.6",
        "105.8,-91,105.9,21.6",
        "105.8,21.5,105.9,90.01",
        "21.5,105.8,21.6,105.9",  # latitude first by mistake
    ],
)
def test_parse_bbox_out_of_range_explains_longitude_comes_first(text: str) -> None:
    with pytest.raises(GeometryError, match="longitude, latitude"):
        parse_bbox(text)


@pytest.mark.parametrize("text", ["105.9,21.5,105.8,21.6", "105.8,21.6,105.9,21.5"])
def test_parse_bbox_with_minimum_above_maximum_says_so(text: str) -> None:
    with pytest.raises(GeometryError, match="minimums must not exceed its maximums"):
        parse_bbox(text)


def test_geometry_error_is_a_value_error_for_callers_that_catch_those() -> None:
    with pytest.raises(ValueError, match="four numbers"):
        parse_bbox("1,2")


# --- distance_m -----------------------------------------------------------------------------


def test_one_degree_of_latitude_is_about_111_2_km() -> None:
    metres = distance_m(105.84, 21.0, 105.84, 22.0)

    assert metres == pytest.approx(111_195, rel=0.005)


def test_distance_is_symmetric_and_scales_longitude_by_latitude() -> None:
    east = distance_m(105.0, 21.0, 106.0, 21.0)

    assert east == pytest.approx(distance_m(106.0, 21.0, 105.0, 21.0))
    assert east == pytest.approx(111_195 * 0.9336, rel=0.005)  # cos(21°) ≈ 0.9336


def test_distance_from_a_point_to_itself_is_zero() -> None:
    assert distance_m(105.8442, 21.5928, 105.8442, 21.5928) == 0.0


# --- boundary_shape -------------------------------------------------------------------------


def test_boundary_shape_returns_a_valid_polygon() -> None:
    geom = boundary_shape(square(105.84, 21.59))

    assert isinstance(geom, Polygon)
    assert geom.is_valid
    assert geom.bounds == pytest.approx((105.83, 21.58, 105.85, 21.60))


def test_boundary_shape_accepts_a_multipolygon() -> None:
    west, east = square(105.80, 21.59), square(105.90, 21.59)
    geometry = {"type": "MultiPolygon", "coordinates": [west["coordinates"], east["coordinates"]]}

    geom = boundary_shape(geometry)

    assert isinstance(geom, MultiPolygon)
    assert len(geom.geoms) == 2


def test_boundary_shape_rejects_a_self_intersecting_bow_tie() -> None:
    bow_tie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}

    with pytest.raises(GeometryError, match=r"not a valid polygon \(Self-intersection"):
        boundary_shape(bow_tie)


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Point", "coordinates": [105.84, 21.59]},
        {"type": "LineString", "coordinates": [[105.84, 21.59], [105.85, 21.6]]},
        None,
        "POLYGON ((0 0, 1 0, 1 1, 0 0))",
    ],
)
def test_boundary_shape_rejects_anything_but_a_polygon_or_multipolygon(geometry: Any) -> None:
    with pytest.raises(GeometryError, match="must be a GeoJSON Polygon or MultiPolygon"):
        boundary_shape(geometry)


@pytest.mark.parametrize(
    "coordinates",
    [
        "abc",
        5,
        [[["a", "b"], ["c", "d"], ["e", "f"], ["a", "b"]]],
        [[[0, 0], [1, 1]]],  # a ring needs four positions
        [[[0, 0], [1, 0], [1, None], [0, 1], [0, 0]]],
    ],
)
def test_boundary_shape_rejects_unreadable_coordinates(coordinates: Any) -> None:
    with pytest.raises(GeometryError, match="coordinates cannot be read"):
        boundary_shape({"type": "Polygon", "coordinates": coordinates})


def test_boundary_shape_rejects_a_polygon_without_coordinates() -> None:
    with pytest.raises(GeometryError):
        boundary_shape({"type": "Polygon"})


@pytest.mark.parametrize("coordinates", [[], None])
def test_boundary_shape_rejects_an_empty_polygon(coordinates: Any) -> None:
    with pytest.raises(GeometryError, match="empty"):
        boundary_shape({"type": "Polygon", "coordinates": coordinates})


def test_boundary_shape_rejects_latitude_first_coordinates() -> None:
    with pytest.raises(GeometryError, match="longitude, latitude"):
        boundary_shape(square(21.59, 105.84))


# --- point ----------------------------------------------------------------------------------


def test_point_puts_longitude_first_rounded_to_six_places() -> None:
    assert point(105.84421234, 21.59281234) == {
        "type": "Point",
        "coordinates": [105.844212, 21.592812],
    }


# --- ward_for_point -------------------------------------------------------------------------


def test_each_mapped_unit_centre_maps_to_that_unit(demo_city: None) -> None:
    wards = list(
        Ward.objects.current()
        .filter(boundary__isnull=False)
        .values_list("code", "centroid_lon", "centroid_lat")
    )

    found = {code: ward_for_point(lon, lat) for code, lon, lat in wards}

    assert len(found) == 8  # the units the former city went into
    assert found == {code: code for code, _lon, _lat in wards}


def test_a_point_maps_to_the_unit_in_force_today_not_the_former_one(demo_city: None) -> None:
    former = Ward.objects.current(LAST_FORMER_DAY).get(code=FORMER_OF_OTHER)

    assert ward_for_point(former.centroid_lon, former.centroid_lat) == OTHER


def test_point_outside_the_city_is_in_no_ward(demo_city: None) -> None:
    assert ward_for_point(*HANOI) is None


def test_ward_for_point_refuses_latitude_first(demo_city: None) -> None:
    with pytest.raises(GeometryError, match="longitude, latitude"):
        ward_for_point(21.59, 105.84)


def test_ward_index_follows_a_boundary_saved_through_the_orm(
    demo_city: None, django_capture_on_commit_callbacks: Any
) -> None:
    ward = Ward.objects.current().get(code=OWN)
    old_centre = (ward.centroid_lon, ward.centroid_lat)
    assert ward_for_point(*old_centre) == OWN  # the index is built and cached now
    assert ward_for_point(*HANOI) is None

    # Committing runs any on_commit hooks, so this holds whether the index is invalidated
    # at save or at commit.
    with django_capture_on_commit_callbacks(execute=True):
        ward.boundary = square(*HANOI)
        ward.save()

    assert ward_for_point(*HANOI) == OWN
    assert ward_for_point(*old_centre) is None


def test_ward_index_forgets_a_boundary_change_that_rolled_back(demo_city: None) -> None:
    with contextlib.suppress(RuntimeError), transaction.atomic():
        ward = Ward.objects.current().get(code=OWN)
        ward.boundary = square(*HANOI)
        ward.save()
        ward_for_point(*HANOI)  # a lookup in the same transaction, as load_demo makes
        raise RuntimeError("roll back")

    assert Ward.objects.current().get(code=OWN).boundary != square(*HANOI)
    assert ward_for_point(*HANOI) is None
