"""The demo city (ioc.demo): its wards tile the outline, devices sit in their wards, users work."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import pytest
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from cameras.choices import DeviceKind
from cameras.models import Device
from ioc.choices import Role
from ioc.demo import data
from ioc.demo.loader import DEMO_USERS, city_outline, generated_boundaries, load_demo
from ioc.geo import boundary_shape
from ioc.models import AuditEntry, Department, User, Ward
from tests.support import DEMO_PASSWORD, DEPARTMENT, OTHER_WARD, OWN_WARD, example_user

# Stored boundaries are rounded to 6 decimal places (about 11 cm), so the tiles' outer
# edge is the outline moved by at most half a grid cell diagonal.
GRID = 1e-6


def stored_shapes() -> dict[str, BaseGeometry]:
    return {
        code: boundary_shape(boundary)
        for code, boundary in Ward.objects.values_list("code", "boundary")
    }


# --- the facts ------------------------------------------------------------------------------


def test_demo_data_has_32_wards_with_unique_codes_21_phuong_and_11_xa() -> None:
    codes = [code for code, *_rest in data.WARDS]

    assert len(codes) == 32
    assert len(set(codes)) == 32
    assert Counter(kind for _c, _n, kind, _lat, _lon in data.WARDS) == {"phuong": 21, "xa": 11}


def test_loaded_wards_match_the_demo_data(demo_city: None) -> None:
    stored = {ward.code: (ward.name, ward.kind) for ward in Ward.objects.all()}

    assert stored == {code: (name, kind) for code, name, kind, _lat, _lon in data.WARDS}
    assert Ward.objects.current().count() == 32
    assert AuditEntry.objects.filter(action="ward.created", actor_label="load_demo").count() == 32


# --- generated boundaries -------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiles() -> dict[str, BaseGeometry]:
    return generated_boundaries()


def test_every_ward_gets_one_valid_polygon(tiles: dict[str, BaseGeometry]) -> None:
    assert set(tiles) == {code for code, *_rest in data.WARDS}
    assert all(tile.geom_type == "Polygon" and tile.is_valid for tile in tiles.values())


def test_tiles_do_not_overlap(tiles: dict[str, BaseGeometry]) -> None:
    union = shapely.union_all(list(tiles.values()))
    total = sum(tile.area for tile in tiles.values())

    assert total == pytest.approx(union.area, rel=1e-9)
    worst = max(a.intersection(b).area for a, b in itertools.combinations(tiles.values(), 2))
    assert worst <= 1e-12 * union.area


def test_tiles_leave_no_gap_inside_the_outline(tiles: dict[str, BaseGeometry]) -> None:
    union = shapely.union_all(list(tiles.values()))

    assert union.geom_type == "Polygon"
    assert len(union.interiors) == 0


def test_tiles_cover_the_outline_up_to_the_coordinate_rounding(
    tiles: dict[str, BaseGeometry],
) -> None:
    outline = city_outline()
    union = shapely.union_all(list(tiles.values()))

    # Not 1e-9: snapping vertices to the 1e-6° grid moves the outer edge by up to ~7e-7°,
    # which on this outline changes the area by about 3e-6 (relative).
    assert union.area == pytest.approx(outline.area, rel=1e-5)
    assert union.hausdorff_distance(outline) <= GRID


def test_stored_boundaries_are_the_generated_tiles(
    demo_city: None, tiles: dict[str, BaseGeometry]
) -> None:
    stored = stored_shapes()

    assert set(stored) == set(tiles)
    assert all(stored[code].equals(tiles[code]) for code in tiles)


def test_each_ward_centre_lies_inside_its_own_polygon(demo_city: None) -> None:
    shapes = stored_shapes()
    given = {code: Point(lon, lat) for code, _n, _k, lat, lon in data.WARDS}
    stored = {
        code: Point(float(lon), float(lat))
        for code, lon, lat in Ward.objects.values_list("code", "centroid_lon", "centroid_lat")
    }

    assert [code for code, centre in given.items() if not shapes[code].contains(centre)] == []
    assert [code for code, centre in stored.items() if not shapes[code].contains(centre)] == []


# --- devices --------------------------------------------------------------------------------


def test_demo_has_304_cameras_and_at_least_4_in_every_ward(demo_city: None) -> None:
    cameras = Device.objects.filter(kind=DeviceKind.CAMERA)
    per_ward = Counter(cameras.values_list("ward__code", flat=True))

    assert cameras.count() == data.CAMERA_COUNT == 304
    assert set(per_ward) == {code for code, *_rest in data.WARDS}
    assert min(per_ward.values()) >= 4


def test_demo_places_every_signal_and_sensor(demo_city: None) -> None:
    expected = len(data.SIGNALS) + len(data.AIR_SENSORS) + len(data.WATER_SENSORS)

    assert Device.objects.exclude(kind=DeviceKind.CAMERA).count() == expected
    assert Device.objects.filter(kind=DeviceKind.SIGNAL).count() == len(data.SIGNALS)


def test_every_device_lies_inside_its_wards_polygon(demo_city: None) -> None:
    shapes = stored_shapes()
    devices = Device.objects.values_list("code", "ward__code", "longitude", "latitude")

    outside = [
        code
        for code, ward_code, lon, lat in devices
        if not shapes[ward_code].contains(Point(float(lon), float(lat)))
    ]

    assert len(devices) == 304 + 38
    assert outside == []


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
        for model in (Ward, Device, User, Department, AuditEntry)
    }


def test_loading_the_demo_again_changes_nothing(demo_city: None) -> None:
    before = counts()

    summary = load_demo(password="another-password")

    assert summary.created is False
    assert (summary.wards, summary.devices) == (before["Ward"], before["Device"])
    assert counts() == before
    assert example_user("operator").check_password(DEMO_PASSWORD)
