"""``/video/cameras/<code>/<quality>?jwt=…``: the relay's websocket. The token (issued by
``/ops/devices/<code>/stream`` after the device page's scoping) names exactly this stream
and is used within its minute; the viewer must still see the camera. Then the stream
flows as binary MPEG-TS, one FFmpeg pull per stream in this process however many watch,
and a text frame says each change of state (``{"state": "live", "codec": "h264"}``, with
``"transcoded": true`` when the relay transcodes the stream, or ``{"state": "unavailable",
"reason": "unauthorized"}``) before the relay closes. Every watch is a viewing session,
ended when the socket closes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from channels.auth import get_user
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from cameras.models import ViewingSession
from cameras.services.viewing import viewing_end, viewing_start
from cameras.video.ffmpeg import FFmpegMissing, ffmpeg_path
from cameras.video.relay import Relay, RelayBusy, Viewer, feed_key, pull_command
from cameras.video.sources import Source, SourceProblem, stream_source
from cameras.video.tokens import (
    StreamClaims,
    StreamTokenRefused,
    stream_path,
    stream_token_verify,
)
from ioc.middleware import forwarded_address

logger = logging.getLogger(__name__)

# Close codes: the browser reads them with the reason already sent as text.
CLOSE_REFUSED = 4403
CLOSE_UNAVAILABLE = 4502

_relay: Relay | None = None


def video_relay() -> Relay:
    """This process's relay (one per process: its feeds are its FFmpeg pulls)."""
    global _relay
    if _relay is None:
        _relay = Relay(max_transcodes=settings.IOC_VIDEO_MAX_TRANSCODES)
    return _relay


def scope_address(scope: dict[str, Any]) -> str | None:
    """The client's address, read as for HTTP requests (trusted proxy hops only)."""
    headers = dict(scope.get("headers") or [])
    forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
    client = scope.get("client")
    return forwarded_address(forwarded, client[0] if client else None)


def watch_begin(
    *, claims: StreamClaims, code: str, quality: str, address: str | None
) -> tuple[Source, ViewingSession]:
    """The stream's source and the viewing session, in one trip to the database thread
    (every consumer of the process shares that one thread: a wall's nine tiles queue there)."""
    source = stream_source(code=code, quality=quality)
    return source, viewing_start(
        claims=claims, address=address, relay=settings.IOC_VIDEO_RELAY_NAME
    )


class VideoConsumer(AsyncWebsocketConsumer):
    """One viewer of one camera stream."""

    viewer: Viewer | None = None
    session: ViewingSession | None = None
    sender: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        # Accepted before any check, which then says its refusal as text: a browser opens
        # one websocket to a host at a time (RFC 6455 4.1: no other may be "connecting"),
        # so a handshake that waited for the database (the session's user included) and
        # FFmpeg would hold back every other tile of a wall, one after the other.
        await self.accept()
        route = self.scope["url_route"]["kwargs"]
        code, quality = route["code"], route["quality"]
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        token = (query.get("jwt") or [""])[0]
        path = stream_path(code=code, quality=quality)
        try:
            claims = stream_token_verify(token=token, path=path)
            # The session's account is read here, after the handshake (cameras/routing.py).
            user = await get_user(self.scope)
            if user.is_authenticated and user.pk != claims.user_id:
                # A signed-in browser watches with its own addresses only.
                raise StreamTokenRefused("user", "the token was issued to another account")
            source, self.session = await database_sync_to_async(watch_begin)(
                claims=claims, code=code, quality=quality, address=scope_address(self.scope)
            )
        except StreamTokenRefused as exc:
            await self._unavailable(exc.reason, CLOSE_REFUSED)
            return
        except SourceProblem as exc:
            await self._unavailable(exc.reason, CLOSE_UNAVAILABLE)
            return
        try:
            command = pull_command(ffmpeg_path(), source.url, transcode=source.transcode)
            self.viewer = await video_relay().watch(
                feed_key(path, transcode=source.transcode),
                lambda: command,
                transcode=source.transcode,
            )
        except RelayBusy as exc:
            await self._unavailable(exc.reason)
            return
        except (FFmpegMissing, OSError):
            logger.exception("relay %s: no pull", path)
            await self._unavailable("no_relay")
            return
        self.sender = asyncio.create_task(self._send(), name=f"video {path}")

    async def _unavailable(self, reason: str, code: int = CLOSE_UNAVAILABLE) -> None:
        """Say why, then close (a refused handshake would tell the browser nothing)."""
        await self.send(text_data=json.dumps({"state": "unavailable", "reason": reason}))
        await self.close(code=code)

    async def _send(self) -> None:
        assert self.viewer is not None
        ended = "ended"
        async for message in self.viewer:
            if message.state:
                await self.send(text_data=json.dumps(message.state))
                ended = str(message.state.get("reason", ended))
            if message.media:
                await self.send(bytes_data=message.media)
        with contextlib.suppress(Exception):
            await self.close(code=CLOSE_UNAVAILABLE, reason=ended[:100])

    async def disconnect(self, code: int) -> None:
        if self.viewer is not None:
            video_relay().leave(self.viewer)
            self.viewer = None
        if self.sender is not None:
            self.sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.sender
        if self.session is not None:
            await database_sync_to_async(viewing_end)(session=self.session)
            self.session = None

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Viewers only listen."""
