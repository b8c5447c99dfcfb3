"""The relay's websocket (``/video/cameras/<code>/<quality>?jwt=…``) end to end in one
process: a stream token from the platform, the simulator's RTSP camera, the real FFmpeg
pull, MPEG-TS out; refusals say why; every watch is a viewing session; a camera set to be
transcoded reaches its viewers in H.264, within the relay's limit."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from channels.routing import URLRouter
from django.conf import settings
from django.db import connections
from django.test import Client

from cameras.models import CameraDetail, Device, ViewingSession
from cameras.routing import websocket_urlpatterns
from cameras.simulator.rtsp import RtspServer, StreamFault
from cameras.video import consumer as video_consumer
from cameras.video import ts
from cameras.video.relay import Relay
from cameras.video.tokens import stream_token_issue
from ioc.models import User
from tests.support import OWN_WARD, example_device
from tests.support.video import example_camera, media_codecs, simulated_cameras

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None and not os.environ.get("CI"), reason="needs FFmpeg"
)
PASSWORD = "relay-test-secret"


@pytest.fixture
def camera(demo_city_committed: Any, tmp_path: Any) -> Iterator[tuple[Device, RtspServer]]:
    """Official1's first camera, streaming from the simulator's RTSP server on a free port."""
    device = example_device(OWN_WARD)
    video_consumer._relay = Relay(linger=0.2)
    try:
        with simulated_cameras([device], tmp_path / "clips") as server:
            yield device, server
    finally:
        # The consumer's database calls ran in asgiref's one thread for sync code: close
        # that thread's connection, which would otherwise outlive the test (and hold the
        # test database open for the processes' tests that wait for it to be alone).
        asyncio.run(sync_to_async(connections.close_all)())


class Communicator(ApplicationCommunicator):
    """A websocket client of an ASGI app in this process (channels.testing's, without the
    daphne import it brings)."""

    def __init__(self, path: str, query: str, cookie: str = "") -> None:
        scope = {
            "type": "websocket",
            "path": path,
            "query_string": query.encode(),
            "headers": [(b"cookie", cookie.encode())] if cookie else [],
            "client": ("127.0.0.1", 50000),
            "subprotocols": [],
        }
        super().__init__(URLRouter(websocket_urlpatterns), scope)

    async def connect(self) -> tuple[bool, Any]:
        await self.send_input({"type": "websocket.connect"})
        answer = await self.receive_output(timeout=10)
        return answer["type"] == "websocket.accept", answer

    async def disconnect(self) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(timeout=10)


def connect(path: str, token: str, cookie: str = "") -> Communicator:
    return Communicator(f"/video/{path}", f"jwt={token}", cookie)


async def received(communicator: Communicator, size: int) -> tuple[bytes, list[dict[str, Any]]]:
    """Media bytes (at least ``size``) and the states the relay sent."""
    media, states = b"", []
    while len(media) < size:
        message = await communicator.receive_output(timeout=15)
        if message["type"] == "websocket.close":
            break
        if message.get("text"):
            states.append(json.loads(message["text"]))
        media += message.get("bytes") or b""
    return media, states


def states_until_closed(path: str, token: str, cookie: str = "") -> list[dict[str, Any]]:
    """The states the relay says on ``path`` with ``token`` until it closes."""

    async def watch() -> list[dict[str, Any]]:
        communicator = connect(path, token, cookie)
        await communicator.connect()
        _media, states = await received(communicator, 10**9)
        return states

    return asyncio.run(watch())


def test_the_own_wards_camera_plays_through_the_relay_and_the_watch_is_recorded(
    camera: tuple[Device, RtspServer],
) -> None:
    device, _server = camera
    official = User.objects.get(username="official1")
    grant = stream_token_issue(user=official, device=device, quality="sub")

    async def watch() -> tuple[bytes, list[dict[str, Any]]]:
        communicator = connect(grant.path, grant.token)
        connected, _ = await communicator.connect()
        assert connected
        result = await received(communicator, 30_000)
        await communicator.disconnect()
        await asyncio.sleep(0.5)  # the relay's linger, then the pull stops
        return result

    media, states = asyncio.run(watch())
    assert states[0] == {"state": "live", "codec": "h264"}
    heads = [ts.header(media[i : i + ts.PACKET]) for i in range(0, len(media) - 187, ts.PACKET)]
    tables = {ts.PAT_PID, 0x11, 0x1000}  # PAT, SDT, and FFmpeg's PMT
    first_video = next(i for i, h in enumerate(heads) if h.pid not in tables)
    assert any(h.pid == ts.PAT_PID for h in heads[:first_video])  # the tables first
    assert heads[first_video].random_access  # then a keyframe
    session = ViewingSession.objects.get(user=official, device=device)
    assert session.quality == "sub" and session.ended_at is not None
    assert session.ended_at > session.started_at
    assert not video_consumer.video_relay().feeds  # no pull left


def test_the_handshake_is_accepted_before_the_database_and_the_pull(
    camera: tuple[Device, RtspServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A browser opens one websocket to a host at a time: a wall's tiles would queue behind
    # a handshake that waited for the camera's source, the viewing session and FFmpeg.
    device, _server = camera
    official = User.objects.get(username="official1")
    grant = stream_token_issue(user=official, device=device, quality="sub")
    released = threading.Event()
    real = video_consumer.stream_source

    def slow_source(**kwargs: Any) -> Any:
        released.wait(10)
        return real(**kwargs)

    monkeypatch.setattr(video_consumer, "stream_source", slow_source)

    async def watch() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        communicator = connect(grant.path, grant.token)
        await communicator.send_input({"type": "websocket.connect"})
        answer = await communicator.receive_output(timeout=2)  # while the source waits
        released.set()
        _media, states = await received(communicator, 1)
        await communicator.disconnect()
        return answer, states

    answer, states = asyncio.run(watch())
    assert answer["type"] == "websocket.accept"
    assert states == [{"state": "live", "codec": "h264"}]


def test_a_token_for_another_stream_is_refused_before_any_pull(
    camera: tuple[Device, RtspServer],
) -> None:
    device, _server = camera
    official = User.objects.get(username="official1")
    grant = stream_token_issue(user=official, device=device, quality="main")
    other = grant.path.replace("/main", "/sub")
    assert states_until_closed(other, grant.token) == [{"state": "unavailable", "reason": "path"}]
    assert not ViewingSession.objects.exists()
    assert not video_consumer.video_relay().feeds


def test_a_browser_signed_in_to_another_account_is_refused_its_address(
    camera: tuple[Device, RtspServer],
) -> None:
    # The session's user is read after the handshake now, by the consumer itself.
    device, _server = camera
    grant = stream_token_issue(
        user=User.objects.get(username="official1"), device=device, quality="sub"
    )
    browser = Client()
    browser.force_login(User.objects.get(username="official2"))
    cookie = f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"

    assert states_until_closed(grant.path, grant.token, cookie) == [
        {"state": "unavailable", "reason": "user"}
    ]
    assert not ViewingSession.objects.exists()


def test_a_scope_taken_away_after_the_token_refuses_the_stream(
    camera: tuple[Device, RtspServer],
) -> None:
    device, _server = camera
    official = User.objects.get(username="official1")
    grant = stream_token_issue(user=official, device=device, quality="sub")
    official.wards.set(User.objects.get(username="official2").wards.all())  # moved away

    assert states_until_closed(grant.path, grant.token) == [
        {"state": "unavailable", "reason": "scope"}
    ]


def test_wrong_camera_credentials_are_said_and_no_process_is_left(
    camera: tuple[Device, RtspServer],
) -> None:
    device, server = camera
    server.fault_set(code=device.code, kind=StreamFault.UNAUTHORIZED)
    official = User.objects.get(username="official1")
    grant = stream_token_issue(user=official, device=device, quality="sub")

    assert states_until_closed(grant.path, grant.token) == [
        {"state": "unavailable", "reason": "unauthorized"}
    ]
    assert not video_consumer.video_relay().feeds


def test_a_stream_address_that_is_not_rtsp_is_said_without_a_pull(
    camera: tuple[Device, RtspServer],
) -> None:
    device, _server = camera
    CameraDetail.objects.filter(device=device).update(stream_sub_url="https://127.0.0.1/x.m3u8")
    official = User.objects.get(username="official1")
    grant = stream_token_issue(user=official, device=device, quality="sub")

    assert states_until_closed(grant.path, grant.token) == [
        {"state": "unavailable", "reason": "not_rtsp"}
    ]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The clips of this module's H.265 camera, encoded once for its tests."""
    return tmp_path_factory.mktemp("clips")


