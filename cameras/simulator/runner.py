"""Runs the simulated city: devices from the database, tokens for the demo gateways, the
device endpoints on uvicorn, the cameras' RTSP streams, and the push loop towards a
running server.

The database is read once at start (and written only to issue the demo gateways' tokens);
after that the simulator talks to the platform over HTTP only, like real devices do.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from django.db import close_old_connections, connections

from cameras.models import CameraDetail, Device, Gateway
from cameras.services.registry import token_issue
from cameras.simulator.app import DeviceEndpoints
from cameras.simulator.clips import ClipLibrary, default_directory
from cameras.simulator.model import City, DeviceSpec
from cameras.simulator.pusher import Pusher, PushStats
from cameras.simulator.rtsp import RtspServer
from cameras.video.ffmpeg import FFmpegMissing, ffmpeg_path
from ioc.demo.data import DEMO_GATEWAY_PREFIX

TICK_SECONDS = 0.25
FLUSH_SECONDS = 1.0
DRAIN_SECONDS = 10.0
ACTOR_LABEL = "simulate"


def demo_device_specs() -> list[DeviceSpec]:
    """The devices behind the demo gateways, as the simulator needs them."""
    rows = Device.objects.filter(
        gateway__code__startswith=DEMO_GATEWAY_PREFIX, gateway__is_active=True
    ).values_list("code", "kind", "gateway__code", "heartbeat_seconds")
    return [DeviceSpec(code, kind, gateway, heartbeat) for code, kind, gateway, heartbeat in rows]


def demo_camera_credentials() -> dict[str, tuple[str, str]]:
    """The demo cameras' stream credentials (username, password) by code."""
    rows = CameraDetail.objects.filter(
        device__gateway__code__startswith=DEMO_GATEWAY_PREFIX, device__gateway__is_active=True
    ).values_list("device__code", "username", "password")
    return {code: (username, password) for code, username, password in rows}


def gateway_token_issue(code: str) -> str:
    """A fresh token for one demo gateway (never for any other gateway)."""
    if not code.startswith(DEMO_GATEWAY_PREFIX):
        raise ValueError(f"{code} is not a demo gateway")
    try:
        gateway = Gateway.objects.select_related("ward").get(code=code)
        return token_issue(owner=gateway, actor_label=ACTOR_LABEL)
    finally:
        connections.close_all()  # this runs in a worker thread: leave no session behind


def demo_gateway_tokens(codes: set[str]) -> dict[str, str]:
    """Fresh tokens for the demo gateways among ``codes``."""
    gateways = Gateway.objects.select_related("ward").filter(
        code__startswith=DEMO_GATEWAY_PREFIX, code__in=codes, is_active=True
    )
    return {gw.code: token_issue(owner=gw, actor_label=ACTOR_LABEL) for gw in gateways}


def listen_address(text: str) -> tuple[str, int]:
    """``host:port`` or a URL like http://127.0.0.1:8100 -> (host, port)."""
    if "//" in text:
        parts = urlsplit(text)
        return parts.hostname or "127.0.0.1", parts.port or 80
    host, _sep, port = text.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


class ListenError(Exception):
    """The device endpoints cannot be served at the requested address."""


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, so that a busy port is a clear error before anything starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the simulator decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass
class Settings:
    """How one run behaves (from the command line)."""

    server_url: str
    listen: tuple[str, int]
    duration: float = 0.0
    summary_seconds: float = 30.0
    parent_pid: int | None = None
    rtsp_port: int = 0  # 0: no RTSP server


def summary_line(city: City, stats: PushStats, seconds: float, backlog: int) -> str:
    """One quiet status line for the console."""
    happenings = city.summary(city.last_tick)
    rate = stats.sent / seconds if seconds > 0 else 0.0
    line = (
        f"{stats.sent} events in {seconds:.0f} s ({rate:.1f}/s), {stats.duplicates} duplicates; "
        f"outages {happenings['outages']}, detections {happenings['detections']}, "
        f"faults {happenings['faults']}, episodes {happenings['episodes']}"
    )
    if stats.retries or backlog > 1000:
        line += f"; {stats.retries} retries, {backlog} waiting"
    if stats.rejected or stats.dropped:
        line += f"; {stats.rejected} refused, {stats.dropped} dropped"
    return line


