"""WSGI entry point (plain HTTP only; websockets need the ASGI application).

Django 5.2 reads a request body only as far as its Content-Length; a body sent with
``Transfer-Encoding: chunked`` (a gateway that streams its batch, a proxy that forwards as
it receives) has none, and Django would see it as empty: a valid batch answered "not valid
JSON", an oversized one never told it is too large. gunicorn decodes the chunks itself and
says so with ``wsgi.input_terminated``; ``ChunkedBodies`` then reads the body to its end,
up to the largest body any view accepts, and hands Django a length (Django ticket #35838
does the same inside Django from 6.1). Behind nginx this never happens: nginx buffers the
body and sends a Content-Length."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from typing import Any

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ioc.settings")

READ_CHUNK = 64 * 1024
SPOOL_IN_MEMORY = 1024 * 1024  # beyond this a buffered body waits on disk

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ChunkedBodies:
    """Give Django a Content-Length for a chunked body the server has terminated; a body
    over ``limit`` bytes gets a JSON 413 without reading further."""

    def __init__(self, app: WSGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if (
            not environ.get("wsgi.input_terminated")
            or environ.get("CONTENT_LENGTH")
            or "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        ):
            return self.app(environ, start_response)
        stream = environ["wsgi.input"]
        # Closed with the environ when the request ends (nothing else holds it).
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
        size = 0
        while size <= self.limit:
            data = stream.read(min(READ_CHUNK, self.limit + 1 - size))
            if not data:
                break
            spool.write(data)
            size += len(data)
        if size > self.limit:
            spool.close()
            megabytes = self.limit // (1024 * 1024)
            body = f'{{"detail": "The body is over {megabytes} MB."}}'.encode()
            start_response(
                "413 Request Entity Too Large",
                [
                    ("Content-Type", "application/json"),
                    ("Content-Length", str(len(body))),
                    ("Connection", "close"),
                ],
            )
            return [body]
        spool.seek(0)
        environ["wsgi.input"] = spool
        environ["CONTENT_LENGTH"] = str(size)
        return self.app(environ, start_response)


def body_limit() -> int:
    """The largest body any view accepts: a portal filing, or an API body."""
    from django.conf import settings

    return max(settings.DATA_UPLOAD_MAX_MEMORY_SIZE, settings.IOC_PORTAL_MAX_UPLOAD_BYTES)


application = ChunkedBodies(get_wsgi_application(), body_limit())
