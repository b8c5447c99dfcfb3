"""Real processes and sockets for the integration tests: the platform's server, workers and
beat (``Stack``), local HTTP servers standing in for cameras, websocket clients, and waiting.

The fixtures that hand these to tests (``stack``, ``asgi_server``, ...) are in
tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django.conf import settings
from django.test import Client

from tests.support.examples import example_user

ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def integration_stack_missing() -> str | None:
    """Why the integration stack is unusable here, or None when it is ready."""
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return "DATABASE_URL does not point at PostgreSQL"
    if not settings.REDIS_URL:
        return "REDIS_URL is not set"
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis at {settings.REDIS_URL} does not answer: {exc}"
    return None


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_env(**extra: str) -> dict[str, str]:
    """The environment for a server or worker process that shares this test database."""
    from django.db import connection

    db = connection.settings_dict
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = f"{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://{auth}{host}/{db['NAME']}",
        REDIS_URL=settings.REDIS_URL,
        IOC_VAR_DIR=str(settings.VAR_DIR),
        IOC_TILE_URL="http://127.0.0.1:9/{z}/{x}/{y}.png",  # unreachable: the offline case
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    """Poll ``predicate`` until true, or fail saying what did not happen."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Stack:
    """Real platform processes (ASGI server, Celery workers, beat) for one test; every
    process it started is stopped, and its database sessions gone, when the test ends."""

    def __init__(self, log_dir: Any) -> None:
        self.log_dir = log_dir
        self.processes: list[Any] = []

    def _start(self, name: str, args: list[str], **env: str) -> Any:
        """Start ``python <args>`` in its own process group, its output in the test's
        folder; ``env`` overrides ``process_env`` (another ``DATABASE_URL``, say)."""
        import subprocess
        import sys

        log_path = self.log_dir / f"{name}-{len(self.processes)}.log"
        log = open(log_path, "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, *args],
            env=process_env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a kill reaches its children
        )
        process.log_path = log_path
        process.log_file = log
        self.processes.append(process)
        return process

    def server(self, **env: str) -> str:
        """Start uvicorn on a free port; returns its base URL once /healthz answers."""
        import httpx

        port = free_port()
        args = ["-m", "uvicorn", "ioc.asgi:application", "--host", "127.0.0.1"]
        process = self._start("server", [*args, "--port", str(port), "--no-access-log"], **env)
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"server exited: {process.log_path.read_text()}")
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, 30, "the ASGI server to answer /healthz")
        return url

    def worker(self, queues: str = "default,ingest,commands", **env: str) -> Any:
        """Start a Celery worker (prefork, one child) and wait until it is ready."""
        process = self._start(
            "worker",
            [
                "-m",
                "celery",
                "-A",
                "ioc",
                "worker",
                "--queues",
                queues,
                "--concurrency",
                "1",
                "--loglevel",
                "INFO",
                "--hostname",
                f"test-{free_port()}@%h",
                "--without-mingle",
                "--without-gossip",
            ],
            **env,
        )
        wait_for(
            lambda: b"ready." in process.log_path.read_bytes() or process.poll() is not None,
            60,
            "the Celery worker to start",
        )
        assert process.poll() is None, process.log_path.read_text()
        return process

    def gunicorn(self, **env: str) -> str:
        """Start gunicorn (WSGI, as in production: one sync worker) on a free port; its
        base URL once it answers /healthz at all (200, or 503 with the database away)."""
        port = free_port()
        args = ["-m", "gunicorn", "ioc.wsgi:application", "--bind", f"127.0.0.1:{port}"]
        process = self._start("gunicorn", [*args, "--workers", "1"], **env)
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            import httpx

            if process.poll() is not None:
                raise AssertionError(f"gunicorn exited: {process.log_path.read_text()}")
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code in {200, 503}
            except httpx.HTTPError:
                return False

        wait_for(ready, 30, "gunicorn to answer /healthz")
        return url

    def beat(self, **env: str) -> Any:
        """Start Celery beat with its schedule file in the test's own folder."""
        schedule = str(self.log_dir / "celerybeat-schedule")
        return self._start(
            "beat", ["-m", "celery", "-A", "ioc", "beat", "--schedule", schedule], **env
        )

    def manage(self, *args: str, ready: bytes = b"", **env: str) -> Any:
        """Start ``manage.py <args>``; with ``ready``, wait until its output shows it."""
        process = self._start("manage", ["manage.py", *args], **env)
        if ready:
            wait_for(
                lambda: ready in process.log_path.read_bytes() or process.poll() is not None,
                30,
                f"manage.py {args[0]} to start",
            )
            assert process.poll() is None, process.log_path.read_text()
        return process

    @staticmethod
    def kill(process: Any) -> None:
        """SIGKILL a process and its children: no chance to finish or clean up."""
        import signal

        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop_all(self, *, shared_database: bool = True) -> None:
        """Stop every process; with ``shared_database`` (the test database of
        ``process_env``), wait until their sessions on it have ended."""
        import signal

        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(20)
            except Exception:  # a worker that ignores SIGTERM gets SIGKILL
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
            process.log_file.close()
        if shared_database:
            wait_for_other_db_sessions_to_end()


