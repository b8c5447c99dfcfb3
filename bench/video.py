"""Live video on the production-shaped stack, watched in Debian's chromium: the camera
wall's first frames, glass-to-glass latency, the relay's CPU per stream, and what is left
running once nobody watches.

Loads the demo city (without its month) into a scratch PostgreSQL database, serves its
cameras from the simulator's RTSP server (in this process, on a free port: the sub clips
encoded once under ``var/simulator-clips/``), starts gunicorn (the pages, 2 processes)
and uvicorn (the websockets and the relay, ``IOC_WS_PORT``) as ``make serve`` does, and,
logged in as the city operator in chromium under Playwright:

1. opens the 3x3 camera wall of 9 cameras no feed is running for (cold) and times, from
   navigation start, each tile's first frame (``requestVideoFrameCallback``: the frame's
   expected display time); two such walls of different cameras, each opened again while
   its feeds run (warm), and the first once more after every feed has stopped; with where
   the time goes (page, websocket, FFmpeg's RTSP, first bytes, first frame);
2. plays a camera pointed at the simulator's ``/bench/clock`` stream and, on a canvas,
   reads the time drawn in the frames shown (``cameras.simulator.clock``) against the
   wall clock: glass-to-glass latency;
3. measures the CPU of the relay's FFmpeg remuxes (``-c copy``) while 9 streams are
   watched, and of a transcode of a sub and of a main stream (libx264 veryfast
   zerolatency, built here) for comparison, as % of one core per stream;
4. closes the browser and, 90 s later (the relay lingers 60 s), counts the relay's FFmpeg
   processes and the RTSP sessions still open at the cameras.

    .venv/bin/python bench/video.py [--samples 30] [--cpu-seconds 10] [--idle-wait 90]

Environment: BENCH_VIDEO_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/ioc_bench_video, dropped and recreated, and dropped
again at the end), BENCH_REDIS_URL (default redis://127.0.0.1:6379/5), IOC_CHROMIUM
(default /usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import drop_database, free_port, recreate_database  # noqa: E402

DATABASE_URL = os.environ.get(
    "BENCH_VIDEO_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ioc_bench_video"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
CHROMIUM = os.environ.get("IOC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Nine videos on one screen: none may be throttled as a background media element.
    "--autoplay-policy=no-user-gesture-required",
]
PASSWORD = "ioc-demo-2026"  # noqa: S105 (the demo's own, loaded by the bench)
GRID = 3
TILES = GRID * GRID
WALLS = 2  # of different cameras
# The targets of issue 15.
FIRST_FRAME_TARGET_S = 2.0
LATENCY_TARGET_S = 1.5
REMUX_TARGET_PERCENT = 2.0
# As ``make serve`` runs them (deploy/supervisord.conf), on the bench's ports.
GUNICORN = ["-m", "gunicorn", "ioc.wsgi:application", "--workers", "2", "--log-level", "warning"]
UVICORN = ["-m", "uvicorn", "ioc.asgi:application", "--host", "127.0.0.1", "--no-access-log"]
UVICORN += ["--lifespan", "off"]

# Run in every page before its own scripts: when each relay websocket opens and first
# brings text and bytes, and when each tile's video shows its first frame.
TRACE_SCRIPT = """
(() => {
  const bench = (window.__bench = { sockets: [], frames: {} });
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      const match = /\\/video\\/cameras\\/([^/]+)\\//.exec(String(url));
      if (!match) return;
      const entry = { code: decodeURIComponent(match[1]), created: performance.now() };
      bench.sockets.push(entry);
      this.addEventListener("open", () => { entry.open = performance.now(); });
      this.addEventListener("message", (event) => {
        const key = typeof event.data === "string" ? "text" : "bytes";
        if (entry[key] === undefined) entry[key] = performance.now();
      });
    }
  };
  document.addEventListener("DOMContentLoaded", () => {
    bench.domReady = performance.now();
    for (const video of document.querySelectorAll("video[data-video]")) {
      const tile = video.closest("[data-tile]");
      const entry = (bench.frames[tile ? tile.dataset.tile : "page"] = {});
      video.addEventListener("loadeddata", () => { entry.loadeddata ??= performance.now(); });
      video.requestVideoFrameCallback((now, frame) => {
        entry.frame = frame.expectedDisplayTime;
      });
    }
  });
})();
"""

# The time drawn in the clock stream's frames (cameras.simulator.clock: 48 blocks of
# 40x40 pixels, most significant bit first, white is 1) against the wall clock when the
# frame is shown.
CLOCK_SCRIPT = """
async ({ count, spacing }) => {
  const video = document.querySelector("video[data-video]");
  const canvas = document.createElement("canvas");
  canvas.width = 640;
  canvas.height = 360;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const samples = [];
  let last = -Infinity;
  return await new Promise((resolve) => {
    const step = (now, frame) => {
      if (now - last >= spacing && video.videoWidth === 640) {
        last = now;
        context.drawImage(video, 0, 0, 640, 360);
        const pixels = context.getImageData(0, 0, 640, 120).data;
        let drawn = 0;
        for (let bit = 0; bit < 48; bit++) {
          const x = (bit % 16) * 40 + 20, y = Math.floor(bit / 16) * 40 + 20;
          const at = (y * 640 + x) * 4;
          const luma = 0.299 * pixels[at] + 0.587 * pixels[at + 1] + 0.114 * pixels[at + 2];
          drawn = drawn * 2 + (luma > 128 ? 1 : 0);
        }
        samples.push({ shown: performance.timeOrigin + frame.expectedDisplayTime, drawn });
      }
      if (samples.length >= count) resolve(samples);
      else video.requestVideoFrameCallback(step);
    };
    video.requestVideoFrameCallback(step);
  });
}
"""


def nearest_rank(samples: list[float], q: float) -> float:
    """The smallest sample with at least ``q`` of the samples at or below it."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def seconds_summary(samples: list[float]) -> str:
    """p50 / p95 / max in seconds."""
    if not samples:
        return "no samples"
    return (
        f"p50 {nearest_rank(samples, 0.5):5.2f} s   p95 {nearest_rank(samples, 0.95):5.2f} s"
        f"   max {max(samples):5.2f} s"
    )


