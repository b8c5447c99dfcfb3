"""An installation playing through MediaMTX instead of the relay (IOC_VIDEO_MEDIA_SERVER=
mediamtx), in Debian's chromium against the real ASGI server: a stand-in MediaMTX
(tests/support/mediamtx.py: live HLS from the simulator's RTSP camera by the real FFmpeg,
every request's bearer token checked against the platform's published keys as the
platform's mediamtx_config makes MediaMTX check it) serves the device page's stream. The
page plays for more than two token lifetimes, renewing its token as it goes, every request
carrying a valid token for exactly that path and none in a URL; a media server that refuses
the tokens is said, and asked again only after a pause."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from django.conf import settings

from cameras.models import Device
from cameras.video.mediamtx import mediamtx_config
from cameras.video.tokens import stream_path
from tests.support import OTHER_WARD, OWN_WARD, example_device, submit_login
from tests.support.live import Stack
from tests.support.mediamtx import StandInMediaMtx, stand_in_mediamtx
from tests.support.video import example_camera, simulated_cameras, video_state

pytestmark = [pytest.mark.integration, pytest.mark.browser]

# Short enough to see several renewals in a test, as a 60 s token would in minutes.
TOKEN_SECONDS = 8


@dataclass(frozen=True)
class Stage:
    """The platform (``server``) playing ``camera``'s main stream through the stand-in."""

    server: str
    standin: StandInMediaMtx
    camera: str
    path: str
    other_ward_camera: str


@contextmanager
def staged(stack: Stack, tmp_path: Path, device: Device, *qualities: str) -> Iterator[Stage]:
    """``device``'s streams on the simulator, those of ``qualities`` pulled by the stand-in
    MediaMTX, and the platform's server sending its viewers there."""
    other = example_device(OTHER_WARD).code
    with (
        stand_in_mediamtx(tmp_path / "hls") as standin,
        simulated_cameras([device], tmp_path / "clips", main=True),
    ):
        server = stack.server(
            IOC_VIDEO_MEDIA_SERVER="mediamtx",
            IOC_VIDEO_RELAY_URLS=standin.url,
            IOC_VIDEO_TOKEN_SECONDS=str(TOKEN_SECONDS),
        )
        # MediaMTX's configuration as `manage.py mediamtx_config` writes it for this
        # platform: the keys at its /.well-known/jwks.json, its issuer, its pages' origin.
        standin.config = mediamtx_config(
            platform_url=server,
            issuer=settings.IOC_VIDEO_TOKEN_ISSUER,
            allow_origins=[server],
        ).settings
        for quality in qualities:
            standin.pull(stream_path(code=device.code, quality=quality))
        path = stream_path(code=device.code, quality=qualities[0])
        yield Stage(server, standin, device.code, path, other)


# The database is read in fixtures, before the browser (see tests/browser/test_live_video.py).


@pytest.fixture
def stage(stack: Stack, tmp_path: Path) -> Iterator[Stage]:
    """official1's H.264 camera, its main stream (the device page's) through MediaMTX."""
    with staged(stack, tmp_path, example_camera(OWN_WARD, h265=False), "main") as ready:
        yield ready


@pytest.fixture
def hevc_stage(stack: Stack, tmp_path: Path) -> Iterator[Stage]:
    """official1's camera with an H.265 main stream, both streams through MediaMTX."""
    with staged(stack, tmp_path, example_camera(OWN_WARD, h265=True), "main", "sub") as ready:
        yield ready


