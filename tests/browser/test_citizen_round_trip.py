"""Issue 5's "done when", end to end on the production-shaped stack (real server and worker,
PostgreSQL, Redis, Debian chromium): a request filed through Open311 by a standard client
reaches the operator's dashboard live, a ward official answers and resolves it on
/ops/requests/, the citizen reads the answer on a phone and rates it (through the private
link the client was given), the operator's satisfaction figure changes without a reload,
and the client reads the request back."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from services.services import open311_key_issue
from tests.support import OWN_WARD as OWN
from tests.support import example_place, log_in, shot

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def tile(page: Any, selector: str) -> str:
    return str(page.locator(f"{selector} [data-kpi-value]").inner_text()).strip()


@pytest.fixture
def client_setup(live_stack: dict[str, Any]) -> dict[str, str]:
    """A key and a place in official1's ward, from the database before the browser starts
    (an ORM call under Playwright's event loop is refused)."""
    lat, lon = example_place(OWN)
    return {
        "url": live_stack["url"],
        "key": open311_key_issue(name="Test client", actor_label="test"),
        "lat": str(lat),
        "lon": str(lon),
    }


def test_a_request_from_an_open311_client_to_a_rated_answer(
    client_setup: dict[str, str], browser: Any
) -> None:
    base, key = client_setup["url"], client_setup["key"]
    lat, lon = client_setup["lat"], client_setup["lon"]

    operator_context = browser.new_context(viewport={"width": 1920, "height": 1080})
    operator = log_in(operator_context, base, "operator")
    operator.wait_for_selector("[data-live-status][data-state=live]", timeout=20000)
    open_before = int(re.sub(r"\D", "", tile(operator, "[data-kpi-requests]")) or 0)
    satisfaction_before = tile(operator, '[data-kpi-request="satisfaction"]')

    # A standard Open311 client lists services and files a request (form-encoded).
    services = httpx.get(f"{base}/open311/v2/services.json", timeout=10).json()
    assert any(service["service_code"] == "rac-thai" for service in services)
    filed = httpx.post(
        f"{base}/open311/v2/requests.json",
        data={
            "api_key": key,
            "service_code": "rac-thai",
            "lat": lat,
            "long": lon,
            "description": "Rác đổ trộm cạnh hồ điều hòa",
            "email": "nguoidan@example.vn",
        },
        timeout=10,
    )
    assert filed.status_code == 200, filed.text
    code = filed.json()[0]["service_request_id"]
    # The reporter's private link (the client gives it to its user; the tracking code
    # alone only reads), on this server.
    private = urlsplit(filed.json()[0]["reporter_url"])
    private_link = f"{base}{private.path}?{private.query}"

    operator.wait_for_function(
        "n => Number(document.querySelector('[data-kpi-requests] [data-kpi-value]')"
        ".textContent.replace(/\\D/g, '')) === n",
        arg=open_before + 1,
        timeout=15000,
    )
    assert operator.evaluate(
        "code => [...window.iocDashboard.requests.items.values()].some(r => r.code === code)",
        code,
    )

    # The ward official answers and resolves it from the staff page.
    official_context = browser.new_context(viewport={"width": 1280, "height": 900})
    official = log_in(official_context, base, "official1", landing=f"/ops/wards/{OWN}/")
    official.goto(f"{base}/ops/requests/{code}/")
    official.click("form[action$='/assign/'] button")
    official.wait_for_selector("form[action$='/resolve/'] textarea", timeout=10000)
    official.fill(
        "form[action$='/resolve/'] textarea[name=text]", "Đã thu gom, lắp biển cấm đổ rác"
    )
    official.click("form[action$='/resolve/'] button")
    official.wait_for_selector("[data-testid=request-status]:has-text('Đã xử lý')", timeout=10000)
    shot(official, "request-staff")

    # The citizen, on a phone, reads the answer and rates it.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    citizen = phone.new_page()
    citizen.goto(f"{base}/track/{code}/")
    assert "Đã thu gom, lắp biển cấm đổ rác" in citizen.locator("body").inner_text()
    assert citizen.locator("[data-testid=rate-form]").count() == 0  # the code only reads
    citizen.goto(private_link)
    assert citizen.url == f"{base}/track/{code}/"  # the key left the address
    citizen.check("[data-testid=rate-form] input[name=rating][value='5']")
    citizen.click("[data-testid=rate-form] button[type=submit]")
    citizen.wait_for_selector("[data-testid=rating]", timeout=10000)
    shot(citizen, "request-rated-phone")

    # The operator's satisfaction figure follows, without a reload.
    operator.evaluate("() => { window.__noReload = true; }")
    operator.wait_for_function(
        "before => document.querySelector('[data-kpi-request=\"satisfaction\"] [data-kpi-value]')"
        ".textContent.trim() !== before",
        arg=satisfaction_before,
        timeout=15000,
    )
    assert operator.evaluate("() => window.__noReload") is True
    assert "/5" in tile(operator, '[data-kpi-request="satisfaction"]')

    # And the client reads it back, closed in Open311's terms, with the public answer.
    back = httpx.get(f"{base}/open311/v2/requests/{code}.json", timeout=10).json()[0]
    assert (back["service_request_id"], back["status"]) == (code, "closed")
    assert "nguoidan@example.vn" not in str(back)
    for context in (operator_context, official_context, phone):
        context.close()
