"""What a request gets when it cannot be served: JSON for programs (the APIs, Open311,
``.json`` feeds), a page for people, and never a stack trace.

A database that is away (``OperationalError``, ``InterfaceError``: refused, restarting, in
recovery) is not a bug: the caller gets a 503 with ``Retry-After`` and nothing was changed.
``DatabaseUnavailableMiddleware`` (``ioc.middleware``) answers for errors raised in views;
``server_error`` (``handler500``) for the rest (a session saved by a middleware, a bug).
"""

from __future__ import annotations

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils.translation import gettext as _
from django.views import defaults

from ioc.provinces import installation_name

logger = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
# Long enough for a PostgreSQL restart or a fail-over, short enough for a device's retry.
RETRY_AFTER_SECONDS = 10
_JSON_PREFIXES = ("/api/", "/open311/", "/healthz")
_JSON_SUFFIXES = (".json", ".geojson", ".map", ".search")


def wants_json(request: HttpRequest) -> bool:
    """Whether the caller is a program that reads JSON rather than a person with a browser."""
    path = request.path
    if path.startswith(_JSON_PREFIXES) or path.endswith(_JSON_SUFFIXES):
        return True
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def _page(request: HttpRequest, template: str, status: int) -> HttpResponse:
    """An error page rendered without context processors or the user (either may need the
    database that just failed); plain text if even that fails."""
    try:
        body = loader.get_template(template).render(
            {"IOC_CITY_NAME": installation_name(), "request": request}
        )
    except Exception:  # the page about an error must not become a second one
        logger.exception("errors: the %s page could not be rendered", status)
        body = f"{status}"
    return HttpResponse(body, status=status, content_type="text/html; charset=utf-8")


def database_unavailable(request: HttpRequest) -> HttpResponse:
    """503 with ``Retry-After``: JSON for programs, the 503 page for people."""
    if wants_json(request):
        response: HttpResponse = JsonResponse(
            {
                "detail": _(
                    "The database is unavailable: nothing was changed. Try again in a moment."
                )
            },
            status=503,
        )
    else:
        response = _page(request, "503.html", 503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: a database outage becomes the 503 above; anything else a 500 that
    says so (the error itself is logged by Django, never shown)."""
    error = sys.exc_info()[1]
    if isinstance(error, DATABASE_ERRORS):
        return database_unavailable(request)
    if wants_json(request):
        return JsonResponse(
            {"detail": _("Internal error: it has been logged. Try again later.")}, status=500
        )
    return _page(request, "500.html", 500)


def bad_request(request: HttpRequest, detail: str) -> HttpResponse:
    """400 for a request no view can read: JSON for programs, plain text for people."""
    if wants_json(request):
        return JsonResponse({"detail": detail}, status=400)
    return HttpResponse(detail, status=400, content_type="text/plain; charset=utf-8")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler404``: programs get JSON (an API address that names nothing, such as a
    letter where an id goes), people the 404 page."""
    if wants_json(request):
        return JsonResponse({"detail": _("Not found.")}, status=404)
    return defaults.page_not_found(request, exception or Http404())
