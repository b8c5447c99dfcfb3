"""After a reorganisation, a former unit's code or name finds the unit it went into
("Phường Trưng Vương (cũ) → Phường Phan Đình Phùng"): the wards API, the ward list and
pages, the portal's filter; Open311 and the portal show the new unit's name."""

from __future__ import annotations

import unicodedata
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from ioc import selectors
from ioc.models import Ward
from ioc.selectors import WardFound
from services.models import ServiceCategory, ServiceRequest
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN
from tests.support import THIRD_WARD as THIRD
from tests.support import example_user, file_request
from tests.support.reorganisation import MERGED_NAME, merger, reorganise, unit

pytestmark = pytest.mark.usefixtures("fresh_ward_index")  # wards change in rolled-back transactions


@pytest.fixture
def merged(demo_city: Any, tmp_path: Path) -> tuple[Ward, Ward]:
    """The own and the third unit merged into one keeping the own code: (third, new)."""
    third = unit(THIRD)
    reorganise(tmp_path, *merger())
    third.refresh_from_db()
    return third, unit(OWN)


def client_for(username: str) -> Client:
    client = Client()
    client.force_login(example_user(username))
    return client


def without_marks(text: str) -> str:
    """ "Quán Triều" as typed without Vietnamese marks: "Quan Trieu"."""
    plain = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(char for char in plain if not unicodedata.combining(char))


def label(former: Ward, new: Ward) -> str:
    """ "Phường … (cũ) → Phường …" in the platform's language, as a page shows it."""
    with translation.override("vi"):
        return WardFound(new, former).label


def test_a_former_code_in_a_filter_names_the_unit_it_went_into(
    merged: tuple[Ward, Ward],
) -> None:
    third, new = merged
    assert list(selectors.wards_named(THIRD)) == [new]
    assert list(selectors.wards_named(OWN)) == [new]  # the code in force wins
    assert list(selectors.wards_named(THIRD, on=third.valid_to - timedelta(days=1))) == [third]
    assert list(selectors.wards_named("00000")) == []


@pytest.mark.parametrize("typed", ["name", "name without marks", "code", "title"])
def test_the_wards_api_finds_the_new_unit_by_a_former_name_or_code(
    merged: tuple[Ward, Ward], typed: str
) -> None:
    third, new = merged
    query = {
        "name": third.name,
        "name without marks": without_marks(third.name).lower(),
        "code": THIRD,
        "title": third.title,
    }[typed]

    body = client_for("operator").get("/api/v1/wards/", {"q": query}).json()

    assert [row["code"] for row in body["results"]] == [OWN]
    (found,) = body["results"][0]["found_as"]
    assert (found["code"], found["name"], found["valid_to"]) == (
        THIRD,
        third.name,
        str(third.valid_to),
    )
    assert found["text"] == label(third, new)
    assert body["results"][0]["name"] == MERGED_NAME


def test_a_search_finds_only_what_its_user_may_see(merged: tuple[Ward, Ward]) -> None:
    third, _new = merged
    assert client_for("official2").get("/api/v1/wards/", {"q": third.name}).json()["results"] == []
    official1 = client_for("official1").get("/api/v1/wards/", {"q": third.name}).json()
    assert [row["code"] for row in official1["results"]] == [OWN]
    # Without q the list is unchanged, found_as empty.
    plain = client_for("operator").get("/api/v1/wards/", {"limit": 500}).json()["results"]
    assert {row["code"] for row in plain} >= {OWN, OTHER}
    assert all(row["found_as"] == [] for row in plain)


def test_the_ward_list_and_a_former_wards_page_lead_to_the_new_unit(
    merged: tuple[Ward, Ward],
) -> None:
    third, new = merged
    operator = client_for("operator")

    page = operator.get("/ops/wards/", {"q": third.name}).content.decode()

    assert label(third, new) in page
    assert f'href="/ops/wards/{OWN}/"' in page
    assert f'data-ward="{OTHER}"' not in page
    response = operator.get(f"/ops/wards/{THIRD}/")
    assert (response.status_code, response["Location"]) == (302, f"/ops/wards/{OWN}/")
    before = third.valid_to - timedelta(days=1)
    assert operator.get(f"/ops/wards/{THIRD}/", {"on": str(before)}).status_code == 200
    assert client_for("official2").get(f"/ops/wards/{THIRD}/").status_code == 404


def test_open311_and_the_portal_show_the_new_name(demo_city: Any, tmp_path: Path) -> None:
    category = ServiceCategory.objects.filter(
        department__isnull=True, legal_process=False, is_active=True
    ).first()
    assert category is not None
    request = file_request(THIRD, category=category.code)
    third = unit(THIRD)
    reorganise(tmp_path, *merger())
    third.refresh_from_db()
    new = unit(OWN)

    (row,) = Client().get(f"/open311/v2/requests/{request.code}.json").json()
    portal = Client().get("/requests/", {"ward": THIRD, "state": "open"}).content.decode()

    with translation.override("vi"):
        assert row["agency_responsible"] == new.title
    assert ServiceRequest.objects.get(pk=request.pk).ward == new
    assert label(third, new) in portal
    assert f'<option value="{OWN}" selected>' in portal
    assert request.code in portal


def test_a_blank_search_lists_everything_and_a_blank_day_is_a_400(demo_city: Any) -> None:
    operator = client_for("operator")
    everything = operator.get("/api/v1/wards/", {"limit": 500}).json()["count"]
    assert operator.get("/api/v1/wards/", {"q": " ", "limit": 500}).json()["count"] == everything
    blank = operator.get("/api/v1/wards/", {"on": ""})
    assert blank.status_code == 400 and "on" in blank.json()
