"""The rate limits and every other cache read on a request path survive a Redis outage:
the cache is an optional service, and its outage must not turn requests into errors."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from django.test import Client

from cameras.models import Gateway, IngestBatch
from cameras.services.registry import token_issue
from ioc import geo
from ioc.ratelimit import at_limit, count, over_limit
from ioc.realtime.sequence import current_seqs
from services.models import ServiceRequest
from tests.support import OWN_WARD as OWN
from tests.support import example_device, example_place, free_port, gateway_code


@pytest.fixture
def redis_away(settings: Any) -> None:
    """The cache is Redis at a port where nothing listens (Redis stopped or unreachable).
    Set through pytest-django's ``settings``, as the tests' other settings are, so that
    all are undone together and in order."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }


def test_limits_let_calls_through_while_the_cache_is_away(redis_away: None, caplog: Any) -> None:
    assert over_limit("test:x", limit=1, window_seconds=1) is False
    assert at_limit("test:x", limit=1, window_seconds=1) is False
    count("test:x", window_seconds=1)  # does not raise
    assert "rate limit" in caplog.text


@pytest.mark.django_db
def test_ingest_is_accepted_with_the_per_token_limit_on_while_redis_is_away(
    demo_city: Any, settings: Any, django_capture_on_commit_callbacks: Any, redis_away: None
) -> None:
    settings.IOC_INGEST_REQUESTS_PER_SECOND = 20
    token = token_issue(owner=Gateway.objects.get(code=gateway_code(OWN)), actor_label="test")
    device = example_device(OWN)
    body = {
        "events": [
            {
                "id": "redis-away-1",
                "device": device.code,
                "type": "heartbeat",
                "ts": "2026-11-21T08:00:00+07:00",
                "data": {},
            }
        ]
    }
    with django_capture_on_commit_callbacks(execute=False):
        response = Client(raise_request_exception=False).post(
            "/api/v1/ingest/events",
            orjson.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Gateway {token}",
        )
    assert response.status_code == 202, response.content
    assert response.json() == {"accepted": 1, "duplicates": 0}
    assert IngestBatch.objects.count() == 1  # in the outbox: a worker or the sweeper takes it


@pytest.mark.django_db
def test_portal_filing_is_accepted_while_redis_is_away(
    demo_city: Any, settings: Any, redis_away: None
) -> None:
    settings.IOC_PORTAL_FILINGS_PER_HOUR = 10
    lat, lon = example_place(OWN)
    response = Client(raise_request_exception=False).post(
        "/feedback/new/",
        {
            "category": "rac-thai",
            "description": "Rác tồn đọng ở đầu ngõ 12",
            "latitude": str(lat),
            "longitude": str(lon),
        },
    )
    assert response.status_code == 302, response.content.decode()[:500]
    assert ServiceRequest.objects.count() == 1


@pytest.mark.django_db
def test_ward_lookup_works_while_redis_is_away(demo_city: Any, redis_away: None) -> None:
    geo.invalidate_ward_index()  # must not raise: the index is rebuilt here regardless
    geo._index_checked_at = float("-inf")  # due to ask the cache for the generation
    lat, lon = example_place(OWN)
    assert geo.ward_for_point(lon, lat) == OWN
    assert current_seqs(["city"]) == {"city": 0}
