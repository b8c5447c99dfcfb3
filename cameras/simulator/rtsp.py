"""The simulated cameras' RTSP server: their clips, looped, as live RTP over TCP.

    rtsp://<host>:<port>/cameras/<code>/main   H.264 1280x720 15 fps (H.265 on every 8th camera)
    rtsp://<host>:<port>/cameras/<code>/sub    H.264 640x360 10 fps
    rtsp://<host>:<port>/bench/clock           H.264 640x360 15 fps, encoded live (``clock``)

A subset of RFC 2326: OPTIONS, DESCRIBE, SETUP (``RTP/AVP/TCP;interleaved``; UDP answers
461), PLAY, TEARDOWN, GET_PARAMETER. Every camera request but OPTIONS needs the camera's
credentials (Basic or Digest); the clock needs none. A stream asked for before its clip is
encoded answers 503. Each client gets its own RTP session starting at a keyframe, paced
by the clip's frame rate against the loop's clock, its sequence numbers and timestamps
running on across loops. Serving a client costs no encoding: the clip's payloads are cut
once and reused. No RTCP is sent.

Faults (``RtspServer.fault_set``) for the relay's tests: ``refuse`` closes the connection
on the first request for the camera without an answer (the one port serves every camera,
so the socket itself cannot be refused), ``unauthorized`` answers 401 whatever the
credentials, ``stop`` closes the connection a number of seconds into PLAY. A simulated
outage refuses too; the city's ``video_loss`` fault stops the camera's packets while it
lasts (the session stays open, as a real encoder's does).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import re
import secrets
import socket
import time
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import unquote, urlsplit

from cameras.simulator import rtp
from cameras.simulator.clips import ClipLibrary, Profile, scene_of, stream_profile
from cameras.simulator.model import City

logger = logging.getLogger(__name__)

REALM = "IOC simulator"
SERVER = "IOC simulator RTSP"
METHODS = "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER"
CAMERA_PATH = re.compile(r"^/cameras/(?P<code>[^/]+)/(?P<stream>main|sub)$")
TRACK_SUFFIX = re.compile(r"/trackID=\d+$")
CLOCK_PATH = "/bench/clock"
SESSION_TIMEOUT = 60
MAX_HEADER_LINES = 64
REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    454: "Session Not Found",
    455: "Method Not Valid in This State",
    459: "Aggregate Operation Not Allowed",
    461: "Unsupported Transport",
    501: "Not Implemented",
    503: "Service Unavailable",
}


class StreamFault(StrEnum):
    """A camera's simulated misbehaviour towards RTSP clients."""

    REFUSE = "refuse"
    UNAUTHORIZED = "unauthorized"
    STOP = "stop"


@dataclass(frozen=True)
class FaultState:
    """A fault set on a camera; ``seconds`` is how long ``stop`` lets a stream play."""

    kind: StreamFault
    seconds: float = 0.0


@dataclass
class Request:
    """One RTSP request."""

    method: str
    url: str
    headers: dict[str, str]

    @property
    def cseq(self) -> str:
        """The request's sequence number, echoed in the answer."""
        return self.headers.get("cseq", "0")


@dataclass
class Answer:
    """One RTSP answer."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    close: bool = False  # close the connection instead of answering

    def encode(self, cseq: str) -> bytes:
        """The answer on the wire."""
        lines = [f"RTSP/1.0 {self.status} {REASONS.get(self.status, 'Error')}", f"CSeq: {cseq}"]
        lines.append(f"Server: {SERVER}")
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        body = self.body.encode()
        if body:
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass(frozen=True)
class Target:
    """What a request's URL names: a camera's stream or the clock."""

    code: str  # "" for the clock
    stream: str  # main | sub | clock


@dataclass
class Session:
    """One connection's RTSP session."""

    target: Target | None = None
    session_id: str = ""
    channel: int = 0
    playing: asyncio.Task[None] | None = None


def parse_target(url: str) -> Target | None:
    """The camera stream or clock a request URL names (a track suffix ignored)."""
    path = unquote(urlsplit(url).path).rstrip("/")
    path = TRACK_SUFFIX.sub("", path)
    if path == CLOCK_PATH:
        return Target("", "clock")
    match = CAMERA_PATH.match(path)
    return Target(match["code"], match["stream"]) if match else None


