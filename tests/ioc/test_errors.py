"""A database that is away answers 503 with Retry-After (JSON for programs, a page for
people), and any other failure a 500 page without a stack trace: never Django's bare
HTML 500 to a device or a browser."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest import mock

import httpx
import pytest
from django.db import OperationalError
from django.test import Client

from tests.support import Stack, free_port

SESSION_COOKIE = "sessionid=" + "s" * 32  # a well-formed key: the session is looked up


@pytest.fixture
def database_away() -> Iterator[None]:
    """Every session read fails as it does when PostgreSQL refuses connections."""
    refused = OperationalError("connection to server at 127.0.0.1 failed: Connection refused")
    with mock.patch("django.contrib.sessions.backends.db.SessionStore.load", side_effect=refused):
        yield


def client() -> Client:
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = "s" * 32  # so the session is read
    return client


def assert_json_503(response: Any) -> None:
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"].isdigit()
    assert response.json()["detail"]


@pytest.mark.django_db
def test_staff_api_answers_json_503_when_the_database_is_away(database_away: None) -> None:
    assert_json_503(client().get("/api/v1/alerts/"))


@pytest.mark.django_db
def test_staff_page_shows_the_unavailable_page_when_the_database_is_away(
    database_away: None,
) -> None:
    response = client().get("/ops/")
    assert response.status_code == 503 and response["Retry-After"].isdigit()
    page = response.content.decode()
    assert 'data-testid="unavailable"' in page and "Traceback" not in page


@pytest.mark.django_db
def test_ingest_token_lookup_answers_json_503_when_the_database_is_away() -> None:
    with mock.patch(
        "cameras.selectors.principal_for_authorization",
        side_effect=OperationalError("the database system is starting up"),
    ):
        response = Client(raise_request_exception=False).post(
            "/api/v1/ingest/events",
            b'{"events": []}',
            content_type="application/json",
            HTTP_AUTHORIZATION="Device abc",
        )
    assert_json_503(response)


@pytest.mark.django_db
def test_a_bug_shows_the_error_page_without_a_stack_trace() -> None:
    with mock.patch("services.views.selectors.public_wards", side_effect=ZeroDivisionError):
        response = Client(raise_request_exception=False).get("/")
    assert response.status_code == 500
    page = response.content.decode()
    assert 'data-testid="server-error"' in page and "ZeroDivisionError" not in page


def test_real_server_answers_503_with_its_database_unreachable(tmp_path: Any) -> None:
    """gunicorn pointed at a port where no PostgreSQL listens: every door says 503."""
    stack = Stack(tmp_path)
    try:
        url = stack.gunicorn(
            DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/ioc",
            REDIS_URL="",
            IOC_VAR_DIR=str(tmp_path),
            DJANGO_SECRET_KEY="x" * 50,
        )
        ingest = httpx.post(
            f"{url}/api/v1/ingest/events",
            json={"events": []},
            headers={"Authorization": "Device some-token"},
        )
        assert ingest.status_code == 503 and ingest.headers["Retry-After"].isdigit()
        assert ingest.json()["detail"]
        api = httpx.get(f"{url}/api/v1/wards/", headers={"Cookie": SESSION_COOKIE})
        assert api.status_code == 503 and api.json()["detail"]
        for page in ("/ops/", "/"):
            response = httpx.get(f"{url}{page}", headers={"Cookie": SESSION_COOKIE})
            assert response.status_code == 503, page
            assert 'data-testid="unavailable"' in response.text, page
    finally:
        stack.stop_all(shared_database=False)
