"""Incident pages: scoped like everything else, actions through the services, clear errors."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ioc.choices import AlertStatus, IncidentStatus, Severity
from ioc.models import AuditEntry, Incident, IncidentType
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN
from tests.support import example_device, example_user, open_at, raise_alert


@pytest.fixture
def two_incidents(demo_city: Any) -> tuple[Incident, Incident]:
    return open_at(OWN, title="Ngập ở phường mình"), open_at(OTHER, title="Ngập ở phường khác")


@pytest.mark.parametrize(
    ("username", "sees_own", "sees_other"),
    [
        ("operator", True, True),
        ("admin", True, True),
        ("department1", True, True),
        ("official1", True, False),
        ("official2", False, True),
    ],
)
def test_incident_list_and_page_are_scoped_by_ward(
    two_incidents: tuple[Incident, Incident],
    login: Any,
    username: str,
    sees_own: bool,
    sees_other: bool,
) -> None:
    own, other = two_incidents
    client = login(username)
    listing = client.get("/ops/incidents/").content.decode()
    assert (own.title in listing, other.title in listing) == (sees_own, sees_other)
    assert (client.get(f"/ops/incidents/{own.pk}/").status_code == 200) == sees_own
    assert (client.get(f"/ops/incidents/{other.pk}/").status_code == 200) == sees_other
    if not sees_other:
        assert client.get(f"/ops/incidents/{other.pk}/").status_code == 404
        response = client.post(f"/ops/incidents/{other.pk}/note/", {"text": "xâm nhập"})
        assert response.status_code == 404
        assert other.timeline.filter(kind="note").count() == 0


def test_anonymous_people_are_sent_to_the_login_page(two_incidents: Any, client: Any) -> None:
    own, _other = two_incidents
    for url in ("/ops/incidents/", f"/ops/incidents/{own.pk}/", "/ops/incidents/new/"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_department_staff_read_incidents_but_do_not_act(two_incidents: Any, login: Any) -> None:
    own, _other = two_incidents
    client = login("department1")
    page = client.get(f"/ops/incidents/{own.pk}/").content.decode()
    assert 'data-testid="incident-actions"' not in page
    assert client.get("/ops/incidents/new/").status_code == 403
    assert client.post(f"/ops/incidents/{own.pk}/note/", {"text": "x"}).status_code == 403
    assert own.timeline.filter(kind="note").count() == 0


def test_an_operator_opens_an_incident_on_the_map(demo_city: Any, login: Any) -> None:
    device = example_device(OWN)
    kind = IncidentType.objects.get(code="traffic_accident")
    response = login("operator").post(
        "/ops/incidents/new/",
        {
            "incident_type": kind.pk,
            "title": "Va chạm xe máy",
            "latitude": str(device.latitude),
            "longitude": str(device.longitude),
            "address": "Ngã tư Đồng Quang",
            "description": "Hai xe máy va chạm",
        },
    )
    incident = Incident.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/ops/incidents/{incident.pk}/"
    assert (incident.ward.code, incident.severity, incident.address) == (
        OWN,
        kind.default_severity,
        "Ngã tư Đồng Quang",
    )


def test_a_place_outside_the_city_keeps_the_form_and_says_why(demo_city: Any, login: Any) -> None:
    response = login("operator").post(
        "/ops/incidents/new/",
        {
            "incident_type": IncidentType.objects.get(code="other").pk,
            "title": "Ở Sài Gòn",
            "latitude": "10.762622",
            "longitude": "106.660172",
        },
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Ở Sài Gòn" in page  # what was typed is kept
    assert "ngoài" in page.lower()  # "Địa điểm này nằm ngoài…" (Vietnamese by default)
    assert Incident.objects.count() == 0


def test_garbage_in_the_form_is_a_form_error_not_a_crash(demo_city: Any, login: Any) -> None:
    response = login("operator").post(
        "/ops/incidents/new/",
        {"incident_type": "999999", "title": "", "latitude": "abc", "longitude": "1e999"},
    )
    assert response.status_code == 200
    assert Incident.objects.count() == 0


def test_the_new_form_starts_at_a_devices_place(demo_city: Any, login: Any) -> None:
    device = example_device(OWN)
    page = login("official1").get(f"/ops/incidents/new/?device={device.code}").content.decode()
    assert f'value="{device.latitude}"' in page
    assert (
        login("official1")
        .get(f"/ops/incidents/new/?device={example_device(OTHER).code}")
        .status_code
        == 404
    )


def test_opening_from_an_alert_twice_goes_to_the_same_incident(demo_city: Any, login: Any) -> None:
    alert = raise_alert(example_device(OWN), severity=Severity.CRITICAL)
    client = login("official1")
    first = client.post(f"/ops/incidents/from-alert/{alert.pk}/")
    incident = Incident.objects.get()
    assert first["Location"] == f"/ops/incidents/{incident.pk}/"
    again = client.post(f"/ops/incidents/from-alert/{alert.pk}/")
    assert again["Location"] == f"/ops/incidents/{incident.pk}/"
    assert Incident.objects.count() == 1
    foreign = raise_alert(example_device(OTHER), severity=Severity.CRITICAL)
    assert client.post(f"/ops/incidents/from-alert/{foreign.pk}/").status_code == 404


def test_actions_on_the_page_change_the_incident_and_are_audited(
    demo_city: Any, login: Any
) -> None:
    incident = open_at(OWN)
    near = raise_alert(example_device(OWN), "detection:flooding", severity=Severity.CRITICAL)
    client = login("official1")
    page = client.get(f"/ops/incidents/{incident.pk}/").content.decode()
    assert f'data-suggested-alert="{near.pk}"' in page
    base = f"/ops/incidents/{incident.pk}"
    client.post(f"{base}/link/", {"alert": near.pk})
    client.post(f"{base}/assign/", {})  # to oneself
    item = incident.checklist.first()
    assert item is not None
    client.post(f"{base}/checklist/", {"item": item.pk, "done": "1"})
    client.post(f"{base}/note/", {"text": "Đội thoát nước đã đến"})
    response = client.post(f"{base}/status/", {"status": "resolved"}, follow=True)
    assert (
        "Cho biết đã làm gì" in response.content.decode() or "Say what" in response.content.decode()
    )
    client.post(f"{base}/status/", {"status": "resolved", "note": "Nước đã rút"})
    incident.refresh_from_db()
    near.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    assert incident.assignee is not None and incident.assignee.username == "official1"
    assert near.incident_id == incident.pk and near.status == AlertStatus.RESOLVED
    actions = set(
        AuditEntry.objects.filter(
            object_id=str(incident.pk), action__startswith="incident."
        ).values_list("action", flat=True)
    )
    assert {
        "incident.linked",
        "incident.assigned",
        "incident.checklist",
        "incident.note",
    } <= actions
    page = client.get(f"/ops/incidents/{incident.pk}/").content.decode()
    assert "Đội thoát nước đã đến" in page and "Nước đã rút" in page


def test_an_unknown_action_or_bad_ids_answer_cleanly(demo_city: Any, login: Any) -> None:
    incident = open_at(OWN)
    client = login("operator")
    assert client.post(f"/ops/incidents/{incident.pk}/explode/").status_code == 404
    for action, data in (("checklist", {"item": "x"}), ("link", {"alert": "; drop"})):
        response = client.post(f"/ops/incidents/{incident.pk}/{action}/", data)
        assert response.status_code == 302
    assert (
        client.post(f"/ops/incidents/{incident.pk}/link/", {"alert": "99999999"}).status_code == 404
    )


def test_the_list_filters_by_status_and_search(demo_city: Any, login: Any) -> None:
    done = open_at(OWN, title="Ống nước vỡ Q7")
    open_at(OWN, title="Cây đổ đường Z9")
    client = login("operator")
    from ioc.services import incident_status_set

    incident_status_set(actor=example_user("operator"), incident=done, status="resolved", note="ok")
    default = client.get("/ops/incidents/").content.decode()
    assert "Cây đổ đường Z9" in default and "Ống nước vỡ Q7" not in default
    resolved = client.get("/ops/incidents/?status=resolved").content.decode()
    assert "Ống nước vỡ Q7" in resolved and "Cây đổ đường Z9" not in resolved
    by_number = client.get(f"/ops/incidents/?status=all&q={done.reference}").content.decode()
    assert "Ống nước vỡ Q7" in by_number and "Cây đổ đường Z9" not in by_number


def test_the_list_runs_a_fixed_number_of_queries(demo_city: Any, login: Any) -> None:
    client = login("operator")
    open_at(OWN)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/ops/incidents/").status_code == 200
    for index in range(5):
        open_at(OTHER, title=f"Thêm {index}")
    with CaptureQueriesContext(connection) as many:
        assert client.get("/ops/incidents/").status_code == 200
    assert len(many) == len(few)


def test_the_status_filter_tells_open_from_open_and_in_progress(demo_city: Any, login: Any) -> None:
    from ioc.services import incident_status_set

    working = open_at(OWN, title="Đang xử lý dở")
    incident_status_set(actor=example_user("operator"), incident=working, status="in_progress")
    open_at(OWN, title="Mới mở")
    client = login("operator")
    default = client.get("/ops/incidents/").content.decode()
    assert "Đang xử lý dở" in default and "Mới mở" in default
    assert default.count(" selected") >= 1 and 'value="active" selected' in default
    only_open = client.get("/ops/incidents/?status=open").content.decode()
    assert "Mới mở" in only_open and "Đang xử lý dở" not in only_open
    assert 'value="open" selected' in only_open and 'value="active" selected' not in only_open


@pytest.mark.parametrize(
    "target", ["https://evil.example/phish", "//evil.example/", "/ops/incidents/?page=2"]
)
def test_a_refused_incident_from_an_alert_goes_back_only_to_a_local_page(
    demo_city: Any, login: Any, target: str
) -> None:
    from unittest import mock

    from django.core.exceptions import ValidationError

    alert = raise_alert(example_device(OWN), severity=Severity.CRITICAL)
    with mock.patch(
        "ioc.services.incidents.incident_create_from_alert",
        side_effect=ValidationError({"alert": "refused"}),
    ):
        response = login("official1").post(
            f"/ops/incidents/from-alert/{alert.pk}/", {"next": target}
        )
    assert response.status_code == 302
    expected = target if target.startswith("/ops/") else "/ops/incidents/"
    assert response["Location"] == expected
