"""Live video's stream tokens: scoped issue, the JWT contract MediaMTX enforces (checked
against the published JWKS), expiry, paths, audit, viewing sessions, the signing key."""

from __future__ import annotations

import json
import re
import stat
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from cameras.choices import StreamProtocol
from cameras.models import CameraDetail, Device, ViewingSession
from cameras.services.viewing import viewing_end, viewing_start
from cameras.video import keys
from cameras.video.tokens import (
    AUDIENCE,
    StreamTokenRefused,
    relay_url_for,
    stream_token_issue,
    stream_token_verify,
)
from ioc.models import AuditEntry
from tests.support import OTHER_WARD, OWN_WARD, example_device, example_user

CAMERA_USER, CAMERA_PASSWORD, CAMERA_HOST = "cam-admin", "s3cret-Pa55", "10.20.30.40"


@pytest.fixture(autouse=True)
def _video_settings(settings: Any, tmp_path: Path) -> None:
    """A signing key of the test's own under a fresh VAR_DIR, one relay, no counts left."""
    settings.VAR_DIR = tmp_path
    settings.IOC_VIDEO_SIGNING_KEY = ""
    settings.IOC_VIDEO_RELAY_URLS = ["/video/"]
    cache.clear()


def stream(client: Client, code: str, quality: str = "sub") -> Any:
    return client.get(f"/ops/devices/{code}/stream", {"quality": quality})


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["jwt"][0]


def published_key(client: Client, token: str) -> Any:
    """The key of /.well-known/jwks.json that the token's header names."""
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    kid = jwt.get_unverified_header(token)["kid"]
    (jwk,) = [key for key in response.json()["keys"] if key["kid"] == kid]
    return jwt.PyJWK(jwk).key


def test_official_gets_a_stream_address_for_a_camera_of_their_ward(
    login: Any, demo_city: None
) -> None:
    camera = example_device(OWN_WARD)
    response = stream(login("official1"), camera.code)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    path = f"cameras/{camera.code}/sub"
    assert body["path"] == path and body["quality"] == "sub"
    assert body["url"].startswith(f"ws://testserver/video/{path}?jwt=")
    assert timezone.now() < datetime.fromisoformat(body["expires_at"])


def test_without_a_proxy_the_address_goes_to_the_websocket_port_as_the_live_channel(
    login: Any, demo_city: None, settings: Any
) -> None:
    # `make serve`: pages on gunicorn, websockets on uvicorn at IOC_WS_PORT.
    settings.IOC_WS_PORT = "8001"
    camera = example_device(OWN_WARD)
    body = stream(login("official1"), camera.code).json()
    assert body["url"].startswith(f"ws://testserver:8001/video/cameras/{camera.code}/sub?jwt=")


@pytest.mark.parametrize("which", ["other ward's camera", "own ward's sensor", "no device"])
def test_official_gets_404_for_another_wards_camera_or_a_sensor(
    login: Any, demo_city: None, which: str
) -> None:
    code = {
        "other ward's camera": lambda: example_device(OTHER_WARD).code,
        "own ward's sensor": lambda: example_device(OWN_WARD, "sensor").code,
        "no device": lambda: "CAM-NOPE-999",
    }[which]()
    before = AuditEntry.objects.filter(action="camera.stream_issued").count()
    response = stream(login("official1"), code)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"  # JSON, whatever the Accept
    assert response.json()["detail"]
    assert AuditEntry.objects.filter(action="camera.stream_issued").count() == before


def test_anonymous_visitor_is_sent_to_login(demo_city: None) -> None:
    response = stream(Client(), example_device(OWN_WARD).code)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_bad_quality_is_a_400_json(login: Any, demo_city: None) -> None:
    response = stream(login("official1"), example_device(OWN_WARD).code, quality="4k")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "quality" in response.json()["detail"]


