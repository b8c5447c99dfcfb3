"""The live map of a large city in Debian's chromium: above IOC_MAP_EMBED_LIMIT the page
carries no device list, the map loads its viewport (grid cells when too many), search asks
the server, and live events still update the devices on screen."""

from __future__ import annotations

from typing import Any

import pytest

from cameras.choices import DeviceKind, DeviceStatus
from cameras.models import Device
from cameras.services.registry import token_issue
from tests.support import Stack, open_dashboard, push, shot

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@pytest.fixture
def large_city(stack: Stack) -> dict[str, Any]:
    """The demo city served as if it were large: no embedding, grid above 50 devices."""
    device = (
        Device.objects.filter(kind=DeviceKind.CAMERA, gateway__isnull=False)
        .exclude(status=DeviceStatus.FAULT)
        .select_related("gateway")
        .order_by("-code")
        .first()
    )
    assert device is not None
    token = token_issue(owner=device.gateway, actor_label="test")
    url = stack.server(IOC_MAP_EMBED_LIMIT="10", IOC_MAP_POINT_LIMIT="50")
    stack.worker()
    return {"url": url, "device": device.code, "token": token}


def test_large_city_map_loads_the_viewport_and_stays_live(
    large_city: dict[str, Any], browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    page = open_dashboard(context, large_city["url"])
    # The whole city is in view: more than the point limit, so counts per grid cell.
    page.wait_for_selector("[data-dashboard-map][data-view=grid]", timeout=15000)
    cells = page.evaluate(
        "() => document.querySelector('[data-dashboard-map]').iocGrid.getLayers().length"
    )
    assert cells > 1
    assert page.evaluate("() => Object.keys(window.iocDashboard.devices).length") == 0
    shot(page, "ops-large-city-grid")

    # Search finds a device the page never loaded, zooms to it and opens its panel.
    code = large_city["device"]
    page.fill("#device-search", code)
    page.press("#device-search", "Enter")
    page.wait_for_selector(f"[data-device-panel][data-device='{code}']:not([hidden])")
    page.wait_for_selector("[data-dashboard-map][data-view=points]", timeout=15000)
    page.wait_for_function("code => Boolean(window.iocDashboard.devices[code])", arg=code)

    # A live fault of a loaded device recolours it without a reload.
    page.evaluate("() => { window.__noReload = true; }")
    push(large_city["url"], large_city["token"], code, "fault", {"code": "tamper"})
    page.wait_for_function(
        "code => window.iocDashboard.devices[code]?.status === 'fault'", arg=code, timeout=20000
    )
    assert page.evaluate("() => window.__noReload") is True
    shot(page, "ops-large-city-points")
    assert page.errors == []
    context.close()
