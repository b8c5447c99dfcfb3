"""Role x endpoint scoping matrix of the device pages, export and API: each role gets
exactly the devices of the wards it may see; another ward's device is a 404, not a 403."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from django.test import Client

from cameras.models import Device
from ioc.models import Ward
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN
from tests.support import UserFactory, camera_code, placed_device

CITY_ROLES = ["admin", "operator", "department1"]
ALL_USERS = [*CITY_ROLES, "official1", "official2"]
# One device of each kind per ward of the two officials.
OWN_SENSOR, OTHER_SENSOR = placed_device(OWN, "sensor"), placed_device(OTHER, "sensor")
OWN_DEVICES = [camera_code(OWN), placed_device(OWN), OWN_SENSOR]
OTHER_DEVICES = [camera_code(OTHER), placed_device(OTHER), OTHER_SENSOR]


def expected_devices(username: str) -> set[str]:
    """The device codes each demo account may see."""
    wards = {"official1": [OWN], "official2": [OTHER]}.get(username)
    queryset = Device.objects.all()
    if wards is not None:
        queryset = queryset.filter(ward__code__in=wards)
    return set(queryset.values_list("code", flat=True))


def may_see(username: str, code: str) -> bool:
    if username == "official1":
        return code in OWN_DEVICES
    if username == "official2":
        return code in OTHER_DEVICES
    return True


def list_page_codes(client: Client, **params: Any) -> set[str]:
    """Every device code the list page shows, following its pages."""
    codes: set[str] = set()
    page = 1
    while True:
        html = client.get("/ops/devices/", {**params, "page": page}).content.decode()
        codes.update(re.findall(r'<tr data-device="([^"]+)"', html))
        if 'rel="next"' not in html:
            return codes
        page += 1


@pytest.mark.parametrize("username", ALL_USERS)
def test_device_list_page_shows_exactly_the_visible_devices(
    login: Any, demo_city: None, username: str
) -> None:
    assert list_page_codes(login(username)) == expected_devices(username)


@pytest.mark.parametrize("username", ALL_USERS)
def test_device_list_ward_options_are_only_the_visible_wards(
    login: Any, demo_city: None, username: str
) -> None:
    html = login(username).get("/ops/devices/").content.decode()
    select = html.split('name="ward"', 1)[1].split("</select>", 1)[0]
    options = set(re.findall(r'<option value="(\d+)"', select))
    if username.startswith("official"):
        assert options == {OWN if username == "official1" else OTHER}
    else:
        assert options == set(Ward.objects.current().values_list("code", flat=True))


@pytest.mark.parametrize("username", ALL_USERS)
def test_device_export_has_exactly_the_visible_devices(
    login: Any, demo_city: None, username: str
) -> None:
    content = login(username).get("/ops/devices/export.csv").content.decode("utf-8-sig")
    codes = {row["code"] for row in csv.DictReader(io.StringIO(content))}
    assert codes == expected_devices(username)


@pytest.mark.parametrize("username", ALL_USERS)
def test_device_api_lists_exactly_the_visible_devices(
    login: Any, demo_city: None, username: str
) -> None:
    body = login(username).get("/api/v1/devices/", {"limit": 1000}).json()
    assert {row["code"] for row in body["results"]} == expected_devices(username)
    assert body["count"] == len(expected_devices(username))


@pytest.mark.parametrize("username", ["official1", "official2"])
def test_official_cannot_filter_lists_to_another_ward(
    login: Any, demo_city: None, username: str
) -> None:
    client = login(username)
    other = OTHER if username == "official1" else OWN
    assert list_page_codes(client, ward=other) == set()
    assert client.get("/api/v1/devices/", {"ward": other}).json()["results"] == []
    export = client.get("/ops/devices/export.csv", {"ward": other}).content.decode("utf-8-sig")
    assert export.strip().splitlines()[1:] == []


DETAIL_PATHS = [
    "/ops/devices/{code}/",
    "/api/v1/devices/{code}/",
    "/api/v1/devices/{code}/events",
]


@pytest.mark.parametrize("username", ALL_USERS)
@pytest.mark.parametrize("code", OWN_DEVICES + OTHER_DEVICES)
@pytest.mark.parametrize("path", DETAIL_PATHS)
def test_device_detail_paths_answer_404_outside_the_users_wards(
    login: Any, demo_city: None, username: str, code: str, path: str
) -> None:
    response = login(username).get(path.format(code=code))
    assert response.status_code == (200 if may_see(username, code) else 404)


@pytest.mark.parametrize("username", ALL_USERS)
def test_readings_answer_404_outside_the_users_wards(
    login: Any, demo_city: None, username: str
) -> None:
    response = login(username).get(f"/api/v1/devices/{OTHER_SENSOR}/readings", {"metric": "pm25"})
    assert response.status_code == (200 if may_see(username, OTHER_SENSOR) else 404)


@pytest.mark.parametrize("username", ["official1", "official2"])
def test_snapshot_proxy_answers_404_for_another_wards_camera(
    login: Any, demo_city: None, username: str
) -> None:
    other = camera_code(OTHER if username == "official1" else OWN)
    assert login(username).get(f"/ops/devices/{other}/snapshot.jpg").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/ops/devices/",
        "/ops/devices/SIG-003/",
        "/ops/devices/export.csv",
        "/ops/devices/import/",
        f"/ops/devices/{camera_code(OWN)}/snapshot.jpg",
    ],
)
def test_anonymous_is_sent_to_login_from_device_pages(demo_city: None, path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/devices/",
        "/api/v1/devices/SIG-003/",
        "/api/v1/devices/AQ-001/readings?metric=pm25",
        "/api/v1/devices/SIG-003/events",
    ],
)
def test_anonymous_and_role_less_accounts_get_no_device_api_data(
    demo_city: None, path: str
) -> None:
    nobody = UserFactory(username="nobody")
    role_less = Client()
    role_less.force_login(nobody)
    for client in (Client(), role_less):
        response = client.get(path)
        assert response.status_code in {401, 403}
        assert "results" not in response.json() and "code" not in response.json()


def test_role_less_account_is_refused_device_pages(demo_city: None) -> None:
    nobody = UserFactory(username="nobody")
    client = Client()
    client.force_login(nobody)
    assert client.get("/ops/devices/").status_code == 403
    assert client.get("/ops/devices/export.csv").status_code == 403
    assert client.get("/ops/devices/SIG-003/").status_code == 403