def test_token_verifies_against_the_published_jwks_with_mediamtx_claim(
    login: Any, demo_city: None, settings: Any
) -> None:
    client = login("official1")
    camera = example_device(OWN_WARD)
    body = stream(client, camera.code, "main").json()
    token = token_of(body["url"])
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["typ"] == "JWT"
    jwks = client.get("/.well-known/jwks.json")
    assert "public" in jwks["Cache-Control"] and "max-age=" in jwks["Cache-Control"]
    (jwk,) = jwks.json()["keys"]
    assert set(jwk) == {"kty", "n", "e", "kid", "alg", "use"}
    assert (jwk["kty"], jwk["alg"], jwk["use"]) == ("RSA", "RS256", "sig")
    claims = jwt.decode(
        token,
        published_key(client, token),
        algorithms=["RS256"],
        audience=AUDIENCE,
        issuer=settings.IOC_VIDEO_TOKEN_ISSUER,
    )
    path = f"cameras/{camera.code}/main"
    assert claims["mediamtx_permissions"] == [{"action": "read", "path": path}]
    assert claims["path"] == path and claims["cam"] == camera.code
    assert claims["sub"] == str(example_user("official1").pk)
    assert claims["exp"] - claims["iat"] == settings.IOC_VIDEO_TOKEN_SECONDS
    assert claims["nbf"] == claims["iat"] and claims["jti"]
    verified = stream_token_verify(token=token, path=path)
    assert verified.camera == camera.code and verified.quality == "main"


