"""Middleware: the language choice, the request context the audit log reads, the 503
that a database outage gets instead of an error, and the 400 for a NUL in an API address."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

# The client address of the request being served, read by ioc.services.audit_record so
# that services need not take the request as an argument.
client_address: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "client_address", default=None
)
# The request being served, for the few audit entries made where no service is told who
# acts (a password changed by the admin's form: ioc/signals.py).
current_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar(
    "current_request", default=None
)


def request_user() -> Any:
    """The logged-in account of the request being served, or None."""
    request = current_request.get()
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


class LanguageMiddleware:
    """Vietnamese unless the person chose otherwise with the language switch.

    Django's LocaleMiddleware follows the browser's Accept-Language, and many phones in
    Vietnam are set to English: a Vietnamese city's pages must still open in Vietnamese.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.supported = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        language = chosen if chosen in self.supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        response.headers.setdefault("Vary", "Cookie")
        return response


class RequestContextMiddleware:
    """Record the client address for the audit log of writes made during this request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = client_address.set(request_address(request))
        request_token = current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            current_request.reset(request_token)
            client_address.reset(token)


def request_address(request: HttpRequest) -> str | None:
    """The client's address: every reader of a client address (the audit log, the portal's
    per-address limit, a login lockout) takes it from here.

    Each of our ``IOC_TRUSTED_PROXY_HOPS`` proxies appends the address it received the
    request from to ``X-Forwarded-For`` (nginx's ``$proxy_add_x_forwarded_for``), so the
    client is the entry that many places from the right; whatever stands left of it was
    written by the client and proves nothing. With no trusted proxy the header is ignored.
    """
    return forwarded_address(
        request.META.get("HTTP_X_FORWARDED_FOR", ""), request.META.get("REMOTE_ADDR")
    )


def forwarded_address(forwarded_for: str, remote: str | None) -> str | None:
    """The client's address from an ``X-Forwarded-For`` value and the connection's peer,
    as ``request_address`` reads them (a websocket's scope gives the same two)."""
    hops = settings.IOC_TRUSTED_PROXY_HOPS
    if hops > 0:
        forwarded = [entry.strip() for entry in forwarded_for.split(",") if entry.strip()]
        if forwarded:
            # Fewer entries than proxies: the left-most was still written by one of ours.
            return forwarded[-min(hops, len(forwarded))]
    return remote or None


class DatabaseUnavailableMiddleware:
    """A view that finds the database away (refused, restarting) answers 503 with
    ``Retry-After`` (JSON for the APIs, the 503 page for people) instead of a 500: an
    outage is not a bug, and the caller can act on it. Errors outside views reach
    ``ioc.errors.server_error``, which answers the same."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """503 for a database outage; anything else goes on to Django's handling."""
        from ioc.errors import DATABASE_ERRORS, database_unavailable

        if not isinstance(exception, DATABASE_ERRORS):
            return None
        logger.warning(
            "database unavailable while serving %s %s: %s", request.method, request.path, exception
        )
        return database_unavailable(request)


class NulCharacterMiddleware:
    """An API request whose path or query string carries a NUL character answers 400
    before any view: no code, name or filter of the platform holds one, and PostgreSQL
    cannot compare text with it (the view's query would fail as a server error). Open311
    answers such input in its own error format (services.open311)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            from ioc.errors import bad_request

            return bad_request(request, _("The address contains a NUL character."))
        return self.get_response(request)
