"""Live video's HTTP side: the stream addresses staff screens ask for, and the public keys
the media servers check them with. The tokens themselves: ``cameras.video.tokens``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from cameras.choices import StreamQuality
from cameras.models import Device
from cameras.selectors import camera_for_user
from cameras.video.keys import jwks
from cameras.video.tokens import (
    PROTOCOL_HLS,
    StreamGrant,
    stream_token_issue,
    stream_tokens_issue,
)
from ioc.access import staff_required
from ioc.models import User
from ioc.ratelimit import over_limit

NO_STORE = {"Cache-Control": "no-store"}
# Media servers fetch the keys again when they meet an unknown kid; a few minutes of
# caching spares the platform without holding a replaced key for long.
JWKS_MAX_AGE_SECONDS = 300
WEBSOCKET_SCHEMES = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
# The player of MediaMTX's HLS (live_video.js loads it on first need; the side panel plays
# HLS-only cameras with it too).
HLS_SCRIPT = "dashboards/vendor/hls/hls.min.js"


def websocket_url(request: HttpRequest, url: str) -> str:
    """``url`` as a browser opens it: a path is on the page's own host, and http(s)
    becomes ws(s), since the relay serves websockets. A path goes to ``IOC_WS_PORT`` when
    set, as the live channel does (``make serve`` answers pages on gunicorn and websockets
    on uvicorn; behind the reverse proxy both share one port)."""
    relative = url.startswith("/")
    parts = urlsplit(request.build_absolute_uri(url))
    netloc = parts.netloc
    if relative and settings.IOC_WS_PORT and parts.hostname:
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        netloc = f"{host}:{settings.IOC_WS_PORT}"
    scheme = WEBSOCKET_SCHEMES.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, netloc, parts.path, parts.query, parts.fragment))


@staff_required
@require_GET
def device_stream(request: HttpRequest, code: str) -> HttpResponse:
    """A short-lived address of a camera's live stream for the signed-in viewer: the
    device page's scoping (another ward's camera, or no camera, is a 404), audited by the
    issue, never cached; no credentials or camera address in it."""
    quality = request.GET.get("quality", StreamQuality.SUB)
    if quality not in StreamQuality.values:
        return JsonResponse(
            {"detail": _("quality must be “main” or “sub”.")}, status=400, headers=NO_STORE
        )
    user = request.user
    device = camera_for_user(user, code)
    if device is None or not isinstance(user, User):
        # JSON whoever asks: this address is only ever read by the players' scripts.
        return JsonResponse({"detail": _("No such camera.")}, status=404, headers=NO_STORE)
    if over_limit(
        f"video-stream:{user.pk}", limit=settings.IOC_VIDEO_STREAMS_PER_MINUTE, window_seconds=60
    ):
        return JsonResponse(
            {"detail": _("Too many stream requests; try again in a minute.")},
            status=429,
            headers={**NO_STORE, "Retry-After": "60"},
        )
    grant = stream_token_issue(user=user, device=device, quality=quality)
    return JsonResponse(grant_data(request, grant, quality), headers=NO_STORE)


def grant_data(request: HttpRequest, grant: StreamGrant, quality: str) -> dict[str, Any]:
    """A stream address as a player takes it (``live_video.js``): ``protocol`` says how to
    play it. The relay's is a websocket address with the token in it; MediaMTX's an HLS
    playlist without it, the ``token`` given apart for the player to send as
    ``Authorization: Bearer`` and ``expires_in`` (its lifetime in seconds, whatever the
    browser's clock says) for it to ask for the next one in time."""
    data: dict[str, Any] = {
        "url": websocket_url(request, grant.url),
        "expires_at": grant.expires_at.isoformat(),
        "quality": quality,
        "path": grant.path,
        "protocol": grant.protocol,
    }
    if grant.protocol == PROTOCOL_HLS:
        data["url"] = request.build_absolute_uri(grant.url)
        data["token"] = grant.token
        data["script"] = static(HLS_SCRIPT)
        data["expires_in"] = settings.IOC_VIDEO_TOKEN_SECONDS
    return data


def initial_stream_addresses(
    request: HttpRequest, devices: Sequence[Device], *, quality: str
) -> dict[str, dict[str, Any]]:
    """Addresses of ``devices``' streams issued with the page that plays them, keyed by
    each player's own address endpoint (its ``data-stream-url``): its players start at
    once instead of each asking first, a round trip and a request per player (nine on a
    wall, two web processes to share them). Counted and audited as if each were asked for;
    past the viewer's per-minute allowance the rest are left out (those players ask, and
    hear why). The caller has found ``devices`` through the user's scoping."""
    user = request.user
    if not isinstance(user, User):
        return {}
    allowed = []
    for device in devices:
        if over_limit(
            f"video-stream:{user.pk}",
            limit=settings.IOC_VIDEO_STREAMS_PER_MINUTE,
            window_seconds=60,
        ):
            break
        allowed.append(device)
    grants = stream_tokens_issue(user=user, devices=allowed, quality=quality)
    return {
        reverse("ops-device-stream", kwargs={"code": device.code}): grant_data(
            request, grant, quality
        )
        for device, grant in zip(allowed, grants, strict=True)
    }


@require_GET
def jwks_view(request: HttpRequest) -> HttpResponse:
    """``/.well-known/jwks.json``: the public keys stream tokens are signed with (public,
    cacheable a few minutes)."""
    return JsonResponse(
        jwks(), headers={"Cache-Control": f"public, max-age={JWKS_MAX_AGE_SECONDS}"}
    )
