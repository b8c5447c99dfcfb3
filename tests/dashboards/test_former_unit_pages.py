"""A former unit's page is history (issue 14): it reads the unit of its day, never goes
live, and its KPI endpoint names the same unit."""

from __future__ import annotations

from typing import Any

from ioc.demo.data import OFFICIAL1_WARD
from ioc.models import Ward
from services.models import ServiceRequest
from tests.support import file_request

FORMER_DAY = "2025-06-30"


def test_a_former_units_page_has_no_live_channel_and_reads_kpis_on_its_day(
    login: Any, demo_city: None
) -> None:
    operator = login("operator")
    page = operator.get(f"/ops/wards/{OFFICIAL1_WARD}/", {"on": FORMER_DAY}).content.decode()
    assert 'data-live="false"' in page and 'data-ws-path=""' in page
    assert 'data-state="history"' in page
    assert f"/api/v1/kpis?ward={OFFICIAL1_WARD}&amp;on={FORMER_DAY}" in page
    today = operator.get(f"/ops/wards/{OFFICIAL1_WARD}/").content.decode()
    assert 'data-live="true"' in today
    assert f'data-ws-path="/ws/ops/?ward={OFFICIAL1_WARD}"' in today
    assert f'/api/v1/kpis?ward={OFFICIAL1_WARD}"' in today


def test_the_kpis_endpoint_reads_a_code_on_the_day_asked(login: Any, demo_city: None) -> None:
    former = Ward.objects.get(code=OFFICIAL1_WARD, valid_to__isnull=False)  # Trưng Vương
    # Filed in June 2025 under the former unit (and not moved, as a closed case would not be).
    ServiceRequest.objects.filter(pk=file_request().pk).update(ward=former)
    operator = login("operator")
    on_the_day = operator.get("/api/v1/kpis", {"ward": OFFICIAL1_WARD, "on": FORMER_DAY})
    assert on_the_day.status_code == 200
    assert on_the_day.json()["requests"]["open"] == 1
    today = operator.get("/api/v1/kpis", {"ward": OFFICIAL1_WARD})
    assert today.status_code == 200 and today.json()["requests"]["open"] == 0
    bad = operator.get("/api/v1/kpis", {"ward": OFFICIAL1_WARD, "on": "30/06/2025"})
    assert bad.status_code == 400 and "on" in bad.json()
    official2 = login("official2")
    hidden = official2.get("/api/v1/kpis", {"ward": OFFICIAL1_WARD, "on": FORMER_DAY})
    assert hidden.status_code == 404
