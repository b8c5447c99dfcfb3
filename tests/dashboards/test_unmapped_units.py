"""A unit in force without a boundary yet (issue 14, item 2): the official list gives the
demo province 92 units and only the former city's 8 have generated boundaries. Nothing is
placed in such a unit by location, it is not on the maps, the screens say so, and no
screen that lists or picks units fails on it."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest

from ioc.geo import ward_for_point
from ioc.models import Ward
from tests.support import OWN_WARD as OWN
from tests.support import UNMAPPED_WARD as UNMAPPED
from tests.support import example_ward

pytestmark = pytest.mark.usefixtures("demo_city")

NO_BOUNDARY_NOTE = 'data-testid="no-boundary"'


def unmapped_codes() -> set[str]:
    return set(Ward.objects.current().filter(boundary__isnull=True).values_list("code", flat=True))


def marked_rows(html: str) -> set[str]:
    """The codes of the ward table's rows that say "no boundary yet"."""
    rows = re.findall(r'<tr data-ward="(\d+)">(.*?)</tr>', html, flags=re.S)
    return {code for code, row in rows if "data-no-boundary" in row}


def test_the_demo_example_unit_has_no_boundary_and_no_centre() -> None:
    unit = example_ward("unmapped")

    assert (unit.boundary, unit.centroid_lat, unit.centroid_lon) == (None, None, None)
    assert len(unmapped_codes()) == 92 - 8


@pytest.mark.parametrize("path", ["/ops/wards/", "/ops/"])
def test_the_ward_tables_say_which_units_have_no_boundary_yet(login: Any, path: str) -> None:
    html = login("operator").get(path).content.decode()

    assert marked_rows(html) == unmapped_codes()
    assert "chưa có ranh giới" in html or "no boundary yet" in html


def test_an_officials_ward_table_marks_nothing_when_their_unit_is_mapped(login: Any) -> None:
    html = login("official1").get("/ops/wards/").content.decode()

    assert f'<tr data-ward="{OWN}">' in html
    assert marked_rows(html) == set()


def test_the_ward_page_of_a_unit_without_a_boundary_says_so(login: Any) -> None:
    response = login("operator").get(f"/ops/wards/{UNMAPPED}/")
    html = response.content.decode()

    assert response.status_code == 200
    assert NO_BOUNDARY_NOTE in html
    assert example_ward("unmapped").title in html
    # an incident can still be opened there, at a place the user picks
    assert 'href="/ops/incidents/new/"' in html


def test_the_ward_page_of_a_mapped_unit_has_no_such_note(login: Any) -> None:
    html = login("official1").get(f"/ops/wards/{OWN}/").content.decode()

    assert NO_BOUNDARY_NOTE not in html
    assert 'href="/ops/incidents/new/?lat=' in html


def test_the_ward_list_export_says_whether_each_unit_has_a_boundary(login: Any) -> None:
    response = login("operator").get("/ops/wards/export.csv")
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))

    assert rows[0][2] == "Ranh giới"
    assert {row[0] for row in rows[1:] if row[2] == "Không"} == unmapped_codes()
    assert {row[0] for row in rows[1:] if row[2] == "Có"} == set(
        Ward.objects.current().filter(boundary__isnull=False).values_list("code", flat=True)
    )


@pytest.mark.parametrize(
    "path",
    [
        "/ops/devices/?ward={code}",
        "/ops/devices/export.csv?ward={code}",
        "/ops/cameras/wall/?ward={code}",
        "/ops/incidents/?ward={code}",
        "/ops/requests/?ward={code}",
        "/ops/wards/{code}/export.csv",
        "/api/v1/devices/?ward={code}",
        "/api/v1/kpis?ward={code}",
        "/requests/?ward={code}",
        "/requests.geojson?ward={code}",
    ],
)
def test_pickers_and_filters_take_a_unit_without_a_boundary(login: Any, path: str) -> None:
    response = login("operator").get(path.format(code=UNMAPPED))

    assert response.status_code == 200, path


def test_pickers_offer_a_unit_without_a_boundary(login: Any) -> None:
    html = login("operator").get("/ops/devices/").content.decode()

    assert f'<option value="{UNMAPPED}"' in html


def test_maps_leave_out_a_unit_without_a_boundary(login: Any) -> None:
    staff = login("operator").get("/api/v1/wards.geojson").json()["features"]
    public = login("operator").get("/portal/wards.geojson").json()["features"]

    for features in (staff, public):
        codes = {feature["properties"]["code"] for feature in features}
        assert UNMAPPED not in codes
        assert all(feature["geometry"] is not None for feature in features)
        assert len(codes) == 8


def test_the_portal_lists_every_unit_and_marks_those_not_on_the_map(login: Any) -> None:
    html = login("operator").get("/").content.decode()
    listed = html.split('data-testid="public-wards"', 1)[1].split("</ul>", 1)[0]

    assert listed.count("<li>") == Ward.objects.current().count()
    assert listed.count("data-no-boundary") == len(unmapped_codes())


def test_nothing_is_placed_in_a_unit_by_location_without_a_boundary() -> None:
    mapped = Ward.objects.current().filter(boundary__isnull=False)
    points = mapped.values_list("centroid_lon", "centroid_lat")

    assert {ward_for_point(lon, lat) for lon, lat in points} == set(
        mapped.values_list("code", flat=True)
    )
    assert unmapped_codes().isdisjoint({ward_for_point(lon, lat) for lon, lat in points})
