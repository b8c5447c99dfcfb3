"""Staff device pages under /ops/devices/: list, detail, snapshot proxy, credentials."""

from __future__ import annotations

import base64
import contextlib
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.contrib.staticfiles import finders
from django.test import Client
from django.utils import timezone

from cameras import device_http
from cameras.choices import (
    CommandStatus,
    DeviceKind,
    DeviceStatus,
    EventType,
    SignalAction,
    StreamProtocol,
)
from cameras.models import (
    CameraDetail,
    Device,
    DeviceEvent,
    SignalCommand,
    SignalDetail,
    StatusChange,
)
from ioc.choices import AlertKind, AlertStatus, Severity
from ioc.models import Alert
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN
from tests.support import (
    camera_code,
    example_device,
    example_user,
    local_url,
    placed_device,
    serve_http,
)

# A signal of official1's ward; a signal and an air-quality station of official2's.
OWN_SIGNAL, OTHER_SIGNAL = placed_device(OWN), placed_device(OTHER)
OTHER_SENSOR = placed_device(OTHER, "sensor")
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def page_html(client: Client, path: str, **params: Any) -> str:
    response = client.get(path, params)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def rows_shown(html: str) -> list[str]:
    """The device codes of the table rows, in order."""
    return re.findall(r'<tr data-device="([^"]+)"', html)


# --- List -------------------------------------------------------------------------------------


def test_device_list_shows_the_first_50_devices_in_code_order_linking_to_their_pages(
    login: Any, demo_city: None
) -> None:
    html = page_html(login("operator"), "/ops/devices/")
    codes = rows_shown(html)
    assert codes == list(Device.objects.order_by("code").values_list("code", flat=True)[:50])
    first = Device.objects.select_related("ward").get(code=codes[0])
    assert f'href="/ops/devices/{first.code}/"' in html
    assert first.ward.title in html and first.get_status_display() in html


def test_device_list_searches_codes_and_names(login: Any, demo_city: None) -> None:
    client = login("operator")
    assert rows_shown(page_html(client, "/ops/devices/", q="sig-00")) == [
        f"SIG-00{n}" for n in range(1, 10)
    ]
    camera = example_device(OWN, DeviceKind.CAMERA)
    assert camera.code in rows_shown(page_html(client, "/ops/devices/", q=camera.name))


def test_device_list_filters_by_ward_kind_and_status(login: Any, demo_city: None) -> None:
    Device.objects.filter(code=OTHER_SIGNAL).update(status=DeviceStatus.FAULT)
    html = page_html(
        login("operator"), "/ops/devices/", ward=OTHER, kind=DeviceKind.SIGNAL, status="fault"
    )
    assert rows_shown(html) == [OTHER_SIGNAL]


def test_device_list_counts_devices_by_status_for_the_current_filter(
    login: Any, demo_city: None
) -> None:
    Device.objects.filter(ward__code=OWN).update(status=DeviceStatus.ONLINE)
    Device.objects.filter(code=OWN_SIGNAL).update(status=DeviceStatus.MAINTENANCE)
    html = page_html(login("operator"), "/ops/devices/", ward=OWN, status="maintenance")
    own = Device.objects.filter(ward__code=OWN).count()
    assert f'data-status-count="online">{own - 1}<' in html
    assert 'data-status-count="maintenance">1<' in html
    assert 'data-status-count="fault">0<' in html
    assert f'data-status-count="all">{own}<' in html
    assert rows_shown(html) == [OWN_SIGNAL]


def test_device_list_is_paginated_by_50_and_page_links_keep_the_filters(
    login: Any, demo_city: None
) -> None:
    client = login("operator")
    cameras = list(
        Device.objects.filter(kind=DeviceKind.CAMERA)
        .order_by("code")
        .values_list("code", flat=True)
    )
    html = page_html(client, "/ops/devices/", kind="camera", q="cam", page=2)
    assert rows_shown(html) == cameras[50:100]
    assert 'href="?q=cam&amp;kind=camera&amp;page=3"' in html
    assert 'href="?q=cam&amp;kind=camera&amp;page=1"' in html
    last = page_html(client, "/ops/devices/", kind="camera", q="cam", page=99)
    assert rows_shown(last) == cameras[300:]


def test_device_list_ignores_an_unknown_kind(login: Any, demo_city: None) -> None:
    html = page_html(login("operator"), "/ops/devices/", kind="toaster")
    assert len(rows_shown(html)) == 50


