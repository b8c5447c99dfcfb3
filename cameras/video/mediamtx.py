"""A MediaMTX configuration for the platform's cameras: the media server instead of the
platform's relay. The platform keeps issuing the stream tokens (``cameras.video.tokens``,
after the device page's scoping) and MediaMTX enforces them: ``authMethod: jwt`` against
the keys published at ``/.well-known/jwks.json``, each token allowing the one path its
``mediamtx_permissions`` claim names (``cameras/<code>/<main|sub>``, the relay's paths).
Each camera's streams are on-demand paths (pulled when a first reader comes, closed a
minute after the last), with the camera's address and credentials: the file is a secret
of the server, never given to a browser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from cameras.choices import DeviceKind
from cameras.models import CameraDetail
from cameras.video.sources import SourceProblem, stream_source
from cameras.video.tokens import AUDIENCE, QUALITIES, stream_path

# What the tokens carry the permissions in (MediaMTX's default claim name).
CLAIM_KEY = "mediamtx_permissions"
JWKS_PATH = "/.well-known/jwks.json"


@dataclass
class MediaMtxConfig:
    """The configuration (``settings``, for ``yaml``) and the cameras left out, with why."""

    settings: dict[str, Any]
    skipped: dict[str, str] = field(default_factory=dict)

    def text(self, *, header: str = "") -> str:
        """The configuration as MediaMTX reads it (YAML), under a comment ``header``."""
        comment = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.splitlines())
        return comment + yaml.safe_dump(self.settings, sort_keys=False, allow_unicode=True)


def mediamtx_config(
    *,
    platform_url: str,
    issuer: str,
    allow_origins: list[str],
    close_after_seconds: int = 60,
) -> MediaMtxConfig:
    """MediaMTX's configuration for every camera of the registry with an RTSP stream.

    ``platform_url`` is where MediaMTX reaches the platform (for the keys); browsers play
    the streams over low-latency HLS or WebRTC from ``allow_origins`` (the platform's
    pages). A camera whose address cannot be pulled (not RTSP, outside the device
    networks) is left out and named in ``skipped``.
    """
    paths: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    cameras = (
        CameraDetail.objects.filter(device__kind=DeviceKind.CAMERA)
        .select_related("device")
        .order_by("device__code")
    )
    for camera in cameras:
        code = camera.device.code
        if not (camera.stream_main_url or camera.stream_sub_url):
            continue
        for quality in QUALITIES:
            try:
                source = stream_source(code=code, quality=quality)
            except SourceProblem as problem:
                skipped[code] = problem.reason
                break
            paths[stream_path(code=code, quality=quality)] = {
                "source": source.url,
                "rtspTransport": "tcp",
                "sourceOnDemand": True,
                "sourceOnDemandCloseAfter": f"{close_after_seconds}s",
            }
        else:
            continue
        for quality in QUALITIES:  # a camera is served whole or not at all
            paths.pop(stream_path(code=code, quality=quality), None)
    settings: dict[str, Any] = {
        "logLevel": "info",
        # The platform's tokens: RS256 JWTs, verified against its published keys.
        "authMethod": "jwt",
        "authJWTJWKS": platform_url.rstrip("/") + JWKS_PATH,
        "authJWTClaimKey": CLAIM_KEY,
        "authJWTIssuer": issuer,
        "authJWTAudience": AUDIENCE,
        # The API and metrics stay off; RTSP, HLS and WebRTC read with a token.
        "api": False,
        "metrics": False,
        "rtsp": True,
        "rtspTransports": ["tcp"],
        "hls": True,
        "hlsVariant": "lowLatency",
        "hlsAllowOrigins": list(allow_origins),
        "webrtc": True,
        "webrtcAllowOrigins": list(allow_origins),
        "rtmp": False,
        "srt": False,
        "paths": paths,
    }
    return MediaMtxConfig(settings=settings, skipped=skipped)
