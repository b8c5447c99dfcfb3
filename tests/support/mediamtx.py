"""MediaMTX as the platform's configuration makes it behave, for tests (MediaMTX itself is
not installed here): what it decides for a token (``mediamtx_refusal``, ``mediamtx_allows``)
and a stand-in HLS server (``StandInMediaMtx``) that serves a camera's live stream, pulled
by the real FFmpeg from the simulator's RTSP camera, and checks every request's
``Authorization: Bearer`` token against the platform's published keys, logging each
decision."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
from django.test import Client

from cameras.video.ffmpeg import ffmpeg_path
from tests.support.live import local_url, serve_http, wait_for


def mediamtx_refusal(
    config: dict[str, Any], jwks: dict[str, Any], token: str, *, path: str, action: str = "read"
) -> str:
    """Why MediaMTX with ``authMethod: jwt`` refuses ``token`` for ``action`` on ``path``
    ("" when it allows it), following ``config``: the key the token's ``kid`` names in
    ``jwks`` (what ``authJWTJWKS`` serves), RS256, ``authJWTIssuer``, ``authJWTAudience``
    and expiry, then the permissions of the ``authJWTClaimKey`` claim."""
    assert config["authMethod"] == "jwt"
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        return "malformed"
    keys = [key for key in jwks["keys"] if key["kid"] == kid]
    if not keys:
        return "unknown key"
    try:
        claims = jwt.decode(
            token,
            jwt.PyJWK(keys[0]).key,
            algorithms=["RS256"],
            issuer=config["authJWTIssuer"],
            audience=config["authJWTAudience"],
        )
    except jwt.PyJWTError as exc:
        return type(exc).__name__
    allowed = any(
        grant.get("action") == action and grant.get("path") == path
        for grant in claims.get(config["authJWTClaimKey"], [])
    )
    return "" if allowed else "path"


def mediamtx_allows(config: dict[str, Any], token: str, *, path: str, action: str = "read") -> bool:
    """Whether MediaMTX allows ``token`` on ``path``, the keys read from the platform under
    test (Django's test client) as MediaMTX fetches them from ``authJWTJWKS``."""
    jwks = Client().get(urlsplit(config["authJWTJWKS"]).path).json()
    return not mediamtx_refusal(config, jwks, token, path=path, action=action)


@dataclass(frozen=True)
class Decision:
    """One request the stand-in answered: what it asked for, what it carried, the answer."""

    method: str
    url: str  # as requested: path and query
    stream: str  # the stream path the request is for (cameras/<code>/<quality>)
    origin: str
    token: str  # the bearer token ("" without one)
    refusal: str  # "" when allowed
    status: int
    at: float


CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
}


