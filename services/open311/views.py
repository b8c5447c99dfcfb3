"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2), JSON and XML: the endpoints.
How answers are rendered is in ``protocol``, how input is read in ``params``.

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

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from ioc.models import Ward
from ioc.provinces import installation_name
from ioc.ratelimit import over_limit
from services import selectors
from services.choices import RequestSource
from services.models import OPEN_STATUSES, Open311Key, ServiceCategory
from services.open311.params import (
    attributes,
    clean,
    coordinate,
    date_range,
    list_param,
    param,
    validation_text,
)
from services.open311.protocol import Open311Error, endpoint, render, w3_datetime
from services.services.filing import photos_prepare, request_create
from services.services.notify import reporter_url

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# When this API last changed (discovery's changeset).
CHANGESET = "2026-11-22T00:00:00+07:00"
MAX_RESULTS = 1000
CLOSED_TEXT = "closed"
OPEN_TEXT = "open"


def _rate_limited(client: Open311Key) -> bool:
    """A one-minute window per key."""
    return over_limit(
        f"open311:{client.pk}", limit=settings.IOC_OPEN311_POSTS_PER_MINUTE, window_seconds=60
    )


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
        or _("Operations centre of %(city)s") % {"city": installation_name()},
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
    code = clean(code)[:40]
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


def _request_list(request: HttpRequest, fmt: str) -> HttpResponse:
    """GET Service Requests with the specification's filters and defaults."""
    params = request.GET
    codes = [code.upper() for code in list_param(params, "service_request_id")][:MAX_RESULTS]
    if codes:  # the specification: service_request_id overrides every other argument
        rows = selectors.open311_requests(codes=codes).values(*selectors.OPEN311_FIELDS)
        return render(fmt, "service_requests", _rows(request, rows))
    requests = selectors.open311_requests()
    if service_codes := list_param(params, "service_code"):
        requests = requests.filter(category__code__in=service_codes)
    statuses = {status.lower() for status in list_param(params, "status")}
    if statuses - {OPEN_TEXT, CLOSED_TEXT}:
        raise Open311Error(400, _("status must be open, closed or both (comma-separated)."))
    if statuses == {OPEN_TEXT}:
        requests = requests.filter(status__in=OPEN_STATUSES)
    elif statuses == {CLOSED_TEXT}:
        requests = requests.exclude(status__in=OPEN_STATUSES)
    start, end = date_range(params)
    requests = requests.filter(created_at__gte=start, created_at__lte=end)
    rows = requests.values(*selectors.OPEN311_FIELDS)[:MAX_RESULTS]
    return render(fmt, "service_requests", _rows(request, rows))


def _client(request: HttpRequest) -> Open311Key:
    """The active key the POST's ``api_key`` is the secret of; 403 otherwise."""
    client = selectors.open311_key_for_secret(param(request.POST, "api_key"))
    if client is None:
        raise Open311Error(403, _("Invalid api_key received: it is missing, unknown or revoked."))
    return client


def _category_to_file(params: Any) -> ServiceCategory:
    """The category a POST names in ``service_code``: 400 when missing or filed under its
    own law, 404 when unknown."""
    service_code = param(params, "service_code")
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
    return category


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
    category = _category_to_file(params)
    if not param(params, "lat") or not param(params, "long"):
        raise Open311Error(
            400,
            _(
                "lat and long are required: the ward that handles the request is found from "
                "the place on the map; address_string or address_id alone cannot be placed."
            ),
        )
    latitude, longitude = coordinate(params, "lat"), coordinate(params, "long")
    name = " ".join(
        part for part in (param(params, "first_name"), param(params, "last_name")) if part
    )
    try:
        photos = photos_prepare(request.FILES.getlist("media")[:5])
        filed = request_create(
            category=category,
            description=param(params, "description"),
            latitude=latitude,
            longitude=longitude,
            address=param(params, "address_string"),
            answers=attributes(params),
            reporter_name=name,
            reporter_phone=param(params, "phone"),
            reporter_email=param(params, "email"),
            photos=photos,
            source=RequestSource.OPEN311,
            api_client=client,
            client_details={
                name: param(params, name)[:1000]
                for name in ("device_id", "account_id", "media_url")
            },
        )
    except ValidationError as error:
        raise Open311Error(400, validation_text(error)) from None
    notice = _(
        "Received. Handled by %(unit)s; expected by %(deadline)s. Follow it with the "
        "tracking code %(code)s."
    ) % {
        "unit": filed.department.name if filed.department else filed.ward.title,
        "deadline": timezone.localtime(filed.deadline_at).strftime("%d/%m/%Y %H:%M"),
        "code": filed.code,
    }
    body = [
        {
            "service_request_id": filed.code,
            "service_notice": notice,
            "account_id": None,
            # Beyond GeoReport v2, to the client that filed only: the reporter's key.
            "reporter_url": reporter_url(filed, filed.reporter_key),
        }
    ]
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
    code = clean(service_request_id).upper()[:20]
    rows = selectors.open311_requests(codes=[code]).values(*selectors.OPEN311_FIELDS)
    found = _rows(request, rows)
    if not found:
        raise Open311Error(404, _("No service request %(id)s.") % {"id": code})
    return render(fmt, "service_requests", found)


@endpoint("GET", "HEAD")
def token(request: HttpRequest, fmt: str, token: str) -> HttpResponse:
    """GET service_request_id from a token: requests are created at once, so the token is
    the tracking code itself."""
    code = clean(token).upper()[:20]
    if not selectors.open311_requests(codes=[code]).exists():
        raise Open311Error(404, _("No service request for token %(token)s.") % {"token": code})
    return render(fmt, "service_requests", [{"service_request_id": code, "token": code}])
