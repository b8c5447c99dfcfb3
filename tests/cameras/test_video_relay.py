"""The video relay (``cameras.video.relay``) with real FFmpeg processes: one pull per stream
however many watch, a late viewer starts at a keyframe with the tables, the pull stops after
its last viewer (no process left), a failed pull says why, the codec is read from the
stream, a slow viewer skips to a keyframe without holding the others back, a pull from the
simulator's camera passes on its first keyframe at once; the pull copies unless told to
transcode, and transcoding feeds are kept within their limit."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from cameras.simulator.clips import SUB, ClipLibrary, encode_clip, scene_of
from cameras.simulator.rtsp import RtspServer
from cameras.video import ts
from cameras.video.relay import Relay, RelayBusy, Viewer, feed_key, pull_command, reason_of

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
) -> tuple[bytes, list[dict[str, str | bool]]]:
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


class PlayTimedServer(RtspServer):
    """The simulator's RTSP server, noting when it answered PLAY (its first frame, a
    keyframe, goes out then)."""

    played_at: float | None = None

    def respond(self, request: Any, session: Any) -> Any:
        if request.method == "PLAY" and self.played_at is None:
            self.played_at = asyncio.get_running_loop().time()
        return super().respond(request, session)


def test_the_pull_passes_on_the_cameras_first_keyframe_at_once(tmp_path: Path) -> None:
    # The camera's next keyframe comes a second later (its GOP): a pull that dropped what
    # FFmpeg read while probing would only start with that one.
    library = ClipLibrary(directory=tmp_path)
    encode_clip(ffmpeg=FFMPEG, scene=0, profile=SUB, output=library.path(scene=0, profile=SUB))
    code = next(f"CAM-{n}" for n in range(100) if scene_of(code=f"CAM-{n}") == 0)
    server = PlayTimedServer(clips=library, credentials={code: ("viewer", "pw")})

    async def scenario() -> float:
        listening = await server.start(port=0)
        port = listening.sockets[0].getsockname()[1]
        url = f"rtsp://viewer:pw@127.0.0.1:{port}/cameras/{code}/sub"
        relay = Relay(linger=0.1)
        viewer = await relay.watch("cameras/F/sub", lambda: pull_command(FFMPEG, url))
        try:
            async for message in viewer:
                if any(ts.header(p).random_access for p in packets(message.media)):
                    return asyncio.get_running_loop().time()
            raise AssertionError("no keyframe")
        finally:
            await relay.close()
            listening.close()

    keyframe_at = asyncio.run(scenario())
    assert server.played_at is not None
    assert keyframe_at - server.played_at < 0.6  # not the GOP's second later


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


def option(command: list[str], name: str) -> str:
    """The value FFmpeg's ``command`` gives option ``name``."""
    return command[command.index(name) + 1]


def test_the_pull_copies_unless_told_to_transcode() -> None:
    copy = pull_command(FFMPEG, "rtsp://10.0.0.5/main")
    assert option(copy, "-c") == "copy"
    assert not {"libx264", "-c:v", "-vf"} & set(copy)
    assert option(copy, "-f") == "mpegts" and copy[-1] == "pipe:1"


def test_a_transcoding_pull_encodes_h264_for_live_viewing() -> None:
    command = pull_command(FFMPEG, "rtsp://10.0.0.5/main", transcode=True)
    assert "copy" not in command
    assert option(command, "-c:v") == "libx264"
    assert option(command, "-preset") == "veryfast"
    assert option(command, "-tune") == "zerolatency"
    assert option(command, "-pix_fmt") == "yuv420p"  # 8-bit 4:2:0, whatever the camera's
    assert option(command, "-force_key_frames") == "expr:gte(t,n_forced*1)"  # every second
    assert option(command, "-vf") == "scale=-2:'min(720,ih)'"  # at most 720 lines
    assert "-an" in command
    # The input's options before it, the output's after it, MPEG-TS on standard output.
    assert command.index("-rtsp_transport") < command.index("-i") < command.index("-c:v")
    assert option(command, "-f") == "mpegts" and command[-1] == "pipe:1"


def test_a_transcoded_stream_is_another_feed_than_its_copy() -> None:
    path = "cameras/A/main"
    assert feed_key(path, transcode=False) == path
    assert feed_key(path, transcode=True) not in (path, "cameras/A/sub")


def test_transcoding_feeds_beyond_the_limit_are_busy_and_joining_one_is_not() -> None:
    async def scenario() -> None:
        relay = Relay(linger=0.1, max_transcodes=1)
        try:
            await within_the_limit(relay)
        finally:
            await relay.close()

    async def within_the_limit(relay: Relay) -> None:
        first = await relay.watch("cameras/F/main+h264", source, transcode=True)
        _media, states = await take(first, 5_000)
        assert states[0] == {"state": "live", "codec": "h264", "transcoded": True}
        joining = await relay.watch("cameras/F/main+h264", source, transcode=True)
        assert joining.feed is first.feed  # a viewer more on a running one costs nothing
        _media, states = await take(joining, 1)
        assert states[0] == {"state": "live", "codec": "h264", "transcoded": True}
        with pytest.raises(RelayBusy):
            await relay.watch("cameras/G/main+h264", source, transcode=True)
        assert "cameras/G/main+h264" not in relay.feeds  # no FFmpeg started for it
        copied = await relay.watch("cameras/G/main", source)  # a copy does not count
        _media, states = await take(copied, 5_000)
        assert states[0] == {"state": "live", "codec": "h264"}
        assert relay.transcoding() == 1
        relay.leave(first)
        relay.leave(joining)
        await asyncio.wait_for(first.feed.stopped.wait(), 5)
        second = await relay.watch("cameras/G/main+h264", source, transcode=True)
        await take(second, 5_000)  # the place freed, the other camera's transcoding starts
        assert relay.transcoding() == 1

    asyncio.run(scenario())


def test_no_transcoding_at_all_with_a_limit_of_zero() -> None:
    async def scenario() -> None:
        relay = Relay(linger=0.1, max_transcodes=0)
        with pytest.raises(RelayBusy) as refused:
            await relay.watch("cameras/H/main+h264", source, transcode=True)
        assert refused.value.reason == "busy" and not relay.feeds

    asyncio.run(scenario())


def test_two_cameras_starting_to_transcode_together_do_not_both_take_the_last_place() -> None:
    async def scenario() -> None:
        relay = Relay(linger=0.1, max_transcodes=1)
        try:
            started = await asyncio.gather(
                relay.watch("cameras/J/main+h264", source, transcode=True),
                relay.watch("cameras/K/main+h264", source, transcode=True),
                return_exceptions=True,
            )
            assert sorted(type(result).__name__ for result in started) == ["RelayBusy", "Viewer"]
            assert relay.transcoding() == 1 and len(relay.feeds) == 1
        finally:
            await relay.close()

    asyncio.run(scenario())
