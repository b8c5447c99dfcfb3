"""The embedded mode's launcher pieces: one event loop runs the ASGI server, the beat and
the in-process ingest.

Celery's own scheduler decides what is due; due tasks run eagerly (``task_always_eager``)
in a worker thread of the server's loop, so that what they publish reaches the
in-memory channel layer on the loop that owns it. Accepted ingest batches go to an
``ioc.inprocess`` runner on the same loop, which processes those accepted together in
one transaction instead of one per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable

import uvicorn
from asgiref.sync import sync_to_async
from celery.beat import Scheduler
from django.conf import settings

from cameras.services import ingest_batches_process
from cameras.services.ingest.outbox import IN_PROCESS_RUNNER
from ioc import inprocess
from ioc.celery import app as celery_app

logger = logging.getLogger(__name__)
SIMULATOR_PREFIX = "simulator:"


async def run_beat(max_interval: float = 1.0) -> None:
    """Run the beat schedule in-process until cancelled."""
    # Register every app's tasks first: the scheduler runs a task it knows eagerly, but
    # would hand an unknown name to the (absent) broker.
    await sync_to_async(celery_app.loader.import_default_modules, thread_sensitive=False)()
    scheduler = await sync_to_async(Scheduler, thread_sensitive=False)(app=celery_app, lazy=False)
    while True:
        # A tick runs the due tasks in a thread; a task that goes live (async_to_sync of
        # the channel layer) needs this loop to finish. Cancelled meanwhile (the server
        # stopping), the tick is let finish first: stopping the loop under it would leave
        # its thread waiting for ever, and the process with it.
        tick = asyncio.ensure_future(sync_to_async(scheduler.tick, thread_sensitive=False)())
        try:
            due_in = await asyncio.shield(tick)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await tick
            raise
        except Exception:  # a failing task must not stop the schedule
            logger.exception("embedded beat: a scheduled task failed")
            due_in = max_interval
        await asyncio.sleep(min(max(due_in, 0.05), max_interval))


def ingest_runner() -> inprocess.Runner:
    """The in-process runner of accepted ingest batches (``cameras.services.ingest``)."""
    return inprocess.Runner(
        IN_PROCESS_RUNNER, ingest_batches_process, gather=settings.IOC_INGEST_GATHER_SECONDS
    )


class SimulatorProcess:
    """``manage.py simulate`` as a child of the embedded server: its output relayed with a
    "simulator:" prefix, stopped with the server. Its failure never stops the server."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.process: subprocess.Popen[bytes] | None = None
        self.stopping = False

    def command(self) -> list[str]:
        """The child's command line (the same Python, the same settings)."""
        manage = str(settings.BASE_DIR / "manage.py")
        return [sys.executable, manage, "simulate", "--url", self.server_url]

    def start(self) -> None:
        """Start the child and the thread that relays its output."""
        if self.stopping:
            return
        # The child also watches this pid: should the server be killed outright, the
        # simulator stops by itself instead of lingering.
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "IOC_SIMULATOR_PARENT_PID": str(os.getpid())}
        try:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=str(settings.BASE_DIR),
            )
        except OSError as exc:
            self.say(f"could not start ({exc}); the server carries on without it")
            return
        threading.Thread(target=self._relay, name="simulator-output", daemon=True).start()

    @staticmethod
    def say(line: str) -> None:
        """One console line, with the prefix."""
        if not line.startswith(SIMULATOR_PREFIX):
            line = f"{SIMULATOR_PREFIX} {line}"
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def _relay(self) -> None:
        process = self.process
        if process is None or process.stdout is None:
            return
        for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            if line:
                self.say(line)
        status = process.wait()
        if status != 0 and not self.stopping:
            self.say(f"stopped (exit status {status}); the server carries on without it")

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the child and wait for it (killed if it does not go in time)."""
        self.stopping = True
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class EmbeddedServer(uvicorn.Server):
    """uvicorn that stops the companion processes as soon as it shuts down.

    On SIGTERM uvicorn shuts down and then re-raises the signal with the default handler,
    which ends this process before any ``finally`` block runs: shutdown is the last safe
    moment to stop the children.
    """

    def __init__(self, config: uvicorn.Config, on_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_shutdown = on_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await asyncio.to_thread(self.on_shutdown)
        await super().shutdown(sockets=sockets)


async def start_when_serving(server: uvicorn.Server, simulator: SimulatorProcess) -> None:
    """Start the simulator once the server accepts connections (never if it fails to)."""
    while not server.started:
        if server.should_exit:
            return
        await asyncio.sleep(0.1)
    await asyncio.to_thread(simulator.start)


async def serve(
    *, host: str, port: int, beat: bool = True, simulator_url: str | None = None
) -> None:
    """Serve the ASGI application, with the beat schedule beside it, until interrupted;
    with ``simulator_url``, run ``manage.py simulate`` against it as a child process."""
    config = uvicorn.Config(
        "ioc.asgi:application", host=host, port=port, lifespan="off", log_level="warning"
    )
    # Tasks run in-process here, and Celery logs a line for each one it runs or schedules:
    # with the simulator's feed that is dozens a second. Failures still log as errors.
    for name in ("celery.app.trace", "celery.beat"):
        logging.getLogger(name).setLevel(logging.WARNING)
    simulator = SimulatorProcess(simulator_url) if simulator_url else None
    server = EmbeddedServer(config, on_shutdown=simulator.stop if simulator else lambda: None)
    beat_task = asyncio.create_task(run_beat()) if beat else None
    ingest = asyncio.create_task(ingest_runner().run())
    simulator_task = (
        asyncio.create_task(start_when_serving(server, simulator)) if simulator else None
    )
    try:
        await server.serve()
    finally:
        if simulator_task is not None:
            simulator_task.cancel()
        if simulator is not None:
            simulator.stop()
        if beat_task is not None:
            beat_task.cancel()
        ingest.cancel()
