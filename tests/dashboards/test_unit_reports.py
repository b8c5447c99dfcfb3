"""Reports on either map (issue 14, item 5): the reports page and its export count alerts,
incidents and requests per unit, on today's units or on the units in force on a chosen day,
whatever unit each case had in its time."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

import pytest
import shapely
from django.test import Client

from dashboards.selectors import per_unit
from dashboards.unit_map import NOT_PLACED, UnitMap
from ioc.geo import boundary_shape
from ioc.models import Alert, Transfer, Ward, WardSuccession
from services.models import ServiceRequest
from tests.support import OTHER_WARD, OWN_WARD, THIRD_WARD, example_user, file_request, raise_alert

REFORM = date(2025, 7, 1)
JUNE = datetime(2025, 6, 15, 3, 0, tzinfo=UTC)
JULY = datetime(2025, 7, 10, 3, 0, tzinfo=UTC)


@pytest.fixture
def merged(demo_city: Any) -> dict[str, Ward]:
    """The own and the third ward merged on 01/07/2025 into a new unit that took the own
    ward's code (as the 2025 reform did); official1 works the new unit."""
    own, third = Ward.objects.get(code=OWN_WARD), Ward.objects.get(code=THIRD_WARD)
    union = shapely.union_all([boundary_shape(own.boundary), boundary_shape(third.boundary)])
    Ward.objects.filter(pk__in=[own.pk, third.pk]).update(valid_to=REFORM)
    new = Ward.objects.create(
        code=OWN_WARD,
        name="Hợp Nhất",
        kind=own.kind,
        boundary=shapely.geometry.mapping(union),
        centroid_lat=own.centroid_lat,
        centroid_lon=own.centroid_lon,
        valid_from=REFORM,
    )
    for old in (own, third):
        WardSuccession.objects.create(
            predecessor=old, successor=new, transfer=Transfer.WHOLE, effective=REFORM
        )
    example_user("official1").wards.set([new])
    return {"own": own, "third": third, "new": new}


def cases(merged: dict[str, Ward]) -> None:
    """An alert in the own ward and a request in the third in June 2025; in July, a request
    of the new unit at a place in the former own ward."""
    alert = raise_alert(OWN_WARD)
    Alert.objects.filter(pk=alert.pk).update(raised_at=JUNE, ward=merged["own"])
    june = file_request(THIRD_WARD)
    ServiceRequest.objects.filter(pk=june.pk).update(created_at=JUNE, ward=merged["third"])
    july = file_request(OWN_WARD)
    ServiceRequest.objects.filter(pk=july.pk).update(created_at=JULY, ward=merged["new"])


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
    the code 05443-style reuse does not mix the two units up."""
    cases(merged)
    assert rows_by_code("operator", date(2025, 6, 30)) == {OWN_WARD: (1, 1), THIRD_WARD: (0, 1)}


def test_an_official_reads_their_units_history_on_either_map_and_nothing_else(
    merged: dict[str, Ward],
) -> None:
    cases(merged)
    assert rows_by_code("official1", date(2025, 6, 30)) == {OWN_WARD: (1, 1), THIRD_WARD: (0, 1)}
    assert rows_by_code("official1", date.today()) == {OWN_WARD: (1, 2)}
    units, rest = per_unit(
        example_user("official2"), first=date(2025, 6, 1), last=date(2025, 7, 31), on=REFORM
    )
    assert {row.code for row in units} == {OTHER_WARD}
    assert rest is None and not any(row.total for row in units)


def test_a_split_wards_cases_follow_their_place(demo_city: Any) -> None:
    """The other ward split between two new units (west and east halves of its box): a
    case of the old ward counts in the half its place lies in."""
    old = Ward.objects.get(code=OTHER_WARD)
    shape = boundary_shape(old.boundary)
    west_box, east_box = _halves(shape)
    Ward.objects.filter(pk=old.pk).update(valid_to=REFORM)
    halves = []
    for code, name, box in (("99001", "Tây", west_box), ("99002", "Đông", east_box)):
        part = shape.intersection(box)
        halves.append(
            Ward.objects.create(
                code=code,
                name=name,
                kind=old.kind,
                boundary=shapely.geometry.mapping(part),
                valid_from=REFORM,
            )
        )
        WardSuccession.objects.create(
            predecessor=old, successor=halves[-1], transfer=Transfer.PART, effective=REFORM
        )
    request = file_request(OTHER_WARD)
    ServiceRequest.objects.filter(pk=request.pk).update(created_at=JUNE)
    units = UnitMap(date.today())
    assert units.target(old.pk) is None  # its place decides
    counted = units.count(ServiceRequest.objects.all(), place=("longitude", "latitude"))
    point = shapely.geometry.Point(float(request.longitude), float(request.latitude))
    holder = next(half for half in halves if boundary_shape(half.boundary).covers(point))
    assert counted.get(holder.pk) == 1
    assert NOT_PLACED not in counted


def _halves(shape: Any) -> tuple[Any, Any]:
    minx, miny, maxx, maxy = shape.bounds
    middle = (minx + maxx) / 2
    return shapely.geometry.box(minx, miny, middle, maxy), shapely.geometry.box(
        middle, miny, maxx, maxy
    )


def test_the_page_and_its_export_read_the_chosen_map(merged: dict[str, Ward]) -> None:
    cases(merged)
    client = Client()
    client.force_login(example_user("operator"))
    params = {"from": "2025-06-01", "to": "2025-07-31", "on": "2025-06-30"}
    page = client.get("/ops/reports/", params).content.decode()
    assert "30/06/2025" in page and 'data-unit="' + THIRD_WARD + '"' in page
    export = client.get("/ops/reports/units.csv", params)
    text = b"".join(export.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    rows = {row[0]: row[2:] for row in csv.reader(io.StringIO(text))}
    assert rows[OWN_WARD] == ["1", "0", "1", "0"]
    assert rows[THIRD_WARD] == ["0", "0", "1", "0"]
    today = client.get("/ops/reports/units.csv", {**params, "on": ""})
    text = b"".join(today.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    rows = {row[0]: row[2:] for row in csv.reader(io.StringIO(text))}
    assert rows[OWN_WARD] == ["1", "0", "2", "0"]
    assert THIRD_WARD not in rows


def test_an_official_finds_the_requests_of_the_units_theirs_came_from(
    merged: dict[str, Ward],
) -> None:
    from services.selectors import requests_visible_to

    cases(merged)
    seen = set(requests_visible_to(example_user("official1")).values_list("ward", flat=True))
    assert seen == {merged["third"].pk, merged["new"].pk}
    assert not requests_visible_to(example_user("official2")).filter(ward__in=seen).exists()
