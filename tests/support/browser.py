"""Browser tests' helpers: Debian's chromium under Playwright, logging in as a demo user,
the live dashboard, events pushed as a gateway would, and screenshots.

The ``browser`` and ``live_stack`` fixtures are in tests/conftest.py. Read what a test needs
from the database before the browser starts: an ORM call under Playwright opens a
connection nobody closes.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from tests.support.examples import DEMO_PASSWORD
from tests.support.live import Stack

CHROMIUM = os.environ.get("IOC_CHROMIUM", "/usr/bin/chromium")
# The flags that keep chromium off the closed network.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(os.environ.get("IOC_SCREENSHOTS", "test-results"))


def shot(page: Any, name: str, *, full_page: bool = False) -> None:
    """Save a screenshot of the page as ``<SCREENSHOTS>/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def new_page(context: Any) -> Any:
    """A new page whose script errors are collected in ``page.errors``."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    return page


def submit_login(page: Any, base: str, username: str, landing: str | None = None) -> None:
    """Fill and send the login form as a demo user (then to ``landing`` when given)."""
    page.goto(f"{base}/accounts/login/" + (f"?next={landing}" if landing else ""))
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("form.form button[type=submit]")


def log_in(context: Any, base: str, username: str, landing: str = "/ops/") -> Any:
    """A new page logged in as a demo user, once it has arrived at ``landing``."""
    page = new_page(context)
    submit_login(page, base, username, landing)
    page.wait_for_url(f"{base}{landing}")
    return page


def open_dashboard(context: Any, base: str) -> Any:
    """Log in as the city operator and wait until /ops/ says it is live."""
    page = new_page(context)
    submit_login(page, base, "operator")
    page.wait_for_url(f"{base}/ops/")
    page.wait_for_selector("[data-live-status][data-state=live]", timeout=20000)
    page.wait_for_selector("[data-dashboard-map][data-ready=true]", timeout=15000)
    return page


def push(base: str, token: str, device: str, event_type: str, data: dict[str, Any]) -> None:
    """Send one event through the ingest API with a gateway token."""
    import httpx
    from django.utils import timezone

    event = {
        "id": f"live-{uuid.uuid4().hex}",
        "device": device,
        "ts": timezone.now().isoformat(),
        "type": event_type,
        "data": data,
    }
    response = httpx.post(
        f"{base}/api/v1/ingest/events",
        json={"events": [event]},
        headers={"Authorization": f"Gateway {token}"},
        timeout=10,
    )
    assert response.status_code == 202, response.text


def live_stack_start(stack: Stack) -> dict[str, Any]:
    """The server, a worker, and what a live test needs from the database: two cameras
    that are not faulty (``camera`` and ``faulty``, to be made so) and their gateways'
    tokens, and how many devices the map draws."""
    from cameras.choices import DeviceKind, DeviceStatus
    from cameras.models import Device
    from cameras.services.registry import token_issue

    camera, other = (
        Device.objects.filter(kind=DeviceKind.CAMERA, gateway__isnull=False)
        .exclude(status=DeviceStatus.FAULT)
        .select_related("gateway")
        .order_by("code")[:2]
    )
    tokens = {camera.gateway_id: token_issue(owner=camera.gateway, actor_label="test")}
    if other.gateway_id not in tokens:
        tokens[other.gateway_id] = token_issue(owner=other.gateway, actor_label="test")
    devices = Device.objects.filter(latitude__isnull=False, longitude__isnull=False).count()
    url = stack.server()
    stack.worker()
    return {
        "url": url,
        "devices": devices,
        "camera": camera.code,
        "camera_token": tokens[camera.gateway_id],
        "faulty": other.code,
        "faulty_token": tokens[other.gateway_id],
    }