def digest_fields(header: str) -> dict[str, str]:
    """The name=value pairs of a Digest Authorization header."""
    return {
        name.lower(): quoted if quoted or not bare else bare
        for name, quoted, bare in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', header)
    }


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def authorized(*, request: Request, username: str, password: str, nonce: str) -> bool:
    """Whether the request carries the credentials (Basic, or Digest on this nonce)."""
    header = request.headers.get("authorization", "")
    scheme, _sep, value = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            given = base64.b64decode(value.strip()).decode()
        except (ValueError, UnicodeDecodeError):
            return False
        return secrets.compare_digest(given, f"{username}:{password}")
    if scheme.lower() != "digest":
        return False
    fields = digest_fields(value)
    if fields.get("username") != username or fields.get("nonce") != nonce:
        return False
    ha1 = _md5(f"{username}:{REALM}:{password}")
    ha2 = _md5(f"{request.method}:{fields.get('uri', '')}")
    if fields.get("qop"):
        expected = _md5(
            f"{ha1}:{nonce}:{fields.get('nc', '')}:{fields.get('cnonce', '')}:{fields['qop']}:{ha2}"
        )
    else:
        expected = _md5(f"{ha1}:{nonce}:{ha2}")
    return secrets.compare_digest(expected, fields.get("response", ""))


