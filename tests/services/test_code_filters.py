"""A filter by a unit's code reads the code on today's map (issue 14, item 1): OWN_WARD's
code named a former ward until 30/06/2025; that ward's cases never answer a filter by
today's unit, which took the code for other land."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.test import Client

from ioc.models import Incident, Ward
from services.models import ServiceRequest
from services.selectors import request_filters
from tests.support import OWN_WARD, example_user, file_request
from tests.support.records import raise_alert


def former_own() -> Ward:
    """The former unit that bore OWN_WARD's code until the reform."""
    return Ward.objects.current(date(2025, 6, 30)).get(code=OWN_WARD)


def test_the_staff_queue_filter_by_code_names_todays_unit(demo_city: Any) -> None:
    today = file_request(OWN_WARD)
    then = file_request(OWN_WARD)
    ServiceRequest.objects.filter(pk=then.pk).update(ward=former_own())

    found = request_filters(ServiceRequest.objects.all(), {"status": "all", "ward": OWN_WARD})

    assert list(found.values_list("pk", flat=True)) == [today.pk]


def test_the_incidents_api_filter_by_code_names_todays_unit(demo_city: Any) -> None:
    from ioc.services import incident_create_from_alert

    operator = example_user("operator")
    incidents = [
        incident_create_from_alert(actor=operator, alert=raise_alert(OWN_WARD, f"detection:{k}"))
        for k in ("fire", "smoke")
    ]
    Incident.objects.filter(pk=incidents[1].pk).update(ward=former_own())
    client = Client()
    client.force_login(operator)

    rows = client.get("/api/v1/incidents/", {"ward": OWN_WARD}).json()["results"]

    assert [row["id"] for row in rows] == [incidents[0].pk]
