"""Alerts: raised once per device and cause, handled by staff, scoped by ward everywhere."""

from __future__ import annotations

from typing import Any

import pytest

from ioc.choices import AlertStatus, Severity
from ioc.models import Alert, AuditEntry
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN
from tests.support import THIRD_WARD, raise_alert


def test_the_same_cause_refreshes_the_open_alert_and_escalates_it(demo_city: Any) -> None:
    first = raise_alert(OWN)
    again = raise_alert(OWN, severity=Severity.CRITICAL)
    assert again.pk == first.pk
    again.refresh_from_db()
    assert (again.occurrences, again.severity) == (2, Severity.CRITICAL)
    assert Alert.objects.filter(device=first.device).count() == 1


def test_a_new_alert_after_the_old_one_was_resolved(demo_city: Any, login: Any) -> None:
    first = raise_alert(OWN)
    login("operator").post(f"/api/v1/alerts/{first.pk}/resolve", {"note": "Đã dập lửa"})
    assert raise_alert(OWN).pk != first.pk


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
def test_alert_list_and_detail_are_scoped_by_ward(
    demo_city: Any, login: Any, username: str, sees_own: bool, sees_other: bool
) -> None:
    own, other = raise_alert(OWN), raise_alert(OTHER)
    client = login(username)
    listed = {
        row["id"] for row in client.get("/api/v1/alerts/", {"status": "open"}).json()["results"]
    }
    assert (own.pk in listed, other.pk in listed) == (sees_own, sees_other)
    assert client.get(f"/api/v1/alerts/{own.pk}/").status_code == (200 if sees_own else 404)
    assert client.get(f"/api/v1/alerts/{other.pk}/").status_code == (200 if sees_other else 404)


def test_official_cannot_act_on_another_wards_alert(demo_city: Any, login: Any) -> None:
    other = raise_alert(OTHER)
    response = login("official1").post(f"/api/v1/alerts/{other.pk}/acknowledge", {})
    assert response.status_code == 404
    other.refresh_from_db()
    assert other.status == AlertStatus.ACTIVE


def test_acknowledge_assign_resolve_are_audited(demo_city: Any, login: Any) -> None:
    alert = raise_alert(OWN)
    client = login("official1")
    acked = client.post(f"/api/v1/alerts/{alert.pk}/acknowledge", {"note": "Đang xử lý"})
    assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
    assert acked.json()["acknowledged_by"] == "official1"
    assert client.post(f"/api/v1/alerts/{alert.pk}/acknowledge", {}).status_code == 400
    taken = client.post(f"/api/v1/alerts/{alert.pk}/assign", {})
    assert taken.json()["assignee"] == "official1"
    assert client.post(f"/api/v1/alerts/{alert.pk}/resolve", {}).json() == {
        "note": ["Say what was done about the alert."]
    }
    done = client.post(f"/api/v1/alerts/{alert.pk}/resolve", {"note": "Đã xử lý xong"})
    assert done.json()["status"] == "resolved" and done.json()["resolved_by"] == "official1"
    actions = list(
        AuditEntry.objects.filter(object_type="ioc.alert", object_id=str(alert.pk))
        .order_by("at", "id")
        .values_list("action", "actor_label")
    )
    assert actions == [
        ("alert.acknowledged", "official1"),
        ("alert.assigned", "official1"),
        ("alert.resolved", "official1"),
    ]


def test_alert_cannot_be_assigned_to_someone_who_cannot_see_its_ward(
    demo_city: Any, login: Any
) -> None:
    alert = raise_alert(OWN)
    client = login("official1")
    other_ward = client.post(f"/api/v1/alerts/{alert.pk}/assign", {"assignee": "official2"})
    unknown = client.post(f"/api/v1/alerts/{alert.pk}/assign", {"assignee": "nobody"})
    assert other_ward.status_code == unknown.status_code == 400
    # One answer for both: the form must not tell which usernames exist elsewhere.
    assert other_ward.json() == unknown.json()
    assert Alert.objects.get(pk=alert.pk).assignee is None


def test_department_staff_read_but_do_not_handle_alerts(demo_city: Any, login: Any) -> None:
    alert = raise_alert(OWN)
    client = login("department1")
    assert client.get(f"/api/v1/alerts/{alert.pk}/").status_code == 200
    assert client.post(f"/api/v1/alerts/{alert.pk}/acknowledge", {}).status_code == 403


def test_anonymous_gets_nothing(demo_city: Any, client: Any) -> None:
    raise_alert(OWN)
    assert client.get("/api/v1/alerts/").status_code == 403


def test_page_action_acknowledges_and_goes_back_with_a_message(demo_city: Any, login: Any) -> None:
    alert = raise_alert(OWN)
    device_page = f"/ops/devices/{alert.device.code}/"
    client = login("official1")
    html = client.get(device_page).content.decode()
    assert f"/ops/alerts/{alert.pk}/acknowledge/" in html
    response = client.post(
        f"/ops/alerts/{alert.pk}/acknowledge/", {"next": device_page}, follow=True
    )
    assert response.redirect_chain[-1][0] == device_page
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED
    assert (
        "Alert updated" in response.content.decode()
        or "Đã cập nhật cảnh báo" in response.content.decode()
    )


def test_page_action_never_redirects_to_another_site(demo_city: Any, login: Any) -> None:
    alert = raise_alert(OWN)
    response = login("operator").post(
        f"/ops/alerts/{alert.pk}/assign/", {"next": "https://evil.example/"}
    )
    assert response["Location"] == "/ops/"


def test_alert_list_query_count_is_fixed(
    demo_city: Any, login: Any, django_assert_num_queries: Any
) -> None:
    for code in [OWN, OTHER, THIRD_WARD]:
        raise_alert(code)
    client = login("operator")
    client.get("/api/v1/alerts/")
    with django_assert_num_queries(4):  # session, user, count, page (devices and users joined)
        response = client.get("/api/v1/alerts/")
    assert response.json()["count"] == 3
