"""Markup planted in every free-text field a screen shows (by a device through the ingest
API, a citizen, staff, an administrator) reads as text in Debian's chromium and runs
nothing; the Content-Security-Policy stops what a missed escape would let through, and
normal use of every page trips no part of it (real ASGI server, worker, PostgreSQL, Redis).
"""

from __future__ import annotations

from typing import Any

import pytest

from cameras.choices import DeviceKind
from cameras.models import Device, SignalDetail
from ioc.models import Department, Ward
from services.models import ServiceCategory
from services.services import request_answer, request_assign, request_note
from tests.support import example_user, live_stack_start, log_in, push, shot
from tests.support.live import Stack
from tests.support.records import file_request, open_at

pytestmark = [pytest.mark.integration, pytest.mark.browser]

# Runs if it is ever parsed as HTML (and the CSP let it); reads as itself if it is text.
MARKUP = '<img src=x onerror="window.__pwned=1"><b>bold</b>'
# A detection's kind is cut to 40 characters before it reaches the alert title.
KIND = "<img src=x onerror=__pwned=1>"

# Collects the CSP violations of the page from its first script on.
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
    (event) => window.__csp.push(`${event.violatedDirective} ${event.blockedURI}`));
"""


@pytest.fixture
def planted(stack: Stack) -> dict[str, Any]:
    """The demo city with markup in its free text; read before the browser starts."""
    live = live_stack_start(stack)
    camera = Device.objects.select_related("ward").get(code=live["camera"])
    Ward.objects.filter(pk=camera.ward_id).update(name=f"Ward {MARKUP}")
    Device.objects.filter(pk=camera.pk).update(name=f"Cam {MARKUP}")
    # A traffic signal: its intersection (staff) and faults (its controller).
    signal = Device.objects.filter(kind=DeviceKind.SIGNAL).order_by("code").first()
    assert signal is not None
    SignalDetail.objects.filter(device=signal).update(
        intersection=f"Junction {MARKUP}", faults=[f"fault {MARKUP}"]
    )
    operator = example_user("operator")
    ServiceCategory.objects.filter(code="rac-thai").update(name=f"Category {MARKUP}")
    department = Department.objects.order_by("code").first()
    assert department is not None
    Department.objects.filter(pk=department.pk).update(name=f"Dept {MARKUP}")
    request = file_request(camera.ward.code, description=f"Citizen {MARKUP}")
    request_assign(actor=operator, request=request, department=department)
    request_answer(actor=operator, request=request, text=f"Answer {MARKUP}")
    request_note(actor=operator, request=request, text=f"Note {MARKUP}")
    incident = open_at(camera.ward.code, title=f"Incident {MARKUP}", description=f"Notes {MARKUP}")
    live.update(code=request.code, incident=incident.pk, ward=camera.ward.code, signal=signal.code)
    return live


def watched(context: Any) -> list[str]:
    """The context's console lines that name the Content Security Policy."""
    context.add_init_script(WATCH_CSP)
    lines: list[str] = []
    context.on(
        "console",
        lambda message: (
            lines.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return lines


def assert_inert(page: Any, where: str, *, shows: str | None = "<b>bold</b>") -> None:
    """Nothing ran, no markup became elements, the text reads as itself, the CSP was quiet."""
    assert page.evaluate("() => window.__pwned") is None, where
    parsed = (
        "() => [...document.querySelectorAll('img[src=x], b')]"
        ".filter((e) => e.tagName === 'IMG' || e.textContent === 'bold').length"
    )
    assert page.evaluate(parsed) == 0, where
    if shows:
        assert shows in page.evaluate("() => document.body.textContent"), where
    assert page.evaluate("() => window.__csp") == [], where
    assert page.errors == [], where


def open_tooltips(page: Any, selector: str) -> None:
    """Open every tooltip and popup of the map at ``selector`` (as a pointer would)."""
    page.wait_for_selector(f"{selector}[data-ready=true]", timeout=15000)
    page.evaluate(
        """(selector) => {
            const map = document.querySelector(selector).iocMap;
            map.eachLayer((layer) => {
                if (!layer.getTooltip?.()) return;
                layer.openTooltip(layer.getLatLng?.() || layer.getBounds?.().getCenter());
            });
        }""",
        selector,
    )


def test_planted_markup_reads_as_text_and_runs_nowhere(
    planted: dict[str, Any], browser: Any
) -> None:
    base, device = planted["url"], planted["camera"]
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    console = watched(context)
    page = log_in(context, base, "operator")
    page.wait_for_selector("[data-live-status][data-state=live]", timeout=20000)
    page.wait_for_selector("[data-dashboard-map][data-ready=true]", timeout=15000)

    # A device token pushes a detection whose kind is markup: into the alert title, the feed.
    push(base, planted["camera_token"], planted["camera"], "detection", {"kind": KIND})
    page.locator("[data-feed] .feed-title", has_text=KIND).first.wait_for(timeout=20000)
    # The map's tooltips: the ward, the device, the incident, the request's category.
    open_tooltips(page, "[data-dashboard-map]")
    page.evaluate(
        """() => {
            const d = window.iocDashboard;
            const cases = [...d.incidents.markers.values(), ...d.requests.markers.values()];
            for (const layer of cases) layer.openTooltip();
        }"""
    )
    tooltips = page.evaluate(
        "() => [...document.querySelectorAll('.leaflet-tooltip')]"
        ".map((t) => t.textContent).join('\\n')"
    )
    for text in (f"Ward {MARKUP}", f"Cam {MARKUP}", f"Incident {MARKUP}", f"Category {MARKUP}"):
        assert text in tooltips, text
    # The side panel: the device's name (its head) and its open alert (built from the
    # panel's JSON); a signal's intersection and faults in its command part.
    page.fill("#device-search", device)
    page.press("#device-search", "Enter")
    page.wait_for_selector(f"[data-panel-live][data-device='{device}'][data-ready=true]")
    assert f"Cam {MARKUP}" in page.locator("[data-device-panel]").inner_text()
    assert KIND in page.locator("[data-device-panel] [data-panel-part=alerts]").inner_text()
    shot(page, "markup-dashboard")
    assert_inert(page, "/ops/")
    signal = planted["signal"]
    page.fill("#device-search", signal)
    page.press("#device-search", "Enter")
    page.wait_for_selector(f"[data-panel-live][data-device='{signal}'][data-ready=true]")
    control = page.locator("[data-device-panel] [data-panel-part=signal]").inner_text()
    assert f"Junction {MARKUP}" in control and f"fault {MARKUP}" in control
    shot(page, "markup-dashboard-signal")
    assert_inert(page, "/ops/ signal")

    # Every staff screen that shows them: (path, its map or None, the text it must show).
    pages = [
        (f"/ops/incidents/{planted['incident']}/", "[data-ioc-map]", f"Notes {MARKUP}"),
        ("/ops/incidents/", None, f"Incident {MARKUP}"),
        (f"/ops/requests/{planted['code']}/", "[data-ioc-map]", f"Note {MARKUP}"),
        ("/ops/requests/", None, f"Category {MARKUP}"),
        (f"/ops/cameras/wall/?ward={planted['ward']}", None, None),
        (f"/ops/devices/{device}/", None, f"Cam {MARKUP}"),
        (f"/ops/wards/{planted['ward']}/", "[data-dashboard-map]", f"Ward {MARKUP}"),
        ("/ops/wards/", None, f"Ward {MARKUP}"),
        ("/ops/reports/", None, None),
    ]
    for path, map_selector, shows in pages:
        page.goto(f"{base}{path}")
        if map_selector:
            open_tooltips(page, map_selector)
        page.wait_for_load_state("networkidle")
        assert_inert(page, path, shows=shows)
        shot(page, "markup-" + path.strip("/").replace("/", "-").split("?")[0])

    # The citizen's side: the tracking page's timeline, the list and its map's popups.
    public = browser.new_context(viewport={"width": 420, "height": 900})
    public_console = watched(public)
    citizen = public.new_page()
    citizen.errors = []
    citizen.on("pageerror", lambda error: citizen.errors.append(str(error)))
    citizen.goto(f"{base}/track/{planted['code']}/")
    assert f"Answer {MARKUP}" in citizen.locator("main").inner_text()
    assert f"Note {MARKUP}" not in citizen.locator("main").inner_text()
    assert_inert(citizen, "/track/")
    citizen.goto(f"{base}/requests/")
    citizen.wait_for_selector("[data-ioc-map][data-requests-ready=true]", timeout=15000)
    citizen.evaluate(
        """(code) => {
            const map = document.querySelector("[data-ioc-map]").iocMap;
            map.eachLayer((layer) => {
                if (layer.feature?.properties?.code === code) layer.openPopup();
            });
        }""",
        planted["code"],
    )
    assert f"Category {MARKUP}" in citizen.locator(".leaflet-popup").inner_text()
    shot(citizen, "markup-portal-requests")
    assert_inert(citizen, "/requests/")
    citizen.goto(f"{base}/")
    assert_inert(citizen, "/")

    assert console == [] and public_console == []
    context.close()
    public.close()


def test_the_policy_stops_markup_that_a_script_would_wrongly_insert(
    live_stack: dict[str, Any], browser: Any
) -> None:
    """The second line: were a script ever to hand data to innerHTML, nothing would run."""
    base = live_stack["url"]
    context = browser.new_context()
    watched(context)
    page = log_in(context, base, "operator")
    page.evaluate(
        "(markup) => document.body.insertAdjacentHTML('beforeend', markup)",
        f"{MARKUP}<script>window.__pwned = 2</script>",
    )
    page.wait_for_function("() => window.__csp.length > 0", timeout=5000)
    assert page.evaluate("() => window.__pwned") is None
    assert any(line.startswith("script-src") for line in page.evaluate("() => window.__csp"))
    context.close()


def test_the_admin_and_the_api_docs_work_under_the_policy(
    live_stack: dict[str, Any], browser: Any
) -> None:
    base = live_stack["url"]
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    console = watched(context)
    page = log_in(context, base, "admin")
    for path in ["/admin/", "/admin/ioc/ward/", "/admin/ioc/ward/add/"]:
        page.goto(f"{base}{path}")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("() => window.__csp") == [], path
    page.goto(f"{base}/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock", timeout=20000)
    shot(page, "api-docs-under-csp")
    assert page.evaluate("() => window.__csp") == []
    assert console == []
    assert page.errors == []
    context.close()
