"""The staff side of citizen requests: scoped queue and pages, actions, KPIs on /ops/."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dashboards.selectors import kpis_for, snapshot_for
from ioc.models import AuditEntry
from services import services as svc
from services.models import ServiceRequest
from services.selectors import request_kpis, request_unit_kpis
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN
from tests.support import OWN_WARD_NAME, example_user, file_request, open_at


@pytest.fixture
def requests_in_two_wards(demo_city: Any) -> dict[str, ServiceRequest]:
    return {
        "own": file_request(OWN, reporter_name="Lê Thị Riêng", reporter_phone="0987654321"),
        "other": file_request(OTHER),
        "department": file_request(OTHER, category="o-ga"),  # Phòng Quản lý đô thị
    }


@pytest.mark.parametrize(
    ("username", "sees"),
    [
        ("operator", {"own", "other", "department"}),
        ("official1", {"own"}),
        ("official2", {"other", "department"}),
        ("department1", {"department"}),
    ],
)
def test_queue_and_pages_are_scoped(
    requests_in_two_wards: dict[str, ServiceRequest], login: Any, username: str, sees: set[str]
) -> None:
    client = login(username)
    html = client.get("/ops/requests/").content.decode()
    for name, item in requests_in_two_wards.items():
        assert (item.code in html) == (name in sees), name
        page = client.get(f"/ops/requests/{item.code}/")
        assert page.status_code == (200 if name in sees else 404)
        if name not in sees:
            assert client.post(f"/ops/requests/{item.code}/triage/").status_code == 404
            item.refresh_from_db()
            assert item.status == "new"


def test_anonymous_people_go_to_the_login_page(requests_in_two_wards: Any, client: Any) -> None:
    response = client.get("/ops/requests/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_staff_see_the_reporter_and_internal_notes_the_public_does_not(
    requests_in_two_wards: dict[str, ServiceRequest], login: Any, client: Any
) -> None:
    item = requests_in_two_wards["own"]
    staff = login("official1")
    staff.post(f"/ops/requests/{item.code}/note/", {"text": "Ghi chú nội bộ bí mật"})
    page = staff.get(f"/ops/requests/{item.code}/").content.decode()
    assert "Lê Thị Riêng" in page and "Ghi chú nội bộ bí mật" in page
    public = client.get(f"/track/{item.code}/").content.decode()
    assert "Lê Thị Riêng" not in public and "0987654321" not in public
    assert "Ghi chú nội bộ bí mật" not in public


def test_the_workflow_from_the_page(
    requests_in_two_wards: dict[str, ServiceRequest], login: Any
) -> None:
    item = requests_in_two_wards["own"]
    client = login("official1")
    base = f"/ops/requests/{item.code}"
    client.post(f"{base}/triage/")
    client.post(f"{base}/assign/", {"department": ""})
    client.post(f"{base}/answer/", {"text": "Đã cử người"})
    refused = client.post(f"{base}/resolve/", {"text": ""}, follow=True)
    assert any("xử lý thế nào" in str(m) for m in refused.context["messages"])
    client.post(f"{base}/resolve/", {"text": "Đã dọn sạch"})
    item.refresh_from_db()
    assert item.status == "resolved"
    actions = set(
        AuditEntry.objects.filter(object_id=str(item.pk)).values_list("action", flat=True)
    )
    assert {
        "request.triaged",
        "request.assigned",
        "request.answered",
        "request.resolved",
    } <= actions
    assert client.post(f"{base}/explode/").status_code == 404


def test_a_request_becomes_an_incident_and_the_incident_lists_it(
    requests_in_two_wards: dict[str, ServiceRequest], login: Any
) -> None:
    item = requests_in_two_wards["own"]
    client = login("official1")
    client.post(f"/ops/requests/{item.code}/incident/", {"incident": ""})
    item.refresh_from_db()
    assert item.incident is not None and item.incident.ward.code == OWN
    page = client.get(f"/ops/incidents/{item.incident.pk}/").content.decode()
    assert f'data-request="{item.code}"' in page
    # Linking another request to an existing incident by its SC- number.
    second = file_request(OWN)
    client.post(f"/ops/requests/{second.code}/incident/", {"incident": item.incident.reference})
    second.refresh_from_db()
    assert second.incident == item.incident
    foreign = open_at(OTHER)
    third = file_request(OWN)
    client.post(f"/ops/requests/{third.code}/incident/", {"incident": foreign.reference})
    third.refresh_from_db()
    assert third.incident is None


def test_merge_from_the_page(requests_in_two_wards: dict[str, ServiceRequest], login: Any) -> None:
    survivor = requests_in_two_wards["own"]
    duplicate = file_request(OWN)
    login("official1").post(
        f"/ops/requests/{duplicate.code}/merge/", {"into": survivor.code.lower()}
    )
    duplicate.refresh_from_db()
    assert duplicate.merged_into == survivor


def test_request_kpis_count_open_overdue_on_time_and_satisfaction(demo_city: Any) -> None:
    operator = example_user("operator")
    on_time = file_request(OWN)
    svc.request_assign(actor=operator, request=on_time)
    svc.request_resolve(actor=operator, request=on_time, answer="Xong")
    svc.request_rate(request=on_time, rating=5)
    late = file_request(OWN)
    ServiceRequest.objects.filter(pk=late.pk).update(
        deadline_at=timezone.now() - timedelta(hours=1)
    )
    svc.request_assign(actor=operator, request=late)
    svc.request_resolve(actor=operator, request=late, answer="Muộn")
    svc.request_rate(request=late, rating=2)
    overdue = file_request(OWN)
    ServiceRequest.objects.filter(pk=overdue.pk).update(
        deadline_at=timezone.now() - timedelta(minutes=5)
    )
    file_request(OTHER)

    figures = request_kpis(example_user("official1"))
    assert (figures["open"], figures["overdue"], figures["resolved_30d"]) == (1, 1, 2)
    assert figures["on_time_pct"] == 50.0 and figures["satisfaction"] == 3.5
    assert figures["resolution_hours"] is not None
    assert request_kpis(example_user("operator"))["open"] == 2
    units = {unit["unit"]: unit for unit in request_unit_kpis(example_user("operator"))}
    own_unit = units[OWN_WARD_NAME]
    assert (own_unit["open"], own_unit["overdue"], own_unit["on_time_pct"]) == (1, 1, 50.0)


def test_the_dashboard_shows_requests_of_the_users_wards_only(
    requests_in_two_wards: dict[str, ServiceRequest], login: Any
) -> None:
    snapshot = snapshot_for(example_user("official1"))
    assert [item["code"] for item in snapshot["requests"]] == [requests_in_two_wards["own"].code]
    assert "Lê Thị Riêng" not in str(snapshot)
    assert kpis_for(example_user("official1"))["requests"]["open"] == 1
    html = login("operator").get("/ops/").content.decode()
    assert "data-kpi-requests" in html and 'data-kpi-request="overdue"' in html


def test_queue_query_count_does_not_grow_with_requests(demo_city: Any, login: Any) -> None:
    client = login("operator")
    file_request(OWN)
    client.get("/ops/requests/")
    with CaptureQueriesContext(connection) as few:
        client.get("/ops/requests/")
    for _ in range(5):
        file_request(OTHER)
    with CaptureQueriesContext(connection) as many:
        client.get("/ops/requests/")
    assert len(many) == len(few)


def test_a_long_queue_pages_and_the_next_page_keeps_the_filters(
    demo_city: Any, login: Any, monkeypatch: Any
) -> None:
    from services import staff_views

    monkeypatch.setattr(staff_views, "PAGE_SIZE", 2)
    codes = {file_request(OWN).code for _ in range(3)}
    client = login("official1")
    first = client.get("/ops/requests/", {"status": "new"}).content.decode()
    assert '<span class="current" aria-current="page">1 / 2</span>' in first
    assert 'href="?status=new&amp;page=2" rel="next"' in first
    second = client.get("/ops/requests/", {"status": "new", "page": 2}).content.decode()
    assert 'rel="prev"' in second and 'rel="next"' not in second
    shown = {code for code in codes if code in first} | {code for code in codes if code in second}
    assert shown == codes