def verdict(met: bool) -> str:
    return "met" if met else "NOT MET"


# --- The cameras ---------------------------------------------------------------------


@dataclass
class Cameras:
    """The simulator's RTSP server in a thread of this process, and what it was asked."""

    server: Any
    port: int
    loop: asyncio.AbstractEventLoop
    listening: Any
    thread: threading.Thread

    def stop(self) -> None:
        # Streams cut mid-read are the point of stopping: asyncio need not log each one.
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)

        async def shutdown() -> None:
            self.listening.close()
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def start_cameras(*, port: int, credentials: dict[str, tuple[str, str]], clips: Any) -> Cameras:
    """Serve the demo cameras (and ``/bench/clock``) as ``manage.py simulate`` does,
    noting when each camera was asked for what (RTSP method, wall-clock time)."""
    from cameras.simulator.rtsp import RtspServer, parse_target
    from cameras.video.ffmpeg import ffmpeg_path

    class TracedRtspServer(RtspServer):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.asked: list[tuple[float, str, str]] = []

        def respond(self, request: Any, session: Any) -> Any:
            target = parse_target(request.url) or session.target
            self.asked.append((time.time(), request.method, target.code if target else ""))
            return super().respond(request, session)

    server = TracedRtspServer(clips=clips, credentials=credentials, ffmpeg=ffmpeg_path())
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="rtsp", daemon=True)
    thread.start()
    listening = asyncio.run_coroutine_threadsafe(server.start(port=port), loop).result(5)
    return Cameras(server, port, loop, listening, thread)


