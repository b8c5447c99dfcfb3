"""Units with a lifetime (issue 14, item 1): a code names one unit a day, every read by
code resolves it on a date (today by default), and history keeps its unit.

The 2025 reform in small: the own ward ends on 30/06/2025 and a new unit takes its code
from 01/07/2025, as 05443 went from Phường Trưng Vương to Phường Phan Đình Phùng.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from ioc import selectors
from ioc.models import Transfer, Ward, WardSuccession
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN
from tests.support import OWN_WARD_NAME, example_user

REFORM = date(2025, 7, 1)
BEFORE = date(2025, 6, 30)


@pytest.fixture
def reformed(demo_city: Any) -> tuple[Ward, Ward]:
    """The own ward ended the day before the reform; a new unit has its code since."""
    old = Ward.objects.get(code=OWN)
    old.valid_to = REFORM
    old.save()
    new = Ward.objects.create(
        code=OWN,
        name="Phan Đình Phùng Mới",
        kind=old.kind,
        boundary=old.boundary,
        centroid_lat=old.centroid_lat,
        centroid_lon=old.centroid_lon,
        valid_from=REFORM,
    )
    WardSuccession.objects.create(
        predecessor=old, successor=new, transfer=Transfer.WHOLE, effective=REFORM
    )
    example_user("official1").wards.set([new])
    return old, new


def client_for(username: str) -> Client:
    client = Client()
    client.force_login(example_user(username))
    return client


def test_a_code_resolves_to_the_unit_of_the_day(reformed: tuple[Ward, Ward]) -> None:
    old, new = reformed
    assert selectors.ward_in_force(OWN, BEFORE) == old
    assert selectors.ward_in_force(OWN, REFORM) == new
    assert selectors.ward_in_force(OWN) == new
    with pytest.raises(Ward.DoesNotExist):
        selectors.ward_in_force("00000")


def test_the_api_lists_the_units_in_force_on_the_day_asked(
    reformed: tuple[Ward, Ward],
) -> None:
    operator = client_for("operator")
    today = operator.get("/api/v1/wards/", {"limit": 100}).json()["results"]
    before = operator.get("/api/v1/wards/", {"limit": 100, "on": "2025-06-30"}).json()["results"]

    assert [row["name"] for row in today if row["code"] == OWN] == ["Phan Đình Phùng Mới"]
    assert [row["name"] for row in before if row["code"] == OWN] == [OWN_WARD_NAME]
    assert len(today) == len(before) == 32


def test_a_unit_names_its_predecessors_and_successors(reformed: tuple[Ward, Ward]) -> None:
    operator = client_for("operator")
    new = operator.get(f"/api/v1/wards/{OWN}/").json()
    old = operator.get(f"/api/v1/wards/{OWN}/", {"on": "2025-06-30"}).json()

    assert (new["valid_from"], new["valid_to"]) == ("2025-07-01", None)
    assert new["predecessors"] == [
        {
            "code": OWN,
            "name": OWN_WARD_NAME,
            "title": reformed[0].title,
            "kind": reformed[0].kind,
            "valid_from": None,
            "valid_to": "2025-07-01",
            "transfer": "whole",
            "effective": "2025-07-01",
        }
    ]
    assert new["successors"] == []
    assert old["valid_to"] == "2025-07-01"
    assert [(s["code"], s["name"]) for s in old["successors"]] == [(OWN, "Phan Đình Phùng Mới")]


@pytest.mark.parametrize("day", ["30/06/2025", "2025-02-30", "yesterday", "2025-06-31T00:00"])
def test_a_day_that_cannot_be_read_is_a_400_naming_the_parameter(demo_city: Any, day: str) -> None:
    for path in ("/api/v1/wards/", f"/api/v1/wards/{OWN}/"):
        response = client_for("operator").get(path, {"on": day})
        assert response.status_code == 400
        assert "on" in response.json()


def test_a_code_that_names_nothing_on_that_day_is_a_404(reformed: tuple[Ward, Ward]) -> None:
    response = client_for("operator").get(f"/api/v1/wards/{OWN}/", {"on": "1900-01-01"})
    assert response.status_code == 200  # the old ward had no start: in force since ever
    Ward.objects.filter(pk=reformed[0].pk).update(valid_from=date(2008, 1, 1))
    response = client_for("operator").get(f"/api/v1/wards/{OWN}/", {"on": "1900-01-01"})
    assert response.status_code == 404


def test_an_official_sees_the_history_of_the_units_theirs_came_from(
    reformed: tuple[Ward, Ward],
) -> None:
    old, new = reformed
    official = example_user("official1")
    assert set(selectors.wards_visible_to(official).values_list("pk", flat=True)) == {new.pk}
    before = selectors.wards_visible_to(official, on=BEFORE)
    assert set(before.values_list("pk", flat=True)) == {old.pk}
    client = client_for("official1")
    assert client.get(f"/api/v1/wards/{OWN}/", {"on": "2025-06-30"}).status_code == 200
    assert client.get(f"/api/v1/wards/{OTHER}/", {"on": "2025-06-30"}).status_code == 404
    # official2 (the other ward) sees neither the old nor the new unit of the own code
    other = client_for("official2")
    assert other.get(f"/api/v1/wards/{OWN}/").status_code == 404
    assert other.get(f"/api/v1/wards/{OWN}/", {"on": "2025-06-30"}).status_code == 404


def test_history_reaches_back_through_several_reorganisations(
    reformed: tuple[Ward, Ward],
) -> None:
    _old, new = reformed
    newest = Ward.objects.create(
        code="99999", name="Sau Nữa", kind=new.kind, valid_from=date(2030, 1, 1)
    )
    Ward.objects.filter(pk=new.pk).update(valid_to=date(2030, 1, 1))
    WardSuccession.objects.create(
        predecessor=new, successor=newest, transfer=Transfer.WHOLE, effective=date(2030, 1, 1)
    )
    official = example_user("official1")
    official.wards.set([newest])
    seen = selectors.wards_visible_to(official, include_retired=True)
    assert set(seen.values_list("name", flat=True)) == {
        "Sau Nữa",
        "Phan Đình Phùng Mới",
        OWN_WARD_NAME,
    }


def test_two_open_ended_units_cannot_share_a_code(demo_city: Any) -> None:
    own = Ward.objects.get(code=OWN)
    with pytest.raises(IntegrityError), transaction.atomic():
        Ward.objects.create(code=OWN, name="Trùng", kind=own.kind, valid_from=REFORM)


def test_a_unit_without_a_boundary_is_in_force_but_not_on_the_map(demo_city: Any) -> None:
    Ward.objects.create(code="99998", name="Chưa Có Ranh Giới", kind="xa", valid_from=REFORM)
    operator = client_for("operator")
    listed = operator.get("/api/v1/wards/99998/").json()
    assert (listed["has_boundary"], listed["centroid_lat"]) == (False, None)
    features = operator.get("/api/v1/wards.geojson").json()["features"]
    assert "99998" not in {feature["properties"]["code"] for feature in features}