async def run(
    city: City,
    tokens: dict[str, str],
    settings: Settings,
    *,
    sock: socket.socket,
    log: Callable[[str], None],
    reissue: Callable[[str], str] | None = None,
    rtsp: tuple[RtspServer, socket.socket] | None = None,
) -> PushStats:
    """Serve the device endpoints on ``sock`` (and the RTSP streams on ``rtsp``'s socket)
    and push events until stopped or until ``duration`` is over."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
    config = uvicorn.Config(
        DeviceEndpoints(city), lifespan="off", log_level="warning", access_log=False
    )
    server = QuietServer(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    streams = await rtsp[0].start(sock=rtsp[1]) if rtsp is not None else None
    pusher = Pusher(settings.server_url, tokens, reissue=reissue, log=log)
    started = time.monotonic()
    last_flush = last_summary = started
    previous = PushStats()
    finished = False  # the requested duration is over: deliver what is left
    try:
        while not stop.is_set():
            for gateway, event in city.tick(time.time()):
                pusher.add(gateway, event)
            now = time.monotonic()
            if now - last_flush >= FLUSH_SECONDS:
                pusher.flush()
                last_flush = now
            if now - last_summary >= settings.summary_seconds:
                log(
                    summary_line(
                        city, pusher.stats.window(previous), now - last_summary, pusher.backlog()
                    )
                )
                previous, last_summary = pusher.stats.copy(), now
            if settings.duration and now - started >= settings.duration:
                finished = True
                break
            if settings.parent_pid and os.getppid() != settings.parent_pid:
                break  # the server that started us is gone: do not linger
            if serving.done():
                log("the device endpoints stopped unexpectedly")
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK_SECONDS)
        # At the end of --duration, deliver what is left; when stopped, just stop.
        await pusher.drain(DRAIN_SECONDS if finished else 0.0)
    finally:
        server.should_exit = True
        if streams is not None:
            streams.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(serving, 5)
    elapsed = time.monotonic() - last_summary
    log("stopped; " + summary_line(city, pusher.stats.window(previous), elapsed, pusher.backlog()))
    return pusher.stats


def start_streams(
    *, city: City, port: int, log: Callable[[str], None]
) -> tuple[RtspServer, socket.socket] | None:
    """The cameras' RTSP server on 127.0.0.1:``port``, its clips encoding in the background
    (a stream asked for before its clip answers 503); None, said why, when it cannot run:
    the rest of the simulator does not need it."""
    try:
        ffmpeg = ffmpeg_path()
        sock = bind("127.0.0.1", port)
    except (FFmpegMissing, ListenError) as exc:
        log(f"no camera streams: {exc}")
        return None
    close_old_connections()
    credentials = demo_camera_credentials()
    connections.close_all()
    clips = ClipLibrary(directory=default_directory())
    waiting = len(clips.missing())
    clips.start(ffmpeg=ffmpeg)
    log(
        f"camera streams on rtsp://127.0.0.1:{port}/cameras/<code>/main|sub"
        + (f" (encoding {waiting} clips first, about a minute)" if waiting else "")
    )
    return RtspServer(clips=clips, credentials=credentials, city=city, ffmpeg=ffmpeg), sock


def start_city(*, rate: float, seed: int | None) -> tuple[City, dict[str, str]]:
    """Read the demo devices and issue their gateways' tokens (the only database writes)."""
    close_old_connections()
    specs = demo_device_specs()
    tokens = demo_gateway_tokens({spec.gateway for spec in specs})
    connections.close_all()
    return City(specs, rate=rate, seed=seed), tokens


def simulate(
    *,
    rate: float,
    seed: int | None,
    settings: Settings,
    log: Callable[[str], None],
) -> PushStats | None:
    """The whole ``manage.py simulate`` run; None when there is nothing to simulate.

    The port is taken before any token is issued: a second simulator that cannot start
    must not retire the tokens of the one already running.
    """
    sock = bind(*settings.listen)
    try:
        city, tokens = start_city(rate=rate, seed=seed)
        if not city.devices:
            log(f"no devices behind gateways named {DEMO_GATEWAY_PREFIX}*: load the demo first")
            return None
        host, port = settings.listen
        log(
            f"{len(city.devices)} devices behind {len(tokens)} gateways, ~{rate:g} events/s "
            f"to {settings.server_url}; device endpoints on http://{host}:{port}"
        )
        rtsp = (
            start_streams(city=city, port=settings.rtsp_port, log=log)
            if settings.rtsp_port
            else None
        )
        try:
            return asyncio.run(
                run(
                    city,
                    tokens,
                    settings,
                    sock=sock,
                    log=log,
                    reissue=gateway_token_issue,
                    rtsp=rtsp,
                )
            )
        finally:
            if rtsp is not None:
                rtsp[1].close()
    finally:
        sock.close()


def env_parent_pid(environ: Any = os.environ) -> int | None:
    """The process the simulator must not outlive (set by the embedded launcher)."""
    value = environ.get("IOC_SIMULATOR_PARENT_PID", "")
    return int(value) if value.isdigit() else None
