"""The video relay (``cameras.video.relay``) with real FFmpeg processes: one pull per stream
however many watch, a late viewer starts at a keyframe with the tables, the pull stops after
its last viewer (no process left), a failed pull says why, the codec is read from the
stream, a slow viewer skips to a keyframe without holding the others back."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Sequence

import pytest

from cameras.video import ts
from cameras.video.relay import Relay, Viewer, pull_command, reason_of

FFMPEG = shutil.which("ffmpeg") or "ffmpeg"
pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None and not os.environ.get("CI"), reason="needs FFmpeg"
)


def source(codec: str = "libx264", seconds: int = 30) -> list[str]:
    """A live source: FFmpeg encoding a test picture in real time to MPEG-TS on stdout,
    a keyframe every second (what the relay's pull gives from a camera)."""
    return [
        FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-re",
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=10", "-t", str(seconds),
        "-c:v", codec, "-g", "10", "-bf", "0", "-pix_fmt", "yuv420p",
        *(["-x265-params", "log-level=error"] if codec == "libx265" else []),
        "-f", "mpegts", "pipe:1",
    ]  # fmt: skip


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def take(
    viewer: Viewer, size: int, timeout: float = 10.0
) -> tuple[bytes, list[dict[str, str]]]:
    """Media bytes (at least ``size``) and the state messages a viewer received."""
    media, states = b"", []

    async def read() -> None:
        nonlocal media
        async for message in viewer:
            if message.state:
                states.append(message.state)
            media += message.media
            if len(media) >= size:
                return

    await asyncio.wait_for(read(), timeout)
    return media, states


def packets(data: bytes) -> list[bytes]:
    return [data[i : i + ts.PACKET] for i in range(0, len(data) - ts.PACKET + 1, ts.PACKET)]


def test_two_viewers_share_one_pull_and_a_late_one_starts_at_a_keyframe() -> None:
    async def scenario() -> None:
        relay = Relay(linger=0.3)
        calls: list[Sequence[str]] = []

        def command() -> Sequence[str]:
            calls.append(source())
            return calls[-1]

        first = await relay.watch("cameras/A/sub", command)
        media, states = await take(first, 40_000)
        assert states[0] == {"state": "live", "codec": "h264"}
        await asyncio.sleep(1.5)  # the late one joins mid-GOP
        late = await relay.watch("cameras/A/sub", command)
        assert len(calls) == 1 and len(relay.feeds) == 1  # one FFmpeg for both
        media, states = await take(late, 20_000)
        assert states == [{"state": "live", "codec": "h264"}]
        heads = [ts.header(p) for p in packets(media)]
        assert heads[0].pid == ts.PAT_PID  # the tables first
        video = [h for h in heads if h.pid not in (ts.PAT_PID, 4096)]
        assert video[0].random_access  # then a keyframe, not the middle of a picture
        await relay.close()

    asyncio.run(scenario())


def test_the_pull_stops_after_its_last_viewer_and_no_process_is_left() -> None:
    async def scenario() -> None:
        relay = Relay(linger=0.5)
        viewer = await relay.watch("cameras/B/sub", source)
        await take(viewer, 10_000)
        feed = viewer.feed
        assert feed.process is not None
        pid = feed.process.pid
        relay.leave(viewer)
        await asyncio.sleep(0.2)
        assert pid_alive(pid) and relay.feeds  # still lingering
        await asyncio.wait_for(feed.stopped.wait(), 5)
        assert not relay.feeds
        await asyncio.sleep(0.1)
        assert not pid_alive(pid)

    asyncio.run(scenario())


def test_a_viewer_back_within_the_linger_reuses_the_pull() -> None:
    async def scenario() -> None:
        relay = Relay(linger=2.0)
        viewer = await relay.watch("cameras/C/sub", source)
        await take(viewer, 10_000)
        feed = viewer.feed
        relay.leave(viewer)
        again = await relay.watch("cameras/C/sub", source)
        assert again.feed is feed
        await take(again, 10_000)
        await relay.close()
        assert feed.process is not None and feed.process.returncode is not None

    asyncio.run(scenario())


def test_a_refused_pull_tells_every_viewer_why_and_leaves_nothing() -> None:
    async def scenario() -> None:
        relay = Relay(linger=0.5)
        url = "rtsp://127.0.0.1:9/cameras/X/sub"  # nothing listens on the discard port
        viewer = await relay.watch("cameras/X/sub", lambda: pull_command(FFMPEG, url))
        messages = [m async for m in viewer]
        assert [m.state for m in messages if m.state] == [
            {"state": "unavailable", "reason": "refused"}
        ]
        assert not relay.feeds
        process = viewer.feed.process
        assert process is not None and process.returncode is not None

    asyncio.run(scenario())


def test_the_codec_is_read_from_the_streams_tables() -> None:
    async def scenario() -> None:
        relay = Relay(linger=0.1)
        viewer = await relay.watch("cameras/D/main", lambda: source("libx265"))
        _media, states = await take(viewer, 5_000, timeout=20)
        assert states[0] == {"state": "live", "codec": "hevc"}
        await relay.close()

    asyncio.run(scenario())


def test_a_slow_viewer_skips_to_a_keyframe_and_the_others_go_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("cameras.video.relay.VIEWER_QUEUE", 8)

    async def scenario() -> None:
        relay = Relay(linger=0.1)
        try:
            await slow_viewer(relay)
        finally:
            await relay.close()

    async def slow_viewer(relay: Relay) -> None:
        quick = await relay.watch("cameras/E/sub", source)
        slow = await relay.watch("cameras/E/sub", source)
        reader = asyncio.create_task(take(quick, 60_000, timeout=20))
        await asyncio.sleep(3)  # the slow one reads nothing meanwhile
        assert slow.lagging and slow.skipped > 0
        await reader  # the quick one was not held back
        media = b""
        while not slow.queue.empty():  # what was queued before it fell behind
            message = slow.queue.get_nowait()
            assert message is not None
            media += message.media
        rejoined, _states = await take(slow, 1, timeout=5)
        heads = [ts.header(p) for p in packets(rejoined)]
        assert heads[0].pid == ts.PAT_PID
        assert next(h for h in heads if h.pid not in (ts.PAT_PID, 4096)).random_access

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("log", "reason"),
    [
        ("method DESCRIBE failed: 401 Unauthorized", "unauthorized"),
        ("Connection to tcp://127.0.0.1:9 failed: Connection refused", "refused"),
        ("method DESCRIBE failed: 404 Not Found", "not_found"),
        ("Invalid data found when processing input", "invalid"),
        ("", "failed"),
    ],
)
def test_ffmpegs_last_words_say_why(log: str, reason: str) -> None:
    assert reason_of(log, 1) == reason
