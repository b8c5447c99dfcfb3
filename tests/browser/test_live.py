"""The live dashboard end to end: a real ASGI server and Celery worker on PostgreSQL and
Redis, events pushed over HTTP as a gateway would, and Debian's chromium (Playwright)
seeing them arrive at /ops/ without a reload."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support import open_dashboard, push, shot, submit_login

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def critical_count(page: Any) -> int:
    text = page.locator("[data-kpi-severity=critical] [data-kpi-value]").inner_text()
    return int(re.sub(r"\D", "", text) or 0)


def test_operator_sees_alerts_and_device_faults_arrive_live(
    live_stack: dict[str, Any], browser: Any
) -> None:
    base, camera, faulty = live_stack["url"], live_stack["camera"], live_stack["faulty"]
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    page = open_dashboard(context, base)
    # Devices are drawn from the snapshot, with no second fetch: one marker per device.
    drawn = page.evaluate(
        """() => [document.querySelector('[data-dashboard-map]').iocDevices.getLayers().length,
                 Object.keys(window.iocDashboard.devices).length]"""
    )
    assert drawn[0] == drawn[1] == live_stack["devices"]
    before = critical_count(page)
    page.evaluate("() => { window.__noReload = true; }")

    push(base, live_stack["camera_token"], camera, "detection", {"kind": "fire"})
    item = f"[data-feed] li.severity-critical a[href='/ops/devices/{camera}/']"
    page.wait_for_selector(item, timeout=20000)
    page.wait_for_function(
        "n => Number(document.querySelector('[data-kpi-severity=critical] [data-kpi-value]')"
        ".textContent.replace(/\\D/g, '')) === n",
        arg=before + 1,
        timeout=10000,
    )
    assert page.locator("[data-feed] li").first.locator(f"a[href='/ops/devices/{camera}/']").count()

    push(base, live_stack["faulty_token"], faulty, "fault", {"code": "tamper"})
    page.wait_for_function(
        "code => window.iocDashboard.devices[code]?.status === 'fault'", arg=faulty, timeout=20000
    )
    assert page.evaluate("() => window.__noReload") is True, "the page must not reload"

    # Search pans to the device and opens its panel, with the camera's snapshot image.
    page.fill("#device-search", faulty)
    page.press("#device-search", "Enter")
    page.wait_for_selector(f"[data-device-panel][data-device='{faulty}']:not([hidden])")
    assert page.locator("[data-device-panel] [data-device-status]").get_attribute("class") == (
        "badge status-fault"
    )
    assert (
        page.locator("[data-device-panel] [data-device-image]")
        .get_attribute("src")
        .startswith(f"/ops/devices/{faulty}/snapshot.jpg")
    )
    assert re.search(r"\d", page.locator("[data-age=alerts]").inner_text())
    shot(page, "ops-live-desktop")
    assert page.errors == []
    context.close()


def test_dashboard_on_a_phone_stacks_feed_under_the_map(
    live_stack: dict[str, Any], browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = open_dashboard(context, live_stack["url"])
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, "the dashboard must not scroll sideways on a phone"
    map_box = page.locator("[data-dashboard-map]").bounding_box()
    feed_box = page.locator("[data-feed]").bounding_box()
    assert feed_box["y"] >= map_box["y"] + map_box["height"], "the feed sits under the map"
    shot(page, "ops-live-phone")
    page.locator(".feed-panel").scroll_into_view_if_needed()
    shot(page, "ops-live-phone-feed")
    assert page.errors == []
    context.close()


def test_without_a_websocket_the_page_shows_what_the_server_rendered_as_stale(
    live_stack: dict[str, Any], browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    # Every websocket fails, as behind a proxy that does not pass them.
    context.route_web_socket(re.compile(r".*/ws/ops/"), lambda ws: ws.close())
    page = context.new_page()
    submit_login(page, live_stack["url"], "operator")
    page.wait_for_selector("[data-live-status][data-state=stale]", timeout=20000)
    # "Stale since hh:mm", the time the server rendered the page.
    assert re.search(r"\d\d:\d\d", page.locator("[data-live-status]").inner_text())
    assert page.evaluate("() => Object.keys(window.iocDashboard.devices).length") > 0
    page.wait_for_selector("[data-dashboard-map][data-ready=true]", timeout=15000)
    shot(page, "ops-live-stale")
    context.close()