class RtspServer:
    """The RTSP server of the simulated cameras (one asyncio server, every camera)."""

    def __init__(
        self,
        *,
        clips: ClipLibrary,
        credentials: dict[str, tuple[str, str]],
        city: City | None = None,
        ffmpeg: str | None = None,
    ) -> None:
        self.clips = clips
        self.credentials = credentials
        self.city = city
        self.ffmpeg = ffmpeg
        self.nonce = secrets.token_hex(16)
        self.faults: dict[str, FaultState] = {}
        self._payloads: dict[tuple[int, str], list[list[bytes]]] = {}
        self.clients = 0

    def fault_set(self, *, code: str, kind: StreamFault | None, seconds: float = 0.0) -> None:
        """Make camera ``code`` misbehave (``kind`` None: behave again)."""
        if kind is None:
            self.faults.pop(code, None)
        else:
            self.faults[code] = FaultState(kind, seconds)

    async def start(
        self, *, host: str = "127.0.0.1", port: int = 0, sock: socket.socket | None = None
    ) -> asyncio.Server:
        """Listen on ``sock``, else on ``host:port`` (0: any free port; read it from the
        server's sockets)."""
        if sock is not None:
            return await asyncio.start_server(self.handle, sock=sock)
        return await asyncio.start_server(self.handle, host, port)

    # --- the connection ----------------------------------------------------------------

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one client connection until it closes or tears down."""
        session = Session()
        self.clients += 1
        try:
            while True:
                request = await self._read(reader)
                if request is None:
                    break
                answer = self.respond(request, session)
                if answer.close:
                    break
                writer.write(answer.encode(request.cseq))
                await writer.drain()
                if request.method == "PLAY" and answer.status == 200:
                    session.playing = asyncio.create_task(self._stream(session, writer))
                if request.method == "TEARDOWN":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self.clients -= 1
            if session.playing is not None:
                session.playing.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await session.playing
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> Request | None:
        """The next request, skipping interleaved packets (the client's RTCP); None at EOF."""
        while True:
            first = await reader.read(1)
            if not first:
                return None
            if first == b"$":
                header = await reader.readexactly(3)
                await reader.readexactly(int.from_bytes(header[1:3], "big"))
                continue
            line = (first + await reader.readline()).decode("utf-8", "replace").strip()
            if line:
                break
        method, _sep, rest = line.partition(" ")
        url = rest.rpartition(" ")[0] or rest
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADER_LINES):
            text = (await reader.readline()).decode("utf-8", "replace").strip()
            if not text:
                break
            name, _sep, value = text.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        if length:
            await reader.readexactly(length)
        return Request(method.upper(), url, headers)

    # --- the answers -------------------------------------------------------------------

    def respond(self, request: Request, session: Session) -> Answer:
        """The answer to one request on a session (the protocol, minus the socket)."""
        if request.method == "OPTIONS":
            return Answer(200, {"Public": METHODS})
        if request.method not in METHODS.split(", "):
            return Answer(501)
        target = parse_target(request.url)
        if target is None and request.method in {"DESCRIBE", "SETUP"}:
            return Answer(404)
        target = target or session.target
        if target is None:
            return Answer(404)
        if target.stream != "clock":
            refusal = self._camera_refusal(request, target.code)
            if refusal is not None:
                return refusal
        handler = getattr(self, f"_{request.method.lower()}")
        answer: Answer = handler(request, session, target)
        return answer

    def _camera_refusal(self, request: Request, code: str) -> Answer | None:
        """An answer that stops a camera request before its method is served, if any."""
        if code not in self.credentials:
            return Answer(404)
        fault = self.faults.get(code)
        camera = self.city.camera(code) if self.city is not None else None
        if (fault is not None and fault.kind == StreamFault.REFUSE) or (
            camera is not None and camera.in_outage(time.time())
        ):
            return Answer(0, close=True)
        username, password = self.credentials[code]
        unauthorized = fault is not None and fault.kind == StreamFault.UNAUTHORIZED
        if unauthorized or (
            (username or password)
            and not authorized(
                request=request, username=username, password=password, nonce=self.nonce
            )
        ):
            challenge = f'Digest realm="{REALM}", nonce="{self.nonce}"'
            return Answer(401, {"WWW-Authenticate": challenge})
        return None

    def _profile(self, target: Target) -> tuple[int, Profile]:
        """The scene and profile a camera stream plays."""
        return scene_of(code=target.code), stream_profile(code=target.code, stream=target.stream)

    def _describe(self, request: Request, session: Session, target: Target) -> Answer:
        base = request.url.rstrip("/") + "/"
        headers = {"Content-Type": "application/sdp", "Content-Base": base}
        if target.stream == "clock":
            body = rtp.sdp(codec="h264", parameter_sets={}, width=640, height=360, fps=15)
            return Answer(200, headers, body)
        scene, profile = self._profile(target)
        clip = self.clips.get(scene=scene, profile=profile)
        if clip is None:
            return Answer(503, {"Retry-After": "5"})
        body = rtp.sdp(
            codec=profile.codec,
            parameter_sets=clip.parameter_sets,
            width=profile.width,
            height=profile.height,
            fps=profile.fps,
        )
        return Answer(200, headers, body)

    def _setup(self, request: Request, session: Session, target: Target) -> Answer:
        transport = request.headers.get("transport", "")
        choice = next((t for t in transport.split(",") if "RTP/AVP/TCP" in t.upper()), None)
        if choice is None:
            return Answer(461)
        match = re.search(r"interleaved=(\d+)", choice)
        session.channel = int(match[1]) if match else 0
        session.target = target
        session.session_id = session.session_id or secrets.token_hex(8)
        channels = f"{session.channel}-{session.channel + 1}"
        return Answer(
            200,
            {
                "Transport": f"RTP/AVP/TCP;unicast;interleaved={channels}",
                "Session": f"{session.session_id};timeout={SESSION_TIMEOUT}",
            },
        )

    def _play(self, request: Request, session: Session, target: Target) -> Answer:
        if not session.session_id or session.target is None:
            return Answer(455)
        if session.playing is not None:
            return Answer(200, {"Session": session.session_id})
        if target.stream == "clock":
            if self.ffmpeg is None:
                return Answer(503)
        else:
            scene, profile = self._profile(target)
            if self.clips.get(scene=scene, profile=profile) is None:
                return Answer(503, {"Retry-After": "5"})
        return Answer(200, {"Session": session.session_id, "Range": "npt=0.000-"})

    def _teardown(self, request: Request, session: Session, target: Target) -> Answer:
        return Answer(200, {"Session": session.session_id} if session.session_id else {})

    def _get_parameter(self, request: Request, session: Session, target: Target) -> Answer:
        return Answer(200, {"Session": session.session_id} if session.session_id else {})

    # --- the media -----------------------------------------------------------------------

    def _frame_payloads(self, *, scene: int, profile: Profile) -> list[list[bytes]]:
        """A clip's RTP payloads, frame by frame, cut once for every client."""
        key = (scene, profile.name)
        payloads = self._payloads.get(key)
        if payloads is None:
            clip = self.clips.get(scene=scene, profile=profile)
            if clip is None:
                return []
            payloads = [
                rtp.frame_payloads(units=units, codec=profile.codec) for units in clip.frames
            ]
            self._payloads[key] = payloads
        return payloads

    def _video_lost(self, code: str) -> bool:
        """Whether the city's ``video_loss`` fault is on camera ``code`` now."""
        camera = self.city.camera(code) if self.city is not None else None
        return camera is not None and camera.fault is not None and camera.fault[0] == "video_loss"

    async def _stream(self, session: Session, writer: asyncio.StreamWriter) -> None:
        """Send the session's stream until cancelled (or until a ``stop`` fault ends it)."""
        target = session.target
        assert target is not None  # PLAY answered 200 only after SETUP
        if target.stream == "clock":
            from cameras.simulator.clock import stream_clock

            assert self.ffmpeg is not None
            await stream_clock(ffmpeg=self.ffmpeg, writer=writer, channel=session.channel)
            return
        scene, profile = self._profile(target)
        frames = self._frame_payloads(scene=scene, profile=profile)
        fault = self.faults.get(target.code)
        stop_after = fault.seconds if fault is not None and fault.kind == StreamFault.STOP else 0
        packets = rtp.RtpCounter()
        loop = asyncio.get_running_loop()
        started = loop.time()
        index = 0
        while frames:
            due = started + index / profile.fps
            await asyncio.sleep(max(0.0, due - loop.time()))
            if stop_after and loop.time() - started >= stop_after:
                writer.transport.abort()
                return
            if not self._video_lost(target.code):
                timestamp = packets.timestamp_base + index * rtp.CLOCK_RATE // profile.fps
                writer.write(
                    packets.frame(
                        payloads=frames[index % len(frames)],
                        timestamp=timestamp,
                        channel=session.channel,
                    )
                )
                await writer.drain()
            index += 1
