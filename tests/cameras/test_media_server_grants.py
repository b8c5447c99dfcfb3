"""The stream address as the media server of the installation needs it
(``IOC_VIDEO_MEDIA_SERVER``): the platform's relay takes a websocket address with the token
in it; MediaMTX an HLS playlist without it, the token given apart for an Authorization
header. Scoping, audit and the token itself are the same in both."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache
from django.test import Client

from cameras.video.tokens import relay_url_for, stream_token_verify
from ioc.models import AuditEntry
from tests.support import OTHER_WARD, OWN_WARD, example_device, example_user
from tests.support.mediamtx import mediamtx_allows

MEDIA_SERVER = "https://media.example:8888/"


@pytest.fixture(autouse=True)
def _video_settings(settings: Any, tmp_path: Path) -> None:
    """A signing key of the test's own, the relay by default, no counts left."""
    settings.VAR_DIR = tmp_path
    settings.IOC_VIDEO_SIGNING_KEY = ""
    settings.IOC_VIDEO_RELAY_URLS = ["/video/"]
    settings.IOC_VIDEO_MEDIA_SERVER = "relay"
    cache.clear()


@pytest.fixture
def mediamtx(settings: Any) -> None:
    """An installation playing through MediaMTX's HLS."""
    settings.IOC_VIDEO_MEDIA_SERVER = "mediamtx"
    settings.IOC_VIDEO_RELAY_URLS = [MEDIA_SERVER]


def stream(client: Client, code: str, quality: str = "sub") -> Any:
    return client.get(f"/ops/devices/{code}/stream", {"quality": quality})


def test_the_relays_address_is_a_websocket_with_the_token_in_it(
    login: Any, demo_city: None
) -> None:
    camera = example_device(OWN_WARD)
    body = stream(login("official1"), camera.code).json()
    assert body["protocol"] == "mpegts-ws"
    path = f"cameras/{camera.code}/sub"
    url = urlsplit(body["url"])
    assert (url.scheme, url.netloc, url.path) == ("ws", "testserver", f"/video/{path}")
    token = parse_qs(url.query)["jwt"][0]
    assert stream_token_verify(token=token, path=path).camera == camera.code
    assert "token" not in body  # the address is all the relay's player needs


@pytest.mark.parametrize("quality", ["sub", "main"])
def test_mediamtxs_address_is_its_hls_playlist_without_the_token(
    login: Any, demo_city: None, mediamtx: None, quality: str
) -> None:
    camera = example_device(OWN_WARD)
    response = stream(login("official1"), camera.code, quality)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    body = response.json()
    path = f"cameras/{camera.code}/{quality}"
    assert body["protocol"] == "hls"
    assert body["url"] == f"{MEDIA_SERVER}{path}/index.m3u8"
    assert body["path"] == path and body["quality"] == quality
    # The token is apart, for the Authorization header: never in the address.
    token = body["token"]
    assert token not in body["url"] and "jwt" not in body["url"] and "?" not in body["url"]
    claims = stream_token_verify(token=token, path=path)
    assert claims.user_id == example_user("official1").pk
    assert body["expires_in"] == 60
    assert body["script"].endswith("/hls.min.js")  # the player, loaded on first need


def test_a_media_server_on_the_pages_origin_gets_an_absolute_http_address(
    login: Any, demo_city: None, settings: Any
) -> None:
    # MediaMTX behind the platform's own reverse proxy, under /mediamtx/: HTTP, not ws.
    settings.IOC_VIDEO_MEDIA_SERVER = "mediamtx"
    settings.IOC_VIDEO_RELAY_URLS = ["/mediamtx/"]
    settings.IOC_WS_PORT = "8001"  # the websocket port does not concern HLS
    camera = example_device(OWN_WARD)
    body = stream(login("official1"), camera.code).json()
    assert body["url"] == f"http://testserver/mediamtx/cameras/{camera.code}/sub/index.m3u8"


