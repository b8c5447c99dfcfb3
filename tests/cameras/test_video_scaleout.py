"""The relay scaled out, as docker-compose.yml runs it: two relay processes of their own
(real uvicorn servers), the platform's addresses sending each camera to the one its code
hashes to; that process alone pulls it, once however many watch, verifies the tokens the
platform signed, and records the viewing session under its own name."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import psutil
import pytest

from cameras.models import Device, ViewingSession
from cameras.video.tokens import relay_url_for, stream_token_issue
from ioc.models import User
from tests.support import OWN_WARD, example_device
from tests.support.live import Stack, wait_for
from tests.support.video import simulated_cameras

pytestmark = pytest.mark.integration


def relay_pulls(process: Any) -> list[str]:
    """The stream addresses the FFmpeg children of a relay process pull."""
    pulls = []
    for child in psutil.Process(process.pid).children(recursive=True):
        try:
            command = child.cmdline()
        except psutil.NoSuchProcess:
            continue
        if command and "ffmpeg" in Path(command[0]).name and "-i" in command:
            pulls.append(command[command.index("-i") + 1])
    return pulls


async def watch(url: str, origin: str) -> tuple[Any, dict[str, Any], bytes]:
    """Open a stream address; the socket, the relay's first state and the first media."""
    from websockets.asyncio.client import connect

    socket = await connect(url, additional_headers={"Origin": origin}, open_timeout=10)
    state: dict[str, Any] = {}
    media = b""
    while not (state and media):
        frame = await asyncio.wait_for(socket.recv(), 20)
        if isinstance(frame, str):
            state = json.loads(frame)
            assert state.get("state") == "live", state
        else:
            media += frame
    return socket, state, media


def test_each_camera_is_pulled_once_by_the_relay_its_code_hashes_to(
    stack: Stack, settings: Any, tmp_path: Path
) -> None:
    relays = {name: stack.server(IOC_VIDEO_RELAY_NAME=name) for name in ("video-1", "video-2")}
    processes = dict(zip(relays, stack.processes[-2:], strict=True))
    settings.IOC_VIDEO_RELAY_URLS = [
        url.replace("http://", "ws://") + "/video/" for url in relays.values()
    ]
    # One camera of official1's ward for each relay (the choice is the code's hash).
    chosen: dict[str, Device] = {}
    index = 0
    while len(chosen) < 2:
        device = example_device(OWN_WARD, index=index)
        base = relay_url_for(device.code)
        name = next(
            name for name, url in relays.items() if base.startswith(url.replace("http", "ws"))
        )
        chosen.setdefault(name, device)
        index += 1
    official = User.objects.get(username="official1")

    with simulated_cameras(list(chosen.values()), tmp_path / "clips"):
        # Two viewers of the first relay's camera, one of the second's.
        grants = [
            (name, stream_token_issue(user=official, device=device, quality="sub"))
            for name, device in [*chosen.items(), next(iter(chosen.items()))]
        ]
        for name, grant in grants:
            assert grant.url.startswith(settings.IOC_VIDEO_RELAY_URLS[list(relays).index(name)])

        async def scenario() -> list[tuple[dict[str, Any], bytes]]:
            opened = [await watch(grant.url, relays[name]) for name, grant in grants]
            # While they watch: who pulls what.
            pulls = {name: relay_pulls(process) for name, process in processes.items()}
            for name, device in chosen.items():
                mine = [url for url in pulls[name] if f"/cameras/{device.code}/sub" in url]
                assert len(mine) == 1, (name, pulls)  # one pull however many watch
                other = next(other for other in processes if other != name)
                assert not [url for url in pulls[other] if f"/{device.code}/" in url], pulls
            for socket, _state, _media in opened:
                await socket.close()
            return [(state, media) for _socket, state, media in opened]

        answers = asyncio.run(scenario())

    for state, media in answers:
        assert state["codec"] == "h264"
        assert media[0] == 0x47  # MPEG-TS packets, from the first byte
    # Each relay recorded the watches it served, under its own name.
    wait_for(
        lambda: ViewingSession.objects.filter(ended_at__isnull=False).count() == len(grants),
        10,
        "the relays to end the viewing sessions",
    )
    for name, device in chosen.items():
        served = set(ViewingSession.objects.filter(device=device).values_list("relay", flat=True))
        assert served == {name}
