"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2), JSON and XML.

Decisions (README, "Open311"):

- One jurisdiction: ``jurisdiction_id`` is accepted and ignored, as the specification
  allows for an endpoint that serves one jurisdiction.
- Complaints and denunciations (``legal_process`` categories) are not offered: they are
  filed under their own law, not here, and a standard client would show a form that can
  only fail. Posting one anyway gets a 400 whose description says where to file.
- Every service is ``realtime``: the tracking code is the ``service_request_id`` at once.
  ``tokens/<token>`` answers for completeness, the token being the tracking code itself.
- ``lat`` and ``long`` are required: the ward, hence the handling unit, comes from the
  pin, and an address string cannot be placed offline.
- ``media_url`` is not fetched (a city intranet may have no internet, and fetching URLs
  given by clients would let them make the server call anywhere): it is kept, with
  ``device_id`` and ``account_id``, in a staff-only note. A photo can be uploaded as a
  multipart ``media`` file; GET's ``media_url`` is the first report photo, if any.
- Nothing about the reporter (name, email, phone, device, account) is ever returned.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import orjson
from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    RequestDataTooBig,
    SuspiciousOperation,
    ValidationError,
)
from django.core.files.storage import default_storage
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from ioc.models import Ward
from ioc.ratelimit import over_limit
from services import selectors
from services.choices import RequestSource
from services.models import OPEN_STATUSES, Open311Key, ServiceCategory
from services.services import photos_prepare, request_create

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# When this API last changed (discovery's changeset).
CHANGESET = "2026-11-22T00:00:00+07:00"
XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>\n'  # as the specification's examples
FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
MAX_RESULTS = 1000
DEFAULT_SPAN = timedelta(days=90)
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
ATTRIBUTE_PARAM = re.compile(r"^attribute\[([^\[\]]{1,100})\](\[\])?$")
# Characters XML 1.0 cannot carry (control characters, lone surrogates): dropped from XML.
NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
CLOSED_TEXT = "closed"
OPEN_TEXT = "open"


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


# --- Input ------------------------------------------------------------------------------------


def _clean(value: str | None) -> str:
    """A parameter as text: no NUL (PostgreSQL refuses it), no surrounding spaces."""
    return (value or "").replace("\x00", "").strip()


def _param(params: Any, name: str) -> str:
    return _clean(params.get(name))


def _list_param(params: Any, name: str) -> list[str]:
    return [part for part in (_clean(p) for p in _param(params, name).split(",")) if part]


def _datetime_param(params: Any, name: str) -> datetime | None:
    text = _param(params, name)
    if not text:
        return None
    try:
        value = parse_datetime(text.replace(" ", "+"))  # an unescaped + arrives as a space
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise Open311Error(
            400,
            _("%(name)s must be a w3 datetime with a time zone, e.g. 2026-11-05T08:15:30+07:00.")
            % {"name": name},
        )
    return value


def _coordinate(params: Any, name: str) -> float:
    try:
        value = float(_param(params, name).replace(",", "."))
    except ValueError:
        raise Open311Error(400, _("%(name)s must be a number (WGS84).") % {"name": name}) from None
    if not math.isfinite(value):
        raise Open311Error(400, _("%(name)s must be a number (WGS84).") % {"name": name})
    return value


def _attributes(params: Any) -> dict[str, Any]:
    """``attribute[code]=value`` and ``attribute[code][]=value`` (multivaluelist)."""
    answers: dict[str, Any] = {}
    for name in params:
        match = ATTRIBUTE_PARAM.match(name)
        if match is None:
            continue
        values = [_clean(value) for value in params.getlist(name)]
        code = _clean(match.group(1))
        answers[code] = values if match.group(2) or len(values) > 1 else values[0]
    return answers


def _validation_text(error: ValidationError) -> str:
    messages: list[str] = []
    if hasattr(error, "error_dict"):
        for field, problems in error.message_dict.items():
            messages.extend(f"{field}: {problem}" for problem in problems)
    else:
        messages.extend(error.messages)
    return " ".join(messages)


def _rate_limited(client: Open311Key) -> bool:
    """A one-minute window per key."""
    return over_limit(
        f"open311:{client.pk}", limit=settings.IOC_OPEN311_POSTS_PER_MINUTE, window_seconds=60
    )


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


def _base_url(request: HttpRequest) -> str:
    """The endpoint's absolute URL (``…/open311/v2/``), as the client reached this host."""
    services = reverse("open311-services", kwargs={"fmt": "json"})
    return request.build_absolute_uri(services.removesuffix("services.json"))


# --- Discovery and services -------------------------------------------------------------------


