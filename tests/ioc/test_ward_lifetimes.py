"""Units with a lifetime (issue 14, item 1): a code names one unit a day, every read by
code resolves it on a date (today by default), and history keeps its unit.

The demo is the 2025 reform itself: official1's ward code named a former unit until
30/06/2025 (05443 Phường Trưng Vương) and names the unit it went into since 01/07/2025
(Phường Phan Đình Phùng), with seven more former units and part of a split one.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from ioc import selectors
from ioc.models import Transfer, Ward, WardSuccession
from tests.support import (
    FORMER_OF_OWN,
    FORMER_OWN_NAME,
    LAST_FORMER_DAY,
    OWN_WARD_NAME,
    example_user,
)
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN
from tests.support import REFORM_DAY as REFORM

BEFORE = LAST_FORMER_DAY.isoformat()


def client_for(username: str) -> Client:
    client = Client()
    client.force_login(example_user(username))
    return client


def former_own() -> Ward:
    return selectors.ward_in_force(OWN, LAST_FORMER_DAY)


def test_a_code_resolves_to_the_unit_of_the_day(demo_city: Any) -> None:
    assert selectors.ward_in_force(OWN, LAST_FORMER_DAY).name == FORMER_OWN_NAME
    assert selectors.ward_in_force(OWN, REFORM).name == OWN_WARD_NAME
    assert selectors.ward_in_force(OWN) == selectors.ward_in_force(OWN, REFORM)
    with pytest.raises(Ward.DoesNotExist):
        selectors.ward_in_force("00000")


def test_the_api_lists_the_units_in_force_on_the_day_asked(demo_city: Any) -> None:
    operator = client_for("operator")
    today = operator.get("/api/v1/wards/", {"limit": 100}).json()["results"]
    before = operator.get("/api/v1/wards/", {"limit": 100, "on": BEFORE}).json()["results"]

    assert [row["name"] for row in today if row["code"] == OWN] == [OWN_WARD_NAME]
    assert [row["name"] for row in before if row["code"] == OWN] == [FORMER_OWN_NAME]
    assert (len(today), len(before)) == (92, 36)


def test_a_unit_names_its_predecessors_and_successors(demo_city: Any) -> None:
    operator = client_for("operator")
    new = operator.get(f"/api/v1/wards/{OWN}/").json()
    old = operator.get(f"/api/v1/wards/{OWN}/", {"on": BEFORE}).json()

    assert (new["valid_from"], new["valid_to"]) == ("2025-07-01", None)
    assert sorted((p["code"], p["name"]) for p in new["predecessors"]) == sorted(FORMER_OF_OWN)
    assert set(new["predecessors"][0]) == {
        "code",
        "name",
        "title",
        "kind",
        "valid_from",
        "valid_to",
        "transfer",
        "effective",
    }
    assert {(p["valid_from"], p["valid_to"], p["effective"]) for p in new["predecessors"]} == {
        (None, "2025-07-01", "2025-07-01")
    }
    assert {p["transfer"] for p in new["predecessors"]} == {"whole", "part"}
    assert new["successors"] == []
    assert old["valid_to"] == "2025-07-01"
    assert [(s["code"], s["name"], s["transfer"]) for s in old["successors"]] == [
        (OWN, OWN_WARD_NAME, "whole")
    ]


@pytest.mark.parametrize("day", ["30/06/2025", "2025-02-30", "yesterday", "2025-06-31T00:00"])
def test_a_day_that_cannot_be_read_is_a_400_naming_the_parameter(demo_city: Any, day: str) -> None:
    for path in ("/api/v1/wards/", f"/api/v1/wards/{OWN}/"):
        response = client_for("operator").get(path, {"on": day})
        assert response.status_code == 400
        assert "on" in response.json()


def test_a_code_that_names_nothing_on_that_day_is_a_404(demo_city: Any) -> None:
    response = client_for("operator").get(f"/api/v1/wards/{OWN}/", {"on": "1900-01-01"})
    assert response.status_code == 200  # the former unit has no start: in force since ever
    Ward.objects.filter(pk=former_own().pk).update(valid_from=date(2008, 1, 1))
    response = client_for("operator").get(f"/api/v1/wards/{OWN}/", {"on": "1900-01-01"})
    assert response.status_code == 404


def test_an_official_sees_the_history_of_the_units_theirs_came_from(demo_city: Any) -> None:
    official = example_user("official1")
    today = selectors.wards_visible_to(official)
    before = selectors.wards_visible_to(official, on=LAST_FORMER_DAY)

    assert list(today.values_list("code", "name")) == [(OWN, OWN_WARD_NAME)]
    assert sorted(before.values_list("code", "name")) == sorted(FORMER_OF_OWN)
    client = client_for("official1")
    assert client.get(f"/api/v1/wards/{OWN}/", {"on": BEFORE}).status_code == 200
    # OTHER's code named, on that day, a former unit that went into official2's ward
    assert client.get(f"/api/v1/wards/{OTHER}/", {"on": BEFORE}).status_code == 404
    # official2 (the other ward) sees neither the former nor the new unit of the own code
    other = client_for("official2")
    assert other.get(f"/api/v1/wards/{OWN}/").status_code == 404
    assert other.get(f"/api/v1/wards/{OWN}/", {"on": BEFORE}).status_code == 404


def test_history_reaches_back_through_several_reorganisations(demo_city: Any) -> None:
    new = selectors.ward_in_force(OWN)
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
        OWN_WARD_NAME,
        *(name for _code, name in FORMER_OF_OWN),
    }


def test_two_open_ended_units_cannot_share_a_code(demo_city: Any) -> None:
    own = selectors.ward_in_force(OWN)
    with pytest.raises(IntegrityError), transaction.atomic():
        Ward.objects.create(code=OWN, name="Trùng", kind=own.kind, valid_from=date(2026, 1, 1))


def test_a_unit_without_a_boundary_is_in_force_but_not_on_the_map(demo_city: Any) -> None:
    Ward.objects.create(code="99998", name="Chưa Có Ranh Giới", kind="xa", valid_from=REFORM)
    operator = client_for("operator")
    listed = operator.get("/api/v1/wards/99998/").json()
    assert (listed["has_boundary"], listed["centroid_lat"]) == (False, None)
    features = operator.get("/api/v1/wards.geojson").json()["features"]
    assert "99998" not in {feature["properties"]["code"] for feature in features}
