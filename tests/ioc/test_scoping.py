"""Role x endpoint scoping matrix: every path returns exactly what the role may see.

This matrix grows with every screen, API, export and websocket path that is added.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client

from cameras.models import Device
from ioc import selectors
from ioc.models import Ward
from tests.support import DEPARTMENT, FORMER_OF_OTHER, UserFactory, example_user
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN

CITY_ROLES = ["admin", "operator", "department1"]
ALL_USERS = [*CITY_ROLES, "official1", "official2"]


def expected_wards(username: str) -> set[str]:
    """The ward codes each demo account may see."""
    if username == "official1":
        return {OWN}
    if username == "official2":
        return {OTHER}
    return set(Ward.objects.current().values_list("code", flat=True))


def client_for(username: str | None) -> Client:
    client = Client()
    if username:
        client.force_login(example_user(username))
    return client


@pytest.mark.parametrize("username", ALL_USERS)
def test_wards_api_lists_exactly_the_visible_wards(demo_city: Any, username: str) -> None:
    response = client_for(username).get("/api/v1/wards/", {"limit": 1000})
    assert response.status_code == 200
    assert {row["code"] for row in response.json()["results"]} == expected_wards(username)


@pytest.mark.parametrize("username", ALL_USERS)
def test_wards_geojson_has_exactly_the_visible_wards(demo_city: Any, username: str) -> None:
    response = client_for(username).get("/api/v1/wards.geojson")
    assert response.status_code == 200
    codes = {f["properties"]["code"] for f in response.json()["features"]}
    mapped = set(
        Ward.objects.current().filter(boundary__isnull=False).values_list("code", flat=True)
    )
    assert codes == expected_wards(username) & mapped


@pytest.mark.parametrize("username", ALL_USERS)
def test_devices_geojson_has_exactly_the_visible_devices(demo_city: Any, username: str) -> None:
    response = client_for(username).get("/api/v1/devices.geojson")
    assert response.status_code == 200
    got = {f["properties"]["code"] for f in response.json()["features"]}
    expected = set(
        Device.objects.filter(ward__code__in=expected_wards(username)).values_list(
            "code", flat=True
        )
    )
    assert got == expected
    assert expected


@pytest.mark.parametrize("username", ALL_USERS)
def test_ward_list_page_shows_exactly_the_visible_wards(demo_city: Any, username: str) -> None:
    html = client_for(username).get("/ops/wards/").content.decode()
    shown = {
        code
        for code in Ward.objects.values_list("code", flat=True)
        if f'data-ward="{code}"' in html
    }
    assert shown == expected_wards(username)


@pytest.mark.parametrize(
    ("username", "code", "status"),
    [
        ("official1", OWN, 200),
        ("official1", OTHER, 404),
        ("official2", OWN, 404),
        ("official2", OTHER, 200),
        ("operator", OWN, 200),
        ("operator", OTHER, 200),
        ("department1", OTHER, 200),
        ("admin", OTHER, 200),
        ("official1", "99999", 404),
    ],
)
def test_ward_detail_page_and_api_answer_404_outside_scope(
    demo_city: Any, username: str, code: str, status: int
) -> None:
    client = client_for(username)
    assert client.get(f"/ops/wards/{code}/").status_code == status
    assert client.get(f"/api/v1/wards/{code}/").status_code == status


def test_ward_detail_lists_only_that_wards_devices(demo_city: Any) -> None:
    html = client_for("official1").get(f"/ops/wards/{OWN}/").content.decode()
    own = list(Device.objects.filter(ward__code=OWN).values_list("code", flat=True))
    others = Device.objects.exclude(ward__code=OWN).values_list("code", flat=True)
    assert own and all(f'data-device="{code}"' in html for code in own)
    assert not any(f'data-device="{code}"' in html for code in others)


def test_official_cannot_filter_the_map_to_another_ward(demo_city: Any) -> None:
    response = client_for("official1").get("/api/v1/devices.geojson", {"ward": OTHER})
    assert response.status_code == 200
    assert response.json()["features"] == []


@pytest.mark.parametrize(
    "path",
    ["/api/v1/wards/", "/api/v1/wards.geojson", "/api/v1/devices.geojson", f"/api/v1/wards/{OWN}/"],
)
def test_anonymous_gets_no_api_data(demo_city: Any, path: str) -> None:
    response = Client().get(path)
    assert response.status_code in {401, 403}
    assert "features" not in response.json() and "results" not in response.json()


@pytest.mark.parametrize("path", ["/ops/", "/ops/wards/", f"/ops/wards/{OWN}/"])
def test_anonymous_is_sent_to_login_from_staff_pages(demo_city: Any, path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_account_without_role_is_refused_staff_pages_and_api(demo_city: Any) -> None:
    nobody = UserFactory(username="nobody")
    client = Client()
    client.force_login(nobody)
    assert client.get("/ops/").status_code == 403
    assert client.get("/api/v1/devices.geojson").status_code == 403
    assert selectors.realtime_groups_for(nobody) == []


def test_official_lands_on_their_ward(demo_city: Any) -> None:
    response = client_for("official1").get("/ops/")
    assert response.status_code == 302
    assert response["Location"] == f"/ops/wards/{OWN}/"


@pytest.mark.parametrize("username", CITY_ROLES)
def test_city_roles_see_the_city_overview(demo_city: Any, username: str) -> None:
    response = client_for(username).get("/ops/")
    assert response.status_code == 200
    html = response.content.decode()
    assert all(f'data-ward="{code}"' in html for code in expected_wards(username))


@pytest.mark.parametrize(
    ("username", "groups"),
    [
        ("admin", ["city", "requests"]),
        ("operator", ["city", "requests"]),
        ("department1", ["city", f"department.{DEPARTMENT}"]),
        ("official1", [f"ward.{OWN}", f"ward.{OWN}.requests"]),
        ("official2", [f"ward.{OTHER}", f"ward.{OTHER}.requests"]),
    ],
)
def test_websocket_groups_follow_the_role(demo_city: Any, username: str, groups: list[str]) -> None:
    assert selectors.realtime_groups_for(example_user(username)) == groups


def test_anonymous_joins_no_websocket_group(demo_city: Any) -> None:
    assert selectors.realtime_groups_for(AnonymousUser()) == []


def test_retired_ward_is_hidden_from_lists_but_reachable_for_history(demo_city: Any) -> None:
    retired = FORMER_OF_OTHER  # merged into official2's ward in the 2025 reorganisation
    operator = client_for("operator")
    codes = {
        row["code"] for row in operator.get("/api/v1/wards/", {"limit": 100}).json()["results"]
    }
    assert retired not in codes
    # The code names no unit today: its page leads to the unit it went into; on a day it
    # was in force it names the former ward.
    today = operator.get(f"/ops/wards/{retired}/")
    assert (today.status_code, today["Location"]) == (302, f"/ops/wards/{OTHER}/")
    assert client_for("official1").get(f"/ops/wards/{retired}/").status_code == 404
    assert operator.get(f"/ops/wards/{retired}/", {"on": "2025-06-30"}).status_code == 200
    assert operator.get(f"/ops/wards/{retired}/", {"on": "30/06/2025"}).status_code == 404
    # its history is official2's, not official1's
    assert (
        client_for("official2").get(f"/ops/wards/{retired}/", {"on": "2025-06-30"}).status_code
        == 200
    )
    official = client_for("official1")
    assert official.get(f"/ops/wards/{retired}/", {"on": "2025-06-30"}).status_code == 404


def test_devices_geojson_query_count_does_not_grow_with_devices(
    demo_city: Any, django_assert_num_queries: Any
) -> None:
    client = client_for("official1")
    client.get("/api/v1/devices.geojson")  # warm the session and user caches
    with django_assert_num_queries(3):  # session, user, devices
        response = client.get("/api/v1/devices.geojson")
    assert len(response.json()["features"]) == Device.objects.filter(ward__code=OWN).count()


def test_wards_list_query_count_is_fixed(demo_city: Any, django_assert_num_queries: Any) -> None:
    client = client_for("operator")
    # session, user, count, page, and the page's predecessors and successors
    with django_assert_num_queries(6):
        response = client.get("/api/v1/wards/", {"limit": 100})
    assert response.json()["count"] == Ward.objects.current().count()


@pytest.mark.parametrize(
    ("username", "groups"),
    [
        ("operator", [f"ward.{OWN}", f"ward.{OWN}.requests"]),
        ("department1", [f"ward.{OWN}", f"department.{DEPARTMENT}.ward.{OWN}"]),
        ("official1", [f"ward.{OWN}", f"ward.{OWN}.requests"]),
        ("official2", []),
    ],
)
def test_a_wards_screen_joins_that_wards_groups_of_what_the_user_sees(
    demo_city: Any, username: str, groups: list[str]
) -> None:
    assert selectors.realtime_groups_for(example_user(username), ward_code=OWN) == groups
