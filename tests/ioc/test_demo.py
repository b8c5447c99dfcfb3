"""The demo (ioc.demo): Tỉnh Thái Nguyên's units from the official list; the former city's
32 units until 30/06/2025 with their successions; the 8 units they went into tiling the
same land; devices in today's units; users work."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import pytest
import shapely
from django.db.models import F
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from cameras.choices import DeviceKind
from cameras.models import Device, Gateway
from ioc.choices import Role
from ioc.demo import data
from ioc.demo.boundaries import city_outline, former_cells, new_unit_boundaries
from ioc.demo.loader import DEMO_USERS, load_demo
from ioc.geo import boundary_shape
from ioc.models import AuditEntry, Department, User, Ward, WardSuccession
from ioc.provinces import official_units
from ioc.selectors import ward_in_force
from tests.support import (
    CITY,
    DEMO_PASSWORD,
    DEPARTMENT,
    FORMER_OWN_NAME,
    LAST_FORMER_DAY,
    OTHER_WARD,
    OWN_WARD,
    OWN_WARD_NAME,
    PROVINCE,
    REFORM_DAY,
    THIRD_WARD,
    camera_code,
    example_user,
)

# Stored boundaries are rounded to 6 decimal places (about 11 cm), so the tiles' outer
# edge is the outline moved by at most half a grid cell diagonal.
GRID = 1e-6


def stored_shapes(wards: Any) -> dict[str, BaseGeometry]:
    return {
        code: boundary_shape(boundary)
        for code, boundary in wards.filter(boundary__isnull=False).values_list("code", "boundary")
    }


def overlaps_and_union(tiles: dict[str, BaseGeometry]) -> tuple[float, BaseGeometry]:
    """The largest overlap of two tiles, and their union."""
    worst = max(a.intersection(b).area for a, b in itertools.combinations(tiles.values(), 2))
    return worst, shapely.union_all(list(tiles.values()))


# --- the facts ------------------------------------------------------------------------------


def test_demo_has_the_former_citys_32_units_21_phuong_and_11_xa() -> None:
    codes = [code for code, *_rest in data.FORMER_WARDS]

    assert len(codes) == len(set(codes)) == 32
    assert Counter(kind for _c, _n, kind, _lat, _lon in data.FORMER_WARDS) == {
        "phuong": 21,
        "xa": 11,
    }


def test_the_former_units_are_those_of_the_official_mapping() -> None:
    mapping = {(r.old_code, r.old_name, r.old_kind) for r in data.reform_rows()}
    outside = {r.old_code for r in data.reform_rows()} - {c for c, *_ in data.FORMER_WARDS}

    assert {(code, name, kind) for code, name, kind, _a, _b in data.FORMER_WARDS} <= mapping
    assert outside == set(data.OUTSIDE_DISTRICTS)


def test_the_former_city_went_into_8_units_of_the_official_list() -> None:
    listed = {u.code: (u.name, u.kind.value) for u in official_units(PROVINCE[0])}

    assert len(data.city_units()) == 8
    assert {code: (name, kind) for code, name, kind in data.city_units()} == {
        code: listed[code] for code, _name, _kind in data.city_units()
    }


# --- units in force, former units, successions -----------------------------------------------


def test_all_92_units_of_the_province_are_in_force_from_the_official_list(
    demo_city: None,
) -> None:
    today = Ward.objects.current()
    listed = {u.code: (u.name, u.kind.value) for u in official_units(PROVINCE[0])}

    assert today.count() == len(listed) == 92
    assert {w.code: (w.name, w.kind) for w in today} == listed
    assert set(today.values_list("valid_from", "valid_to", "province_code", "parent_code")) == {
        (REFORM_DAY, None, PROVINCE[0], "")
    }


def test_a_reused_code_names_the_former_unit_before_the_reform_and_the_new_one_after(
    demo_city: None,
) -> None:
    assert ward_in_force(OWN_WARD, LAST_FORMER_DAY).name == FORMER_OWN_NAME
    assert ward_in_force(OWN_WARD).name == OWN_WARD_NAME
    assert ward_in_force(OWN_WARD, LAST_FORMER_DAY).pk != ward_in_force(OWN_WARD).pk


def test_the_former_citys_32_units_are_in_force_until_the_day_before_the_reform(
    demo_city: None,
) -> None:
    before = Ward.objects.current(LAST_FORMER_DAY)
    city = before.filter(parent_code=CITY[0])

    assert {(w.code, w.name, w.kind) for w in city} == {
        (code, name, kind) for code, name, kind, _a, _b in data.FORMER_WARDS
    }
    assert set(city.values_list("valid_to", "parent_name", "province_code")) == {
        (REFORM_DAY, CITY[1], PROVINCE[0])
    }
    # and the four units from outside the city that the mapping names, without a boundary
    outside = before.exclude(parent_code=CITY[0])
    assert {w.code: (w.parent_code, w.parent_name) for w in outside} == data.OUTSIDE_DISTRICTS
    assert not outside.filter(boundary__isnull=False).exists()
    assert before.count() == 36


def test_every_row_of_the_mapping_is_a_succession_between_units_of_their_days(
    demo_city: None,
) -> None:
    edges = {
        (s.predecessor.code, s.successor.code, s.transfer, s.effective)
        for s in WardSuccession.objects.select_related("predecessor", "successor")
    }
    ends = set(WardSuccession.objects.values_list("predecessor__valid_to", "successor__valid_from"))

    assert edges == {(r.old_code, r.new_code, r.transfer, REFORM_DAY) for r in data.reform_rows()}
    assert ends == {(REFORM_DAY, REFORM_DAY)}


def test_loading_the_demo_audits_every_unit_it_writes(demo_city: None) -> None:
    audited = AuditEntry.objects.filter(actor_label="load_demo")

    assert audited.filter(action="ward.created").count() == Ward.objects.count() == 92 + 36
    # the 8 units of the former city got their boundaries
    assert audited.filter(action="ward.updated").count() == 8


# --- generated boundaries -------------------------------------------------------------------


@pytest.fixture(scope="module")
def cells() -> dict[str, BaseGeometry]:
    return former_cells()


@pytest.fixture(scope="module")
def new_tiles() -> dict[str, BaseGeometry]:
    return new_unit_boundaries()


def test_every_former_unit_gets_one_valid_polygon(cells: dict[str, BaseGeometry]) -> None:
    assert set(cells) == {code for code, *_rest in data.FORMER_WARDS}
    assert all(tile.geom_type == "Polygon" and tile.is_valid for tile in cells.values())


def test_former_cells_tile_the_outline_without_gap_or_overlap(
    cells: dict[str, BaseGeometry],
) -> None:
    worst, union = overlaps_and_union(cells)

    assert sum(tile.area for tile in cells.values()) == pytest.approx(union.area, rel=1e-9)
    assert worst <= 1e-12 * union.area
    assert union.geom_type == "Polygon"
    assert len(union.interiors) == 0
    # Not 1e-9: snapping vertices to the 1e-6° grid moves the outer edge by up to ~7e-7°,
    # which on this outline changes the area by about 3e-6 (relative).
    assert union.area == pytest.approx(city_outline().area, rel=1e-5)
    assert union.hausdorff_distance(city_outline()) <= GRID


def test_each_of_the_8_new_units_is_one_valid_polygon(
    new_tiles: dict[str, BaseGeometry],
) -> None:
    assert set(new_tiles) == {code for code, _name, _kind in data.city_units()}
    assert all(tile.geom_type == "Polygon" and tile.is_valid for tile in new_tiles.values())


def test_the_8_new_units_cover_the_former_cells_without_overlap(
    cells: dict[str, BaseGeometry], new_tiles: dict[str, BaseGeometry]
) -> None:
    worst, union = overlaps_and_union(new_tiles)
    former = shapely.union_all(list(cells.values()))

    assert worst <= 1e-12 * union.area
    assert sum(tile.area for tile in new_tiles.values()) == pytest.approx(union.area, rel=1e-9)
    assert union.symmetric_difference(former).area <= 1e-12 * former.area


def test_a_wholly_merged_cell_lies_in_its_successor(
    cells: dict[str, BaseGeometry], new_tiles: dict[str, BaseGeometry]
) -> None:
    wholes = [r for r in data.reform_rows() if r.transfer == "whole" and r.old_code in cells]

    outside = [
        r.old_code
        for r in wholes
        if cells[r.old_code].difference(new_tiles[r.new_code]).area > 1e-12
    ]
    assert len(wholes) == 30
    assert outside == []


def test_a_split_cell_is_divided_between_its_two_successors_the_smaller_part_as_noted(
    cells: dict[str, BaseGeometry], new_tiles: dict[str, BaseGeometry]
) -> None:
    parts = [r for r in data.reform_rows() if r.transfer == "part"]
    shares = {
        (r.old_code, r.new_code): new_tiles[r.new_code].intersection(cells[r.old_code]).area
        / cells[r.old_code].area
        for r in parts
    }

    assert len(parts) == 4
    for split in {r.old_code for r in parts}:
        assert sum(share for (old, _new), share in shares.items() if old == split) == (
            pytest.approx(1.0, abs=1e-9)
        )
    assert {(r.old_code, r.new_code): shares[(r.old_code, r.new_code)] < 0.5 for r in parts} == {
        (r.old_code, r.new_code): r.smaller_part for r in parts
    }
    assert min(shares.values()) > 0.1


def test_stored_boundaries_are_the_generated_ones(
    demo_city: None, cells: dict[str, BaseGeometry], new_tiles: dict[str, BaseGeometry]
) -> None:
    today = stored_shapes(Ward.objects.current())
    before = stored_shapes(Ward.objects.current(LAST_FORMER_DAY))

    assert set(today) == set(new_tiles)
    assert all(today[code].equals(new_tiles[code]) for code in new_tiles)
    assert set(before) == set(cells)
    assert all(before[code].equals(cells[code]) for code in cells)


def test_each_former_units_centre_lies_inside_its_own_cell(demo_city: None) -> None:
    shapes = stored_shapes(Ward.objects.current(LAST_FORMER_DAY))
    given = {code: Point(lon, lat) for code, _n, _k, lat, lon in data.FORMER_WARDS}

    assert [code for code, centre in given.items() if not shapes[code].contains(centre)] == []


def test_a_unit_with_a_boundary_has_its_label_point_inside_it(demo_city: None) -> None:
    units = Ward.objects.filter(boundary__isnull=False)
    points = units.values_list("code", "valid_from", "boundary", "centroid_lon", "centroid_lat")

    assert units.count() == 32 + 8
    assert [
        (code, start)
        for code, start, boundary, lon, lat in points
        if not boundary_shape(boundary).contains(Point(float(lon), float(lat)))
    ] == []
    assert not Ward.objects.filter(boundary__isnull=True).exclude(centroid_lat=None).exists()


# --- devices --------------------------------------------------------------------------------


def test_demo_has_304_cameras_and_at_least_4_in_every_former_units_area(demo_city: None) -> None:
    cameras = Device.objects.filter(kind=DeviceKind.CAMERA)
    per_former = Counter(code.split("-")[1] for code in cameras.values_list("code", flat=True))

    assert cameras.count() == data.CAMERA_COUNT == 304
    assert set(per_former) == {code for code, *_rest in data.FORMER_WARDS}
    assert min(per_former.values()) >= 4


def test_demo_places_every_signal_and_sensor(demo_city: None) -> None:
    expected = len(data.SIGNALS) + len(data.AIR_SENSORS) + len(data.WATER_SENSORS)

    assert Device.objects.exclude(kind=DeviceKind.CAMERA).count() == expected
    assert Device.objects.filter(kind=DeviceKind.SIGNAL).count() == len(data.SIGNALS)


def test_every_device_lies_inside_a_unit_in_force_today(demo_city: None) -> None:
    shapes = stored_shapes(Ward.objects.current())
    devices = Device.objects.values_list(
        "code", "ward__code", "ward__valid_from", "longitude", "latitude"
    )

    outside = [
        code
        for code, ward_code, start, lon, lat in devices
        if start != REFORM_DAY or not shapes[ward_code].covers(Point(float(lon), float(lat)))
    ]

    assert len(devices) == 304 + 38
    assert outside == []
    assert set(devices.values_list("ward__code", flat=True)) == set(shapes)


def test_every_unit_with_devices_has_one_gateway_for_them(demo_city: None) -> None:
    gateway_wards = list(Gateway.objects.values_list("ward__code", flat=True))

    assert sorted(gateway_wards) == sorted(code for code, _name, _kind in data.city_units())
    assert not Device.objects.filter(gateway=None).exists()
    assert not Device.objects.exclude(gateway__ward=F("ward")).exists()


def test_each_example_wards_first_camera_is_in_that_ward(demo_city: None) -> None:
    for ward in (OWN_WARD, OTHER_WARD, THIRD_WARD):
        device = Device.objects.select_related("ward").get(code=camera_code(ward))
        assert (device.ward.code, device.ward.valid_to) == (ward, None)


# --- users ----------------------------------------------------------------------------------


def scope_of(user: User) -> tuple[str, list[str], list[str]]:
    wards = sorted(user.wards.values_list("code", flat=True))
    departments = sorted(user.departments.values_list("code", flat=True))
    return user.role, wards, departments


def test_demo_users_have_their_roles_and_scopes(demo_city: None) -> None:
    users = {
        user.username: user for user in User.objects.filter(username__in=[u[0] for u in DEMO_USERS])
    }

    assert {name: scope_of(user) for name, user in users.items()} == {
        "admin": (Role.ADMIN, [], []),
        "operator": (Role.CITY_OPERATOR, [], []),
        "official1": (Role.WARD_OFFICIAL, [OWN_WARD], []),
        "official2": (Role.WARD_OFFICIAL, [OTHER_WARD], []),
        "department1": (Role.DEPARTMENT_STAFF, [], [DEPARTMENT]),
    }
    assert users["admin"].is_superuser
    assert users["operator"].has_city_scope
    assert not users["official1"].has_city_scope
    # the officials work units in force today, not the former units of the same codes
    worked = [w for name in ("official1", "official2") for w in users[name].wards.all()]
    assert {w.valid_from for w in worked} == {REFORM_DAY}


def test_demo_passwords_work_and_others_do_not(demo_city: None) -> None:
    users = User.objects.filter(username__in=[u[0] for u in DEMO_USERS])

    assert {user.username: user.check_password(DEMO_PASSWORD) for user in users} == dict.fromkeys(
        [u[0] for u in DEMO_USERS], True
    )
    assert not users.get(username="official1").check_password("wrong-password")


def test_demo_departments_exist(demo_city: None) -> None:
    assert set(Department.objects.values_list("code", flat=True)) == {
        code for code, _name, _email in data.DEPARTMENTS
    }


# --- loading twice --------------------------------------------------------------------------


def counts() -> dict[str, Any]:
    return {
        model.__name__: model.objects.count()
        for model in (Ward, WardSuccession, Device, User, Department, AuditEntry)
    }


def test_loading_the_demo_again_changes_nothing(demo_city: None) -> None:
    before = counts()

    summary = load_demo(password="another-password")

    assert summary.created is False
    assert (summary.wards, summary.former, summary.devices) == (92, 36, before["Device"])
    assert counts() == before
    assert example_user("operator").check_password(DEMO_PASSWORD)
