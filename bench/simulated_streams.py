"""The simulator's cost per served stream: a 3x3 wall of sub streams pulled by FFmpeg.

    env -u DATABASE_URL -u REDIS_URL .venv/bin/python bench/simulated_streams.py [--clients 9]

Encodes the clips it needs into a temporary directory (and says how long all clips take,
with --all), serves them from an in-process RTSP server and pulls ``--clients`` streams
with ``ffmpeg -rtsp_transport tcp -i ... -c copy -f null -`` for ``--seconds``; prints
the server process's CPU per stream (the clients' own CPU is theirs, not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ioc.settings")

import django

django.setup()

from cameras.simulator.clips import (  # noqa: E402
    PROFILES,
    SUB,
    ClipLibrary,
    encode_clip,
    scene_of,
)
from cameras.simulator.rtsp import RtspServer  # noqa: E402
from cameras.video.ffmpeg import ffmpeg_path  # noqa: E402


def pull_arguments(ffmpeg: str, port: int, code: str, seconds: float) -> list[str]:
    """FFmpeg pulling one camera's sub stream like the relay does (no decoding)."""
    return [
        ffmpeg, "-v", "error", "-rtsp_transport", "tcp",
        "-i", f"rtsp://viewer:pw@127.0.0.1:{port}/cameras/{code}/sub",
        "-t", str(seconds), "-c", "copy", "-f", "null", "-",
    ]  # fmt: skip


def main() -> None:
    """Run the bench and print its figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--all", action="store_true", help="time encoding every clip too")
    options = parser.parse_args()
    ffmpeg = ffmpeg_path()
    codes = [f"CAM-B{n:03d}" for n in range(options.clients)]
    library = ClipLibrary(directory=Path(tempfile.mkdtemp(prefix="ioc-clips-")))
    started = time.monotonic()
    if options.all:
        library.encode_missing(ffmpeg=ffmpeg)
        print(f"encoding all {len(PROFILES) * 6} clips: {time.monotonic() - started:.1f} s")
    else:
        for scene in sorted({scene_of(code=code) for code in codes}):
            output = library.path(scene=scene, profile=SUB)
            encode_clip(ffmpeg=ffmpeg, scene=scene, profile=SUB, output=output)
        print(f"encoding the sub clips needed: {time.monotonic() - started:.1f} s")
    server = RtspServer(clips=library, credentials={code: ("viewer", "pw") for code in codes})
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    listening = asyncio.run_coroutine_threadsafe(server.start(port=0), loop).result(5)
    port = listening.sockets[0].getsockname()[1]
    before, wall = os.times(), time.monotonic()
    clients = [
        subprocess.Popen(
            pull_arguments(ffmpeg, port, code, options.seconds), stderr=subprocess.PIPE
        )
        for code in codes
    ]
    errors = [client.communicate()[1] for client in clients]
    after, elapsed = os.times(), time.monotonic() - wall
    cpu = (after.user - before.user) + (after.system - before.system)
    print(
        f"{options.clients} sub streams for {elapsed:.1f} s: the server used {cpu:.2f} CPU s, "
        f"{100 * cpu / elapsed / options.clients:.2f}% of a core per stream; "
        f"{sum(1 for e in errors if e)} clients reported errors"
    )


if __name__ == "__main__":
    main()
