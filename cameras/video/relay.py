"""The video relay: each camera stream pulled once, by one FFmpeg process that remuxes it
(``-c copy``: no transcoding) into MPEG-TS, and its packets fanned out to every viewer.
A camera an administrator set to be transcoded (``CameraDetail.transcode_main``, for a
main stream browsers cannot play) is decoded and encoded to H.264 instead: a feed of its
own (``feed_key``), costly, so at most ``max_transcodes`` of them run at once.

A ``Feed`` starts when its first viewer asks and stops ``linger`` seconds after its last
viewer leaves. It keeps the program tables and the packets since the last keyframe, so a
viewer who joins mid-stream starts at once, at a keyframe. A viewer too slow to keep up
skips to the next keyframe rather than slowing the others. When FFmpeg cannot pull the
stream (refused, wrong credentials, no such stream, not a stream, no answer, ended) every
viewer is told why, as a short code the screens translate, and no process is left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cameras.video import ts

logger = logging.getLogger(__name__)

# Why a stream could not be played, read from FFmpeg's last words (its log in English).
REASONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("unauthorized", re.compile(r"401|Unauthorized|authorization failed", re.I)),
    ("refused", re.compile(r"Connection refused", re.I)),
    ("not_found", re.compile(r"404|Not Found|No such file", re.I)),
    ("timeout", re.compile(r"timed out|Connection timed out|timeout", re.I)),
    ("unreachable", re.compile(r"No route to host|Network is unreachable|resolve", re.I)),
    ("invalid", re.compile(r"Invalid data|not supported|Protocol not found", re.I)),
)
# The packets kept since the last keyframe, at most (a camera without keyframes for long).
GOP_LIMIT = 8 * 1024 * 1024
# A viewer's queue, in chunks; beyond it the viewer skips to the next keyframe.
VIEWER_QUEUE = 64
# A transcoded picture is at most this many lines high (a camera's 4K main stream would
# cost several cores): the cost stated to administrators holds for any camera.
TRANSCODE_MAX_HEIGHT = 720


class RelayBusy(Exception):
    """No new transcoding feed: this relay already runs as many as it may (``busy``)."""

    reason = "busy"


def feed_key(path: str, *, transcode: bool) -> str:
    """The relay's key of a stream's feed: a transcoded stream is another feed than its
    copy, so a changed setting takes effect for the next feed while a running one ends."""
    return f"{path}+h264" if transcode else path


def reason_of(log: str, code: int | None) -> str:
    """The short reason a pull ended: from FFmpeg's log, else ``ended``/``failed``."""
    for reason, pattern in REASONS:
        if pattern.search(log):
            return reason
    return "ended" if code == 0 else "failed"


@dataclass
class Message:
    """What a viewer receives: media bytes, or a state change (``state`` with ``reason``
    or ``codec``)."""

    media: bytes = b""
    state: dict[str, str | bool] = field(default_factory=dict)


class Viewer:
    """One watcher of a feed: an asynchronous iterator of messages, ending when the feed
    stops or the viewer leaves."""

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self.queue: asyncio.Queue[Message | None] = asyncio.Queue(maxsize=VIEWER_QUEUE)
        self.lagging = False
        self.skipped = 0  # chunks skipped while lagging

    def __aiter__(self) -> Viewer:
        return self

    async def __anext__(self) -> Message:
        message = await self.queue.get()
        if message is None:
            raise StopAsyncIteration
        return message

    def put(self, message: Message) -> None:
        """Queue a message; a full queue makes the viewer skip to the next keyframe."""
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.lagging = True
            self.skipped += 1

    def close(self) -> None:
        """No more messages: the iteration ends after what is queued."""
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)
        if self.queue.full():  # make room for the end, dropping the oldest media
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(None)


