"""MediaMTX instead of the platform's relay, held at the token level: the configuration
``manage.py mediamtx_config`` writes serves each camera on the paths the tokens name, and a
token the platform issues passes the checks that configuration makes MediaMTX do (the key
by ``kid`` from the published JWKS, RS256, issuer, audience, the permission claim naming
the path), for its own path only and only before it expires."""

from __future__ import annotations

import io
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from django.core.management import CommandError, call_command
from django.utils import timezone, translation

from cameras.models import CameraDetail
from cameras.video.tokens import stream_path, stream_token_issue
from ioc.models import User
from tests.support import OTHER_WARD, OWN_WARD, example_device
from tests.support.mediamtx import mediamtx_allows

PLATFORM = "https://ioc.thainguyen.example"


def written(*args: str) -> tuple[dict[str, Any], str, str]:
    """Run the command; its configuration (parsed as MediaMTX reads YAML), output, errors."""
    out, err = io.StringIO(), io.StringIO()
    with translation.override("en"):  # the tests read the command's English msgids
        call_command("mediamtx_config", "--platform-url", PLATFORM, *args, stdout=out, stderr=err)
    text = out.getvalue()
    return (yaml.safe_load(text) if "--output" not in args else {}), text, err.getvalue()


@pytest.mark.django_db
def test_every_camera_is_served_on_demand_on_the_paths_the_tokens_name(demo_city: None) -> None:
    config, _text, _errors = written()

    cameras = CameraDetail.objects.exclude(stream_main_url="").select_related("device")
    assert cameras.count() > 100
    for camera in cameras:
        for quality in ("main", "sub"):
            path = config["paths"][stream_path(code=camera.device.code, quality=quality)]
            assert path["source"].startswith("rtsp://")
            assert f"/cameras/{camera.device.code}/" in path["source"]
            assert path["sourceOnDemand"] is True
            assert path["sourceOnDemandCloseAfter"] == "60s"
    assert len(config["paths"]) == 2 * cameras.count()
    assert config["authJWTJWKS"] == f"{PLATFORM}/.well-known/jwks.json"
    assert config["hlsAllowOrigins"] == [PLATFORM]
    assert config["api"] is False  # no unauthenticated control API


@pytest.mark.django_db
def test_a_platform_token_opens_its_own_path_on_mediamtx_and_nothing_else(
    demo_city: None,
) -> None:
    config, _text, _errors = written()
    official = User.objects.get(username="official1")
    own, neighbour = example_device(OWN_WARD, index=0), example_device(OWN_WARD, index=1)
    grant = stream_token_issue(user=official, device=own, quality="sub")
    sub = stream_path(code=own.code, quality="sub")

    assert sub in config["paths"]
    assert mediamtx_allows(config, grant.token, path=sub)
    assert not mediamtx_allows(config, grant.token, path=stream_path(code=own.code, quality="main"))
    assert not mediamtx_allows(
        config, grant.token, path=stream_path(code=neighbour.code, quality="sub")
    )
    assert not mediamtx_allows(config, grant.token, path=sub, action="publish")
    # Another issuer's configuration (a second platform on the same media server) refuses it.
    assert not mediamtx_allows({**config, "authJWTIssuer": "another"}, grant.token, path=sub)


@pytest.mark.django_db
def test_an_old_token_is_refused_by_mediamtx(demo_city: None) -> None:
    config, _text, _errors = written()
    device = example_device(OWN_WARD)
    official = User.objects.get(username="official1")
    path = stream_path(code=device.code, quality="main")
    issued = timezone.now() - timedelta(minutes=5)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "now", lambda: issued)
        old = stream_token_issue(user=official, device=device, quality="main")

    assert not mediamtx_allows(config, old.token, path=path)


@pytest.mark.django_db
def test_a_camera_that_cannot_be_pulled_is_left_out_and_named(demo_city: None) -> None:
    outside = example_device(OTHER_WARD)
    CameraDetail.objects.filter(device=outside).update(
        stream_main_url="rtsp://203.0.113.7:554/live", stream_sub_url=""
    )
    not_rtsp = example_device(OWN_WARD)
    CameraDetail.objects.filter(device=not_rtsp).update(
        stream_main_url="http://127.0.0.1/stream.m3u8", stream_sub_url=""
    )

    config, _text, errors = written()

    for device, reason in ((outside, "outside_network"), (not_rtsp, "not_rtsp")):
        assert not any(device.code in path for path in config["paths"]), device.code
        assert f"Left out {device.code}" in errors and reason in errors


@pytest.mark.django_db
def test_the_file_holds_credentials_so_it_is_written_for_its_owner_only(
    demo_city: None, tmp_path: Path
) -> None:
    camera = CameraDetail.objects.filter(device=example_device(OWN_WARD)).get()
    output = tmp_path / "mediamtx.yml"
    output.write_text("old")
    output.chmod(0o644)

    _config, text, _errors = written("--output", str(output))

    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    config = yaml.safe_load(output.read_text())
    source = config["paths"][stream_path(code=camera.device.code, quality="main")]["source"]
    assert f"{quote(camera.username, safe='')}:{quote(camera.password, safe='')}@" in source
    assert "Wrote" in text and str(output) in text


@pytest.mark.django_db
def test_a_platform_url_that_is_not_http_is_refused(demo_city: None) -> None:
    with pytest.raises(CommandError, match="http"):
        call_command("mediamtx_config", "--platform-url", "ioc.example", stdout=io.StringIO())
