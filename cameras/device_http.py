"""The platform's HTTP talk with devices, under one policy: cameras' health and snapshot
URLs (``cameras.services.polling``), the staff snapshot proxy (``cameras.views``) and the
traffic-signal controllers (``cameras.services.signal_commands``, and their polling).

Every request waits at most ``TIMEOUT_SECONDS`` to connect and as long for each answer,
follows no redirect (a device's login is never sent on to another address), and reads at
most ``MAX_RESPONSE_BYTES`` of the body. The devices' logins are sent from here only;
they never reach a browser. Requests go only to addresses inside ``IOC_DEVICE_NETWORKS``:
a device URL is checked when it is saved (``DeviceUrlValidator``) and, since a name may
resolve elsewhere later, the address every connection is about to use is checked again
(``DeviceNetworkBackend``). What a device answered is never shown to users: they get a
short phrase (did not answer, answered with an error, not an image); details are logged.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import logging
import socket
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpcore
import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from ioc.text import in_platform_language

logger = logging.getLogger(__name__)

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


class AddressRefused(httpx.ConnectError):
    """A device URL's host is, or resolves to, an address outside ``IOC_DEVICE_NETWORKS``."""


# --- Where devices may be --------------------------------------------------------------------

HTTP_SCHEMES = ("http", "https")
STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https")  # HLS streams are served over HTTP(S)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.cache
def _parse_networks(specs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(spec, strict=False) for spec in specs)


def device_networks() -> tuple[Network, ...]:
    """The networks of ``IOC_DEVICE_NETWORKS``: the only ones devices are reached in."""
    return _parse_networks(tuple(settings.IOC_DEVICE_NETWORKS))


def address_allowed(address: str) -> bool:
    """Whether an IP address lies in the device networks (an IPv4-mapped IPv6 address is
    judged as the IPv4 address it carries)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in device_networks())


def _checked_addresses(host: str, infos: Iterable[Any]) -> list[str]:
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    refused = [address for address in addresses if not address_allowed(address)]
    if not addresses or refused:
        raise AddressRefused(f"{host} is outside the device networks ({', '.join(refused)})")
    return addresses


def device_addresses(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, all inside the device networks, else
    AddressRefused (one address outside is enough: a name is trusted whole or not)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise httpx.ConnectError(f"{host} cannot be resolved: {exc}") from exc
    return _checked_addresses(host, infos)


class DeviceNetworkBackend(httpcore.SyncBackend):
    """Connects only to addresses in the device networks: the name is resolved here and
    the connection made to the address that was checked (DNS may have changed since the
    URL was saved; TLS still verifies the name)."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        error: Exception = httpx.ConnectError(f"{host} has no address")
        for address in device_addresses(host, port):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                error = exc
        raise error