@endpoint("GET", "HEAD")
def discovery(request: HttpRequest, fmt: str) -> HttpResponse:
    """Service discovery: where GeoReport v2 lives here and in which formats."""
    body = {
        "changeset": CHANGESET,
        "contact": settings.IOC_OPEN311_CONTACT
        or _("Operations centre of %(city)s") % {"city": settings.IOC_CITY_NAME},
        "key_service": settings.IOC_OPEN311_KEY_SERVICE
        or _("API keys are issued by the operations centre on request."),
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": _base_url(request),
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return render(fmt, "discovery", body)


def _service(category: ServiceCategory) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.description,
        "metadata": bool(category.questions),
        "type": "realtime",
        "keywords": category.keywords,
        "group": category.group.name,
    }


@endpoint("GET", "HEAD")
def service_list(request: HttpRequest, fmt: str) -> HttpResponse:
    """GET Service List: the categories a client may file (one query)."""
    return render(fmt, "services", [_service(c) for c in selectors.open311_categories()])


def _attribute(order: int, question: dict[str, Any]) -> dict[str, Any]:
    datatype = str(question.get("datatype") or "string")
    attribute: dict[str, Any] = {
        "variable": True,
        "code": str(question.get("code", "")),
        "datatype": datatype,
        "required": bool(question.get("required")),
        "datatype_description": str(question.get("datatype_description") or ""),
        "order": order,
        "description": str(question.get("description") or ""),
    }
    if datatype in ("singlevaluelist", "multivaluelist"):
        attribute["values"] = [
            {"key": str(value.get("key", "")), "name": str(value.get("name", ""))}
            for value in question.get("values") or []
        ]
    return attribute


def _category(code: str) -> ServiceCategory:
    code = _clean(code)[:40]
    category = selectors.open311_categories().filter(code=code).first()
    if category is None:
        raise Open311Error(404, _("No service with service_code %(code)s.") % {"code": code})
    return category


@endpoint("GET", "HEAD")
def service_definition(request: HttpRequest, fmt: str, service_code: str) -> HttpResponse:
    """GET Service Definition: a service's attributes (its extra questions)."""
    category = _category(service_code)
    body = {
        "service_code": category.code,
        "attributes": [
            _attribute(order, question)
            for order, question in enumerate(category.questions or [], start=1)
        ],
    }
    return render(fmt, "service_definition", body)


# --- Requests ---------------------------------------------------------------------------------


def _status_notes(row: dict[str, Any]) -> str | None:
    if row["merged_into__code"]:
        return _("Merged into %(code)s.") % {"code": row["merged_into__code"]}
    return row["rejection_reason"] or row["status_notes"] or None


def _request_row(request: HttpRequest, row: dict[str, Any]) -> dict[str, Any]:
    """One request as GET requests shows it: public fields only."""
    ward = Ward(name=row["ward__name"], kind=row["ward__kind"])
    photo = row["first_photo"]
    return {
        "service_request_id": row["code"],
        "status": OPEN_TEXT if row["status"] in OPEN_STATUSES else CLOSED_TEXT,
        "status_notes": _status_notes(row),
        "service_name": row["category__name"],
        "service_code": row["category__code"],
        "description": row["description"],
        "agency_responsible": row["department__name"] or ward.title,
        "service_notice": None,
        "requested_datetime": w3_datetime(row["created_at"]),
        "updated_datetime": w3_datetime(row["updated_at"]),
        "expected_datetime": w3_datetime(row["deadline_at"]),
        "address": row["address"] or None,
        "address_id": None,
        "zipcode": None,
        "lat": float(row["latitude"]),
        "long": float(row["longitude"]),
        "media_url": request.build_absolute_uri(default_storage.url(photo)) if photo else None,
    }


