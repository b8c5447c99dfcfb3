"""An alert handled into an incident in Debian's chromium, while a second operator's /ops/
sees the incident appear and go away live (real ASGI server, worker, PostgreSQL, Redis)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support import log_in, push, shot

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def incident_tile(page: Any) -> int:
    text = page.locator("[data-kpi-incidents] [data-kpi-value]").inner_text()
    return int(re.sub(r"\D", "", text) or 0)


def test_an_operator_turns_an_alert_into_an_incident_and_the_city_sees_it_live(
    live_stack: dict[str, Any],
    browser: Any,
) -> None:
    base, camera = live_stack["url"], live_stack["camera"]
    watcher_context = browser.new_context(viewport={"width": 1600, "height": 900})
    watcher = log_in(watcher_context, base, "admin")
    watcher.wait_for_selector("[data-live-status][data-state=live]", timeout=20000)
    watcher.wait_for_selector("[data-dashboard-map][data-ready=true]", timeout=15000)
    before = incident_tile(watcher)

    context = browser.new_context(viewport={"width": 1600, "height": 900})
    page = log_in(context, base, "operator")
    page.wait_for_selector("[data-live-status][data-state=live]", timeout=20000)
    push(base, live_stack["camera_token"], camera, "detection", {"kind": "fire"})
    item = page.locator("[data-feed] li.severity-critical").filter(
        has=page.locator(f"a[href='/ops/devices/{camera}/']")
    )
    item.first.wait_for(timeout=20000)
    item.first.locator("button.feed-open-incident").click()

    page.wait_for_url(re.compile(rf"{re.escape(base)}/ops/incidents/\d+/"))
    incident_url = page.url
    assert page.locator("[data-testid=incident-status]").inner_text().strip() == "Mở"
    assert page.locator("[data-testid=incident-alerts] li[data-alert]").count() == 1
    assert page.locator("[data-testid=incident-checklist] li[data-step]").count() >= 3
    watcher.wait_for_function(
        "n => Number(document.querySelector('[data-kpi-incidents] [data-kpi-value]')"
        ".textContent.replace(/\\D/g, '')) === n",
        arg=before + 1,
        timeout=10000,
    )
    assert watcher.evaluate("() => window.iocDashboard.incidents.markers.size") >= 1

    # Tick the first step, write a note, then resolve with what was done.
    page.locator("[data-testid=incident-checklist] li[data-step] button.tick").first.click()
    page.wait_for_selector("[data-testid=incident-checklist] li.done")
    page.fill("textarea[name=text]", "Đã gọi 114, xe chữa cháy đang đến")
    page.click(".note-form button[type=submit]")
    page.wait_for_selector("text=Đã gọi 114, xe chữa cháy đang đến")
    shot(page, "incident-desktop")
    page.select_option("select[name=status]", "resolved")
    page.fill(".incident-actions input[name=note]", "Đám cháy đã được dập tắt")
    page.click(".incident-actions form:first-of-type button[type=submit]")
    page.wait_for_selector("[data-testid=incident-status]:has-text('Đã xử lý')")
    watcher.wait_for_function(
        "n => Number(document.querySelector('[data-kpi-incidents] [data-kpi-value]')"
        ".textContent.replace(/\\D/g, '')) === n",
        arg=before,
        timeout=10000,
    )
    assert page.errors == [] and watcher.errors == []

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    small = log_in(phone, base, "operator")
    small.goto(incident_url)
    assert small.evaluate("() => document.documentElement.scrollWidth") <= 390
    shot(small, "incident-phone")
    for each in (context, watcher_context, phone):
        each.close()