class Feed:
    """One stream pulled by one FFmpeg process, shared by its viewers."""

    def __init__(
        self,
        path: str,
        command: Sequence[str],
        *,
        linger: float,
        on_stopped: Callable[[Feed], None],
        transcoded: bool = False,
    ) -> None:
        self.path = path
        self.command = list(command)
        self.linger = linger
        self.transcoded = transcoded
        self.on_stopped = on_stopped
        self.viewers: set[Viewer] = set()
        self.process: asyncio.subprocess.Process | None = None
        self.state = "connecting"
        self.reason = ""
        self.codec = ""
        self.tables: dict[int, bytes] = {}  # PID -> the latest PAT or PMT packet
        self.video_pid: int | None = None
        self.gop: list[bytes] = []
        self.gop_bytes = 0
        self._tasks: list[asyncio.Task[Any]] = []
        self._idle: asyncio.TimerHandle | None = None
        self._log: list[str] = []
        self.stopped = asyncio.Event()

    # -- viewers ----------------------------------------------------------------------

    def join(self) -> Viewer:
        """A new viewer: the current state, and the stream from the last keyframe."""
        viewer = Viewer(self)
        self.viewers.add(viewer)
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self.codec:
            viewer.put(Message(state=self._codec_state(self.state)))
        if self.gop:
            viewer.put(Message(media=self._start_packets()))
        return viewer

    def leave(self, viewer: Viewer) -> None:
        """A viewer went; the last one leaving starts the linger before the pull stops."""
        self.viewers.discard(viewer)
        viewer.close()
        if not self.viewers and self._idle is None and not self.stopped.is_set():
            loop = asyncio.get_running_loop()
            self._idle = loop.call_later(self.linger, self._stop_soon)

    def _start_packets(self) -> bytes:
        """The tables, then the packets since the last keyframe."""
        return b"".join([*self.tables.values(), *self.gop])

    def _codec_state(self, state: str) -> dict[str, str | bool]:
        """The state with the codec viewers receive (and ``transcoded`` when the relay
        makes it: the screens say so)."""
        message: dict[str, str | bool] = {"state": state, "codec": self.codec}
        if self.transcoded:
            message["transcoded"] = True
        return message

    def _broadcast(self, message: Message) -> None:
        for viewer in list(self.viewers):
            viewer.put(message)

    # -- the pull ---------------------------------------------------------------------

    async def start(self) -> None:
        """Start FFmpeg and the tasks reading its output and its log."""
        self.process = await asyncio.create_subprocess_exec(
            *self.command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        self._tasks = [
            asyncio.create_task(self._pump(), name=f"relay-pump {self.path}"),
            asyncio.create_task(self._read_log(), name=f"relay-log {self.path}"),
        ]

    async def _read_log(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        async for line in self.process.stderr:
            text = line.decode("utf-8", "replace").strip()
            if text:
                self._log = [*self._log[-19:], text]

    async def _pump(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        splitter = ts.PacketSplitter()
        try:
            while True:
                data = await self.process.stdout.read(64 * 1024)
                if not data:
                    break
                self._packets(splitter.feed(data))
        finally:
            await self._ended()

    def _packets(self, packets: list[bytes]) -> None:
        """Keep the tables and the keyframe cache; send the chunk to every viewer (a
        lagging viewer rejoins at the first keyframe in it)."""
        keyframe_at: int | None = None
        for index, packet in enumerate(packets):
            head = ts.header(packet)
            if head.pid == ts.PAT_PID or head.pid in self._pmt_pids():
                self._table(head.pid, packet)
            elif head.pid == self.video_pid and head.random_access:
                if keyframe_at is None:
                    keyframe_at = index
                self.gop, self.gop_bytes = [], 0
            keeping = self.video_pid is not None and (self.gop or head.random_access)
            if keeping and self.gop_bytes < GOP_LIMIT:
                self.gop.append(packet)
                self.gop_bytes += len(packet)
        if not packets:
            return
        chunk = b"".join(packets)
        for viewer in list(self.viewers):
            if not viewer.lagging:
                viewer.put(Message(media=chunk))
            elif keyframe_at is not None:
                viewer.lagging = False
                tables = b"".join(self.tables.values())
                viewer.put(Message(media=tables + b"".join(packets[keyframe_at:])))

    def _pmt_pids(self) -> list[int]:
        pat = self.tables.get(ts.PAT_PID)
        return ts.pmt_pids(pat) if pat else []

    def _table(self, pid: int, packet: bytes) -> None:
        self.tables[pid] = packet
        if pid == ts.PAT_PID or self.codec:
            return
        for stream_pid, codec in ts.stream_codecs(packet).items():
            if codec in ts.VIDEO_CODECS:
                self.video_pid, self.codec, self.state = stream_pid, codec, "live"
                self._broadcast(Message(state=self._codec_state("live")))
                break

    async def _ended(self) -> None:
        """FFmpeg stopped: tell the viewers why, end their streams, forget the feed."""
        code = await self.process.wait() if self.process is not None else None
        for task in self._tasks:
            if task is not asyncio.current_task():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(task, timeout=2)
        if self.state != "stopped":
            self.reason = reason_of("\n".join(self._log), code)
            self.state = "unavailable"
            logger.info("relay %s ended (%s): %s", self.path, self.reason, self._log[-1:])
            self._broadcast(Message(state={"state": "unavailable", "reason": self.reason}))
        for viewer in list(self.viewers):
            viewer.close()
        self.viewers.clear()
        self.stopped.set()
        self.on_stopped(self)

    def _stop_soon(self) -> None:
        self._idle = None
        if not self.viewers:
            asyncio.get_running_loop().create_task(self.stop())

    async def stop(self) -> None:
        """Stop the pull now (no viewer left, or the relay shutting down)."""
        self.state = "stopped"
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), timeout=5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        await self.stopped.wait()


class Relay:
    """The feeds of one process, by key (``feed_key``): each stream pulled once however
    many watch; at most ``max_transcodes`` transcoding at once (``None``: no limit)."""

    def __init__(self, *, linger: float = 60.0, max_transcodes: int | None = None) -> None:
        self.linger = linger
        self.max_transcodes = max_transcodes
        self.feeds: dict[str, Feed] = {}
        self._starting: dict[str, asyncio.Lock] = {}
        self._transcode_starting = asyncio.Lock()

    def transcoding(self) -> int:
        """How many transcoding feeds run now."""
        return sum(1 for f in self.feeds.values() if f.transcoded and not f.stopped.is_set())

    async def watch(
        self, path: str, command: Callable[[], Sequence[str]], *, transcode: bool = False
    ) -> Viewer:
        """A viewer of ``path``, starting its pull with ``command()`` (FFmpeg's arguments,
        built only when a pull starts: they carry the camera's credentials) if needed.
        ``path`` is the feed's key: a transcoded stream's differs from its copy's
        (``feed_key``). A new transcoding feed beyond ``max_transcodes``: RelayBusy (a
        viewer joining a running one costs nothing more and is let in)."""
        lock = self._starting.setdefault(path, asyncio.Lock())
        async with lock:
            feed = self.feeds.get(path)
            if feed is None or feed.stopped.is_set():
                if transcode:
                    # One transcoding start at a time: two cameras starting together
                    # must not both find the last place free.
                    async with self._transcode_starting:
                        limit = self.max_transcodes
                        if limit is not None and self.transcoding() >= limit:
                            raise RelayBusy(path)
                        feed = await self._start(path, command, transcode=True)
                else:
                    feed = await self._start(path, command, transcode=False)
            return feed.join()

    async def _start(
        self, path: str, command: Callable[[], Sequence[str]], *, transcode: bool
    ) -> Feed:
        feed = Feed(
            path, command(), linger=self.linger, on_stopped=self._forget, transcoded=transcode
        )
        try:
            await feed.start()
        except OSError:  # FFmpeg itself could not start
            logger.exception("relay %s: FFmpeg did not start", path)
            raise
        self.feeds[path] = feed
        return feed

    def leave(self, viewer: Viewer) -> None:
        """The viewer went."""
        viewer.feed.leave(viewer)

    def _forget(self, feed: Feed) -> None:
        if self.feeds.get(feed.path) is feed:
            del self.feeds[feed.path]

    async def close(self) -> None:
        """Stop every pull (the process is shutting down)."""
        await asyncio.gather(*(feed.stop() for feed in list(self.feeds.values())))


def pull_command(
    ffmpeg: str,
    url: str,
    *,
    timeout_seconds: float = 5.0,
    extra: Sequence[str] = (),
    transcode: bool = False,
) -> list[str]:
    """FFmpeg's arguments to pull an RTSP stream over TCP and remux its video, unchanged,
    into MPEG-TS on standard output (tables before every keyframe); with ``transcode``,
    its video decoded and encoded to H.264 instead (``transcode_arguments``)."""
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-rtsp_transport",
        "tcp",
        "-timeout",
        str(int(timeout_seconds * 1_000_000)),
        # Start at once: the SDP (or the first keyframe's parameter sets) gives what a copy
        # needs, so stop probing after the first packet. What the probe read is kept and
        # sent: "-fflags +nobuffer" would drop it, first keyframe included, and leave the
        # stream waiting for the camera's next one (a whole GOP, a second or more).
        "-probesize",
        "32",
        "-analyzeduration",
        "100000",
        "-i",
        url,
        *extra,
        "-map",
        "0:v:0",
        *(transcode_arguments() if transcode else ["-c", "copy"]),
        "-f",
        "mpegts",
        "-mpegts_flags",
        "+resend_headers",
        "-flush_packets",
        "1",
        "pipe:1",
    ]


def transcode_arguments() -> list[str]:
    """Encode to H.264 every browser plays, for live viewing: x264's fastest sensible
    preset with no lookahead or B-frames (``zerolatency``), 8-bit 4:2:0 (a 10-bit H.265
    source would otherwise give a High 10 stream browsers refuse), at most
    ``TRANSCODE_MAX_HEIGHT`` lines at the camera's frame rate, a keyframe every second
    (where a late viewer starts), its bit rate capped, no audio."""
    return [
        "-an",
        "-vf",
        f"scale=-2:'min({TRANSCODE_MAX_HEIGHT},ih)'",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-tune",
        "zerolatency",
        "-pix_fmt",
        "yuv420p",
        "-force_key_frames",
        "expr:gte(t,n_forced*1)",
        "-crf",
        "23",
        "-maxrate",
        "2500k",
        "-bufsize",
        "2500k",
    ]