def test_with_several_media_servers_each_camera_goes_to_one(
    login: Any, demo_city: None, settings: Any
) -> None:
    settings.IOC_VIDEO_MEDIA_SERVER = "mediamtx"
    settings.IOC_VIDEO_RELAY_URLS = ["https://media-a.example/", "https://media-b.example/"]
    client = login("official1")
    for index in range(4):
        camera = example_device(OWN_WARD, index=index)
        for quality in ("sub", "main"):
            url = stream(client, camera.code, quality).json()["url"]
            assert url.startswith(relay_url_for(camera.code))


@pytest.mark.parametrize("which", ["other ward's camera", "own ward's sensor"])
def test_with_mediamtx_another_wards_camera_or_a_sensor_is_still_404_and_unaudited(
    login: Any, demo_city: None, mediamtx: None, which: str
) -> None:
    code = {
        "other ward's camera": lambda: example_device(OTHER_WARD).code,
        "own ward's sensor": lambda: example_device(OWN_WARD, "sensor").code,
    }[which]()
    before = AuditEntry.objects.filter(action="camera.stream_issued").count()
    response = stream(login("official1"), code)
    assert response.status_code == 404
    assert "token" not in response.content.decode()
    assert AuditEntry.objects.filter(action="camera.stream_issued").count() == before


def test_with_mediamtx_each_issue_is_audited_as_with_the_relay(
    login: Any, demo_city: None, mediamtx: None
) -> None:
    camera = example_device(OWN_WARD)
    client = login("official1")
    tokens = [stream(client, camera.code, quality).json()["token"] for quality in ("sub", "main")]
    entries = AuditEntry.objects.filter(
        action="camera.stream_issued", object_id=str(camera.pk)
    ).order_by("id")
    assert entries.count() == 2
    for entry, token, quality in zip(entries, tokens, ("sub", "main"), strict=True):
        path = f"cameras/{camera.code}/{quality}"
        assert entry.actor == example_user("official1")
        assert entry.ward_code == camera.ward.code
        assert entry.after is not None
        assert entry.after["path"] == path
        assert entry.after["token_id"] == stream_token_verify(token=token, path=path).token_id
        assert token not in json.dumps(entry.after)


def test_mediamtx_configured_by_the_platform_allows_the_token_for_its_path_only(
    login: Any, demo_city: None, mediamtx: None
) -> None:
    from cameras.video.mediamtx import mediamtx_config

    config = mediamtx_config(
        platform_url="https://ioc.example", issuer="ioc", allow_origins=["https://ioc.example"]
    ).settings
    camera, neighbour = example_device(OWN_WARD, index=0), example_device(OWN_WARD, index=1)
    token = stream(login("official1"), camera.code).json()["token"]
    assert mediamtx_allows(config, token, path=f"cameras/{camera.code}/sub")
    assert not mediamtx_allows(config, token, path=f"cameras/{camera.code}/main")
    assert not mediamtx_allows(config, token, path=f"cameras/{neighbour.code}/sub")


def settings_of(**env: str) -> Any:
    """``ioc.settings`` as a new process reads it with ``env`` (the knobs are read once, at
    import)."""
    script = (
        "import json, ioc.settings as s; print(json.dumps({"
        "'server': s.IOC_VIDEO_MEDIA_SERVER,"
        "'csp': s.CONTENT_SECURITY_POLICY['DIRECTIVES']}))"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_the_pages_may_fetch_and_play_from_mediamtx() -> None:
    done = settings_of(IOC_VIDEO_MEDIA_SERVER="mediamtx", IOC_VIDEO_RELAY_URLS=MEDIA_SERVER)
    assert done.returncode == 0, done.stderr
    read = json.loads(done.stdout.strip().splitlines()[-1])
    assert read["server"] == "mediamtx"
    assert "https://media.example:8888" in read["csp"]["connect-src"]  # playlists, segments
    assert "blob:" in read["csp"]["media-src"]  # hls.js plays through Media Source
    assert "blob:" in read["csp"]["worker-src"]  # and demuxes in a worker


def test_an_unknown_media_server_is_refused_at_start() -> None:
    done = settings_of(IOC_VIDEO_MEDIA_SERVER="wowza")
    assert done.returncode != 0
    assert "ImproperlyConfigured: IOC_VIDEO_MEDIA_SERVER must be" in done.stderr
