"""Reports on either map (issue 14, item 5): the reports page and its export count alerts,
incidents and requests per unit, on today's units or on the units in force on a chosen day,
whatever unit each case had in its time."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

import pytest
from django.test import Client

from dashboards.selectors import per_unit
from dashboards.unit_map import NOT_PLACED, UnitMap
from ioc.geo import boundary_shape
from ioc.models import Alert, Ward
from ioc.selectors import ward_in_force
from services.models import ServiceRequest
from tests.support import (
    LAST_FORMER_DAY,
    OTHER_WARD,
    OWN_WARD,
    example_user,
    file_request,
    former_into,
    raise_alert,
)

REFORM = date(2025, 7, 1)
JUNE = datetime(2025, 6, 15, 3, 0, tzinfo=UTC)
JULY = datetime(2025, 7, 10, 3, 0, tzinfo=UTC)
# A former unit that went wholly into official1's unit, besides the one whose code it took.
SECOND = next(code for code in former_into(OWN_WARD) if code != OWN_WARD)


@pytest.fixture
def merged(demo_city: Any) -> dict[str, Ward]:
    """The demo's reform: official1's unit (since 01/07/2025) took the code of one of the
    former units it came from ("own") and the land of others ("second" among them)."""
    return {
        "own": ward_in_force(OWN_WARD, LAST_FORMER_DAY),
        "second": ward_in_force(SECOND, LAST_FORMER_DAY),
        "new": ward_in_force(OWN_WARD),
    }


def cases(merged: dict[str, Ward]) -> None:
    """An alert in the former own ward and a request in the second in June 2025; in July, a
    request of the new unit at a place in the former own ward."""
    alert = raise_alert(OWN_WARD)
    Alert.objects.filter(pk=alert.pk).update(raised_at=JUNE, ward=merged["own"])
    for when, unit, place in (
        (JUNE, merged["second"], merged["second"]),
        (JULY, merged["new"], merged["own"]),
    ):
        request = file_request(OWN_WARD)
        ServiceRequest.objects.filter(pk=request.pk).update(
            created_at=when,
            ward=unit,
            latitude=place.centroid_lat,
            longitude=place.centroid_lon,
        )


def rows_by_code(user: str, on: date) -> dict[str, tuple[int, int]]:
    units, _rest = per_unit(
        example_user(user), first=date(2025, 6, 1), last=date(2025, 7, 31), on=on
    )
    return {row.code: (row.alerts, row.requests) for row in units if row.total}


def test_on_todays_units_the_former_wards_cases_count_in_the_unit_that_took_them(
    merged: dict[str, Ward],
) -> None:
    cases(merged)
    assert rows_by_code("operator", date.today()) == {OWN_WARD: (1, 2)}


def test_on_the_former_map_each_case_counts_in_the_ward_of_that_day(
    merged: dict[str, Ward],
) -> None:
    """The July request of the merged unit goes back, by its place, to the former own ward;
    the reuse of its code (05443: Trưng Vương, then Phan Đình Phùng) does not mix the two
    units up."""
    cases(merged)
    assert rows_by_code("operator", LAST_FORMER_DAY) == {OWN_WARD: (1, 1), SECOND: (0, 1)}


def test_an_official_reads_their_units_history_on_either_map_and_nothing_else(
    merged: dict[str, Ward],
) -> None:
    cases(merged)
    assert rows_by_code("official1", LAST_FORMER_DAY) == {OWN_WARD: (1, 1), SECOND: (0, 1)}
    assert rows_by_code("official1", date.today()) == {OWN_WARD: (1, 2)}
    units, rest = per_unit(
        example_user("official2"), first=date(2025, 6, 1), last=date(2025, 7, 31), on=REFORM
    )
    assert {row.code for row in units} == {OTHER_WARD}
    assert rest is None and not any(row.total for row in units)


def test_a_split_wards_cases_follow_their_place(demo_city: Any) -> None:
    """A former ward split between two new units: a case of the former ward counts, on
    today's map, in the unit its place lies in."""
    split = former_into(OWN_WARD, "part")[0]
    old = ward_in_force(split, LAST_FORMER_DAY)
    cell = boundary_shape(old.boundary)
    successors = list(old.successors.all())
    assert len(successors) == 2
    for unit in successors:
        part = cell.intersection(boundary_shape(unit.boundary)).representative_point()
        request = file_request(OWN_WARD)
        ServiceRequest.objects.filter(pk=request.pk).update(
            created_at=JUNE, ward=old, latitude=round(part.y, 6), longitude=round(part.x, 6)
        )
    units = UnitMap(date.today())
    assert units.target(old.pk) is None  # its place decides
    counted = units.count(ServiceRequest.objects.all(), place=("longitude", "latitude"))
    assert {pk: counted.get(pk) for pk in (u.pk for u in successors)} == {
        u.pk: 1 for u in successors
    }
    assert NOT_PLACED not in counted


def test_the_page_and_its_export_read_the_chosen_map(merged: dict[str, Ward]) -> None:
    cases(merged)
    client = Client()
    client.force_login(example_user("operator"))
    params = {"from": "2025-06-01", "to": "2025-07-31", "on": "2025-06-30"}
    page = client.get("/ops/reports/", params).content.decode()
    assert "30/06/2025" in page and 'data-unit="' + SECOND + '"' in page
    export = client.get("/ops/reports/units.csv", params)
    text = b"".join(export.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    rows = {row[0]: row[2:] for row in csv.reader(io.StringIO(text))}
    assert rows[OWN_WARD] == ["1", "0", "1", "0"]
    assert rows[SECOND] == ["0", "0", "1", "0"]
    today = client.get("/ops/reports/units.csv", {**params, "on": ""})
    text = b"".join(today.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    rows = {row[0]: row[2:] for row in csv.reader(io.StringIO(text))}
    assert rows[OWN_WARD] == ["1", "0", "2", "0"]
    assert SECOND not in rows


def test_an_official_finds_the_requests_of_the_units_theirs_came_from(
    merged: dict[str, Ward],
) -> None:
    from services.selectors import requests_visible_to

    cases(merged)
    seen = set(requests_visible_to(example_user("official1")).values_list("ward", flat=True))
    assert seen == {merged["second"].pk, merged["new"].pk}
    assert not requests_visible_to(example_user("official2")).filter(ward__in=seen).exists()
