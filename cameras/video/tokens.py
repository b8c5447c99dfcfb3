"""Stream tokens: the short-lived, signed addresses of cameras' live streams.

The platform issues a token only after the device page's own scoping check
(``cameras.selectors``); the relay, or MediaMTX (``authMethod: jwt``), verifies it against
``/.well-known/jwks.json`` and serves exactly the one path it names. A token is an RS256
JWT (the contract, claim by claim, is in the README's "Live video tokens and MediaMTX"):
an address must be used within ``IOC_VIDEO_TOKEN_SECONDS``; a stream once established is
not cut when its token expires. Camera credentials and addresses never enter a token.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import jwt
from django.conf import settings
from django.utils import timezone

from cameras.choices import DeviceKind, StreamQuality
from cameras.models import Device
from cameras.video.keys import ALGORITHM, jwks, signing_key
from ioc.models import AuditEntry, User
from ioc.services.audit import audit_entry

AUDIENCE = "ioc-video"
QUALITIES = tuple(StreamQuality.values)
# Clocks of the platform and of the relays may differ by a few seconds.
LEEWAY_SECONDS = 5
REQUIRED_CLAIMS = ["iss", "aud", "sub", "iat", "nbf", "exp", "jti", "cam", "quality", "path"]
# How a grant's stream is played: the platform's relay sends MPEG-TS over a websocket (the
# token in the address); MediaMTX serves HLS (the token in an Authorization header).
PROTOCOL_RELAY = "mpegts-ws"
PROTOCOL_HLS = "hls"


class StreamTokenRefused(Exception):
    """A stream token that must not open a stream; ``reason`` says why: ``expired``,
    ``signature``, ``audience``, ``issuer``, ``path`` or ``malformed``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"stream token refused ({reason}){': ' + detail if detail else ''}")
        self.reason = reason


@dataclass(frozen=True)
class StreamGrant:
    """What a viewer is given: the token, the stream's address (with the token for the
    relay, without it for MediaMTX), when it must be used by, the stream's path, and how
    the stream is played (``PROTOCOL_RELAY`` or ``PROTOCOL_HLS``)."""

    token: str
    url: str
    expires_at: datetime
    path: str
    protocol: str = PROTOCOL_RELAY


@dataclass(frozen=True)
class StreamClaims:
    """A verified token's claims: who (``user_id``) may read which stream."""

    user_id: int
    camera: str
    quality: str
    path: str
    token_id: str
    issued_at: datetime
    expires_at: datetime


def stream_path(*, code: str, quality: str) -> str:
    """The path of a camera's stream on the relay and on MediaMTX."""
    return f"cameras/{code}/{quality}"


def relay_url_for(code: str) -> str:
    """The relay that serves camera ``code``: with several, a stable hash of the code picks
    one, so every viewer of a camera reaches the one process pulling it."""
    relays = settings.IOC_VIDEO_RELAY_URLS or ["/video/"]
    index = int.from_bytes(hashlib.sha256(code.encode()).digest()[:8], "big") % len(relays)
    base = relays[index]
    return base if base.endswith("/") else base + "/"


def stream_address(*, code: str, path: str, token: str) -> tuple[str, str]:
    """Where a viewer plays ``path`` and how: the relay's websocket with the token in the
    query, or (``IOC_VIDEO_MEDIA_SERVER`` = mediamtx) MediaMTX's HLS playlist of the path,
    without the token, which then travels as ``Authorization: Bearer`` and never in a URL
    (URLs end up in logs and histories)."""
    base = relay_url_for(code)
    if settings.IOC_VIDEO_MEDIA_SERVER == "mediamtx":
        return f"{base}{quote(path)}/index.m3u8", PROTOCOL_HLS
    return f"{base}{quote(path)}?jwt={token}", PROTOCOL_RELAY


def stream_token_issue(*, user: User, device: Device, quality: str) -> StreamGrant:
    """Sign a token for ``user`` to read ``device``'s ``quality`` stream, and audit it.

    The caller has already found ``device`` through the user's scoping
    (``cameras.selectors.devices_visible_to``): this function does not widen or check it.
    """
    grant, audited = _signed_grant(user=user, device=device, quality=quality)
    audited.save()
    return grant