def test_device_list_dates_are_dd_mm_yyyy_in_vietnam_time(login: Any, demo_city: None) -> None:
    Device.objects.filter(code=OWN_SIGNAL).update(
        last_seen_at=datetime(2026, 1, 31, 20, 30, tzinfo=UTC)
    )
    html = page_html(login("official1"), "/ops/devices/", q=OWN_SIGNAL)
    assert "03:30 01/02/2026" in html


def test_device_list_query_count_does_not_grow_with_the_number_of_devices(
    login: Any, demo_city: None, django_assert_num_queries: Any
) -> None:
    client = login("operator")
    client.get("/ops/devices/")  # warm the session and user caches
    # session, user, count, page of devices (ward and gateway joined), counts by status, wards
    with django_assert_num_queries(6):
        many = page_html(client, "/ops/devices/")
    official = login("official1")
    official.get("/ops/devices/")
    with django_assert_num_queries(6):
        few = page_html(official, "/ops/devices/")
    assert len(rows_shown(many)) == 50
    assert len(rows_shown(few)) == min(50, Device.objects.filter(ward__code=OWN).count())


def test_staff_pages_have_a_devices_link(login: Any, demo_city: None) -> None:
    html = page_html(login("official1"), f"/ops/wards/{OWN}/")
    assert 'href="/ops/devices/"' in html


def test_device_list_is_in_vietnamese_by_default(login: Any, demo_city: None) -> None:
    html = page_html(login("operator"), "/ops/devices/")
    assert '<html lang="vi">' in html


# --- Detail ----------------------------------------------------------------------------------


def test_device_page_shows_registry_fields_ward_and_gateway(login: Any, demo_city: None) -> None:
    device = Device.objects.select_related("ward", "gateway").get(
        pk=example_device(OWN, DeviceKind.CAMERA).pk
    )
    html = page_html(login("official1"), f"/ops/devices/{device.code}/")
    assert device.name in html and device.code in html and device.ward.title in html
    assert device.gateway is not None and device.gateway.code in html
    assert f"{device.latitude}, {device.longitude}" in html
    assert device.vendor in html and device.model_name in html


def test_device_page_shows_status_history_newest_first_limited_to_20(
    login: Any, demo_city: None
) -> None:
    device = example_device(OWN, DeviceKind.CAMERA)
    start = timezone.now() - timedelta(days=2)
    StatusChange.objects.bulk_create(
        StatusChange(
            device=device,
            at=start + timedelta(minutes=n),
            from_status=DeviceStatus.ONLINE,
            to_status=DeviceStatus.OFFLINE,
            cause=f"cause-{n:02d}",
        )
        for n in range(25)
    )
    html = page_html(login("official1"), f"/ops/devices/{device.code}/")
    shown = re.findall(r"cause-(\d\d)", html)
    assert shown == [f"{n:02d}" for n in range(24, 4, -1)]


def test_device_page_shows_the_newest_50_events_and_latest_values(
    login: Any, demo_city: None
) -> None:
    device = Device.objects.get(code=OTHER_SENSOR)
    device.latest = {"pm25": 37.5, "pm10": 61}
    device.save(update_fields=["latest"])
    now = timezone.now()
    DeviceEvent.objects.bulk_create(
        DeviceEvent(
            device=device,
            event_id=f"ev-{n:03d}",
            type=EventType.READING,
            ts=now - timedelta(minutes=60 - n),
            received_at=now,
            data={"pm25": n},
        )
        for n in range(60)
    )
    html = page_html(login("official2"), f"/ops/devices/{OTHER_SENSOR}/")
    shown = re.findall(r'data-event="(ev-\d+)"', html)
    assert shown == [f"ev-{n:03d}" for n in range(59, 9, -1)]
    assert 'data-latest="pm25">37,5 µg/m³' in html  # Vietnamese decimal comma


def test_device_page_lists_open_alerts_only(login: Any, demo_city: None) -> None:
    device = Device.objects.select_related("ward").get(code=OWN_SIGNAL)
    common = {"ward": device.ward, "device": device, "kind": AlertKind.FAULT}
    Alert.objects.create(
        **common, cause="fault:a", severity=Severity.CRITICAL, title="Mất pha đỏ hướng Bắc"
    )
    Alert.objects.create(
        **common,
        cause="fault:b",
        severity=Severity.WARNING,
        title="Đã xử lý xong",
        status=AlertStatus.RESOLVED,
    )
    html = page_html(login("official1"), f"/ops/devices/{OWN_SIGNAL}/")
    assert "Mất pha đỏ hướng Bắc" in html
    assert "Đã xử lý xong" not in html


