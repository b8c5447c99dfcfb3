"""End to end in Debian's chromium (Playwright): what a person sees on the staff pages and
the portal, with the real ASGI server on PostgreSQL and Redis and no map tiles reachable."""

from __future__ import annotations

from typing import Any

import pytest

from cameras.models import Device
from ioc.models import Ward
from tests.support import OTHER_WARD, OWN_WARD, OWN_WARD_NAME, shot, submit_login

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@pytest.fixture
def expected(asgi_server: str) -> dict[str, int]:
    """Figures from the database, read before the browser starts: once Playwright runs, an
    ORM call would open a connection in Playwright's greenlet context that nobody closes."""
    return {
        "devices": Device.objects.count(),
        "devices_own": Device.objects.filter(ward__code=OWN_WARD).count(),
        # every unit in force is listed; only those with a boundary are on the maps
        "units": Ward.objects.current().count(),
        "mapped": Ward.objects.current().filter(boundary__isnull=False).count(),
    }


def log_in(page: Any, base: str, username: str) -> None:
    submit_login(page, base, username)
    page.wait_for_load_state("networkidle")


def map_counts(page: Any) -> dict[str, int]:
    page.wait_for_selector("[data-ioc-map][data-ready=true]", timeout=15000)
    return page.evaluate(
        """() => {
            const el = document.querySelector('[data-ioc-map]');
            return {
                wards: el.iocWards.getLayers().length,
                devices: el.iocDevices ? el.iocDevices.getLayers().length : 0,
            };
        }"""
    )


def test_operator_sees_the_whole_city_in_vietnamese_without_tiles(
    asgi_server: str, expected: dict[str, int], browser: Any
) -> None:
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    log_in(page, asgi_server, "operator")
    assert page.url == f"{asgi_server}/ops/"
    assert page.locator("h1").inner_text() == "Tổng quan"
    assert page.locator("[data-testid=ward-table] tbody tr").count() == expected["units"]
    counts = map_counts(page)
    assert counts == {"wards": expected["mapped"], "devices": expected["devices"]}
    # The tile server is unreachable: the map says so and still shows wards and devices.
    page.wait_for_selector(".map-note", timeout=15000)
    assert "Không tải được bản đồ nền" in page.locator(".map-note").inner_text()
    shot(page, "ops-operator")


def test_ward_official_sees_only_their_ward(
    asgi_server: str, expected: dict[str, int], browser: Any
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    log_in(page, asgi_server, "official1")
    assert page.url == f"{asgi_server}/ops/wards/{OWN_WARD}/"
    assert page.locator("h1").inner_text() == f"Phường {OWN_WARD_NAME}"
    own = expected["devices_own"]
    assert page.locator("[data-testid=device-table] tbody tr").count() == own
    assert map_counts(page) == {"wards": 1, "devices": own}
    shot(page, "ops-official1")
    page.goto(f"{asgi_server}/ops/wards/")
    assert page.locator("[data-testid=ward-table] tbody tr").count() == 1
    response = page.goto(f"{asgi_server}/ops/wards/{OTHER_WARD}/")
    assert response is not None and response.status == 404


def test_language_switch_turns_the_staff_side_english(asgi_server: str, browser: Any) -> None:
    page = browser.new_page()
    log_in(page, asgi_server, "operator")
    page.click(".lang-switch button[value=en]")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text() == "Overview"
    assert page.locator("html").get_attribute("lang") == "en"


def test_portal_on_a_phone_shows_the_city_and_its_wards(
    asgi_server: str, expected: dict[str, int], browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(f"{asgi_server}/")
    assert "Cổng tiếp nhận phản ánh" in page.locator("header").inner_text()
    assert page.locator("[data-testid=public-wards] li").count() == expected["units"]
    assert map_counts(page)["wards"] == expected["mapped"]
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, "the portal must not scroll sideways on a phone"
    shot(page, "portal-phone")
    context.close()


def test_a_wall_screen_shows_a_full_camera_grid_and_the_city(
    asgi_server: str, expected: dict[str, int], browser: Any
) -> None:
    # The control room's wall: a 2560x1440 screen, 4x4 cameras of one ward, then the city.
    page = browser.new_page(viewport={"width": 2560, "height": 1440})
    log_in(page, asgi_server, "operator")
    page.goto(f"{asgi_server}/ops/cameras/wall/?grid=4")
    tiles = page.locator("[data-testid=wall-grid] [data-tile]")
    assert tiles.count() == 16
    grid = page.locator("[data-testid=wall-grid]").bounding_box()
    # As large as the screen allows with all four rows of 16:9 tiles in view, unscrolled.
    assert grid is not None and grid["width"] > 1600, "the grid uses the wall's size"
    last = tiles.nth(15).bounding_box()
    assert last is not None and last["y"] + last["height"] <= 1440, "the last row is in view"
    first, fifth = tiles.nth(0).bounding_box(), tiles.nth(4).bounding_box()
    assert first is not None and fifth is not None
    assert abs(first["x"] - fifth["x"]) < 2 and fifth["y"] > first["y"], "four to a row"
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 2560
    shot(page, "wall-cameras-2560")
    page.goto(f"{asgi_server}/ops/")
    assert map_counts(page) == {"wards": expected["mapped"], "devices": expected["devices"]}
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 2560
    shot(page, "wall-ops-2560")


def test_a_former_units_page_is_history_and_opens_no_live_channel(
    asgi_server: str, browser: Any
) -> None:
    # 05443 was Phường Trưng Vương until 30/06/2025: its page that day is history, and the
    # live channel (which names a unit by today's code) would bring today's unit's events.
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    log_in(page, asgi_server, "operator")
    sockets.clear()
    page.goto(f"{asgi_server}/ops/wards/{OWN_WARD}/?on=2025-06-30")
    assert page.locator("h1").inner_text() == "Phường Trưng Vương"
    page.wait_for_selector("[data-live-status][data-state=history]", timeout=15000)
    assert "không còn hiệu lực" in page.locator("[data-live-status]").inner_text()
    page.wait_for_timeout(1500)  # time enough for a channel to have opened
    assert sockets == []
    page.goto(f"{asgi_server}/ops/wards/{OWN_WARD}/")
    page.wait_for_selector("[data-live-status][data-state=live]", timeout=15000)
    assert len(sockets) == 1 and f"/ws/ops/?ward={OWN_WARD}" in sockets[0]
