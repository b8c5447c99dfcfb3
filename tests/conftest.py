"""Shared fixtures.

The suite runs twice (``make test``): first on the embedded settings (SQLite, in-memory
layer) without the ``integration`` tests, then on PostgreSQL and Redis with everything.
An integration test that finds no PostgreSQL or Redis skips on a developer's machine and
fails under ``CI=true``: CI must never be green because it skipped them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from ioc.demo.loader import load_demo
from ioc.models import User

DEMO_PASSWORD = "ioc-demo-2026"
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
