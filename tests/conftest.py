"""Shared fixtures; what they use is named once in tests/support/.

The suite runs twice (``make test``): first on the embedded settings (SQLite, in-memory
layer) without the ``integration`` tests, then on PostgreSQL and Redis with everything.
An integration test that finds no PostgreSQL or Redis skips on a developer's machine and
fails under ``CI=true``: CI must never be green because it skipped them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from ioc.demo.loader import load_demo
from ioc.geo import invalidate_ward_index
from ioc.models import User
from tests.support import (
    CHROMIUM,
    DEMO_PASSWORD,
    FLAGS,
    ON_CI,
    GroupListener,
    Stack,
    example_user,
    group_listener,
    integration_stack_missing,
    live_stack_start,
)


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
        load_demo(password=DEMO_PASSWORD, month=False)


@pytest.fixture
def demo_city(db: Any) -> None:
    """The demo city (already loaded by django_db_setup); request it to say you rely on it."""


@pytest.fixture
def demo_city_committed(transactional_db: Any) -> None:
    """The demo city, committed, for tests whose other processes must see it."""
    load_demo(password=DEMO_PASSWORD, month=False)


@pytest.fixture
def login() -> Iterator[Any]:
    """``login("official1")`` -> a test client logged in as that demo user."""

    def make(username: str) -> Client:
        client = Client()
        client.force_login(example_user(username))
        return client

    yield make


@pytest.fixture
def operator(demo_city: None) -> User:
    """The demo's city operator."""
    return example_user("operator")


@pytest.fixture
def listener() -> Iterator[GroupListener]:
    """Channels on the in-memory layer, listening as websocket consumers would."""
    with group_listener() as listening:
        yield listening


@pytest.fixture
def fresh_ward_index() -> Iterator[None]:
    """For tests that change wards inside rolled-back transactions: forget what the ward
    index saw."""
    yield
    invalidate_ward_index()


# --- Real processes for the integration tests --------------------------------------------


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


@pytest.fixture
def live_stack(stack: Stack) -> dict[str, Any]:
    """The server, a worker, two cameras and their gateways' tokens (see live_stack_start)."""
    return live_stack_start(stack)