def wait_for_other_db_sessions_to_end() -> None:
    """Let a stopped process's PostgreSQL sessions end, so the test database can be dropped."""
    from django.db import connection

    others: list[Any] = []

    def alone() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid, application_name, client_port, state, left(query, 80)"
                " FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            others[:] = cursor.fetchall()
            return not others

    try:
        wait_for(alone, 15, "other sessions on the test database to end")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {others}") from None


def _closing_connection(function: Any, kwargs: dict[str, Any]) -> Any:
    """``function(**kwargs)`` as a call that closes its thread's database connection after
    (an open one would block dropping the test DB)."""
    from django.db import connections

    def call() -> Any:
        try:
            return function(**kwargs)
        finally:
            connections.close_all()

    return call


def in_thread(function: Any, /, **kwargs: Any) -> Any:
    """Run ``function`` (a service) in a worker thread for asyncio code, closing that
    thread's database connection afterwards (an open one would block dropping the test DB)."""
    import asyncio

    return asyncio.to_thread(_closing_connection(function, kwargs))


def outside_loop(function: Any, /, **kwargs: Any) -> Any:
    """Run ``function`` (an ORM read) in a thread of its own and return its result: for a
    test whose thread runs an event loop (Playwright's), where Django refuses ORM calls;
    the thread's connection is closed afterwards."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_closing_connection(function, kwargs)).result()


def session_cookie(username: str) -> str:
    """A committed session for a demo user, as a Cookie header value."""
    client = Client()
    client.force_login(example_user(username))
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


@contextlib.contextmanager
def serve_http(
    handler: type[BaseHTTPRequestHandler],
    server_class: type[ThreadingHTTPServer] = ThreadingHTTPServer,
) -> Iterator[Any]:
    """A local HTTP server (cameras, controllers) in a thread; yields it, stopped afterwards.

    Its base URL is ``local_url(server)``.
    """
    server = server_class(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def local_url(server: Any) -> str:
    """The base URL of a server started by ``serve_http``."""
    return f"http://127.0.0.1:{server.server_address[1]}"


# --- Websocket clients of /ws/ops/ ---------------------------------------------------------


async def ws_open(
    base_url: str, cookie: str | None, path: str = "/ws/ops/", origin: str | None = None
) -> Any:
    """A websocket to the server at ``base_url`` with a session cookie (or none), sent from
    ``origin`` (the server's own by default)."""
    from websockets.asyncio.client import connect

    headers = {"Origin": origin or base_url}
    if cookie:
        headers["Cookie"] = cookie
    url = base_url.replace("http://", "ws://") + path
    return await connect(url, additional_headers=headers, open_timeout=10)


async def ws_receive(ws: Any, timeout: float = 10) -> dict[str, Any]:
    """The next message on a websocket, as JSON."""
    return dict(json.loads(await asyncio.wait_for(ws.recv(), timeout)))


async def ws_next_event(ws: Any, timeout: float = 10) -> dict[str, Any]:
    """The next message that is not a heartbeat."""
    while True:
        message = await ws_receive(ws, timeout)
        if message["type"] != "heartbeat":
            return message