def test_kid_is_the_rfc7638_thumbprint() -> None:
    # RFC 7638, section 3.1: the example RSA key and its SHA-256 thumbprint.
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
        "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_F"
        "DW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
        "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    )
    public_key = jwt.PyJWK({"kty": "RSA", "n": n, "e": "AQAB"}).key
    assert keys.thumbprint(public_key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_published_kid_names_the_signing_key(demo_city: None) -> None:
    key = keys.signing_key()
    assert key.public_jwk["kid"] == key.kid == keys.thumbprint(key.private_key.public_key())


def test_expired_token_is_refused(demo_city: None) -> None:
    camera = example_device(OWN_WARD)
    past = timezone.now() - timedelta(minutes=5)
    with mock.patch("cameras.video.tokens.timezone.now", return_value=past):
        grant = stream_token_issue(user=example_user("official1"), device=camera, quality="sub")
    with pytest.raises(StreamTokenRefused) as refused:
        stream_token_verify(token=grant.token, path=grant.path)
    assert refused.value.reason == "expired"


def test_token_for_another_path_is_refused(demo_city: None) -> None:
    camera = example_device(OWN_WARD)
    grant = stream_token_issue(user=example_user("official1"), device=camera, quality="sub")
    for path in (f"cameras/{camera.code}/main", f"cameras/{example_device(OTHER_WARD).code}/sub"):
        with pytest.raises(StreamTokenRefused) as refused:
            stream_token_verify(token=grant.token, path=path)
        assert refused.value.reason == "path"


def test_token_signed_by_another_key_or_for_another_audience_is_refused(
    demo_city: None,
) -> None:
    camera = example_device(OWN_WARD)
    grant = stream_token_issue(user=example_user("official1"), device=camera, quality="sub")
    claims = jwt.decode(grant.token, options={"verify_signature": False})
    ours = keys.signing_key()
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for kid in (ours.kid, "someone-elses-key"):
        forged = jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": kid})
        with pytest.raises(StreamTokenRefused) as refused:
            stream_token_verify(token=forged, path=grant.path)
        assert refused.value.reason == "signature"
    elsewhere = jwt.encode(
        {**claims, "aud": "another-service"},
        ours.private_key,
        algorithm="RS256",
        headers={"kid": ours.kid},
    )
    with pytest.raises(StreamTokenRefused) as refused:
        stream_token_verify(token=elsewhere, path=grant.path)
    assert refused.value.reason == "audience"


def test_answer_carries_no_credentials_or_camera_address(login: Any, demo_city: None) -> None:
    camera = example_device(OWN_WARD)
    CameraDetail.objects.update_or_create(
        device=camera,
        defaults={
            "stream_protocol": StreamProtocol.RTSP,
            "stream_main_url": f"rtsp://{CAMERA_USER}:{CAMERA_PASSWORD}@{CAMERA_HOST}:554/main",
            "stream_sub_url": f"rtsp://{CAMERA_HOST}:554/sub",
            "username": CAMERA_USER,
            "password": CAMERA_PASSWORD,
        },
    )
    client = login("official1")
    for quality in ("main", "sub"):
        response = stream(client, camera.code, quality)
        assert response.status_code == 200
        token_claims = jwt.decode(
            token_of(response.json()["url"]), options={"verify_signature": False}
        )
        for text in (response.content.decode(), json.dumps(token_claims)):
            for secret in (CAMERA_USER, CAMERA_PASSWORD, CAMERA_HOST, "rtsp"):
                assert secret not in text


def test_each_issue_leaves_an_audit_entry_in_the_cameras_ward(login: Any, demo_city: None) -> None:
    camera = example_device(OWN_WARD)
    client = login("official1")
    tokens = [token_of(stream(client, camera.code, q).json()["url"]) for q in ("sub", "main")]
    entries = AuditEntry.objects.filter(
        action="camera.stream_issued", object_id=str(camera.pk)
    ).order_by("id")
    assert entries.count() == 2
    for entry, token, quality in zip(entries, tokens, ("sub", "main"), strict=True):
        assert entry.actor == example_user("official1")
        assert entry.ward_code == camera.ward.code
        assert entry.after is not None
        assert entry.after["quality"] == quality
        assert (
            entry.after["token_id"] == jwt.decode(token, options={"verify_signature": False})["jti"]
        )
        assert "jwt" not in json.dumps(entry.after)


def test_viewing_start_and_end_record_who_watched_what_from_when_to_when(
    demo_city: None,
) -> None:
    camera = example_device(OWN_WARD)
    official = example_user("official1")
    grant = stream_token_issue(user=official, device=camera, quality="main")
    claims = stream_token_verify(token=grant.token, path=grant.path)
    session = viewing_start(claims=claims, address="203.0.113.7", relay="relay-1")
    session.refresh_from_db()
    assert (session.user, session.device, session.quality) == (official, camera, "main")
    assert (session.address, session.relay) == ("203.0.113.7", "relay-1")
    assert session.token_id == claims.token_id and session.ended_at is None
    assert abs(session.started_at - timezone.now()) < timedelta(seconds=5)
    ended = session.started_at + timedelta(minutes=12)
    viewing_end(session=session, at=ended)
    viewing_end(session=session, at=ended + timedelta(minutes=1))  # a relay reporting twice
    session.refresh_from_db()
    assert session.ended_at == ended


def test_viewing_start_refuses_a_viewer_who_does_not_see_the_camera(demo_city: None) -> None:
    # A token for a camera outside the holder's wards (as if their scope changed since).
    grant = stream_token_issue(
        user=example_user("official2"), device=example_device(OWN_WARD), quality="sub"
    )
    claims = stream_token_verify(token=grant.token, path=grant.path)
    with pytest.raises(StreamTokenRefused) as refused:
        viewing_start(claims=claims, address=None, relay="relay-1")
    assert refused.value.reason == "scope"
    assert not ViewingSession.objects.filter(token_id=claims.token_id).exists()


def test_viewing_sessions_admin_is_for_administrators_only(login: Any, demo_city: None) -> None:
    official = example_user("official1")
    grant = stream_token_issue(user=official, device=example_device(OWN_WARD), quality="sub")
    viewing_start(
        claims=stream_token_verify(token=grant.token, path=grant.path),
        address="203.0.113.7",
        relay="relay-1",
    )
    assert login("admin").get("/admin/cameras/viewingsession/").status_code == 200
    assert login("official1").get("/admin/cameras/viewingsession/").status_code in (302, 403)
    # Even an account let into the admin with the model's view permission, if it is not an
    # administrator, is refused.
    operator = example_user("operator")
    operator.is_staff = True
    operator.save(update_fields=["is_staff"])
    operator.user_permissions.add(Permission.objects.get(codename="view_viewingsession"))
    assert login("operator").get("/admin/cameras/viewingsession/").status_code == 403


def test_key_file_is_created_once_with_mode_0600_and_reused(
    settings: Any, tmp_path: Path, demo_city: None
) -> None:
    first = keys.signing_key()
    path = tmp_path / keys.KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    pem = path.read_bytes()
    keys._load.cache_clear()  # another process starting: it reads the same file
    assert keys.signing_key().kid == first.kid
    assert path.read_bytes() == pem


def test_processes_starting_at_once_end_with_one_key(tmp_path: Path) -> None:
    path = tmp_path / keys.KEY_FILE_NAME
    start = threading.Barrier(6)
    results: list[bytes] = []

    def make() -> None:
        start.wait()
        results.append(keys.key_file_ensure(path))

    threads = [threading.Thread(target=make) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6 and len(set(results)) == 1
    assert [p.name for p in tmp_path.iterdir()] == [keys.KEY_FILE_NAME]  # no leftovers


def test_configured_key_is_used_as_text_or_path(
    settings: Any, tmp_path: Path, demo_city: None
) -> None:
    generated = keys.key_file_ensure(tmp_path / "elsewhere.pem")
    settings.IOC_VIDEO_SIGNING_KEY = generated.decode()
    from_text = keys.signing_key().kid
    settings.IOC_VIDEO_SIGNING_KEY = str(tmp_path / "elsewhere.pem")
    assert keys.signing_key().kid == from_text
    assert not (tmp_path / keys.KEY_FILE_NAME).exists()


def test_each_camera_goes_to_one_relay_of_several(
    login: Any, demo_city: None, settings: Any
) -> None:
    settings.IOC_VIDEO_RELAY_URLS = ["wss://relay-a.example/video/", "wss://relay-b.example/video"]
    codes = list(Device.objects.filter(kind="camera").values_list("code", flat=True)[:40])
    chosen = {code: relay_url_for(code) for code in codes}
    assert set(chosen.values()) == {"wss://relay-a.example/video/", "wss://relay-b.example/video/"}
    assert all(relay_url_for(code) == relay for code, relay in chosen.items())
    camera = example_device(OWN_WARD)
    url = stream(login("official1"), camera.code).json()["url"]
    assert url.startswith(f"{chosen[camera.code]}cameras/{camera.code}/sub?jwt=")


def test_stream_addresses_are_rate_limited_per_user(
    login: Any, demo_city: None, settings: Any
) -> None:
    settings.IOC_VIDEO_STREAMS_PER_MINUTE = 2
    code = example_device(OWN_WARD).code
    client = login("official1")
    assert [stream(client, code).status_code for _ in range(3)] == [200, 200, 429]
    assert stream(login("operator"), code).status_code == 200


# --- Addresses issued with the page (the camera wall) -----------------------------------------


def addresses_of(html: str) -> dict[str, Any]:
    """The stream addresses a page carries for its players, by their address endpoint."""
    island = re.search(
        r'<script id="ioc-video-addresses" type="application/json">(.*?)</script>', html
    )
    assert island is not None
    found: dict[str, Any] = json.loads(island[1])
    return found


def test_the_wall_page_carries_each_tiles_sub_stream_address_audited(
    login: Any, demo_city: None
) -> None:
    response = login("official1").get("/ops/cameras/wall/?grid=2")
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    codes = re.findall(r'data-tile="([^"]+)"', html)
    addresses = addresses_of(html)
    assert len(codes) == 4 and sorted(addresses) == sorted(
        f"/ops/devices/{c}/stream" for c in codes
    )
    official = example_user("official1")
    for code in codes:
        address = addresses[f"/ops/devices/{code}/stream"]
        path = f"cameras/{code}/sub"
        assert address["quality"] == "sub" and address["path"] == path
        assert address["url"].startswith(f"ws://testserver/video/{path}?jwt=")
        claims = stream_token_verify(token=token_of(address["url"]), path=path)
        assert claims.user_id == official.pk
    entries = AuditEntry.objects.filter(action="camera.stream_issued", actor=official)
    assert sorted(entry.after["path"] for entry in entries if entry.after) == sorted(
        f"cameras/{code}/sub" for code in codes
    )


def test_past_the_viewers_allowance_the_wall_leaves_the_other_tiles_to_ask(
    login: Any, demo_city: None, settings: Any
) -> None:
    settings.IOC_VIDEO_STREAMS_PER_MINUTE = 3
    client = login("official1")
    assert len(addresses_of(client.get("/ops/cameras/wall/?grid=2").content.decode())) == 3
    assert stream(client, example_device(OWN_WARD).code).status_code == 429