@pytest.fixture
def h265_camera(demo_city_committed: Any, clips: Any) -> Iterator[Device]:
    """A camera of official1's ward whose main stream is H.265, on the simulator."""
    device = example_camera(OWN_WARD, h265=True)
    video_consumer._relay = Relay(linger=0.2, max_transcodes=1)
    try:
        with simulated_cameras([device], clips, main=True):
            yield device
    finally:
        asyncio.run(sync_to_async(connections.close_all)())


def watch_stream(
    device: Device, size: int, quality: str = "main"
) -> tuple[bytes, list[dict[str, Any]], list[str]]:
    """official1 watches a stream of ``device`` through the relay: the media, the states,
    and the feeds the relay ran meanwhile."""
    official = User.objects.get(username="official1")
    grant = stream_token_issue(user=official, device=device, quality=quality)

    async def watch() -> tuple[bytes, list[dict[str, Any]], list[str]]:
        communicator = connect(grant.path, grant.token)
        connected, _ = await communicator.connect()
        assert connected
        media, states = await received(communicator, size)
        feeds = list(video_consumer.video_relay().feeds)
        await communicator.disconnect()
        await asyncio.sleep(0.5)  # the relay's linger, then the pull stops
        return media, states, feeds

    return asyncio.run(watch())


def test_an_h265_camera_set_to_be_transcoded_reaches_the_viewer_in_h264(
    h265_camera: Device,
) -> None:
    CameraDetail.objects.filter(device=h265_camera).update(transcode_main=True)

    media, states, feeds = watch_stream(h265_camera, 60_000)

    assert states[0] == {"state": "live", "codec": "h264", "transcoded": True}
    assert media_codecs(media) == {"h264"}  # the tables say H.264, not the camera's H.265
    assert len(media) >= 60_000
    assert feeds == [f"cameras/{h265_camera.code}/main+h264"]
    assert not video_consumer.video_relay().feeds  # the FFmpeg process is gone