def test_camera_page_shows_the_snapshot_proxy_and_hls_stream_only(
    login: Any, demo_city: None
) -> None:
    camera = CameraDetail.objects.filter(device__ward__code=OWN).select_related("device").first()
    assert camera is not None
    client = login("official1")
    camera.stream_protocol = StreamProtocol.RTSP
    camera.stream_main_url = "rtsp://10.0.0.9:554/main"
    camera.save()
    html = page_html(client, f"/ops/devices/{camera.device.code}/")
    assert f'src="/ops/devices/{camera.device.code}/snapshot.jpg"' in html
    assert 'data-refresh-seconds="10"' in html
    assert "rtsp://10.0.0.9" not in html
    camera.stream_protocol = StreamProtocol.HLS
    camera.stream_main_url = "https://viewer:pw@video.example/cam/index.m3u8"
    camera.save()
    html = page_html(client, f"/ops/devices/{camera.device.code}/")
    assert 'data-testid="hls-url" rel="noopener">https://video.example/cam/index.m3u8<' in html
    assert "viewer:pw" not in html


def test_camera_page_says_whether_the_platform_transcodes_its_main_stream(
    login: Any, demo_city: None
) -> None:
    camera = CameraDetail.objects.filter(device__ward__code=OWN).select_related("device").first()
    assert camera is not None
    client = login("official1")
    client.cookies["ioc_language"] = "en"
    camera.stream_main_url = "rtsp://10.0.0.9:554/main"
    camera.save()
    fact = re.compile(r'<dd data-testid="main-relay">([^<]*)</dd>')
    html = page_html(client, f"/ops/devices/{camera.device.code}/")
    assert fact.findall(html) == ["As the camera sends it"]
    camera.transcode_main = True
    camera.save()
    html = page_html(client, f"/ops/devices/{camera.device.code}/")
    assert fact.findall(html) == ["Transcoded to H.264 by the platform"]
    assert "data-video-transcoded" in html  # the player's note, shown while it plays


def test_sensor_page_charts_each_metric_with_its_thresholds_from_local_uplot(
    login: Any, demo_city: None
) -> None:
    html = page_html(login("official2"), f"/ops/devices/{OTHER_SENSOR}/")
    assert "/static/cameras/vendor/uplot/uPlot.iife.min.js" in html
    assert "/static/cameras/device_detail.js" in html
    assert f'"url": "/api/v1/devices/{OTHER_SENSOR}/readings"' in html
    assert '"metric": "pm25"' in html and '"high": 50.0' in html
    assert 'data-threshold="pm10"' in html
    assert finders.find("cameras/vendor/uplot/uPlot.iife.min.js")
    assert finders.find("cameras/vendor/uplot/LICENSE")


def test_signal_page_shows_controller_state_and_recent_commands(
    login: Any, demo_city: None
) -> None:
    signal = SignalDetail.objects.get(device__code=OWN_SIGNAL)
    signal.phase = "P2-east-west"
    signal.faults = ["lamp-red-north"]
    signal.save()
    operator = example_user("operator")
    now = timezone.now()
    old = SignalCommand.objects.create(
        device=signal.device,
        action=SignalAction.FLASH,
        reason="Ngập nước",
        requested_by=operator,
        requested_at=now - timedelta(hours=2),
        status=CommandStatus.REVERTED,
    )
    live = SignalCommand.objects.create(
        device=signal.device,
        action=SignalAction.SET_PLAN,
        plan="P3",
        reason="Lễ hội",
        requested_by=operator,
        requested_at=now,
        status=CommandStatus.ACTIVE,
    )
    html = page_html(login("official1"), f"/ops/devices/{OWN_SIGNAL}/")
    assert signal.intersection in html and "P2-east-west" in html and "lamp-red-north" in html
    assert 'data-testid="live-command"' in html
    assert re.findall(r'data-command="(\d+)"', html) == [str(live.pk), str(old.pk)]


COMMAND_FORM = 'data-testid="signal-command-form"'


@pytest.mark.parametrize(
    ("username", "shown"),
    [("admin", True), ("operator", True), ("official1", False), ("department1", False)],
)
def test_signal_page_includes_the_command_form_for_those_who_may_command(
    login: Any, demo_city: None, username: str, shown: bool
) -> None:
    html = page_html(login(username), f"/ops/devices/{OWN_SIGNAL}/")
    assert (COMMAND_FORM in html) is shown
    assert ('data-testid="signal-panel"' in html) is not shown  # the state is shown once


def test_ward_official_given_the_permission_gets_the_command_form(
    login: Any, demo_city: None
) -> None:
    official = example_user("official1")
    official.user_permissions.add(
        Permission.objects.get(codename="add_signalcommand", content_type__app_label="cameras")
    )
    assert COMMAND_FORM in page_html(login("official1"), f"/ops/devices/{OWN_SIGNAL}/")


