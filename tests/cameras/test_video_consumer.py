"""The relay's websocket (``/video/cameras/<code>/<quality>?jwt=…``) end to end in one
process: a stream token from the platform, the simulator's RTSP camera, the real FFmpeg
pull, MPEG-TS out; refusals say why; every watch is a viewing session."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from channels.routing import URLRouter
from django.db import connections

from cameras.models import CameraDetail, Device, ViewingSession
from cameras.routing import websocket_urlpatterns
from cameras.simulator.rtsp import RtspServer, StreamFault
from cameras.video import consumer as video_consumer
from cameras.video import ts
from cameras.video.relay import Relay
from cameras.video.tokens import stream_token_issue
from ioc.models import User
from tests.support import OWN_WARD, example_device
from tests.support.video import simulated_cameras

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

    def __init__(self, path: str, query: str) -> None:
        scope = {
            "type": "websocket",
            "path": path,
            "query_string": query.encode(),
            "headers": [],
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


def connect(path: str, token: str) -> Communicator:
    return Communicator(f"/video/{path}", f"jwt={token}")


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


def states_until_closed(path: str, token: str) -> list[dict[str, Any]]:
    """The states the relay says on ``path`` with ``token`` until it closes."""

    async def watch() -> list[dict[str, Any]]:
        communicator = connect(path, token)
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
