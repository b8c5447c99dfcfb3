"""The device HTTP policy (cameras.device_http): devices are reached only inside the device
networks, checked when a URL is saved and on the address each connection uses; no
redirect is followed; users see a short phrase, never what a device sent."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils.translation import gettext

from cameras import device_http
from cameras.device_http import ControllerError, SnapshotUnavailable
from cameras.models import CameraDetail, SignalDetail
from cameras.services.polling import cameras_poll
from ioc.text import in_platform_language
from tests.support import OWN_WARD, jpeg, local_url, serve_http

OUTSIDE_LOOPBACK = ["10.0.0.0/8"]  # the test servers listen on 127.0.0.1


class Recorder(BaseHTTPRequestHandler):
    """A device that records what it is asked (path and login) and answers by path:
    /snap.jpg an image, /redirect a 302 to ``Recorder.location``, /error a 500 with a body,
    /html a login page, /state a controller's state."""

    seen: list[tuple[str, str]] = []
    location = ""

    def do_GET(self) -> None:
        Recorder.seen.append((self.path, self.headers.get("Authorization", "")))
        if self.path == "/redirect" or self.path.endswith("/redirect/state"):
            self._answer(302, b"", "text/plain", Location=Recorder.location)
        elif self.path == "/snap.jpg":
            self._answer(200, jpeg((8, 8), (1, 2, 3)), "image/jpeg")
        elif self.path == "/html":
            self._answer(200, b"<html>Router admin: secret-banner</html>", "text/html")
        elif self.path.endswith("/state"):
            self._answer(200, b'{"mode": "auto"}', "application/json")
        else:
            self._answer(500, b"Internal detail: db password=hunter2", "text/plain")

    def do_POST(self) -> None:
        self.do_GET()

    def _answer(self, status: int, body: bytes, kind: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def device_server() -> Iterator[str]:
    Recorder.seen = []
    with serve_http(Recorder) as server:
        yield local_url(server)


@pytest.fixture
def other_server() -> Iterator[str]:
    """A second host the first one redirects to."""
    with serve_http(Recorder) as server:
        yield local_url(server)


def resolve_name_to(monkeypatch: pytest.MonkeyPatch, name: str, address: str) -> None:
    """Make ``name`` resolve to ``address`` (as a DNS record changed after saving would)."""
    real = socket.getaddrinfo

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == name:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 80))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


# --- The device networks, at request time ---------------------------------------------------


def test_a_device_outside_the_device_networks_is_never_contacted(device_server: str) -> None:
    with (
        override_settings(IOC_DEVICE_NETWORKS=OUTSIDE_LOOPBACK),
        pytest.raises(
            SnapshotUnavailable,
            match=gettext("The camera's address is outside the device networks."),
        ),
    ):
        device_http.snapshot_fetch(f"{device_server}/snap.jpg", ("viewer", "s3cret"))
    assert Recorder.seen == []
    content, kind = device_http.snapshot_fetch(f"{device_server}/snap.jpg", None)
    assert kind == "image/jpeg" and content


