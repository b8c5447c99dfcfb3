"""The simulator's RTSP server for a test: on a free port, in its own thread, serving the
given demo cameras (their clips encoded into a temporary folder) with a test password; the
cameras' stream addresses point at it. And cameras' snapshots from a small HTTP server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from cameras.models import CameraDetail, Device
from cameras.simulator.clips import MAIN, MAIN_H265, SUB, ClipLibrary, encode_clip, scene_of
from cameras.simulator.clips import main_is_h265 as main_is_h265  # re-exported for tests
from cameras.simulator.rtsp import RtspServer
from cameras.video import ts
from cameras.video.ffmpeg import ffmpeg_path
from tests.support.examples import example_device
from tests.support.live import local_url, serve_http
from tests.support.media import jpeg

PASSWORD = "relay-test-secret"


def example_camera(ward_code: str, *, h265: bool) -> Device:
    """The demo's first camera of a ward whose simulated main stream is (or is not) H.265."""
    index = 0
    while True:
        device = example_device(ward_code, index=index)
        if main_is_h265(code=device.code) == h265:
            return device
        index += 1


def media_codecs(media: bytes) -> set[str]:
    """The video codecs MPEG-TS ``media`` announces in its program tables."""
    packets = [media[i : i + ts.PACKET] for i in range(0, len(media) - ts.PACKET + 1, ts.PACKET)]
    pmts = {pid for p in packets if ts.header(p).pid == ts.PAT_PID for pid in ts.pmt_pids(p)}
    return {
        codec for p in packets if ts.header(p).pid in pmts for codec in ts.stream_codecs(p).values()
    }


@contextmanager
def snapshot_server() -> Iterator[str]:
    """Cameras' snapshot endpoints: GET /<code>.jpg answers a JPEG of that code; yields
    the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            code = self.path.strip("/").removesuffix(".jpg")
            body = jpeg((640, 360), (38, 84, 124), label=code, quality=80)
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with serve_http(Handler) as server:
        yield local_url(server)


@contextmanager
def simulated_cameras(
    devices: list[Device], folder: Path, *, main: bool = False
) -> Iterator[RtspServer]:
    """Serve ``devices``' sub streams (and main ones with ``main``) as the simulator does."""
    ffmpeg = ffmpeg_path()
    library = ClipLibrary(directory=folder)
    for device in devices:
        scene = scene_of(code=device.code)
        profiles = [SUB] + ([MAIN_H265 if main_is_h265(code=device.code) else MAIN] if main else [])
        for profile in profiles:
            output = library.path(scene=scene, profile=profile)
            if not output.exists():
                output.parent.mkdir(parents=True, exist_ok=True)
                encode_clip(ffmpeg=ffmpeg, scene=scene, profile=profile, output=output)
    server = RtspServer(
        clips=library,
        credentials={device.code: ("viewer", PASSWORD) for device in devices},
        ffmpeg=ffmpeg,
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    listening = asyncio.run_coroutine_threadsafe(server.start(port=0), loop).result(5)
    port = listening.sockets[0].getsockname()[1]
    for device in devices:
        base = f"rtsp://127.0.0.1:{port}/cameras/{device.code}"
        CameraDetail.objects.filter(device=device).update(
            stream_main_url=f"{base}/main",
            stream_sub_url=f"{base}/sub",
            username="viewer",
            password=PASSWORD,
        )
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(_shutdown(listening), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


async def _shutdown(listening: asyncio.Server) -> None:
    """Stop listening and end every client's stream, inside the server's loop."""
    listening.close()
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def video_state(page: Any) -> dict[str, Any]:
    """What the page's first live video element says and shows (a browser test's probe):
    its state and reason, frames decoded, playback time, the words said, and whether the
    snapshot beside it is hidden."""
    return dict(
        page.evaluate(
            """() => {
            const root = document.querySelector('[data-live-video]');
            const video = root.querySelector('video');
            return {
                state: root.dataset.state, reason: root.dataset.reason,
                frames: video.getVideoPlaybackQuality().totalVideoFrames,
                time: video.currentTime,
                text: root.querySelector('[data-video-state]').textContent,
                snapshotHidden: document.querySelector('[data-video-fallback-for]')?.hidden,
            };
        }"""
        )
    )
