"""How GeoReport v2 answers: JSON, or XML in the specification's convention; errors in its
format; and the ``endpoint`` decorator that turns every failure a client can cause into one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from xml.etree import ElementTree

import orjson
from django.core.exceptions import (
    BadRequest,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>\n'  # as the specification's examples
FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# XML: the element of each item of a list, by the list's element name.
ITEM_NAMES = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
}
# Characters XML 1.0 cannot carry (control characters, lone surrogates): dropped from XML.
NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class Open311Error(Exception):
    """An error answered in the specification's format."""

    def __init__(self, status: int, description: str, **headers: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.headers = headers


# --- Output -----------------------------------------------------------------------------------


def _xml_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return NOT_XML.sub("", str(value))


def _xml_fill(element: ElementTree.Element, value: Any) -> None:
    """Spark convention: a dict's keys are child elements, a list repeats its item element."""
    if isinstance(value, dict):
        for name, child in value.items():
            _xml_fill(ElementTree.SubElement(element, name), child)
    elif isinstance(value, list):
        for child in value:
            _xml_fill(ElementTree.SubElement(element, ITEM_NAMES[element.tag]), child)
    else:
        element.text = _xml_text(value)


def render(fmt: str, root: str, body: Any, status: int = 200, **headers: str) -> HttpResponse:
    """``body`` as JSON, or as XML under the element ``root`` (UTF-8, declared)."""
    if fmt == "xml":
        element = ElementTree.Element(root)
        _xml_fill(element, body)
        content = XML_DECLARATION + ElementTree.tostring(element, encoding="unicode").encode()
    else:
        content = orjson.dumps(body)
    response = HttpResponse(content, status=status, content_type=FORMATS.get(fmt, FORMATS["json"]))
    for name, value in headers.items():
        response[name] = value
    return response


def error_response(fmt: str, error: Open311Error) -> HttpResponse:
    """``[{"code": 400, "description": "..."}]`` or ``<errors><error>…</error></errors>``."""
    body = [{"code": error.status, "description": error.description}]
    return render(fmt, "errors", body, status=error.status, **error.headers)


def w3_datetime(value: datetime | None) -> str | None:
    """A w3 datetime with the city's offset, to the second."""
    if value is None:
        return None
    return timezone.localtime(value).replace(microsecond=0).isoformat()


# --- Endpoint plumbing ------------------------------------------------------------------------

Handler = Callable[..., HttpResponse]


def endpoint(*methods: str) -> Callable[[Handler], Handler]:
    """An Open311 endpoint: the format from the URL, errors in the spec's format for the
    wrong method (405), unknown formats (404), bad input and oversized bodies, never a 500
    for what a client sent."""

    def decorate(handler: Handler) -> Handler:
        @csrf_exempt  # API clients authenticate with api_key, not a session
        def view(request: HttpRequest, fmt: str, **kwargs: Any) -> HttpResponse:
            fmt = fmt.lower()
            shown = fmt if fmt in FORMATS else "json"
            try:
                if fmt not in FORMATS:
                    raise Open311Error(
                        404, _("Unknown format %(fmt)s: use .xml or .json.") % {"fmt": fmt[:20]}
                    )
                if request.method not in methods:
                    raise Open311Error(
                        405,
                        _("Method %(method)s is not allowed here.")
                        % {"method": str(request.method)[:10]},
                        Allow=", ".join(methods),
                    )
                return handler(request, fmt, **kwargs)
            except Open311Error as error:
                return error_response(shown, error)
            except RequestDataTooBig:
                return error_response(shown, Open311Error(413, _("The request is too large.")))
            except (SuspiciousOperation, BadRequest, MultiPartParserError, UnicodeError):
                return error_response(shown, Open311Error(400, _("The request is malformed.")))

        view.__doc__ = handler.__doc__
        view.__name__ = handler.__name__
        return view

    return decorate
