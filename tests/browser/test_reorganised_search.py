"""After a reorganisation, the dashboard's search box finds a former unit by its old name
and shows the unit it went into ("Phường … (cũ) → Phường …"), in Debian's chromium with
the real ASGI server on PostgreSQL and Redis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.utils import translation

from ioc.selectors import WardFound
from tests.support import OWN_WARD as OWN
from tests.support import THIRD_WARD as THIRD
from tests.support import open_dashboard, shot
from tests.support.reorganisation import merger, reorganise, unit

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@pytest.fixture
def merged(asgi_server: str, tmp_path: Path) -> dict[str, str]:
    """The own and the third unit merged (committed), and what the page should say: read
    before the browser starts (an ORM call under Playwright would leave a connection)."""
    third = unit(THIRD)
    reorganise(tmp_path, *merger())
    third.refresh_from_db()
    with translation.override("vi"):
        label = WardFound(unit(OWN), third).label
    return {"old_name": third.name, "label": label}


def test_the_search_box_finds_a_former_unit_by_its_old_name(
    asgi_server: str, merged: dict[str, str], browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    page = open_dashboard(context, asgi_server)

    page.fill("#device-search", merged["old_name"])
    page.press("#device-search", "Enter")

    note = page.locator("[data-search-note]")
    note.wait_for(state="visible", timeout=10000)
    assert note.inner_text() == merged["label"]
    assert page.locator("#filter-ward").input_value() == OWN
    shot(page, "ops-search-former-unit")
    context.close()
