"""Middleware: the language choice and the request context the audit log reads."""

from __future__ import annotations

import contextvars
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

# The client address of the request being served, read by ioc.services.audit_record so
# that services need not take the request as an argument.
client_address: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "client_address", default=None
)


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
        try:
            return self.get_response(request)
        finally:
            client_address.reset(token)


def request_address(request: HttpRequest) -> str | None:
    """The client's address; behind the reverse proxy, the address it forwarded for."""
    if settings.IOC_TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip() or None
    return request.META.get("REMOTE_ADDR") or None
