"""The simulated cameras' RTSP streams, with the real FFmpeg and ffprobe as clients: what
they play, their authentication, their faults, and the latency bench's clock."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from cameras.simulator.clips import (
    CLIP_SECONDS,
    MAIN_H265,
    SUB,
    ClipLibrary,
    encode_clip,
    main_is_h265,
    scene_of,
)
from cameras.simulator.clock import read_clock
from cameras.simulator.rtsp import RtspServer, StreamFault
from cameras.video.ffmpeg import ffmpeg_path

# Under CI FFmpeg is installed (.ci/run) and these never skip.
pytestmark = pytest.mark.skipif(
    shutil.which("ffprobe") is None and not os.environ.get("CI"),
    reason="needs FFmpeg's ffprobe on PATH (Debian's ffmpeg)",
)

PASSWORD = "demo-secret"


def camera_code(accept: Callable[[str], bool], *, skip: tuple[str, ...] = ()) -> str:
    """The first made-up camera code that ``accept`` takes."""
    return next(
        code for code in (f"CAM-T{n:03d}" for n in range(1000)) if code not in skip and accept(code)
    )


CAMERA = camera_code(lambda code: not main_is_h265(code=code))
H265_CAMERA = camera_code(lambda code: main_is_h265(code=code))


def same_scene(code: str) -> bool:
    """Whether camera ``code`` shows the same scene as CAMERA (its sub clip is encoded)."""
    return scene_of(code=code) == scene_of(code=CAMERA)


REFUSING = camera_code(same_scene, skip=(CAMERA,))
STOPPING = camera_code(same_scene, skip=(CAMERA, REFUSING))
LOCKED = camera_code(same_scene, skip=(CAMERA, REFUSING, STOPPING))
PENDING = camera_code(
    lambda code: scene_of(code=code) not in {scene_of(code=CAMERA), scene_of(code=H265_CAMERA)}
)
CODES = (CAMERA, H265_CAMERA, REFUSING, STOPPING, LOCKED, PENDING)


@pytest.fixture(scope="module")
def rtsp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RtspServer, int]]:
    """The server on a free port, in its own thread, with the clips its cameras need
    (PENDING's left unencoded)."""
    ffmpeg = ffmpeg_path()
    library = ClipLibrary(directory=tmp_path_factory.mktemp("clips"))
    for code, profile in ((CAMERA, SUB), (H265_CAMERA, MAIN_H265)):
        scene = scene_of(code=code)
        encode_clip(
            ffmpeg=ffmpeg,
            scene=scene,
            profile=profile,
            output=library.path(scene=scene, profile=profile),
        )
    server = RtspServer(
        clips=library, credentials={code: ("viewer", PASSWORD) for code in CODES}, ffmpeg=ffmpeg
    )
    server.fault_set(code=REFUSING, kind=StreamFault.REFUSE)
    server.fault_set(code=STOPPING, kind=StreamFault.STOP, seconds=2)
    server.fault_set(code=LOCKED, kind=StreamFault.UNAUTHORIZED)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    listening = asyncio.run_coroutine_threadsafe(server.start(port=0), loop).result(5)
    yield server, listening.sockets[0].getsockname()[1]
    loop.call_soon_threadsafe(listening.close)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def url(port: int, path: str, *, password: str = PASSWORD) -> str:
    """An RTSP URL on the test server with the demo's user."""
    return f"rtsp://viewer:{password}@127.0.0.1:{port}{path}"


def run(args: list[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run an FFmpeg tool, its output as text."""
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)


def probe(stream_url: str) -> subprocess.CompletedProcess[str]:
    """ffprobe's codec and size of the stream's video."""
    return run(
        [
            "ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v:0",
            "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", stream_url,
        ]
    )  # fmt: skip


def pull(stream_url: str, seconds: float) -> tuple[int, str, float]:
    """Decode ``seconds`` of the stream: frames decoded, FFmpeg's errors, seconds taken."""
    started = time.monotonic()
    done = run(
        [
            ffmpeg_path(), "-v", "error", "-rtsp_transport", "tcp", "-i", stream_url,
            "-t", str(seconds), "-f", "null", "-", "-progress", "pipe:1",
        ],
        timeout=seconds + 30,
    )  # fmt: skip
    frames = [int(line[6:]) for line in done.stdout.splitlines() if line.startswith("frame=")]
    return (frames[-1] if frames else 0), done.stderr, time.monotonic() - started


def rtsp_exchange(port: int, request: str) -> str:
    """One raw RTSP request and the head of its answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request.encode())
        return sock.recv(4096).decode()


def test_sub_stream_is_h264_640x360(rtsp: tuple[RtspServer, int]) -> None:
    done = probe(url(rtsp[1], f"/cameras/{CAMERA}/sub"))

    assert done.stdout.strip() == "h264,640,360", done.stderr


def test_an_h265_cameras_main_stream_is_hevc_1280x720(rtsp: tuple[RtspServer, int]) -> None:
    done = probe(url(rtsp[1], f"/cameras/{H265_CAMERA}/main"))

    assert done.stdout.strip() == "hevc,1280,720", done.stderr


def test_sub_stream_decodes_cleanly_in_real_time_across_the_loop(
    rtsp: tuple[RtspServer, int],
) -> None:
    seconds = CLIP_SECONDS + 1.5  # past the end of the clip: the loop goes on
    frames, errors, _elapsed = pull(url(rtsp[1], f"/cameras/{CAMERA}/sub"), seconds)

    assert errors == ""
    assert frames >= (seconds - 0.5) * SUB.fps


def test_wrong_password_is_refused_with_401(rtsp: tuple[RtspServer, int]) -> None:
    done = probe(url(rtsp[1], f"/cameras/{CAMERA}/sub", password="wrong"))

    assert done.returncode != 0
    assert "401" in done.stderr


def test_basic_authentication_is_accepted_too(rtsp: tuple[RtspServer, int]) -> None:
    token = base64.b64encode(f"viewer:{PASSWORD}".encode()).decode()
    head = rtsp_exchange(
        rtsp[1],
        f"DESCRIBE rtsp://127.0.0.1:{rtsp[1]}/cameras/{CAMERA}/sub RTSP/1.0\r\nCSeq: 2\r\n"
        f"Authorization: Basic {token}\r\n\r\n",
    )

    assert head.startswith("RTSP/1.0 200 OK")
    assert "sprop-parameter-sets=" in head and "packetization-mode=1" in head


def test_udp_transport_is_unsupported(rtsp: tuple[RtspServer, int]) -> None:
    token = base64.b64encode(f"viewer:{PASSWORD}".encode()).decode()
    head = rtsp_exchange(
        rtsp[1],
        f"SETUP rtsp://127.0.0.1:{rtsp[1]}/cameras/{CAMERA}/sub/trackID=0 RTSP/1.0\r\n"
        f"CSeq: 3\r\nAuthorization: Basic {token}\r\n"
        "Transport: RTP/AVP;unicast;client_port=5000-5001\r\n\r\n",
    )

    assert head.startswith("RTSP/1.0 461 Unsupported Transport")


def test_unknown_camera_is_404(rtsp: tuple[RtspServer, int]) -> None:
    done = probe(url(rtsp[1], "/cameras/NO-SUCH-CAMERA/sub"))

    assert "404" in done.stderr


def test_a_clip_not_encoded_yet_answers_503(rtsp: tuple[RtspServer, int]) -> None:
    done = probe(url(rtsp[1], f"/cameras/{PENDING}/sub"))

    assert "503" in done.stderr


def test_refusing_camera_closes_the_connection(rtsp: tuple[RtspServer, int]) -> None:
    done = probe(url(rtsp[1], f"/cameras/{REFUSING}/sub"))

    assert done.returncode != 0
    assert done.stdout == ""


def test_locked_camera_answers_401_to_the_right_password(rtsp: tuple[RtspServer, int]) -> None:
    done = probe(url(rtsp[1], f"/cameras/{LOCKED}/sub"))

    assert "401" in done.stderr


def test_stopping_camera_ends_the_stream_after_its_seconds(rtsp: tuple[RtspServer, int]) -> None:
    frames, _errors, elapsed = pull(url(rtsp[1], f"/cameras/{STOPPING}/sub"), 8)

    assert 5 <= frames <= 3 * SUB.fps  # it played, then stopped after 2 s
    assert elapsed < 7


def test_clock_frames_carry_the_wall_clock(rtsp: tuple[RtspServer, int], tmp_path: Path) -> None:
    picture = tmp_path / "clock.png"
    started = time.time() * 1000
    done = run(
        [
            ffmpeg_path(), "-v", "error", "-rtsp_transport", "tcp",
            "-i", f"rtsp://127.0.0.1:{rtsp[1]}/bench/clock",
            "-frames:v", "1", "-y", str(picture),
        ]
    )  # fmt: skip
    finished = time.time() * 1000

    assert done.returncode == 0, done.stderr
    stamp = read_clock(image=Image.open(picture))
    assert started - 1000 <= stamp <= finished


def test_clock_layout_reads_back_what_it_draws() -> None:
    from cameras.simulator.clock import draw_clock

    millis = 1_780_000_123_456

    assert read_clock(image=draw_clock(millis=millis)) == millis
