"""A reporter's personal data on a phone (Law 91/2025/QH15), end to end on a real ASGI
server (PostgreSQL, Redis) and Debian's chromium: the private link leads to what is held,
which downloads as JSON; the reporter erases their contact and photos; another browser
with a wrong link sees nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.models import ServiceRequest
from services.photos import photo_prepare
from tests.support import Stack, file_request, jpeg_upload, outside_loop, shot

pytestmark = [pytest.mark.integration, pytest.mark.browser]

EMAIL = "bao.mat@example.vn"


def test_the_reporter_sees_downloads_and_erases_their_data(
    stack: Stack, browser: Any, tmp_path: Path
) -> None:
    base = stack.server(IOC_PORTAL_KEY_FAILURES_PER_HOUR="0")
    filed = outside_loop(
        lambda: file_request(
            reporter_name="Trần Thị Bảo Mật",
            reporter_email=EMAIL,
            photos=[photo_prepare(jpeg_upload())],
        )
    )
    code, key = filed.code, filed.reporter_key

    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        locale="vi-VN",
        accept_downloads=True,
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base}/track/{code}/?key={key}")
    page.wait_for_selector("[data-testid=tracking]")
    assert "key=" not in page.url
    page.click("[data-testid=personal-data-link] a")
    page.wait_for_selector("[data-testid=contact]")
    assert EMAIL in page.inner_text("[data-testid=contact]")
    page.wait_for_function("document.querySelector('[data-testid=my-photos] img').naturalWidth > 0")
    shot(page, "portal-phone-my-data", full_page=True)

    with page.expect_download() as download:
        page.click("[data-testid=my-data-json]")
    saved = tmp_path / "my-data.json"
    download.value.save_as(saved)
    held = json.loads(saved.read_text(encoding="utf-8"))
    assert held["code"] == code and held["contact"]["reporter_email"] == EMAIL
    assert len(held["photos"]) == 1

    # A stranger with the tracking code and a made-up link: refused, nothing shown.
    stranger = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    stranger.goto(f"{base}/track/{code}/my-data/")
    stranger.fill("#id_key", f"{base}/track/{code}/?key=not-the-key")
    stranger.click("[data-testid=key-form] button[type=submit]")
    stranger.wait_for_selector("[data-testid=key-refused]")
    assert EMAIL not in stranger.content()

    page.check("[data-testid=erase-form] input[value=contact_photos]")
    page.check("[data-testid=erase-form] input[name=confirm]")
    page.click("[data-testid=erase-form] button[type=submit]")
    page.wait_for_selector("[data-testid=tracking]")
    assert page.locator(".messages .success").count() == 1
    shot(page, "portal-phone-my-data-erased", full_page=True)
    assert page.locator("[data-testid=tracking] .photos img").count() == 0
    page.goto(f"{base}/track/{code}/my-data/")
    page.wait_for_selector("[data-testid=key-form]")
    assert EMAIL not in page.content()
    assert errors == []

    erased = outside_loop(
        lambda: ServiceRequest.objects.values("reporter_email", "contact_erased_at").get(code=code)
    )
    assert erased["reporter_email"] == "" and erased["contact_erased_at"] is not None
    assert outside_loop(lambda: ServiceRequest.objects.get(code=code).photos.count()) == 0
