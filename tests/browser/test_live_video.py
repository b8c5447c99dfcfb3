"""Live video in Debian's chromium, through the real ASGI server's relay, from the
simulator's RTSP cameras: frames advance on the device page, a stream that cannot play says
why and shows the snapshot, H.265 is said with the sub-stream offered, and the addresses
are scoped (another ward's camera is a 404, an old address has expired)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from cameras.models import CameraDetail, Device
from cameras.video.tokens import stream_token_issue
from ioc.models import User
from tests.support import OTHER_WARD, OWN_WARD, example_device, submit_login
from tests.support.video import main_is_h265, simulated_cameras

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def own_camera(*, h265: bool) -> Device:
    """A camera of official1's ward whose main stream is (or is not) H.265."""
    index = 0
    while True:
        device = example_device(OWN_WARD, index=index)
        if main_is_h265(code=device.code) == h265:
            return device
        index += 1


def video_state(page: Any) -> dict[str, Any]:
    return page.evaluate(
        """() => {
            const root = document.querySelector('[data-live-video]');
            const video = root.querySelector('video');
            return {
                state: root.dataset.state, reason: root.dataset.reason,
                frames: video.getVideoPlaybackQuality().totalVideoFrames,
                time: video.currentTime, text: root.querySelector('[data-video-state]').textContent,
                snapshotHidden: document.querySelector('[data-video-fallback-for]')?.hidden,
            };
        }"""
    )


@pytest.fixture
def cameras(asgi_server: str, tmp_path: Path) -> Any:
    """Two cameras of official1's ward (H.264 and H.265 main streams) on the simulator."""
    devices = [own_camera(h265=False), own_camera(h265=True)]
    with simulated_cameras(devices, tmp_path / "clips", main=True):
        yield devices


# The database is read in fixtures, before the browser: once Playwright runs, an ORM call
# would be made from its event loop's thread (see tests/browser/test_dashboard.py).


def test_the_device_page_plays_the_camera_and_its_frames_advance(
    cameras: list[Device], asgi_server: str, browser: Any
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    submit_login(page, asgi_server, "official1", f"/ops/devices/{cameras[0].code}/")
    page.wait_for_selector("[data-live-video][data-state=live]", timeout=30000)
    first = video_state(page)
    page.wait_for_timeout(2000)
    later = video_state(page)
    assert later["frames"] > first["frames"] + 10  # moving, not a still picture
    assert later["time"] > first["time"] + 1
    assert later["text"] == "Trực tiếp" and later["snapshotHidden"] is True


def test_an_h265_main_stream_is_said_and_the_sub_stream_offered_plays(
    cameras: list[Device], asgi_server: str, browser: Any
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    submit_login(page, asgi_server, "official1", f"/ops/devices/{cameras[1].code}/")
    page.wait_for_selector("[data-live-video][data-state=unavailable]", timeout=30000)
    said = video_state(page)
    assert said["reason"] == "hevc" and "H.265" in said["text"]
    assert said["snapshotHidden"] is False  # the snapshot stands in
    page.click("[data-video-quality]")  # "Xem luồng phụ"
    page.wait_for_selector("[data-live-video][data-state=live][data-quality=sub]", timeout=30000)


@pytest.fixture
def locked_camera(cameras: list[Device]) -> Device:
    """The H.264 camera, its stored password no longer the camera's."""
    CameraDetail.objects.filter(device=cameras[0]).update(password="not-the-password")
    return cameras[0]


def test_wrong_camera_credentials_are_said_and_the_snapshot_shown(
    locked_camera: Device, asgi_server: str, browser: Any
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    submit_login(page, asgi_server, "official1", f"/ops/devices/{locked_camera.code}/")
    page.wait_for_selector("[data-live-video][data-state=unavailable]", timeout=30000)
    said = video_state(page)
    assert said["reason"] == "unauthorized"
    assert said["text"] == "Không xem được: camera từ chối tên đăng nhập hoặc mật khẩu"
    assert said["snapshotHidden"] is False


@pytest.fixture
def old_address(cameras: list[Device]) -> tuple[str, str]:
    """An address of official1's camera issued five minutes ago, and another ward's camera."""
    official = User.objects.get(username="official1")
    with mock.patch(
        "cameras.video.tokens.timezone.now", return_value=timezone.now() - timedelta(minutes=5)
    ):
        old = stream_token_issue(user=official, device=cameras[0], quality="sub")
    return f"/video/{old.path}?jwt={old.token}", example_device(OTHER_WARD).code


def test_another_wards_camera_is_404_and_an_old_address_has_expired(
    old_address: tuple[str, str], asgi_server: str, browser: Any
) -> None:
    path, other = old_address
    page = browser.new_page()
    submit_login(page, asgi_server, "official1")
    status = page.evaluate(f"async () => (await fetch('/ops/devices/{other}/stream')).status")
    assert status == 404
    url = asgi_server.replace("http://", "ws://") + path
    said = page.evaluate(
        """(url) => new Promise((resolve) => {
            const socket = new WebSocket(url);
            const texts = [];
            socket.onmessage = (event) => texts.push(event.data);
            socket.onclose = () => resolve(texts);
        })""",
        url,
    )
    assert [json.loads(text) for text in said] == [{"state": "unavailable", "reason": "expired"}]


def test_the_wall_plays_each_tiles_sub_stream(
    cameras: list[Device], asgi_server: str, browser: Any
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    codes = ",".join(device.code for device in cameras)
    submit_login(page, asgi_server, "operator")
    page.goto(f"{asgi_server}/ops/cameras/wall/?grid=2&codes={codes}")
    page.wait_for_function(
        """() => {
            const tiles = [...document.querySelectorAll('[data-live-video]')];
            return tiles.length === 2 && tiles.every((t) => t.dataset.state === 'live');
        }""",
        timeout=30000,
    )
    frames = (
        "() => [...document.querySelectorAll('[data-live-video] video')]"
        ".map((v) => v.getVideoPlaybackQuality().totalVideoFrames)"
    )
    first = page.evaluate(frames)
    page.wait_for_timeout(2000)
    later = page.evaluate(frames)
    assert all(b > a + 5 for a, b in zip(first, later, strict=True))  # every tile moves
    qualities = page.evaluate(
        "() => [...document.querySelectorAll('[data-live-video]')].map((t) => t.dataset.quality)"
    )
    assert qualities == ["sub", "sub"]