@pytest.mark.parametrize(
    ("username", "code", "status"),
    [
        ("official1", OWN_SIGNAL, 200),
        ("official1", OTHER_SIGNAL, 404),
        ("official2", OWN_SIGNAL, 404),
        ("operator", OTHER_SIGNAL, 200),
        ("official1", "NO-SUCH-DEVICE", 404),
    ],
)
def test_device_page_answers_404_outside_the_users_wards(
    login: Any, demo_city: None, username: str, code: str, status: int
) -> None:
    assert login(username).get(f"/ops/devices/{code}/").status_code == status


def test_device_page_query_count_does_not_grow_with_history(
    login: Any, demo_city: None, django_assert_num_queries: Any
) -> None:
    device = Device.objects.get(code=OWN_SIGNAL)
    now = timezone.now()
    DeviceEvent.objects.bulk_create(
        DeviceEvent(
            device=device,
            event_id=f"e{n}",
            type=EventType.STATUS,
            ts=now - timedelta(seconds=n),
            received_at=now,
            data={},
        )
        for n in range(120)
    )
    client = login("operator")
    client.get(f"/ops/devices/{OWN_SIGNAL}/")
    # session, user, device (ward, gateway, camera, signal joined), thresholds, status
    # history, events, alerts, commands, live command (an operator's right to command
    # needs no query: city scope)
    with django_assert_num_queries(9):
        client.get(f"/ops/devices/{OWN_SIGNAL}/")


@pytest.mark.parametrize(
    "path",
    [
        "/ops/devices/",
        f"/ops/devices/{camera_code(OWN)}/",
        f"/ops/devices/{OWN_SIGNAL}/",
        f"/ops/devices/{OTHER_SENSOR}/",
        "/ops/devices/import/",
    ],
)
def test_device_pages_load_scripts_and_styles_from_the_app_only(
    login: Any, demo_city: None, path: str
) -> None:
    html = login("admin").get(path).content.decode()
    references = re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="([^"]+)"', html)
    assert references
    for reference in references:
        assert reference.startswith("/"), f"{path} loads {reference} from elsewhere"
        if reference.startswith("/static/"):
            assert finders.find(reference.removeprefix("/static/")), reference


# --- Snapshot proxy ------------------------------------------------------------------------------


