"""Live video in Debian's chromium, through the real ASGI server's relay, from the
simulator's RTSP cameras: frames advance on the device page, a stream that cannot play says
why and shows the snapshot, a stream that stops mid-way says so and comes back by itself,
H.265 is said with the sub-stream offered (or plays transcoded when an administrator set
the camera so), and the addresses are scoped (another ward's camera is a 404, an old
address has expired)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from cameras.models import CameraDetail, Device
from cameras.simulator.rtsp import RtspServer, StreamFault
from cameras.video.tokens import stream_token_issue
from ioc.models import User
from tests.support import OTHER_WARD, OWN_WARD, example_device, shot, submit_login
from tests.support.video import example_camera, simulated_cameras, snapshot_server, video_state

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def own_camera(*, h265: bool) -> Device:
    """A camera of official1's ward whose main stream is (or is not) H.265."""
    return example_camera(OWN_WARD, h265=h265)


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


# The simulated camera cuts its stream this long into each play.
STOP_AFTER_SECONDS = 4


@pytest.fixture
def stopping_camera(asgi_server: str, tmp_path: Path) -> Iterator[tuple[Device, RtspServer]]:
    """official1's H.264 camera on the simulator, its snapshot served, its stream cut
    STOP_AFTER_SECONDS into every play until the test clears the fault."""
    device = own_camera(h265=False)
    with (
        snapshot_server() as snapshots,
        simulated_cameras([device], tmp_path / "clips", main=True) as server,
    ):
        CameraDetail.objects.filter(device=device).update(
            snapshot_url=f"{snapshots}/{device.code}.jpg"
        )
        server.fault_set(code=device.code, kind=StreamFault.STOP, seconds=STOP_AFTER_SECONDS)
        yield device, server


# The element as it is the moment it leaves "live": what it says, and what is on screen.
LEFT_LIVE = """() => {
    const root = document.querySelector('[data-live-video]');
    if (['live', 'connecting'].includes(root.dataset.state)) return false;
    const labels = JSON.parse(document.getElementById('ioc-video-labels').textContent);
    const frame = root.querySelector('.live-frame');
    const video = root.querySelector('video');
    const snapshot = document.querySelector('[data-video-fallback-for]');
    const stalled = root.dataset.state === 'stalled';
    return {
        state: root.dataset.state, reason: root.dataset.reason,
        text: root.querySelector('[data-video-state]').textContent,
        said: stalled ? labels.stalled : labels.reasons[root.dataset.reason] || '',
        frameShown: getComputedStyle(frame).display !== 'none' && !video.hidden,
        snapshotShown: !snapshot.hidden && getComputedStyle(snapshot).display !== 'none',
        snapshotWidth: snapshot.querySelector('img').naturalWidth,
    };
}"""


def test_a_stream_that_stops_is_said_with_the_snapshot_and_comes_back_by_itself(
    stopping_camera: tuple[Device, RtspServer], asgi_server: str, browser: Any
) -> None:
    device, server = stopping_camera
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    submit_login(page, asgi_server, "official1", f"/ops/devices/{device.code}/")
    page.wait_for_selector("[data-live-video][data-state=live]", timeout=30000)

    # The camera cuts the stream: the element leaves "live" and says why, the snapshot
    # (a real picture) in place of the video's frame.
    left = page.wait_for_function(LEFT_LIVE, timeout=STOP_AFTER_SECONDS * 1000 + 15000).json_value()
    assert left["state"] in ("stalled", "unavailable"), left
    assert left["said"] and left["text"].endswith(left["said"]), left
    if left["state"] == "unavailable":  # stalled keeps the last picture on screen
        assert left["frameShown"] is False, left  # no black rectangle
        assert left["snapshotShown"] is True and left["snapshotWidth"] == 640, left

    # The camera behaves again: the element reconnects by itself and stays live well past
    # the moment the fault would have cut the stream again.
    server.fault_set(code=device.code, kind=None)
    page.wait_for_selector("[data-live-video][data-state=live]", timeout=20000)
    first = video_state(page)
    states = set()
    for _ in range(2 * (STOP_AFTER_SECONDS + 2)):
        page.wait_for_timeout(500)
        states.add(video_state(page)["state"])
    later = video_state(page)
    assert states == {"live"}
    assert later["time"] > first["time"] + STOP_AFTER_SECONDS
    assert later["frames"] > first["frames"] + 10
    assert later["snapshotHidden"] is True
    assert errors == []


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
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
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
    # The test's cameras have no snapshot: a playing tile shows its video, not that note.
    notes = page.evaluate(
        """() => [...document.querySelectorAll('[data-live-video] [data-wall-noimage]')]
            .map((note) => note.checkVisibility())"""
    )
    assert notes == [False, False]
    # The tiles played from the addresses issued with the page, without asking for any.
    assert not [url for url in asked if "/stream?quality=" in url]


@pytest.fixture
def transcoded_camera(asgi_server: str, tmp_path: Path) -> Any:
    """The H.265 camera of official1's ward, set by an administrator to be transcoded."""
    device = own_camera(h265=True)
    CameraDetail.objects.filter(device=device).update(transcode_main=True)
    with simulated_cameras([device], tmp_path / "clips", main=True):
        yield device


def test_an_h265_camera_set_to_be_transcoded_plays_on_its_device_page_and_says_so(
    transcoded_camera: Device, asgi_server: str, browser: Any
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    submit_login(page, asgi_server, "official1", f"/ops/devices/{transcoded_camera.code}/")
    page.wait_for_selector("[data-live-video][data-state=live]", timeout=30000)
    first = video_state(page)
    page.wait_for_timeout(2000)
    later = video_state(page)
    assert later["frames"] > first["frames"] + 10  # the H.265 camera moves, in H.264
    assert later["time"] > first["time"] + 1
    assert later["reason"] == "" and later["snapshotHidden"] is True
    said = page.evaluate(
        """() => ({
            transcoded: document.querySelector('[data-live-video]').dataset.transcoded,
            note: document.querySelector('[data-video-transcoded]').hidden ? null
                : document.querySelector('[data-video-transcoded]').textContent,
            label: JSON.parse(document.getElementById('ioc-video-labels').textContent).transcoded,
            fact: document.querySelector('[data-testid=main-relay]').textContent,
        })"""
    )
    assert said["transcoded"] == "true"
    assert said["note"] == said["label"] == said["fact"]  # "transcoded by the platform"
    shot(page, "live-video-transcoded")
