"""The Content-Security-Policy (django-csp, ioc/settings.py): every page type answers with a
strict policy, and the templates and scripts stay within it (no inline script, handler or
style; no HTML sink fed with data). The browser side is tests/browser/test_markup_is_text.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.test import Client

from ioc.settings import csp_origin, csp_websocket_sources
from services.models import ServiceRequest
from tests.support import OWN_WARD, camera_code
from tests.support.records import file_request, open_at

ROOT = Path(settings.BASE_DIR)
TEMPLATE_DIRS = [ROOT / "templates", *ROOT.glob("*/templates")]
# The static folders of the project's own apps (installed packages' are not ours to check).
SCRIPT_DIRS = [
    Path(app.path) / "static" for app in apps.get_app_configs() if Path(app.path).parent == ROOT
]


def directives(response: Any) -> dict[str, list[str]]:
    """The response's CSP header as {directive: sources}."""
    header = response.headers.get("Content-Security-Policy", "")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    parsed = {}
    for part in header.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def assert_strict(response: Any) -> None:
    policy = directives(response)
    assert policy["script-src"] == ["'self'"], policy
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    for sources in policy.values():
        assert "'unsafe-eval'" not in sources


def staff_pages() -> list[str]:
    request = ServiceRequest.objects.filter(ward__code=OWN_WARD).first() or file_request(
        ward_code=OWN_WARD
    )
    incident = open_at(OWN_WARD)
    return [
        "/ops/",
        f"/ops/wards/{OWN_WARD}/",
        "/ops/incidents/",
        f"/ops/incidents/{incident.pk}/",
        "/ops/requests/",
        f"/ops/requests/{request.code}/",
        "/ops/cameras/wall/",
        f"/ops/devices/{camera_code(OWN_WARD)}/",
        f"/ops/panel/{camera_code(OWN_WARD)}/",
        "/ops/reports/",
        "/admin/",
        "/api/v1/wards/",
    ]


def test_every_page_type_answers_with_a_strict_policy(login: Any, demo_city: Any) -> None:
    request = ServiceRequest.objects.first() or file_request(ward_code=OWN_WARD)
    public = Client()
    for path in ["/", "/requests/", f"/track/{request.code}/", "/accounts/login/", "/nowhere/"]:
        response = public.get(path)
        assert response.status_code in {200, 404}, path
        assert_strict(response)
    staff = login("admin")
    for path in staff_pages():
        response = staff.get(path)
        assert response.status_code == 200, path
        assert_strict(response)
    # Even the machines' API: a JSON answer opened in a browser runs nothing either.
    assert_strict(Client().get("/open311/v2/services.json"))


def test_no_style_or_script_may_be_inline_on_the_platform_pages(login: Any, demo_city: Any) -> None:
    policy = directives(login("operator").get("/ops/"))
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-inline'" not in policy["style-src"]


def test_api_docs_load_their_starter_as_a_file_and_only_relax_styles(demo_city: Any) -> None:
    response = Client().get("/api/docs/")
    html = response.content.decode()
    policy = directives(response)
    assert policy["script-src"] == ["'self'"]
    assert "'unsafe-inline'" in policy["style-src"]
    assert re.search(r"<script>\s*\S", html) is None, "inline script on /api/docs/"
    assert Client().get("/api/docs/?script=").status_code == 200


def test_the_policy_names_the_tile_server_and_another_websocket_port() -> None:
    assert csp_origin("https://tile.openstreetmap.org/{z}/{x}/{y}.png") == (
        "https://tile.openstreetmap.org"
    )
    assert csp_origin("https://{s}.tiles.example:8443/{z}/{x}/{y}.png") == (
        "https://*.tiles.example:8443"
    )
    assert csp_origin("/tiles/{z}/{x}/{y}.png") == ""
    assert csp_websocket_sources("") == []
    assert csp_websocket_sources("8001") == ["ws://*:8001", "wss://*:8001"]
    img = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"]
    assert csp_origin(settings.IOC_TILE_URL) in img


# --- What the policy would block, kept out of the code --------------------------------------

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)


def templates() -> list[Path]:
    return [path for folder in TEMPLATE_DIRS for path in folder.rglob("*.html")]


@pytest.mark.parametrize("pattern", [INLINE_SCRIPT, HANDLER, STYLE], ids=["script", "on", "style"])
def test_templates_have_no_inline_script_handler_or_style(pattern: re.Pattern[str]) -> None:
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in templates()
        for match in pattern.finditer(path.read_text())
    ]
    assert found == []


def scripts() -> list[Path]:
    return [
        path
        for folder in SCRIPT_DIRS
        for path in folder.rglob("*.js")
        if "vendor" not in path.parts
    ]


# Sinks that read a string as HTML or code, and the parsers of markup: no script of the
# platform parses HTML at all (the side panel too is built from JSON with dom.js's el()).
# Leaflet's tooltip, popup and icon take a string as HTML: they get an element (`plain()`,
# `el()`) or a function building one.
HTML_SINKS = re.compile(
    r"\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write|\beval\(|new Function\b"
    r"|\bDOMParser\b|parseFromString|createContextualFragment|\bsrcdoc\b"
    r"|set(?:HTML|HTMLUnsafe)\(|parseHTMLUnsafe"
    r"|set(?:Timeout|Interval)\(\s*[\"'`]"
    r"|\b(?:bindTooltip|bindPopup|setTooltipContent|setPopupContent|setContent)\((?!\s*(?:plain\(|el\(|\(\)\s*=>))"
    r"|\bhtml:(?!\s*(?:plain|el)\()"
    r"|\battribution:"
)


def test_scripts_give_html_sinks_no_strings() -> None:
    assert len(scripts()) > 20
    found = [
        f"{path.relative_to(ROOT)}: {line.strip().split(' //')[0]}"
        for path in scripts()
        for line in path.read_text().splitlines()
        if HTML_SINKS.search(line) and not line.lstrip().startswith("//")
    ]
    assert found == []


@pytest.mark.parametrize(
    "line",
    [
        "node.innerHTML = text;",
        "template.outerHTML = x",
        "list.insertAdjacentHTML('beforeend', row)",
        "new DOMParser().parseFromString(html, 'text/html')",
        "document.createRange().createContextualFragment(html)",
        'el("iframe", { srcdoc: text })',
        "marker.bindTooltip(name)",
    ],
)
def test_the_sink_check_catches_each_way_to_parse_markup(line: str) -> None:
    assert HTML_SINKS.search(line)