def _rows(request: HttpRequest, requests: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [_request_row(request, row) for row in requests]


def _date_range(params: Any) -> tuple[datetime, datetime]:
    """start_date..end_date: the last 90 days when neither is given, 90 days from (or up
    to) the one given; a wider or reversed range is refused."""
    start, end = _datetime_param(params, "start_date"), _datetime_param(params, "end_date")
    if start is None:
        end = end or timezone.now()
        start = end - DEFAULT_SPAN
    elif end is None:
        end = start + DEFAULT_SPAN
    if start > end:
        raise Open311Error(400, _("start_date must come before end_date."))
    if end - start > DEFAULT_SPAN:
        raise Open311Error(400, _("start_date and end_date may not span more than 90 days."))
    return start, end


def _request_list(request: HttpRequest, fmt: str) -> HttpResponse:
    """GET Service Requests with the specification's filters and defaults."""
    params = request.GET
    codes = [code.upper() for code in _list_param(params, "service_request_id")][:MAX_RESULTS]
    if codes:  # the specification: service_request_id overrides every other argument
        rows = selectors.open311_requests(codes=codes).values(*selectors.OPEN311_FIELDS)
        return render(fmt, "service_requests", _rows(request, rows))
    requests = selectors.open311_requests()
    if service_codes := _list_param(params, "service_code"):
        requests = requests.filter(category__code__in=service_codes)
    statuses = {status.lower() for status in _list_param(params, "status")}
    if statuses - {OPEN_TEXT, CLOSED_TEXT}:
        raise Open311Error(400, _("status must be open, closed or both (comma-separated)."))
    if statuses == {OPEN_TEXT}:
        requests = requests.filter(status__in=OPEN_STATUSES)
    elif statuses == {CLOSED_TEXT}:
        requests = requests.exclude(status__in=OPEN_STATUSES)
    start, end = _date_range(params)
    requests = requests.filter(created_at__gte=start, created_at__lte=end)
    rows = requests.values(*selectors.OPEN311_FIELDS)[:MAX_RESULTS]
    return render(fmt, "service_requests", _rows(request, rows))


def _client(request: HttpRequest) -> Open311Key:
    client = selectors.open311_key_for_secret(_param(request.POST, "api_key"))
    if client is None:
        raise Open311Error(403, _("Invalid api_key received: it is missing, unknown or revoked."))
    return client


def _request_create(request: HttpRequest, fmt: str) -> HttpResponse:
    """POST Service Request: filed through the same workflow as the portal."""
    params = request.POST
    client = _client(request)
    if _rate_limited(client):
        raise Open311Error(
            429,
            _("Too many requests for this api_key: try again in a minute."),
            **{"Retry-After": "60"},
        )
    service_code = _param(params, "service_code")
    if not service_code:
        raise Open311Error(400, _("service_code was not provided."))
    category = selectors.categories_for_portal().filter(code=service_code[:40]).first()
    if category is None:
        raise Open311Error(
            404, _("No service with service_code %(code)s.") % {"code": service_code[:40]}
        )
    if category.legal_process:
        raise Open311Error(
            400, category.legal_notice or _("This service is not filed through this platform.")
        )
    if not _param(params, "lat") or not _param(params, "long"):
        raise Open311Error(
            400,
            _(
                "lat and long are required: the ward that handles the request is found from "
                "the place on the map; address_string or address_id alone cannot be placed."
            ),
        )
    latitude, longitude = _coordinate(params, "lat"), _coordinate(params, "long")
    name = " ".join(
        part for part in (_param(params, "first_name"), _param(params, "last_name")) if part
    )
    try:
        photos = photos_prepare(request.FILES.getlist("media")[:5])
        filed = request_create(
            category=category,
            description=_param(params, "description"),
            latitude=latitude,
            longitude=longitude,
            address=_param(params, "address_string"),
            answers=_attributes(params),
            reporter_name=name,
            reporter_phone=_param(params, "phone"),
            reporter_email=_param(params, "email"),
            photos=photos,
            source=RequestSource.OPEN311,
            api_client=client,
            client_details={
                name: _param(params, name)[:1000]
                for name in ("device_id", "account_id", "media_url")
            },
        )
    except ValidationError as error:
        raise Open311Error(400, _validation_text(error)) from None
    notice = _(
        "Received. Handled by %(unit)s; expected by %(deadline)s. Follow it with the "
        "tracking code %(code)s."
    ) % {
        "unit": filed.department.name if filed.department else filed.ward.title,
        "deadline": timezone.localtime(filed.deadline_at).strftime("%d/%m/%Y %H:%M"),
        "code": filed.code,
    }
    body = [{"service_request_id": filed.code, "service_notice": notice, "account_id": None}]
    return render(fmt, "service_requests", body)


@endpoint("GET", "HEAD", "POST")
def requests(request: HttpRequest, fmt: str) -> HttpResponse:
    """GET Service Requests, or POST Service Request."""
    if request.method == "POST":
        return _request_create(request, fmt)
    return _request_list(request, fmt)


@endpoint("GET", "HEAD")
def request_detail(request: HttpRequest, fmt: str, service_request_id: str) -> HttpResponse:
    """GET Service Request: a list with the one request."""
    code = _clean(service_request_id).upper()[:20]
    rows = selectors.open311_requests(codes=[code]).values(*selectors.OPEN311_FIELDS)
    found = _rows(request, rows)
    if not found:
        raise Open311Error(404, _("No service request %(id)s.") % {"id": code})
    return render(fmt, "service_requests", found)


@endpoint("GET", "HEAD")
def token(request: HttpRequest, fmt: str, token: str) -> HttpResponse:
    """GET service_request_id from a token: requests are created at once, so the token is
    the tracking code itself."""
    code = _clean(token).upper()[:20]
    if not selectors.open311_requests(codes=[code]).exists():
        raise Open311Error(404, _("No service request for token %(token)s.") % {"token": code})
    return render(fmt, "service_requests", [{"service_request_id": code, "token": code}])