class CameraHandler(BaseHTTPRequestHandler):
    """A camera's HTTP still-image endpoint, misbehaving on request."""

    seen_auth: list[str] = []

    def do_GET(self) -> None:
        CameraHandler.seen_auth.append(self.headers.get("Authorization", ""))
        routes = {
            "/ok.jpg": (200, "image/jpeg", JPEG),
            "/ok.png": (200, "image/png; charset=binary", PNG),
            "/page.html": (200, "text/html", b"<html>login</html>"),
            "/big.jpg": (200, "image/jpeg", b"\xff" * (2 * 1024 * 1024 + 10)),
            "/broken.jpg": (500, "text/plain", b"oops"),
        }
        if self.path == "/slow.jpg":
            time.sleep(1.5)
            status, kind, body = 200, "image/jpeg", JPEG
        else:
            status, kind, body = routes.get(self.path, (404, "text/plain", b"no"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)  # the proxy may hang up on a too-large image

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def camera_server() -> Iterator[str]:
    CameraHandler.seen_auth = []
    with serve_http(CameraHandler) as server:
        yield local_url(server)


CAMERA_LOGIN = ("viewer", "s3cret")


def point_camera_at(url: str) -> str:
    """Point official1's first camera at ``url``, with CAMERA_LOGIN; returns its code."""
    camera = CameraDetail.objects.filter(device__ward__code=OWN).order_by("device__code").first()
    assert camera is not None
    camera.snapshot_url = url
    camera.username, camera.password = CAMERA_LOGIN
    camera.save()
    return camera.device.code


@pytest.mark.parametrize(("path", "kind"), [("/ok.jpg", "image/jpeg"), ("/ok.png", "image/png")])
def test_snapshot_proxy_returns_the_cameras_image_fetched_with_its_login(
    login: Any, demo_city: None, camera_server: str, path: str, kind: str
) -> None:
    code = point_camera_at(camera_server + path)
    response = login("official1").get(f"/ops/devices/{code}/snapshot.jpg")
    assert response.status_code == 200
    assert response["Content-Type"] == kind
    assert response.content == (JPEG if kind == "image/jpeg" else PNG)
    assert response["Cache-Control"] == "no-store"
    assert CameraHandler.seen_auth == ["Basic " + base64.b64encode(b"viewer:s3cret").decode()]


@pytest.mark.parametrize("path", ["/page.html", "/big.jpg", "/broken.jpg"])
def test_snapshot_proxy_answers_502_for_anything_but_a_small_image(
    login: Any, demo_city: None, camera_server: str, path: str
) -> None:
    code = point_camera_at(camera_server + path)
    response = login("official1").get(f"/ops/devices/{code}/snapshot.jpg")
    assert response.status_code == 502
    assert response.json()["detail"]
    # A short phrase: neither the camera's status nor its answer reaches the official.
    for remote in ("s3cret", "login", "oops", "500"):
        assert remote not in response.content.decode()


def test_snapshot_proxy_gives_up_on_a_slow_camera(
    login: Any, demo_city: None, camera_server: str, monkeypatch: Any
) -> None:
    monkeypatch.setattr(device_http, "TIMEOUT_SECONDS", 0.3)
    code = point_camera_at(camera_server + "/slow.jpg")
    started = time.monotonic()
    response = login("official1").get(f"/ops/devices/{code}/snapshot.jpg")
    assert response.status_code == 502
    assert time.monotonic() - started < 1.4


def test_snapshot_proxy_answers_502_when_the_camera_is_unreachable(
    login: Any, demo_city: None
) -> None:
    code = point_camera_at("http://127.0.0.1:9/snapshot.jpg")
    response = login("official1").get(f"/ops/devices/{code}/snapshot.jpg")
    assert response.status_code == 502
    assert response["Content-Type"] == "application/json"


def test_snapshot_proxy_uses_the_3_second_timeout_and_2_mb_limit() -> None:
    assert device_http.TIMEOUT_SECONDS == 3.0
    assert device_http.MAX_RESPONSE_BYTES == 2 * 1024 * 1024


@pytest.mark.parametrize(
    ("username", "code", "status"),
    [
        ("official2", None, 404),  # another ward's camera
        ("official1", OWN_SIGNAL, 404),  # not a camera
        ("official1", "NO-SUCH", 404),
    ],
)
def test_snapshot_proxy_answers_404_outside_scope_or_for_other_devices(
    login: Any, demo_city: None, camera_server: str, username: str, code: str | None, status: int
) -> None:
    code = code or point_camera_at(camera_server + "/ok.jpg")
    assert login(username).get(f"/ops/devices/{code}/snapshot.jpg").status_code == status
    assert CameraHandler.seen_auth == []


# --- Credentials never leave the server ------------------------------------------------------

SECRETS = ("cam-user-8f3a", "cam-pass-91c7", "sig-user-5d2e", "sig-pass-77b0")


@pytest.fixture
def secret_credentials(demo_city: None) -> None:
    """Recognisable credentials on every camera and signal controller of both wards."""
    CameraDetail.objects.update(username=SECRETS[0], password=SECRETS[1])
    SignalDetail.objects.update(username=SECRETS[2], password=SECRETS[3])


def endpoints() -> list[str]:
    camera = f"CAM-{OWN}-001"
    return [
        "/ops/devices/",
        f"/ops/devices/?q={camera}",
        f"/ops/devices/{camera}/",
        f"/ops/devices/{OWN_SIGNAL}/",
        f"/ops/devices/{OTHER_SENSOR}/",
        "/ops/devices/export.csv",
        "/ops/devices/import/",
        f"/ops/devices/{camera}/snapshot.jpg",
        "/api/v1/devices/?limit=1000",
        f"/api/v1/devices/{camera}/",
        f"/api/v1/devices/{OWN_SIGNAL}/",
        f"/api/v1/devices/{OTHER_SENSOR}/",
        f"/api/v1/devices/{OTHER_SENSOR}/readings?metric=pm25",
        f"/api/v1/devices/{camera}/events",
        f"/api/v1/devices/{OWN_SIGNAL}/events",
        "/api/schema/?format=json",
    ]


@pytest.mark.parametrize("path", endpoints())
def test_no_page_api_or_export_shows_camera_or_controller_credentials(
    login: Any, secret_credentials: None, path: str
) -> None:
    response = login("admin").get(path)
    assert response.status_code in {200, 502}, (path, response.status_code)
    body = response.content.decode("utf-8", errors="replace")
    for secret in SECRETS:
        assert secret not in body, f"{path} shows {secret}"
    assert "password" not in body.lower() or path.startswith("/api/schema")


def test_device_api_writes_answer_without_credentials(login: Any, secret_credentials: None) -> None:
    response = login("admin").patch(
        f"/api/v1/devices/CAM-{OWN}-001/",
        {"name": "Camera cổng chợ"},
        content_type="application/json",
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert not any(secret in body for secret in SECRETS)
