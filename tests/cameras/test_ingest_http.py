"""The ingest API over a real HTTP server (gunicorn, as in production): an answer given
before the body was read still reaches the client."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cameras.models import Gateway
from cameras.services.registry import token_issue
from tests.support import OWN_WARD as OWN
from tests.support import Stack, gateway_code

SIX_MB = 6 * 1024 * 1024
CHUNK = 256 * 1024


def paced_body() -> Iterator[bytes]:
    """6 MB arriving over a fraction of a second, as over a real network (on loopback the
    whole body would sit in the server's socket buffer before it answered)."""
    for _ in range(SIX_MB // CHUNK):
        time.sleep(0.005)
        yield b"x" * CHUNK


def post(url: str, token: str) -> tuple[int, dict[str, Any]] | str:
    """One request on its own connection: the status and JSON, or what went wrong."""
    try:
        with httpx.Client(timeout=30) as client:
            response = client.post(
                f"{url}/api/v1/ingest/events",
                content=paced_body(),
                headers={
                    "Authorization": f"Gateway {token}",
                    "Content-Type": "application/json",
                    "Content-Length": str(SIX_MB),
                },
            )
        return response.status_code, response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return repr(exc)


@pytest.mark.integration
def test_every_client_reads_the_413_of_a_body_over_5_mb(stack: Stack) -> None:
    url = stack.gunicorn()
    token = token_issue(owner=Gateway.objects.get(code=gateway_code(OWN)), actor_label="test")
    answers = [post(url, token) for _ in range(30)]
    readable = [a for a in answers if isinstance(a, tuple) and a[0] == 413 and a[1]["detail"]]
    assert len(readable) == 30, {str(a) for a in answers}
