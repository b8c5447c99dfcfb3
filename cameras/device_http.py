"""The platform's HTTP talk with devices, under one policy: cameras' health and snapshot
URLs (``cameras.services.polling``), the staff snapshot proxy (``cameras.views``) and the
traffic-signal controllers (``cameras.services.signal_commands``, and their polling).

Every request waits at most ``TIMEOUT_SECONDS`` to connect and as long for each answer,
follows no redirect, and reads at most ``MAX_RESPONSE_BYTES`` of the body. The devices'
logins are sent from here only; they never reach a browser.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

# Devices sit on the city network, a few hops away: one that has not connected or
# answered within this is reported unreachable rather than waited for, because a polling
# round, an operator's click on the snapshot and the commands queue all wait on it.
TIMEOUT_SECONDS = 3.0
# The largest answer read from a device: a camera's still image (a full-HD JPEG is well
# under it); health and controller answers are a few hundred bytes. A broken or hostile
# device cannot fill a worker's memory.
MAX_RESPONSE_BYTES = 2 * 1024 * 1024
SNAPSHOT_TYPES = frozenset({"image/jpeg", "image/png"})

Auth = tuple[str, str] | None


class ResponseTooLarge(httpx.HTTPError):
    """A device's answer is larger than ``MAX_RESPONSE_BYTES`` (not read further)."""


class ControllerError(Exception):
    """The controller could not be reached, or refused, or answered nonsense."""


class SnapshotUnavailable(Exception):
    """The camera gave no usable still image; the message says why."""


def transport() -> Any:
    """The httpx transport for device requests: None means the network. Tests replace
    this function to answer with a fake device (``httpx.MockTransport``)."""
    return None


def device_client(*, auth: Auth = None, timeout: float | None = None) -> httpx.Client:
    """A client for requests to devices: the policy's timeout (unless a caller sets a
    shorter one), no redirects."""
    return httpx.Client(
        timeout=TIMEOUT_SECONDS if timeout is None else timeout,
        auth=auth,
        follow_redirects=False,
        transport=transport(),
    )


def device_async_client(*, timeout: float | None = None) -> httpx.AsyncClient:
    """The concurrent pollers' client: the policy's timeout (unless the poll sets one),
    no redirects."""
    return httpx.AsyncClient(
        timeout=TIMEOUT_SECONDS if timeout is None else timeout,
        follow_redirects=False,
        transport=transport(),
    )


def _too_large() -> ResponseTooLarge:
    return ResponseTooLarge(f"answer larger than {MAX_RESPONSE_BYTES // 1024 // 1024} MB")


def _declared_too_large(response: httpx.Response) -> bool:
    declared = response.headers.get("content-length", "")
    return declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES


def read_limited(response: httpx.Response) -> bytes:
    """A streamed answer's body; ResponseTooLarge past ``MAX_RESPONSE_BYTES``."""
    if _declared_too_large(response):
        raise _too_large()
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > MAX_RESPONSE_BYTES:
            raise _too_large()
    return bytes(body)


# --- Polling (concurrent, bounded) -----------------------------------------------------------


async def fetch(
    client: httpx.AsyncClient, limit: asyncio.Semaphore, url: str, auth: Auth
) -> tuple[int, bytes]:
    """GET ``url`` once a slot of ``limit`` is free: the status and the body (at most
    ``MAX_RESPONSE_BYTES``, else ResponseTooLarge); httpx errors are raised."""
    async with limit, client.stream("GET", url, auth=auth) as response:
        if _declared_too_large(response):
            raise _too_large()
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_RESPONSE_BYTES:
                raise _too_large()
        return response.status_code, bytes(body)


# --- Traffic-signal controllers --------------------------------------------------------------


def controller_request(
    base_url: str, auth: Auth, method: str, leaf: str, payload: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One JSON request to ``<base_url>/<leaf>``; ControllerError unless the answer is a
    JSON object with a status below 400."""
    if not base_url:
        raise ControllerError("the signal has no controller address")
    url = f"{base_url.rstrip('/')}/{leaf}"
    try:
        with (
            device_client(auth=auth) as client,
            client.stream(method, url, json=payload) as response,
        ):
            content = read_limited(response)
    except ResponseTooLarge as exc:
        raise ControllerError(f"controller at {url} sent an {exc}") from exc
    except httpx.TimeoutException as exc:
        raise ControllerError(f"no answer from {url} within {TIMEOUT_SECONDS:g} s") from exc
    except httpx.HTTPError as exc:
        raise ControllerError(f"controller unreachable at {url}: {exc}") from exc
    try:
        body = json.loads(content)
    except ValueError:
        body = None
    if response.status_code >= 400:
        text = content.decode(response.encoding or "utf-8", errors="replace")
        detail = body.get("error") if isinstance(body, dict) else text[:200]
        raise ControllerError(f"controller answered {response.status_code}: {detail}")
    if not isinstance(body, dict):
        raise ControllerError(f"controller answered {response.status_code} without a JSON object")
    return body


# --- The staff snapshot proxy ----------------------------------------------------------------


def snapshot_fetch(url: str, auth: Auth) -> tuple[bytes, str]:
    """A camera's still image and its type, fetched with the camera's login: the policy's
    timeout for the whole fetch, at most ``MAX_RESPONSE_BYTES``, JPEG or PNG only."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    body = bytearray()
    try:
        with (
            device_client(auth=auth) as client,
            client.stream("GET", url, headers={"Accept": "image/jpeg, image/png"}) as response,
        ):
            if response.status_code != 200:
                raise SnapshotUnavailable(f"The camera answered HTTP {response.status_code}.")
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type not in SNAPSHOT_TYPES:
                raise SnapshotUnavailable("The camera did not send a JPEG or PNG image.")
            if _declared_too_large(response):
                raise SnapshotUnavailable("The camera's image is larger than 2 MB.")
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    raise SnapshotUnavailable("The camera's image is larger than 2 MB.")
                if time.monotonic() > deadline:
                    raise SnapshotUnavailable("The camera is too slow to answer.")
    except httpx.TimeoutException as exc:
        raise SnapshotUnavailable("The camera did not answer in time.") from exc
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        raise SnapshotUnavailable("The camera could not be reached.") from exc
    if not body:
        raise SnapshotUnavailable("The camera sent an empty image.")
    return bytes(body), content_type