def prepare_clips(codes: list[str], main_code: str) -> tuple[Any, float]:
    """The clips the bench plays (every scene's sub, one main), encoded once under
    ``var/simulator-clips/`` like the simulator's own; the seconds spent encoding."""
    from cameras.simulator.clips import (
        CLIP_VERSION,
        ClipLibrary,
        encode_clip,
        scene_of,
        stream_profile,
    )
    from cameras.video.ffmpeg import ffmpeg_path

    library = ClipLibrary(directory=ROOT / "var" / "simulator-clips" / CLIP_VERSION)
    library.directory.mkdir(parents=True, exist_ok=True)
    wanted = {(scene_of(code=code), stream_profile(code=code, stream="sub")) for code in codes}
    wanted.add((scene_of(code=main_code), stream_profile(code=main_code, stream="main")))
    began = time.monotonic()
    for scene, profile in sorted(wanted, key=lambda item: (item[1].name, item[0])):
        output = library.path(scene=scene, profile=profile)
        if not output.exists():
            encode_clip(ffmpeg=ffmpeg_path(), scene=scene, profile=profile, output=output)
    return library, time.monotonic() - began


# --- The platform's processes --------------------------------------------------------


def start(args: list[str], env: dict[str, str], log_dir: str, name: str) -> subprocess.Popen:
    """A platform process in its own process group, its output in a log file."""
    log = open(Path(log_dir) / f"{name}.log", "wb")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_healthy(port: int) -> None:
    import httpx

    for _ in range(150):
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing answers /healthz on port {port}")


def relay_ffmpegs(relay_pid: int) -> list[Any]:
    """The relay's FFmpeg processes (the websocket server's children)."""
    import psutil

    found = []
    for child in psutil.Process(relay_pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "ffmpeg" in Path(child.cmdline()[0]).name:
                found.append(child)
    return found


def cpu_percent(processes: list[Any], seconds: float) -> list[float]:
    """Each process's CPU over the next ``seconds``, as % of one core."""
    import psutil

    def used(process: Any) -> float | None:
        try:
            times = process.cpu_times()
        except psutil.Error:
            return None
        return float(times.user + times.system)

    before = [used(process) for process in processes]
    began = time.monotonic()
    time.sleep(seconds)
    after = [used(process) for process in processes]
    elapsed = time.monotonic() - began
    return [
        100 * (b - a) / elapsed
        for a, b in zip(before, after, strict=True)
        if a is not None and b is not None
    ]


def transcode_command(ffmpeg: str, url: str) -> list[str]:
    """The same pull as the relay's, transcoded instead of copied (for comparison only:
    the relay never transcodes)."""
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp",
        "-i", url, "-map", "0:v:0",
        "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
        "-f", "mpegts", "pipe:1",
    ]  # fmt: skip


# --- The browser -----------------------------------------------------------------------


