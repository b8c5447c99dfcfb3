"""Where the relay pulls a camera's stream from: its RTSP address with its credentials,
read on the server and handed to FFmpeg only (never to a browser), checked first so that a
stream that cannot be pulled says why without starting a process."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from cameras.device_http import AddressRefused, device_addresses
from cameras.models import CameraDetail

RTSP_SCHEMES = ("rtsp", "rtsps")


class SourceProblem(Exception):
    """The stream cannot be pulled: ``reason`` is a short code the screens translate
    (``no_stream``, ``not_rtsp``, ``outside_network``, ``unreachable``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Source:
    """A camera stream as FFmpeg opens it (``url`` carries the credentials), and whether
    the relay transcodes it to H.264 (an administrator's setting for the main stream)."""

    url: str
    host: str
    transcode: bool = False


def plays_live(camera: CameraDetail | None) -> bool:
    """Whether the camera has an RTSP stream the relay can play (the screens then show a
    live player; the relay checks the rest when it pulls)."""
    if camera is None:
        return False
    return any(
        url.lower().startswith(tuple(f"{scheme}://" for scheme in RTSP_SCHEMES))
        for url in (camera.stream_main_url, camera.stream_sub_url)
    )


def stream_source(*, code: str, quality: str) -> Source:
    """Camera ``code``'s ``quality`` stream ("main" or "sub"; a camera without a sub-stream
    gives its main one): an RTSP URL inside the device networks, with the camera's
    username and password put in it for FFmpeg, to be transcoded when it is the main
    stream of a camera set so. SourceProblem otherwise."""
    detail = CameraDetail.objects.filter(device__code=code).first()
    if detail is None:
        raise SourceProblem("no_stream")
    url = (detail.stream_sub_url if quality == "sub" else "") or detail.stream_main_url
    if not url:
        raise SourceProblem("no_stream")
    parts = urlsplit(url)
    if parts.scheme.lower() not in RTSP_SCHEMES or not parts.hostname:
        raise SourceProblem("not_rtsp")
    port = parts.port or (322 if parts.scheme.lower() == "rtsps" else 554)
    try:
        # FFmpeg connects to the address checked here, not to a name resolved again.
        address = device_addresses(parts.hostname, port)[0]
    except AddressRefused as exc:
        raise SourceProblem("outside_network") from exc
    except (httpx.ConnectError, OSError) as exc:
        raise SourceProblem("unreachable") from exc
    host = address if ":" not in address else f"[{address}]"
    netloc = f"{host}:{port}"
    if detail.username:
        credentials = quote(detail.username, safe="")
        if detail.password:
            credentials += ":" + quote(detail.password, safe="")
        netloc = f"{credentials}@{netloc}"
    return Source(
        url=urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")),
        host=host,
        transcode=detail.transcode_main and url == detail.stream_main_url,
    )
