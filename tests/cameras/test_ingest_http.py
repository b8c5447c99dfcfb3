"""The ingest API over the real HTTP servers (gunicorn for HTTP in production, uvicorn for
`make run` and the websockets): an answer given before the body was read still reaches
the client, whether the body announced its length or came in chunks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from django.utils import timezone

from cameras.models import Device, Gateway
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


def post(url: str, token: str, *, chunked: bool) -> tuple[int, dict[str, Any]] | str:
    """One request on its own connection: the status and JSON, or what went wrong. With
    ``chunked`` the body has no Content-Length (the server learns its size by reading it)."""
    headers = {"Authorization": f"Gateway {token}", "Content-Type": "application/json"}
    if not chunked:
        headers["Content-Length"] = str(SIX_MB)
    try:
        with httpx.Client(timeout=30) as client:
            response = client.post(
                f"{url}/api/v1/ingest/events", content=paced_body(), headers=headers
            )
        return response.status_code, response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return repr(exc)


@pytest.mark.integration
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("server", ["gunicorn", "server"], ids=["gunicorn", "uvicorn"])
def test_every_client_reads_the_413_of_a_body_over_5_mb(
    stack: Stack, server: str, chunked: bool
) -> None:
    url = getattr(stack, server)()
    token = token_issue(owner=Gateway.objects.get(code=gateway_code(OWN)), actor_label="test")
    answers = [post(url, token, chunked=chunked) for _ in range(30)]
    readable = [a for a in answers if isinstance(a, tuple) and a[0] == 413 and a[1]["detail"]]
    assert len(readable) == 30, {str(a) for a in answers}


def chunks(body: bytes) -> Iterator[bytes]:
    """The body as a streaming client sends it: chunked, with no Content-Length."""
    for start in range(0, len(body), 4096):
        yield body[start : start + 4096]


@pytest.mark.integration
@pytest.mark.parametrize("server", ["gunicorn", "server"], ids=["gunicorn", "uvicorn"])
def test_a_chunked_batch_is_read_to_its_end_and_accepted(stack: Stack, server: str) -> None:
    url = getattr(stack, server)()
    gateway = Gateway.objects.get(code=gateway_code(OWN))
    token = token_issue(owner=gateway, actor_label="test")
    device = Device.objects.filter(gateway=gateway).values_list("code", flat=True)[0]
    now = timezone.now()
    events = [
        {
            "id": f"chunked-{n}",
            "device": device,
            "ts": (now - timedelta(seconds=n)).isoformat(),
            "type": "reading",
            "data": {"pm25": float(n)},
        }
        for n in range(200)
    ]
    response = httpx.post(
        f"{url}/api/v1/ingest/events",
        content=chunks(orjson.dumps({"events": events})),
        headers={"Authorization": f"Gateway {token}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 200, "duplicates": 0}


@pytest.mark.integration
def test_a_chunked_body_over_every_limit_is_refused_once_the_limit_is_read(stack: Stack) -> None:
    url = stack.gunicorn(IOC_PORTAL_MAX_UPLOAD_BYTES=str(SIX_MB))
    token = token_issue(owner=Gateway.objects.get(code=gateway_code(OWN)), actor_label="test")
    sent = 0

    def endless() -> Iterator[bytes]:
        nonlocal sent
        while sent < 10 * SIX_MB:
            sent += CHUNK
            yield b"x" * CHUNK

    response = httpx.post(
        f"{url}/api/v1/ingest/events",
        content=endless(),
        headers={"Authorization": f"Gateway {token}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "The body is over 6 MB."}
