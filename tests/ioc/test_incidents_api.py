"""The incidents API: scoped reads, opening and working incidents, clear 4xx answers."""

from __future__ import annotations

from typing import Any

import pytest

from ioc.choices import Severity
from ioc.models import Incident
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN
from tests.support import example_device, example_user, open_at, raise_alert


@pytest.mark.parametrize(
    ("username", "sees_own", "sees_other"),
    [("operator", True, True), ("department1", True, True), ("official1", True, False)],
)
def test_incident_api_is_scoped_by_ward(
    demo_city: Any, login: Any, username: str, sees_own: bool, sees_other: bool
) -> None:
    own, other = open_at(OWN), open_at(OTHER)
    client = login(username)
    listed = {row["id"] for row in client.get("/api/v1/incidents/").json()["results"]}
    assert (own.pk in listed, other.pk in listed) == (sees_own, sees_other)
    assert (client.get(f"/api/v1/incidents/{other.pk}/").status_code == 200) == sees_other
    if not sees_other:
        assert client.get(f"/api/v1/incidents/{other.pk}/").status_code == 404


def test_opening_an_incident_through_the_api_links_the_given_alerts(
    demo_city: Any, login: Any
) -> None:
    device = example_device(OWN)
    alert = raise_alert(device, severity=Severity.CRITICAL)
    response = login("official1").post(
        "/api/v1/incidents/",
        {
            "type": "fire",
            "title": "Cháy kho hàng",
            "latitude": str(device.latitude),
            "longitude": str(device.longitude),
            "alerts": [alert.pk],
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["ward"], body["type"], body["status"]) == (OWN, "fire", "open")
    assert body["reference"].startswith("SC-")
    assert [row["id"] for row in body["alerts"]] == [alert.pk]
    assert len(body["checklist"]) >= 3 and body["timeline"][0]["kind"] == "created"


def test_bad_input_gets_a_clear_4xx_and_changes_nothing(demo_city: Any, login: Any) -> None:
    client = login("official1")
    cases = [
        ({"type": "fire", "title": "x", "latitude": "10.76", "longitude": "106.66"}, 400),
        ({"type": "nope", "title": "x", "latitude": "21.6", "longitude": "105.8"}, 400),
        ({"title": "thiếu loại"}, 400),
    ]
    for body, expected in cases:
        response = client.post("/api/v1/incidents/", body, content_type="application/json")
        assert response.status_code == expected, response.content
        assert response.json()
    broken = client.post("/api/v1/incidents/", "{not json", content_type="application/json")
    assert broken.status_code == 400
    foreign_device = example_device(OTHER)
    response = client.post(
        "/api/v1/incidents/",
        {
            "type": "fire",
            "title": "Phường khác",
            "latitude": str(foreign_device.latitude),
            "longitude": str(foreign_device.longitude),
        },
        content_type="application/json",
    )
    assert response.status_code == 403
    assert Incident.objects.count() == 0


def test_actions_through_the_api(demo_city: Any, login: Any) -> None:
    incident = open_at(OWN)
    client = login("official1")
    url = f"/api/v1/incidents/{incident.pk}"
    item = incident.checklist.first()
    assert item is not None
    done = client.post(f"{url}/checklist", {"item": item.pk, "done": True}, "application/json")
    assert done.status_code == 200
    assert done.json()["checklist"][0]["done_by"] == "official1"
    refused = client.post(f"{url}/status", {"status": "resolved"}, "application/json")
    assert refused.status_code == 400 and "note" in refused.json()
    resolved = client.post(
        f"{url}/status", {"status": "resolved", "note": "Xong"}, "application/json"
    )
    assert resolved.json()["status"] == "resolved"
    assert client.post(f"{url}/explode", {}, "application/json").status_code == 404
    assert (
        login("department1").post(f"{url}/note", {"text": "x"}, "application/json").status_code
        == 403
    )


def test_incident_detail_query_count_does_not_grow_with_the_timeline(
    demo_city: Any, login: Any, django_assert_max_num_queries: Any
) -> None:
    from ioc.services import incident_note_add

    incident = open_at(OWN)
    client = login("operator")
    client.get(f"/api/v1/incidents/{incident.pk}/")
    for index in range(10):
        incident_note_add(
            actor=example_user("operator"), incident=incident, text=f"Ghi chú {index}"
        )
    with django_assert_max_num_queries(8):
        assert client.get(f"/api/v1/incidents/{incident.pk}/").status_code == 200


def test_incidents_are_in_the_openapi_schema(demo_city: Any, login: Any) -> None:
    schema = login("operator").get("/api/schema/", {"format": "json"}).json()
    assert {"get", "post"} <= set(schema["paths"]["/api/v1/incidents/"])
    assert "post" in schema["paths"]["/api/v1/incidents/{id}/{action}"]


def test_the_list_filters_active_and_single_statuses(demo_city: Any, login: Any) -> None:
    from ioc.services import incident_status_set

    working, new = open_at(OWN), open_at(OWN)
    incident_status_set(actor=example_user("operator"), incident=working, status="in_progress")
    client = login("operator")

    def ids(query: str) -> set[int]:
        return {row["id"] for row in client.get(f"/api/v1/incidents/?{query}").json()["results"]}

    assert ids("status=active") == {working.pk, new.pk}
    assert ids("status=open") == {new.pk}
    assert ids("status=in_progress") == {working.pk}


def test_assigning_to_another_wards_official_or_an_unknown_name_gets_one_answer(
    demo_city: Any, login: Any
) -> None:
    incident = open_at(OWN)
    client = login("official1")
    url = f"/api/v1/incidents/{incident.pk}/assign"
    other_ward = client.post(url, {"assignee": "official2"}, "application/json")
    unknown = client.post(url, {"assignee": "nobody"}, "application/json")
    assert other_ward.status_code == unknown.status_code == 400
    assert other_ward.json() == unknown.json()  # no telling which usernames exist
    assert Incident.objects.get(pk=incident.pk).assignee is None
