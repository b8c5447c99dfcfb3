"""The staff side of citizen requests, ``/ops/requests/``: a queue scoped by ward or
department with a deadline countdown, and a page per request with its timeline, photos,
place, the nearest camera and sensor, and every action of the workflow."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cameras.choices import DeviceKind
from cameras.models import Device
from cameras.selectors import devices_visible_to
from ioc import geo, selectors
from ioc.access import staff_required
from ioc.models import Department, Incident, User
from ioc.text import vietnamese_sort_key
from services import selectors as request_selectors
from services import services as svc
from services.choices import RequestStatus
from services.models import ServiceCategory, ServiceRequest
from services.photos import photo_prepare

PAGE_SIZE = 50
# How far from a request's place a camera or sensor still shows the place.
NEARBY_M = 1000


def _request_for(request: HttpRequest, code: str) -> ServiceRequest:
    try:
        return request_selectors.request_get_for_user(request.user, code)
    except ServiceRequest.DoesNotExist as exc:
        raise Http404("No such request.") from exc


@staff_required
def request_queue(request: HttpRequest) -> HttpResponse:
    """The requests the user works, open ones first by deadline, with filters."""
    params = request.GET
    queryset = request_selectors.request_filters(
        request_selectors.requests_visible_to(request.user), params
    )
    if params.get("status", "open") == "open":
        queryset = queryset.order_by("deadline_at", "id")
    page = Paginator(queryset, PAGE_SIZE).get_page(params.get("page"))
    query = params.copy()
    query.pop("page", None)
    return render(
        request,
        "ops/requests/queue.html",
        {
            "nav": "requests",
            "page": page,
            "now": timezone.now(),
            "filters": {
                key: params.get(key, "")
                for key in ("ward", "category", "department", "q", "overdue")
            }
            | {"status": params.get("status", "open")},
            "statuses": RequestStatus.choices,
            "wards": sorted(
                selectors.wards_visible_to(request.user), key=lambda w: vietnamese_sort_key(w.name)
            ),
            "categories": ServiceCategory.objects.select_related("group"),
            "departments": Department.objects.filter(is_active=True),
            "query": query.urlencode(),
            "units": request_selectors.request_unit_kpis(request.user),
            "kpi_days": request_selectors.KPI_DAYS,
        },
    )


def _nearest(user: Any, item: ServiceRequest, kind: str) -> Device | None:
    """The nearest visible device of ``kind`` within 1 km of the request's place."""
    found = geo.nearest(
        devices_visible_to(user).filter(kind=kind),
        lon=float(item.longitude),
        lat=float(item.latitude),
        radius_m=NEARBY_M,
        limit=1,
        scan=200,
    )
    return found[0][0] if found else None


@staff_required
def request_detail(request: HttpRequest, code: str) -> HttpResponse:
    """One request with everything staff need to work it."""
    item = _request_for(request, code)
    user = request.user
    camera = _nearest(user, item, DeviceKind.CAMERA)
    sensor = _nearest(user, item, DeviceKind.SENSOR)
    return render(
        request,
        "ops/requests/detail.html",
        {
            "nav": "requests",
            "item": item,
            "timeline": item.timeline.select_related("actor"),
            "photos": item.photos.all(),
            "duplicates": item.duplicates.all(),
            "camera": camera,
            "sensor": sensor,
            "sensor_values": sorted(((sensor.latest if sensor else None) or {}).items()),
            "templates": item.category.templates.all(),
            "departments": Department.objects.filter(is_active=True),
            "next_statuses": svc.TRANSITIONS[item.status],
            "incidents": selectors.incidents_visible_to(user).filter(
                status__in=["open", "in_progress"], ward=item.ward
            )[:20],
            "can_act": item.merged_into_id is None,
            "wards_url": reverse("api-wards-geojson"),
            "map_data": {
                "lat": float(item.latitude),
                "lon": float(item.longitude),
                "title": item.code,
            },
        },
    )


def request_act(user: User, item: ServiceRequest, action: str, data: Any, files: Any) -> str:
    """Run one staff action through its service; returns the confirmation people read."""
    text = str(data.get("text") or "")
    if action == "triage":
        svc.request_triage(actor=user, request=item)
    elif action == "assign":
        department = None
        if code := data.get("department"):
            department = Department.objects.filter(code=code, is_active=True).first()
            if department is None:
                raise ValidationError({"department": _("No such department.")})
        svc.request_assign(actor=user, request=item, department=department)
    elif action == "start":
        svc.request_start(actor=user, request=item)
    elif action == "answer":
        svc.request_answer(actor=user, request=item, text=text)
    elif action == "note":
        svc.request_note(actor=user, request=item, text=text)
    elif action == "resolve":
        upload = files.get("after_photo") if files else None
        photo = photo_prepare(upload, name=upload.name) if upload else None
        svc.request_resolve(actor=user, request=item, answer=text, after_photo=photo)
    elif action == "close":
        svc.request_close(actor=user, request=item)
    elif action == "reject":
        svc.request_reject(actor=user, request=item, reason=text)
    elif action == "reopen":
        svc.request_reopen(actor=user, request=item, reason=text)
    elif action == "merge":
        try:
            into = request_selectors.request_get_for_user(
                user, str(data.get("into", "")).strip().upper()
            )
        except ServiceRequest.DoesNotExist as exc:
            raise ValidationError({"into": _("No such request in your area.")}) from exc
        svc.request_merge(actor=user, duplicate=item, into=into)
    elif action == "incident":
        if reference := str(data.get("incident") or "").strip():
            number = reference.rsplit("-", 1)[-1]
            try:
                incident = selectors.incident_get_for_user(user, int(number))
            except (ValueError, Incident.DoesNotExist) as exc:
                raise ValidationError({"incident": _("No such incident in your area.")}) from exc
            svc.request_incident_link(actor=user, request=item, incident=incident)
        else:
            svc.request_incident_open(actor=user, request=item)
    else:
        raise Http404("No such action.")
    return _("Request %(code)s updated.") % {"code": item.code}


@staff_required
@require_POST
def request_action(request: HttpRequest, code: str, action: str) -> HttpResponse:
    """One workflow action from the request page, then back to it with a message."""
    item = _request_for(request, code)
    try:
        done = request_act(request.user, item, action, request.POST, request.FILES)  # type: ignore[arg-type]
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except PermissionDenied as exc:
        raise Http404("No such request.") from exc
    else:
        messages.success(request, done)
    if action == "merge" and item.merged_into_id is None:
        item.refresh_from_db()
    return redirect("ops-request-detail", code=item.code)