class AsyncDeviceNetworkBackend(httpcore.AnyIOBackend):
    """DeviceNetworkBackend for the concurrent pollers."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpx.ConnectError(f"{host} cannot be resolved: {exc}") from exc
        error: Exception = httpx.ConnectError(f"{host} has no address")
        for address in _checked_addresses(host, infos):
            try:
                return await super().connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                error = exc
        raise error


def _pool_options() -> dict[str, Any]:
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
    return {
        "ssl_context": httpx.create_ssl_context(trust_env=False),
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": 5.0,
    }


class DeviceTransport(httpx.HTTPTransport):
    """The network, through DeviceNetworkBackend (no proxy from the environment)."""

    def __init__(self) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            **_pool_options(), network_backend=DeviceNetworkBackend()
        )


class AsyncDeviceTransport(httpx.AsyncHTTPTransport):
    """The network for the pollers, through AsyncDeviceNetworkBackend."""

    def __init__(self) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            **_pool_options(), network_backend=AsyncDeviceNetworkBackend()
        )


@deconstructible
class DeviceUrlValidator:
    """A device URL as it may be saved: one of ``schemes``, a host, and (for ``reached``
    URLs, the ones the server requests) a host inside the device networks. A host name is
    resolved now; one that does not resolve is refused, since nothing could reach it."""

    def __init__(self, schemes: tuple[str, ...] = HTTP_SCHEMES, reached: bool = True) -> None:
        self.schemes = tuple(schemes)
        self.reached = reached

    def __call__(self, value: str) -> None:
        if not value:
            return
        try:
            parts = urlsplit(value)
            host, port = parts.hostname, parts.port
        except ValueError:
            host, port, parts = None, None, None
        if parts is None or parts.scheme.lower() not in self.schemes or not host:
            raise ValidationError(
                gettext_lazy("Enter a full address starting with %(schemes)s."),
                code="device_url_scheme",
                params={"schemes": " or ".join(f"{scheme}://" for scheme in self.schemes)},
            )
        if not self.reached:
            return
        try:
            device_addresses(host, port or 80)
        except AddressRefused as exc:
            raise ValidationError(
                gettext_lazy(
                    "%(host)s is outside the device networks the server may reach "
                    "(IOC_DEVICE_NETWORKS: %(networks)s)."
                ),
                code="device_url_network",
                params={"host": host, "networks": ", ".join(settings.IOC_DEVICE_NETWORKS)},
            ) from exc
        except httpx.ConnectError as exc:
            raise ValidationError(
                gettext_lazy("The host name %(host)s cannot be resolved."),
                code="device_url_unresolved",
                params={"host": host},
            ) from exc

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, DeviceUrlValidator)
            and other.schemes == self.schemes
            and other.reached == self.reached
        )


class ControllerError(Exception):
    """The controller could not be reached, or refused, or answered nonsense."""


def controller_failure(message: str) -> ControllerError:
    """A ControllerError whose phrase is in the platform's language: it is stored on the
    command and read later by every operator, whatever language caused it."""
    return ControllerError(in_platform_language(message))


class SnapshotUnavailable(Exception):
    """The camera gave no usable still image; the message says why."""


def transport() -> Any:
    """The httpx transport for device requests: None means the network (through
    ``DeviceTransport``). Tests replace this function to answer with a fake device
    (``httpx.MockTransport``)."""
    return None


def device_client(*, auth: Auth = None, timeout: float | None = None) -> httpx.Client:
    """A client for requests to devices: the policy's timeout (unless a caller sets a
    shorter one), no redirects."""
    return httpx.Client(
        timeout=TIMEOUT_SECONDS if timeout is None else timeout,
        auth=auth,
        follow_redirects=False,
        trust_env=False,
        transport=transport() or DeviceTransport(),
    )


def device_async_client(*, timeout: float | None = None) -> httpx.AsyncClient:
    """The concurrent pollers' client: the policy's timeout (unless the poll sets one),
    no redirects."""
    return httpx.AsyncClient(
        timeout=TIMEOUT_SECONDS if timeout is None else timeout,
        follow_redirects=False,
        trust_env=False,
        transport=transport() or AsyncDeviceTransport(),
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
    JSON object with a status below 300. The error says what happened in a short phrase
    shown to operators; what the controller sent is logged, never shown."""
    if not base_url:
        raise controller_failure(gettext_noop("the signal has no controller address"))
    url = f"{base_url.rstrip('/')}/{leaf}"
    try:
        with (
            device_client(auth=auth) as client,
            client.stream(method, url, json=payload) as response,
        ):
            content = read_limited(response)
    except ResponseTooLarge as exc:
        _log_device_problem(url, exc)
        raise controller_failure(gettext_noop("the controller's answer is too large")) from exc
    except AddressRefused as exc:
        _log_device_problem(url, exc)
        raise controller_failure(
            gettext_noop("the controller's address is outside the device networks")
        ) from exc
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        _log_device_problem(url, exc)
        raise controller_failure(gettext_noop("the controller did not answer")) from exc
    try:
        body = json.loads(content)
    except ValueError:
        body = None
    if response.status_code >= 300:
        _log_device_problem(url, f"HTTP {response.status_code}: {content[:200]!r}")
        raise controller_failure(gettext_noop("the controller answered with an error"))
    if not isinstance(body, dict):
        _log_device_problem(url, f"not a JSON object: {content[:200]!r}")
        raise controller_failure(gettext_noop("the controller's answer is not understood"))
    return body


def _log_device_problem(url: str, problem: object) -> None:
    """Details for the operations team's logs (without the URL's login, if it has one)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    logger.warning("device %s://%s%s: %s", parts.scheme, host, parts.path, problem)


# --- The staff snapshot proxy ----------------------------------------------------------------


def snapshot_fetch(url: str, auth: Auth) -> tuple[bytes, str]:
    """A camera's still image and its type, fetched with the camera's login: the policy's
    timeout for the whole fetch, at most ``MAX_RESPONSE_BYTES``, JPEG or PNG only.
    SnapshotUnavailable says why not, in a short phrase for the user."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    body = bytearray()
    try:
        with (
            device_client(auth=auth) as client,
            client.stream("GET", url, headers={"Accept": "image/jpeg, image/png"}) as response,
        ):
            if response.status_code != 200:
                _log_device_problem(url, f"HTTP {response.status_code}")
                raise SnapshotUnavailable(_("The camera answered with an error."))
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type not in SNAPSHOT_TYPES:
                raise SnapshotUnavailable(_("The camera did not send an image."))
            if _declared_too_large(response):
                raise SnapshotUnavailable(_("The camera's image is too large."))
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    raise SnapshotUnavailable(_("The camera's image is too large."))
                if time.monotonic() > deadline:
                    raise SnapshotUnavailable(_("The camera did not answer in time."))
    except httpx.TimeoutException as exc:
        raise SnapshotUnavailable(_("The camera did not answer in time.")) from exc
    except AddressRefused as exc:
        _log_device_problem(url, exc)
        raise SnapshotUnavailable(
            _("The camera's address is outside the device networks.")
        ) from exc
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        _log_device_problem(url, exc)
        raise SnapshotUnavailable(_("The camera did not answer.")) from exc
    if not body:
        raise SnapshotUnavailable(_("The camera did not send an image."))
    return bytes(body), content_type