def test_the_device_page_plays_through_mediamtx_renewing_its_token_in_a_header(
    stage: Stage, browser: Any
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    submit_login(page, stage.server, "official1", f"/ops/devices/{stage.camera}/")
    page.wait_for_selector("[data-live-video][data-state=live]", timeout=30000)
    first = video_state(page)
    started = time.time()

    # Well past two token lifetimes: each request must carry a token still valid.
    states = set()
    while time.time() - started < 2.5 * TOKEN_SECONDS:
        page.wait_for_timeout(500)
        states.add(video_state(page)["state"])
    later = video_state(page)
    assert states == {"live"}, states
    assert later["time"] > first["time"] + 2 * TOKEN_SECONDS - 2  # played on, not restarted
    assert later["frames"] > first["frames"] + 2 * TOKEN_SECONDS * 10
    assert later["snapshotHidden"] is True
    assert errors == []

    decisions = list(stage.standin.decisions)
    assert decisions, "the stand-in saw no request"
    # Every request was for this camera's path, with a token the media server accepts.
    assert {d.stream for d in decisions} == {stage.path}
    refused = [d for d in decisions if d.refusal or d.status != 200]
    assert refused == [], refused[:5]
    # The token travelled in the header, never in a URL.
    assert all("?" not in d.url and d.token not in d.url for d in decisions)
    assert all(d.origin == stage.server for d in decisions)  # CORS, from the page
    tokens = [jwt.decode(d.token, options={"verify_signature": False}) for d in decisions]
    assert {claims["path"] for claims in tokens} == {stage.path}
    # Renewed as playback went on: several tokens, each used before it expired, the
    # playlist asked for all along.
    playing = [d for d in decisions if d.at >= started]
    assert len({claims["jti"] for claims in tokens}) >= 4
    assert all(d.at <= claims["exp"] for d, claims in zip(decisions, tokens, strict=True))
    assert playing[-1].at - playing[0].at > 2 * TOKEN_SECONDS
    assert sum(d.url.endswith(".m3u8") for d in playing) > 2 * TOKEN_SECONDS

    # Scoping is the platform's: another ward's camera is still a 404 there.
    status = page.evaluate(
        f"async () => (await fetch('/ops/devices/{stage.other_ward_camera}/stream')).status"
    )
    assert status == 404


def test_a_media_server_refusing_the_tokens_is_said_and_asked_again_after_a_pause(
    stage: Stage, browser: Any
) -> None:
    # The media server checks another issuer than this platform's: every token fails.
    stage.standin.config = {**stage.standin.config, "authJWTIssuer": "another-platform"}
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    submit_login(page, stage.server, "official1", f"/ops/devices/{stage.camera}/")
    page.wait_for_selector("[data-live-video][data-state=unavailable]", timeout=30000)
    said = video_state(page)
    labels = page.evaluate(
        "() => JSON.parse(document.getElementById('ioc-video-labels').textContent)"
    )
    assert said["reason"] == "media_server_refused"
    assert said["text"].endswith(labels["reasons"]["media_server_refused"])
    assert said["snapshotHidden"] is False  # the snapshot stands in
    first = len(stage.standin.decisions)
    page.wait_for_timeout(7000)
    # Backoff (2 s, 4 s, ...): a few more attempts, not a tight loop of requests.
    attempts = stage.standin.decisions[first:]
    assert 1 <= len(attempts) <= 4, attempts
    assert all(d.refusal and d.status == 401 for d in stage.standin.decisions)
    assert video_state(page)["reason"] == "media_server_refused"


def test_an_h265_main_stream_from_mediamtx_is_said_and_the_sub_stream_offered_plays(
    hevc_stage: Stage, browser: Any
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    submit_login(page, hevc_stage.server, "official1", f"/ops/devices/{hevc_stage.camera}/")
    page.wait_for_selector("[data-live-video][data-state=unavailable]", timeout=30000)
    said = video_state(page)
    assert said["reason"] == "hevc" and "H.265" in said["text"]
    assert said["snapshotHidden"] is False
    page.click("[data-video-quality]")  # "Xem luồng phụ"
    page.wait_for_selector("[data-live-video][data-state=live][data-quality=sub]", timeout=30000)
    sub = stream_path(code=hevc_stage.camera, quality="sub")
    assert any(d.stream == sub and d.status == 200 for d in hevc_stage.standin.decisions)
