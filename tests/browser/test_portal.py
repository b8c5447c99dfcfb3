"""The portal on a phone, end to end: a real ASGI server on PostgreSQL and Redis and
Debian's chromium (Playwright) at phone size filing feedback with a photo and following it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support import Stack, jpeg_file, shot

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def test_citizen_files_feedback_on_a_phone_and_follows_it_by_code(
    stack: Stack, browser: Any, tmp_path: Path
) -> None:
    # Rerunning against the same Redis within the hour must not meet the rate limit.
    asgi_server = stack.server(IOC_PORTAL_FILINGS_PER_HOUR="0")
    photo = jpeg_file(tmp_path / "o-rac.jpg", (1200, 900), (90, 140, 60))
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="vi-VN"
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{asgi_server}/")
    page.wait_for_selector("[data-requests-map] [data-ioc-map][data-ready=true]", timeout=20000)
    shot(page, "portal-phone-home", full_page=True)
    page.click("[data-testid=cta-feedback]")
    page.wait_for_selector(".pin-map [data-ioc-map][data-ready=true]", timeout=20000)
    page.select_option("#id_category", "rac-thai")
    page.fill("#id_description", "Rác tồn đọng ở đầu ngõ, bốc mùi")
    # Typed coordinates outside the city: refused, with what was typed kept.
    page.fill("#id_latitude", "10.776")
    page.fill("#id_longitude", "106.700")
    page.click("[data-testid=submit]")
    page.wait_for_selector("[data-testid=error-location]")
    assert page.input_value("#id_description") == "Rác tồn đọng ở đầu ngõ, bốc mùi"
    assert page.input_value("#id_category") == "rac-thai"
    shot(page, "portal-phone-form-error", full_page=True)
    page.wait_for_selector(".pin-map [data-ioc-map][data-ready=true]", timeout=20000)
    # Typed coordinates inside the city move the map there; then the citizen taps.
    page.fill("#id_latitude", "21.5931")
    page.fill("#id_longitude", "105.8237")
    page.dispatch_event("#id_longitude", "change")
    the_map = page.locator(".pin-map [data-ioc-map]")
    box = the_map.bounding_box()
    assert box is not None
    the_map.scroll_into_view_if_needed()
    box = the_map.bounding_box()
    page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function("document.querySelector('#id_latitude').value !== '21.5931'")
    page.set_input_files("#id_photos", str(photo))
    shot(page, "portal-phone-form", full_page=True)
    page.click("[data-testid=submit]")
    code = page.wait_for_selector("[data-testid=new-code]", timeout=20000).inner_text().strip()
    assert re.fullmatch(r"PA-\d{4}-\d{6}", code)
    # The reporter's private link (to rate or dispute later), shown once.
    assert f"/track/{code}/?key=" in page.input_value("[data-testid=private-link]")
    shot(page, "portal-phone-sent", full_page=True)

    page.fill("#id_find_code", f"  {code.lower()} ")
    page.click("[data-testid=find-box] button[type=submit]")
    page.wait_for_selector("[data-testid=tracking]")
    assert page.inner_text("[data-testid=tracking-code]") == code
    assert page.locator("[data-testid=public-timeline] li.entry-received").count() == 1
    thumbnail = page.locator("[data-testid=tracking] .photos img").first
    thumbnail.scroll_into_view_if_needed()
    page.wait_for_function(
        "document.querySelector('[data-testid=tracking] .photos img').naturalWidth > 0"
    )
    shot(page, "portal-phone-track", full_page=True)
    page.goto(f"{asgi_server}/requests/")
    page.wait_for_selector("[data-requests-map] [data-ioc-map][data-requests-ready=true]")
    assert page.locator("[data-testid=request-list] a", has_text=code).count() == 1
    shot(page, "portal-phone-requests", full_page=True)

    # A second citizen at the same place sees it before filing a duplicate.
    page.goto(f"{asgi_server}/feedback/new/")
    page.wait_for_selector(".pin-map [data-ioc-map][data-ready=true]", timeout=20000)
    page.select_option("#id_category", "rac-thai")
    page.fill("#id_latitude", "21.5931")
    page.fill("#id_longitude", "105.8237")
    page.dispatch_event("#id_longitude", "change")
    page.wait_for_selector("[data-testid=nearby]:not([hidden])")
    assert page.locator("[data-nearby-list] a", has_text=code).count() == 1
    page.locator("[data-testid=nearby]").scroll_into_view_if_needed()
    shot(page, "portal-phone-nearby", full_page=True)
    assert errors == []
    context.close()