def stream_tokens_issue(
    *, user: User, devices: Sequence[Device], quality: str
) -> list[StreamGrant]:
    """Tokens for several cameras' ``quality`` streams at once (the tiles of a camera
    wall, issued with the page), each audited as ``stream_token_issue`` audits one, the
    entries written together. The same caller's duty of scoping applies."""
    signed = [_signed_grant(user=user, device=device, quality=quality) for device in devices]
    AuditEntry.objects.bulk_create([audited for _grant, audited in signed])
    return [grant for grant, _audited in signed]


def _signed_grant(*, user: User, device: Device, quality: str) -> tuple[StreamGrant, AuditEntry]:
    """A signed token for one stream, and its audit entry (not saved yet)."""
    if device.kind != DeviceKind.CAMERA:
        raise ValueError(f"{device.code} is not a camera")
    if quality not in QUALITIES:
        raise ValueError(f"quality must be one of {', '.join(QUALITIES)}")
    key = signing_key()
    issued = timezone.now().replace(microsecond=0)
    expires = issued + timedelta(seconds=settings.IOC_VIDEO_TOKEN_SECONDS)
    path = stream_path(code=device.code, quality=quality)
    token_id = secrets.token_urlsafe(16)
    claims: dict[str, Any] = {
        "iss": settings.IOC_VIDEO_TOKEN_ISSUER,
        "aud": AUDIENCE,
        "sub": str(user.pk),
        "iat": int(issued.timestamp()),
        "nbf": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": token_id,
        "cam": device.code,
        "quality": quality,
        "path": path,
        # MediaMTX's own claim: with authMethod jwt it allows exactly these actions.
        "mediamtx_permissions": [{"action": "read", "path": path}],
    }
    token = jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})
    audited = audit_entry(
        actor=user,
        action="camera.stream_issued",
        obj=device,
        after={
            "quality": quality,
            "path": path,
            "token_id": token_id,
            "expires_at": expires.isoformat(),
        },
        ward_code=device.ward.code,
    )
    url, protocol = stream_address(code=device.code, path=path, token=token)
    grant = StreamGrant(token=token, url=url, expires_at=expires, path=path, protocol=protocol)
    return grant, audited


def _verification_key(token: str) -> Any:
    """The published key a token names by its ``kid`` (StreamTokenRefused otherwise)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise StreamTokenRefused("malformed", str(exc)) from exc
    if header.get("alg") != ALGORITHM:
        raise StreamTokenRefused("signature", "not signed with RS256")
    for jwk in jwks()["keys"]:
        if jwk["kid"] == header.get("kid"):
            return jwt.PyJWK(jwk).key
    raise StreamTokenRefused("signature", "unknown key id")


def stream_token_verify(*, token: str, path: str) -> StreamClaims:
    """The claims of a token valid now for reading ``path``; StreamTokenRefused otherwise
    (bad signature, expired or not yet valid, another audience or issuer, another path)."""
    try:
        claims = jwt.decode(
            token,
            _verification_key(token),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=settings.IOC_VIDEO_TOKEN_ISSUER,
            leeway=LEEWAY_SECONDS,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError as exc:
        raise StreamTokenRefused("expired", str(exc)) from exc
    except jwt.ImmatureSignatureError as exc:
        raise StreamTokenRefused("expired", str(exc)) from exc
    except jwt.InvalidAudienceError as exc:
        raise StreamTokenRefused("audience", str(exc)) from exc
    except jwt.InvalidIssuerError as exc:
        raise StreamTokenRefused("issuer", str(exc)) from exc
    except jwt.InvalidSignatureError as exc:
        raise StreamTokenRefused("signature", str(exc)) from exc
    except jwt.PyJWTError as exc:
        raise StreamTokenRefused("malformed", str(exc)) from exc
    allowed = {
        (grant.get("action"), grant.get("path"))
        for grant in claims.get("mediamtx_permissions") or []
        if isinstance(grant, dict)
    }
    if claims["path"] != path or ("read", path) not in allowed:
        raise StreamTokenRefused("path", f"the token is for {claims['path']}, not {path}")
    try:
        user_id = int(claims["sub"])
    except (TypeError, ValueError) as exc:
        raise StreamTokenRefused("malformed", "sub is not a user id") from exc
    return StreamClaims(
        user_id=user_id,
        camera=str(claims["cam"]),
        quality=str(claims["quality"]),
        path=path,
        token_id=str(claims["jti"]),
        issued_at=datetime.fromtimestamp(claims["iat"], tz=UTC),
        expires_at=datetime.fromtimestamp(claims["exp"], tz=UTC),
    )