class StandInMediaMtx:
    """An HLS server behaving as MediaMTX does with the platform's ``mediamtx_config``:
    ``<stream path>/index.m3u8`` and its segments, each request allowed only with a bearer
    token valid for that path (401 otherwise), CORS for ``hlsAllowOrigins``; the streams
    are written by FFmpeg pulling each path's ``source``. ``decisions`` lists every
    answer."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.config: dict[str, Any] = {}
        self.decisions: list[Decision] = []
        self.preflights = 0
        self._jwks: dict[str, Any] = {"keys": []}
        self._lock = threading.Lock()
        self._pulls: list[subprocess.Popen[bytes]] = []
        self.url = ""

    # --- what MediaMTX reads: its configuration and the platform's keys --------------------

    def jwks_for(self, token: str) -> dict[str, Any]:
        """The published keys, fetched again when a token names a key not seen yet (as
        MediaMTX does)."""
        import httpx

        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return self._jwks
        with self._lock:
            if not any(key["kid"] == kid for key in self._jwks["keys"]):
                self._jwks = httpx.get(self.config["authJWTJWKS"], timeout=5).json()
            return self._jwks

    def pull(self, path: str) -> None:
        """Start FFmpeg pulling ``path``'s camera into live HLS (one-second segments, six
        in the playlist) and wait for its first playlist."""
        source = self.config["paths"][path]["source"]
        output = self.folder / path
        output.mkdir(parents=True, exist_ok=True)
        log = open(output / "ffmpeg.log", "wb")  # noqa: SIM115
        # Closed with the process (stop()).
        process = subprocess.Popen(
            [
                *(ffmpeg_path(), "-nostdin", "-loglevel", "warning"),
                *("-rtsp_transport", "tcp", "-i", source, "-c", "copy", "-f", "hls"),
                *("-hls_time", "1", "-hls_list_size", "6"),
                *("-hls_flags", "delete_segments+independent_segments"),
                *("-hls_segment_filename", str(output / "segment%05d.ts")),
                str(output / "index.m3u8"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self._pulls.append(process)
        wait_for(
            lambda: (output / "index.m3u8").exists() or process.poll() is not None,
            30,
            f"FFmpeg's first playlist of {path}",
        )
        assert process.poll() is None, (output / "ffmpeg.log").read_text()

    def stop(self) -> None:
        """Stop every FFmpeg this stand-in started."""
        for process in self._pulls:
            process.terminate()
        for process in self._pulls:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    # --- answering ------------------------------------------------------------------------

    def answer(self, request: BaseHTTPRequestHandler) -> None:
        """One GET: the token checked for the stream the path names, then the file."""
        parts = urlsplit(request.path)
        stream, _slash, name = parts.path.strip("/").rpartition("/")
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        refusal = (
            mediamtx_refusal(self.config, self.jwks_for(token), token, path=stream)
            if token
            else "no token"
        )
        body, status, content_type = b"", 401, "text/plain"
        if not refusal:
            file = self.folder / stream / name
            suffix = Path(name).suffix
            if suffix in CONTENT_TYPES and file.is_file() and ".." not in parts.path:
                body, status, content_type = file.read_bytes(), 200, CONTENT_TYPES[suffix]
            else:
                status = 404
        with self._lock:
            self.decisions.append(
                Decision(
                    method=request.command,
                    url=request.path,
                    stream=stream,
                    origin=request.headers.get("Origin", ""),
                    token=token,
                    refusal=refusal,
                    status=status,
                    at=time.time(),
                )
            )
        request.send_response(status)
        self.cors(request)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        request.send_header("Cache-Control", "no-cache")
        request.end_headers()
        request.wfile.write(body)

    def preflight(self, request: BaseHTTPRequestHandler) -> None:
        """A browser's CORS preflight (sent without the token, as MediaMTX lets it be)."""
        with self._lock:
            self.preflights += 1
        request.send_response(204)
        self.cors(request)
        request.send_header("Access-Control-Allow-Methods", "OPTIONS, GET")
        request.send_header("Access-Control-Allow-Headers", "Authorization, Range")
        request.send_header("Content-Length", "0")
        request.end_headers()

    def cors(self, request: BaseHTTPRequestHandler) -> None:
        """MediaMTX's CORS headers, for the allowed origins only."""
        origin = request.headers.get("Origin", "")
        if origin and origin in self.config.get("hlsAllowOrigins", []):
            request.send_header("Access-Control-Allow-Origin", origin)
            request.send_header("Access-Control-Allow-Credentials", "true")


@contextmanager
def stand_in_mediamtx(folder: Path) -> Iterator[StandInMediaMtx]:
    """A ``StandInMediaMtx`` listening on a free port (its ``url``), its configuration to
    be set (``config``) and its streams pulled (``pull``) before use; stopped after."""
    standin = StandInMediaMtx(folder)

    def handler(method: Callable[[StandInMediaMtx, BaseHTTPRequestHandler], None]) -> Any:
        return lambda request: method(standin, request)

    class Handler(BaseHTTPRequestHandler):
        do_GET = handler(StandInMediaMtx.answer)
        do_OPTIONS = handler(StandInMediaMtx.preflight)

        def log_message(self, *args: Any) -> None:
            pass

    with serve_http(Handler) as server:
        standin.url = local_url(server) + "/"
        try:
            yield standin
        finally:
            standin.stop()