def test_a_name_that_now_resolves_outside_is_refused_when_connecting(
    device_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = device_server.rsplit(":", 1)[1]
    resolve_name_to(monkeypatch, "signal.lan", "127.0.0.1")
    SignalDetail(controller_url=f"http://signal.lan:{port}").clean_fields(
        exclude=["device", "intersection"]
    )  # inside when saved
    resolve_name_to(monkeypatch, "signal.lan", "169.254.169.254")  # the cloud's metadata
    with pytest.raises(ControllerError) as refused:
        device_http.controller_request(f"http://signal.lan:{port}", ("op", "pw"), "GET", "state")
    assert str(refused.value) == in_platform_language(
        "the controller's address is outside the device networks"
    )


def test_the_pollers_do_not_contact_devices_outside_the_device_networks(
    demo_city: Any, device_server: str, django_capture_on_commit_callbacks: Any
) -> None:
    CameraDetail.objects.update(health_url="", snapshot_url="")
    camera = CameraDetail.objects.filter(device__ward__code=OWN_WARD).first()
    assert camera is not None
    CameraDetail.objects.filter(pk=camera.pk).update(health_url=f"{device_server}/health")
    with (
        override_settings(IOC_DEVICE_NETWORKS=OUTSIDE_LOOPBACK),
        django_capture_on_commit_callbacks(execute=False),
    ):
        summary = cameras_poll(concurrency=2, timeout=1.0)
    assert summary.healthy == 0
    assert "outside the device networks" in summary.failed[camera.device.code]
    assert Recorder.seen == []


# --- Redirects and what users see -----------------------------------------------------------


def test_a_redirect_is_not_followed_so_the_login_goes_nowhere_else(
    device_server: str, other_server: str
) -> None:
    Recorder.location = f"{other_server}/snap.jpg"
    with pytest.raises(SnapshotUnavailable) as snapshot:
        device_http.snapshot_fetch(f"{device_server}/redirect", ("viewer", "s3cret"))
    with pytest.raises(ControllerError) as controller:
        device_http.controller_request(f"{device_server}/redirect", ("op", "pw"), "GET", "state")
    assert [path for path, _login in Recorder.seen] == ["/redirect", "/redirect/state"]
    assert str(snapshot.value) == gettext("The camera answered with an error.")
    assert str(controller.value) == in_platform_language("the controller answered with an error")


@pytest.mark.parametrize(
    ("path", "phrase"),
    [
        ("/error", "The camera answered with an error."),
        ("/html", "The camera did not send an image."),
    ],
)
def test_the_snapshot_error_is_a_short_phrase_without_the_cameras_answer(
    device_server: str, path: str, phrase: str
) -> None:
    with pytest.raises(SnapshotUnavailable) as unavailable:
        device_http.snapshot_fetch(device_server + path, None)
    assert str(unavailable.value) == gettext(phrase)


def test_a_controller_error_is_a_short_phrase_without_the_controllers_answer(
    device_server: str,
) -> None:
    with pytest.raises(ControllerError) as failed:
        device_http.controller_request(device_server, None, "GET", "broken")
    assert str(failed.value) == in_platform_language("the controller answered with an error")
    assert "hunter2" not in str(failed.value) and "500" not in str(failed.value)


# --- The device networks, when a URL is saved -----------------------------------------------


@pytest.mark.parametrize(
    ("field", "url"),
    [
        ("snapshot_url", "file:///etc/passwd"),
        ("snapshot_url", "gopher://10.0.0.5/"),
        ("health_url", "http://169.254.169.254/latest/meta-data/"),
        ("health_url", "http://8.8.8.8/health"),
        ("health_url", "http://[::ffff:8.8.8.8]/health"),
        ("health_url", "http:///no-host"),
        ("stream_main_url", "javascript:alert(1)"),
        ("stream_sub_url", "file:///dev/video0"),
    ],
)
def test_camera_urls_outside_the_allowed_schemes_or_networks_are_refused_on_save(
    field: str, url: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        CameraDetail(**{field: url}).clean_fields(exclude=["device"])
    assert list(refused.value.message_dict) == [field]


@pytest.mark.parametrize(
    ("field", "url"),
    [
        ("snapshot_url", "http://10.20.0.5/snap.jpg"),
        ("health_url", "https://192.168.1.20:8443/health"),
        ("health_url", "http://127.0.0.1:8100/cameras/CAM-001/health"),
        ("stream_main_url", "rtsp://10.20.0.5:554/main"),
        ("stream_main_url", "https://media.example.org/live/index.m3u8"),  # played by browsers
        ("stream_sub_url", "rtsps://10.20.0.5:322/sub"),
    ],
)
def test_camera_urls_inside_the_device_networks_are_accepted(field: str, url: str) -> None:
    CameraDetail(**{field: url}).clean_fields(exclude=["device"])


def test_a_controller_address_outside_the_networks_says_which_networks_are_allowed() -> None:
    with (
        override_settings(IOC_DEVICE_NETWORKS=["10.64.0.0/16"]),
        pytest.raises(ValidationError) as refused,
    ):
        SignalDetail(controller_url="http://192.168.1.9/api").clean_fields(
            exclude=["device", "intersection"]
        )
    message = refused.value.message_dict["controller_url"][0]
    assert "192.168.1.9" in message and "10.64.0.0/16" in message
