"""Pages: Vietnamese first, English on request, local assets, dd/mm/yyyy in Hà Nội time."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from cameras.models import Device
from ioc.models import AuditEntry, Department, Ward
from tests.support import COMMUNE_NAME, DEMO_PASSWORD, OWN_WARD, OWN_WARD_NAME

PAGES = ["/", "/accounts/login/", "/ops/", "/ops/wards/", f"/ops/wards/{OWN_WARD}/"]


def test_portal_is_vietnamese_even_for_an_english_browser(demo_city: Any) -> None:
    response = Client(HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="vi">' in html
    assert "Cổng tiếp nhận phản ánh, kiến nghị" in html
    assert f"Phường {OWN_WARD_NAME}" in html and f"Xã {COMMUNE_NAME}" in html


def test_language_switch_gives_english_and_back(demo_city: Any) -> None:
    client = Client()
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    html = client.get("/").content.decode()
    assert '<html lang="en">' in html
    assert "Citizen feedback portal" in html and f"{OWN_WARD_NAME} Ward" in html
    client.post("/i18n/setlang/", {"language": "vi", "next": "/"})
    assert "Cổng tiếp nhận phản ánh" in client.get("/").content.decode()


def test_unknown_language_cookie_falls_back_to_vietnamese(demo_city: Any) -> None:
    client = Client()
    client.cookies["ioc_language"] = "xx"
    assert '<html lang="vi">' in client.get("/").content.decode()


def test_staff_pages_are_in_vietnamese(login: Any, demo_city: Any) -> None:
    html = login("operator").get("/ops/").content.decode()
    assert "Tổng quan" in html
    assert f"{Ward.objects.current().count()} phường/xã trong phạm vi của bạn" in html
    assert "Đăng xuất" in html


@pytest.mark.parametrize(
    ("language", "shown"), [("vi", "03:30 01/02/2026"), ("en", "01/02/2026 03:30")]
)
def test_times_are_dd_mm_yyyy_in_vietnam_time(
    login: Any, demo_city: Any, language: str, shown: str
) -> None:
    device = Device.objects.filter(ward__code=OWN_WARD).first()
    assert device is not None
    device.last_seen_at = datetime(2026, 1, 31, 20, 30, tzinfo=UTC)  # 03:30 next day in VN
    device.save(update_fields=["last_seen_at"])
    client = login("official1")
    client.cookies["ioc_language"] = language
    assert shown in client.get(f"/ops/wards/{OWN_WARD}/").content.decode()


@pytest.mark.parametrize("path", PAGES)
def test_pages_load_scripts_styles_and_fonts_from_the_app_only(
    login: Any, demo_city: Any, path: str
) -> None:
    html = login("operator").get(path, follow=True).content.decode()
    references = re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="([^"]+)"', html)
    assert references
    for reference in references:
        assert reference.startswith("/"), f"{path} loads {reference} from elsewhere"
        if reference.startswith("/static/"):
            assert finders.find(reference.removeprefix("/static/")), reference


def test_font_stylesheet_points_at_shipped_font_files() -> None:
    css_path = finders.find("ioc/fonts/fonts.css")
    assert css_path
    with open(css_path, encoding="utf-8") as css:
        files = re.findall(r'url\("([^"]+)"\)', css.read())
    assert files and all(finders.find(f"ioc/fonts/{name}") for name in files)


def test_login_takes_a_ward_official_to_their_ward(demo_city: Any) -> None:
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": "official1", "password": DEMO_PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == f"/ops/wards/{OWN_WARD}/"
    assert f"Phường {OWN_WARD_NAME}" in response.content.decode()


def test_wrong_password_says_so_in_vietnamese(demo_city: Any) -> None:
    response = Client().post("/accounts/login/", {"username": "operator", "password": "nope"})
    assert response.status_code == 200
    assert "Sai tên đăng nhập hoặc mật khẩu" in response.content.decode()


def test_logout_ends_the_session(login: Any, demo_city: Any) -> None:
    client = login("operator")
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/ops/").status_code == 302


def test_health_check_reports_the_database(db: Any) -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_admin_change_is_audited_with_before_after_and_address(login: Any, demo_city: Any) -> None:
    department = Department.objects.get(code="quan-ly-do-thi")
    client = login("admin")
    response = client.post(
        f"/admin/ioc/department/{department.pk}/change/",
        {
            "code": department.code,
            "name": "Phòng Quản lý đô thị (mới)",
            "email": "",
            "is_active": "on",
        },
        REMOTE_ADDR="10.1.2.3",
    )
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="department.changed_in_admin")
    assert entry.actor_label == "admin"
    assert entry.before is not None and entry.before["name"] == "Phòng Quản lý đô thị"
    assert entry.after is not None and entry.after["name"] == "Phòng Quản lý đô thị (mới)"
    assert entry.ip_address == "10.1.2.3"


def test_api_schema_and_docs_are_served_locally(login: Any, demo_city: Any) -> None:
    client = login("operator")
    schema = client.get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    assert "/api/v1/devices.geojson" in schema.json()["paths"]
    docs = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs and "cdn" not in docs.lower()
