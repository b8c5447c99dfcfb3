"""Shared fixtures.

The suite runs twice (``make test``): first on the embedded settings (SQLite, in-memory
layer) without the ``integration`` tests, then on PostgreSQL and Redis with everything.
An integration test that finds no PostgreSQL or Redis skips on a developer's machine and
fails under ``CI=true``: CI must never be green because it skipped them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from ioc.demo.loader import load_demo
from ioc.models import User

DEMO_PASSWORD = "ioc-demo-2026"
# Browser tests: Debian's chromium, with the flags that keep it off the closed network.
CHROMIUM = os.environ.get("IOC_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(os.environ.get("IOC_SCREENSHOTS", "test-results"))

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


@pytest.fixture(autouse=True)
def _require_integration_stack(request: pytest.FixtureRequest) -> None:
    """Skip (or, on CI, fail) integration tests when PostgreSQL or Redis is missing."""
    if request.node.get_closest_marker("integration") is None:
        return
    reason = integration_stack_missing()
    if reason is None:
        return
    message = f"integration test needs PostgreSQL and Redis: {reason}"
    if ON_CI:
        pytest.fail(message + " (CI=true: integration tests must run)", pytrace=False)
    pytest.skip(message + "; run `make test`")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> None:
    """Load the demo city once into the test database; transaction tests roll back to it."""
    with django_db_blocker.unblock():
        load_demo(password=DEMO_PASSWORD)


@pytest.fixture
def demo_city(db: Any) -> None:
    """The demo city (already loaded by django_db_setup); request it to say you rely on it."""


@pytest.fixture
def demo_city_committed(transactional_db: Any) -> None:
    """The demo city, committed, for tests whose other processes must see it."""
    load_demo(password=DEMO_PASSWORD)


@pytest.fixture
def login() -> Iterator[Any]:
    """``login("official1")`` -> a test client logged in as that demo user."""

    def make(username: str) -> Client:
        client = Client()
        client.force_login(User.objects.get(username=username))
        return client

    yield make


# --- Real processes for the integration tests --------------------------------------------


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

    def stop_all(self) -> None:
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
        wait_for_other_db_sessions_to_end()


@pytest.fixture
def stack(demo_city_committed: Any, tmp_path: Any) -> Iterator[Stack]:
    """Start real processes on demand (see Stack); all stopped after the test."""
    processes = Stack(tmp_path)
    try:
        yield processes
    finally:
        processes.stop_all()


@pytest.fixture
def asgi_server(stack: Stack) -> str:
    """A real uvicorn process serving the platform on PostgreSQL and Redis; its URL."""
    return stack.server()


@pytest.fixture
def celery_worker_process(stack: Stack) -> Any:
    """A real Celery worker process on the Redis broker, consuming every queue."""
    return stack.worker()


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


def in_thread(function: Any, /, **kwargs: Any) -> Any:
    """Run ``function`` (a service) in a worker thread for asyncio code, closing that
    thread's database connection afterwards (an open one would block dropping the test DB)."""
    import asyncio

    from django.db import connections

    def call() -> Any:
        try:
            return function(**kwargs)
        finally:
            connections.close_all()

    return asyncio.to_thread(call)


def session_cookie(username: str) -> str:
    """A committed session for a demo user, as a Cookie header value."""
    client = Client()
    client.force_login(User.objects.get(username=username))
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's chromium under Playwright (Playwright's own browser download is not used)."""
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium"
        if ON_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        instance.close()