def test_an_h265_camera_not_set_so_is_passed_on_unchanged(h265_camera: Device) -> None:
    media, states, feeds = watch_stream(h265_camera, 20_000)

    assert states[0] == {"state": "live", "codec": "hevc"}
    assert media_codecs(media) == {"hevc"}
    assert feeds == [f"cameras/{h265_camera.code}/main"]


def test_a_changed_setting_takes_effect_for_the_next_viewer_without_cutting_the_first(
    h265_camera: Device,
) -> None:
    official = User.objects.get(username="official1")
    first = stream_token_issue(user=official, device=h265_camera, quality="main")
    second = stream_token_issue(user=official, device=h265_camera, quality="main")

    async def watch() -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[str]]:
        copying = connect(first.path, first.token)
        await copying.connect()
        _media, copied = await received(copying, 10_000)
        await sync_to_async(
            CameraDetail.objects.filter(device=h265_camera).update, thread_sensitive=True
        )(transcode_main=True)
        transcoding = connect(second.path, second.token)
        await transcoding.connect()
        _media, transcoded = await received(transcoding, 20_000)
        feeds = set(video_consumer.video_relay().feeds)
        more, _states = await received(copying, 5_000)  # the first goes on
        assert len(more) >= 5_000
        await copying.disconnect()
        await transcoding.disconnect()
        await asyncio.sleep(0.5)
        return copied, transcoded, feeds

    copied, transcoded, feeds = asyncio.run(watch())
    assert copied[0]["codec"] == "hevc" and transcoded[0]["codec"] == "h264"
    path = f"cameras/{h265_camera.code}/main"
    assert feeds == {path, f"{path}+h264"}


def test_beyond_the_transcoding_limit_the_viewer_is_told_the_relay_is_busy(
    h265_camera: Device, settings: Any
) -> None:
    CameraDetail.objects.filter(device=h265_camera).update(transcode_main=True)
    settings.IOC_VIDEO_MAX_TRANSCODES = 0
    video_consumer._relay = None  # the relay as a process builds it, from the setting
    relay = video_consumer.video_relay()
    assert relay.max_transcodes == 0
    relay.linger = 0.2
    official = User.objects.get(username="official1")
    grant = stream_token_issue(user=official, device=h265_camera, quality="main")

    assert states_until_closed(grant.path, grant.token) == [
        {"state": "unavailable", "reason": "busy"}
    ]
    assert not relay.feeds  # no FFmpeg started
    media, states, _feeds = watch_stream(h265_camera, 10_000, quality="sub")
    assert states[0] == {"state": "live", "codec": "h264"} and media  # the sub-stream plays