@dataclass
class Wall:
    """One opening of the wall: each tile's first frame and the steps before it, in
    seconds from navigation start."""

    label: str
    first_frames: dict[str, float] = field(default_factory=dict)
    steps: dict[str, list[float]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


def open_wall(page: Any, base: str, codes: list[str], label: str, asked: list[Any]) -> Wall:
    """Navigate to the wall of ``codes`` and wait for every tile's first frame."""
    began = time.time()
    page.goto(f"{base}/ops/cameras/wall/?grid={GRID}&codes={','.join(codes)}")
    with contextlib.suppress(Exception):
        page.wait_for_function(
            "(codes) => codes.every((code) => window.__bench.frames[code]?.frame !== undefined)",
            arg=codes,
            timeout=20000,
        )
    found = page.evaluate(
        """() => {
            const navigation = performance.getEntriesByType("navigation")[0];
            const tokens = performance.getEntriesByType("resource")
                .filter((entry) => entry.name.includes("/stream?quality="))
                .map((entry) => ({
                    code: decodeURIComponent(entry.name.split("/devices/")[1].split("/")[0]),
                    start: entry.startTime, end: entry.responseEnd,
                }));
            return {
                origin: performance.timeOrigin, html: navigation.responseEnd,
                domReady: window.__bench.domReady, tokens, sockets: window.__bench.sockets,
                frames: window.__bench.frames,
            };
        }"""
    )
    wall = Wall(label)
    origin = found["origin"] / 1000  # epoch seconds of navigation start

    def first(entries: list[dict[str, Any]], code: str, key: str) -> float | None:
        values = [e[key] for e in entries if e.get("code") == code and e.get(key) is not None]
        return min(values) / 1000 if values else None

    def asked_at(code: str, method: str) -> float | None:
        times = [at for at, m, c in asked if c == code and m == method and at >= began]
        return min(times) - origin if times else None

    steps: dict[str, list[float]] = {}

    def note(name: str, value: float | None) -> None:
        if value is not None:
            steps.setdefault(name, []).append(value)

    for code in codes:
        frame = (found["frames"].get(code) or {}).get("frame")
        if frame is None:
            wall.missing.append(code)
            continue
        wall.first_frames[code] = frame / 1000
        note("page received", found["html"] / 1000)
        note("page ready (DOMContentLoaded)", found["domReady"] / 1000)
        note("stream address asked", first(found["tokens"], code, "start"))
        note("stream address received", first(found["tokens"], code, "end"))
        note("websocket opened", first(found["sockets"], code, "created"))
        note("websocket accepted", first(found["sockets"], code, "open"))
        note("FFmpeg connected (RTSP OPTIONS)", asked_at(code, "OPTIONS"))
        note("FFmpeg's RTSP PLAY at the camera", asked_at(code, "PLAY"))
        note("first bytes in the browser", first(found["sockets"], code, "bytes"))
        note("first frame shown", frame / 1000)
    wall.steps = steps
    return wall


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def log_in(browser: Any, base: str) -> Any:
    """A browser context signed in as the city operator, every page traced."""
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    context.add_init_script(TRACE_SCRIPT)
    page = context.new_page()
    page.goto(f"{base}/accounts/login/?next=/ops/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("form.form button[type=submit]")
    page.wait_for_url(f"{base}/ops/")
    return context


def glass_to_glass(context: Any, base: str, code: str, count: int) -> list[float]:
    """Latency of the clock camera's frames, shown time minus drawn time, in seconds."""
    page = context.new_page()
    page.goto(f"{base}/ops/cameras/wall/?grid=2&codes={code}")
    page.wait_for_function(
        "(code) => window.__bench.frames[code]?.frame !== undefined", arg=code, timeout=20000
    )
    page.wait_for_timeout(3000)  # the player settles (its latency chasing) first
    samples = page.evaluate(CLOCK_SCRIPT, {"count": count, "spacing": 300})
    page.close()
    now_ms = time.time() * 1000
    return [
        (sample["shown"] - sample["drawn"]) / 1000
        for sample in samples
        if abs(now_ms - sample["drawn"]) < 600_000  # a misread frame is no sample
    ]


# --- The run ---------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30, help="glass-to-glass samples")
    parser.add_argument("--cpu-seconds", type=float, default=10.0)
    parser.add_argument("--idle-wait", type=float, default=90.0)
    options = parser.parse_args()

    log_dir = tempfile.mkdtemp(prefix="ioc-bench-video-")
    rtsp_port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "IOC_CHANNEL_PREFIX": "bench-video",
        "IOC_VAR_DIR": log_dir,
        "IOC_SIMULATOR_RTSP_PORT": str(rtsp_port),
        "IOC_SIMULATOR_URL": f"http://127.0.0.1:{free_port()}",  # no snapshots: not timed
        "IOC_DEMO_PASSWORD": PASSWORD,
        "IOC_LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "ioc.settings",
        "PYTHONUNBUFFERED": "1",
    }
    began = time.monotonic()
    recreate_database(DATABASE_URL)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [sys.executable, "manage.py", "load_demo", "--no-month"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    os.environ.update(env)
    import django
    import psutil

    django.setup()
    from django.db import connections

    from cameras.models import CameraDetail
    from cameras.simulator.runner import demo_camera_credentials
    from cameras.video.ffmpeg import ffmpeg_path
    from cameras.video.sources import stream_source

    codes = list(
        CameraDetail.objects.filter(stream_sub_url__startswith="rtsp://")
        .order_by("device__code")
        .values_list("device__code", flat=True)[: WALLS * TILES + 1]
    )
    clock_code, walls = codes[-1], [codes[n * TILES : (n + 1) * TILES] for n in range(WALLS)]
    clock_url = f"rtsp://127.0.0.1:{rtsp_port}/bench/clock"
    CameraDetail.objects.filter(device__code=clock_code).update(
        stream_main_url=clock_url, stream_sub_url=clock_url
    )
    library, encoding = prepare_clips(codes[:-1], walls[0][0])
    credentials = demo_camera_credentials()
    transcoded = {q: stream_source(code=walls[0][0], quality=q).url for q in ("sub", "main")}
    connections.close_all()  # nothing below touches the database: the browser runs now

    cameras = start_cameras(port=rtsp_port, credentials=credentials, clips=library)
    http_port, ws_port = free_port(), free_port()
    env["IOC_WS_PORT"] = str(ws_port)
    processes = [
        start([*GUNICORN, "--bind", f"127.0.0.1:{http_port}"], env, log_dir, "web"),
        start([*UVICORN, "--port", str(ws_port)], env, log_dir, "ws"),
    ]
    relay_pid = processes[1].pid
    transcodes: list[subprocess.Popen] = []
    try:
        wait_healthy(http_port)
        wait_healthy(ws_port)
        setup = time.monotonic() - began
        base = f"http://127.0.0.1:{http_port}"
        with chromium() as browser:
            context = log_in(browser, base)
            asked = cameras.server.asked
            page = context.new_page()
            cold = [open_wall(page, base, walls[0], "cold 1", asked)]
            warm = [open_wall(page, base, walls[0], "warm 1", asked)]
            relay_cpu = cpu_percent(relay_ffmpegs(relay_pid), options.cpu_seconds)
            cold.append(open_wall(page, base, walls[1], "cold 2", asked))
            warm.append(open_wall(page, base, walls[1], "warm 2", asked))
            latencies = glass_to_glass(context, base, clock_code, options.samples)
            watched_at_close = len(relay_ffmpegs(relay_pid))
            context.close()
            left_since = time.monotonic()
            # While the relay lingers: the transcodes, for comparison.
            ffmpeg = ffmpeg_path()
            transcodes = [
                subprocess.Popen(
                    transcode_command(ffmpeg, url),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
                for url in transcoded.values()
            ]
            time.sleep(3)  # connected and encoding
            transcode_cpu = cpu_percent(
                [psutil.Process(process.pid) for process in transcodes], options.cpu_seconds
            )
            for process in transcodes:
                process.terminate()
                process.wait(10)
            time.sleep(max(0.0, options.idle_wait - (time.monotonic() - left_since)))
            left_ffmpeg = len(relay_ffmpegs(relay_pid))
            left_sessions = cameras.server.clients
            # Every feed has stopped: the first wall is as cold again as when first opened.
            context = log_in(browser, base)
            page = context.new_page()
            cold.append(open_wall(page, base, walls[0], "cold 1b", asked))
            context.close()
    finally:
        for process in transcodes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        cameras.stop()

    report(
        setup=setup,
        encoding=encoding,
        log_dir=log_dir,
        cold=cold,
        warm=warm,
        latencies=latencies,
        relay_cpu=relay_cpu,
        transcode_cpu=dict(zip(transcoded, transcode_cpu, strict=False)),
        watched=watched_at_close,
        left=(left_ffmpeg, left_sessions),
        options=options,
    )
    drop_database(DATABASE_URL)


def row(label: str, value: str) -> None:
    print(f"  {label + ':':<46}{value}")


def report(
    *,
    setup: float,
    encoding: float,
    log_dir: str,
    cold: list[Wall],
    warm: list[Wall],
    latencies: list[float],
    relay_cpu: list[float],
    transcode_cpu: dict[str, float],
    watched: int,
    left: tuple[int, int],
    options: argparse.Namespace,
) -> None:
    """Print the four figures, each with its target."""
    print(f"setup {setup:.1f} s (clips encoded {encoding:.1f} s); process logs in {log_dir}")
    cold_frames = [s for wall in cold for s in wall.first_frames.values()]
    warm_frames = [s for wall in warm for s in wall.first_frames.values()]
    missing = sum(len(wall.missing) for wall in [*cold, *warm])
    cold_p95 = nearest_rank(cold_frames, 0.95) if cold_frames else math.inf
    print(
        f"1. camera wall {GRID}x{GRID}: each tile's first frame from navigation start "
        f"(chromium, requestVideoFrameCallback); target p95 <= {FIRST_FRAME_TARGET_S:.0f} s"
    )
    met = cold_p95 <= FIRST_FRAME_TARGET_S and not missing
    row(
        f"cold, no feed running ({len(cold)} walls, {len(cold_frames)} tiles)",
        f"{seconds_summary(cold_frames)}   {verdict(met)}",
    )
    row(
        f"warm, feeds running ({len(warm)} walls, {len(warm_frames)} tiles)",
        seconds_summary(warm_frames),
    )
    row("tiles without a frame in 20 s", str(missing))
    print("   where the time goes (median over the tiles, seconds from navigation start):")
    names = list(dict.fromkeys(name for wall in [*cold, *warm] for name in wall.steps))
    print(f"  {'':<40}" + "".join(f"{wall.label:>9}" for wall in [*cold, *warm]))
    for name in names:
        cells = [
            f"{statistics.median(wall.steps[name]):9.2f}" if wall.steps.get(name) else f"{'-':>9}"
            for wall in [*cold, *warm]
        ]
        print(f"  {name:<40}" + "".join(cells))

    print(
        f"2. glass-to-glass: /bench/clock drawn -> shown in chromium (token, relay, websocket, "
        f"mpegts.js); target <= {LATENCY_TARGET_S} s"
    )
    latency_p95 = nearest_rank(latencies, 0.95) if latencies else math.inf
    if latencies:
        row(
            f"{len(latencies)} samples",
            f"p50 {1000 * nearest_rank(latencies, 0.5):4.0f} ms   p95 {1000 * latency_p95:4.0f} ms"
            f"   {verdict(len(latencies) >= 20 and latency_p95 <= LATENCY_TARGET_S)}"
            f"   (min {1000 * min(latencies):.0f} ms, max {1000 * max(latencies):.0f} ms)",
        )
    else:
        row("no samples", verdict(False))
    print(
        f"3. server CPU per watched stream over {options.cpu_seconds:.0f} s, % of one core; "
        f"target remux <= {REMUX_TARGET_PERCENT:.0f}%"
    )
    remux = statistics.mean(relay_cpu) if relay_cpu else math.inf
    row(
        f"relay remux (-c copy), {len(relay_cpu)} sub streams",
        f"{remux:5.2f}% each (all: {sum(relay_cpu):.1f}%)   "
        f"{verdict(remux <= REMUX_TARGET_PERCENT)}",
    )
    for quality, percent in transcode_cpu.items():
        row(
            f"for comparison: transcode of a {quality} stream",
            f"{percent:5.1f}% (libx264 veryfast)",
        )

    print(
        f"4. left {options.idle_wait:.0f} s after the last viewer (the relay lingers 60 s); "
        "target 0"
    )
    row("relay FFmpeg processes while watched", str(watched))
    processes, sessions = left
    row(
        "relay FFmpeg processes / camera sessions left",
        f"{processes} / {sessions}   {verdict(processes == 0 and sessions == 0)}",
    )


if __name__ == "__main__":
    main()
