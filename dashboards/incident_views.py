"""Incident screens under ``/ops/incidents/``: list, open, work and close incidents.

Reads come from the scoped selectors (another ward's incident is a 404); every change goes
through a service in ``ioc.services.incidents``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cameras import selectors as device_selectors
from cameras.models import Device
from ioc import selectors
from ioc.access import local_next, staff_required
from ioc.api.actions import incident_act
from ioc.choices import IncidentStatus, Severity
from ioc.models import Alert, Incident, IncidentType
from ioc.services import incidents as incident_services
from ioc.text import vietnamese_sort_key

PAGE_SIZE = 50


class IncidentForm(forms.Form):
    """What an operator gives to open an incident by hand."""

    incident_type = forms.ModelChoiceField(
        label=gettext_lazy("Type"), queryset=IncidentType.objects.filter(is_active=True)
    )
    title = forms.CharField(label=gettext_lazy("Title"), max_length=200)
    severity = forms.ChoiceField(
        label=gettext_lazy("Severity"),
        required=False,
        choices=[("", gettext_lazy("The type's default")), *Severity.choices],
    )
    latitude = forms.DecimalField(
        label=gettext_lazy("Latitude"), max_digits=9, decimal_places=6, min_value=-90, max_value=90
    )
    longitude = forms.DecimalField(
        label=gettext_lazy("Longitude"),
        max_digits=10,
        decimal_places=6,
        min_value=-180,
        max_value=180,
    )
    address = forms.CharField(
        label=gettext_lazy("Address or landmark"), max_length=200, required=False
    )
    description = forms.CharField(
        label=gettext_lazy("Description"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )


def _filters(request: HttpRequest) -> dict[str, str]:
    params = request.GET
    return {
        # "active" (the default): open and in progress; "all"; or one status.
        "status": params.get("status", "active"),
        "ward": params.get("ward", ""),
        "type": params.get("type", ""),
        "severity": params.get("severity", ""),
        "q": params.get("q", "").strip()[:100],
    }


def _filtered(user: Any, filters: dict[str, str]) -> Any:
    incidents = selectors.incidents_visible_to(user)
    status = filters["status"]
    if status == "active":
        incidents = incidents.filter(status__in=[IncidentStatus.OPEN, IncidentStatus.IN_PROGRESS])
    elif status in IncidentStatus.values:
        incidents = incidents.filter(status=status)
    if filters["ward"]:
        incidents = incidents.filter(ward__in=selectors.wards_named(filters["ward"]))
    if filters["type"]:
        incidents = incidents.filter(incident_type__code=filters["type"])
    if filters["severity"]:
        incidents = incidents.filter(severity=filters["severity"])
    if query := filters["q"]:
        match = Q(title__icontains=query) | Q(address__icontains=query)
        number = query.rsplit("-", 1)[-1]
        if number.isdigit():
            match |= Q(pk=int(number))
        incidents = incidents.filter(match)
    return incidents.annotate(alert_count=Count("alerts"))


@staff_required
def incident_list(request: HttpRequest) -> HttpResponse:
    """The incidents of the user's wards, open ones first by default, with filters."""
    filters = _filters(request)
    page = Paginator(_filtered(request.user, filters), PAGE_SIZE).get_page(request.GET.get("page"))
    wards = sorted(
        selectors.wards_visible_to(request.user), key=lambda w: vietnamese_sort_key(w.name)
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "ops/incidents/list.html",
        {
            "nav": "incidents",
            "page": page,
            "filters": filters,
            "wards": wards,
            "types": IncidentType.objects.all(),
            "statuses": IncidentStatus.choices,
            "severities": Severity.choices,
            "query": query.urlencode(),
            "can_handle": selectors.may_handle_incidents(request.user),
        },
    )


def _initial_place(request: HttpRequest) -> dict[str, Any]:
    """Start the form at a device's place (``?device=CODE``) or at given coordinates."""
    initial: dict[str, Any] = {}
    if code := request.GET.get("device"):
        try:
            device = device_selectors.device_get_for_user(request.user, code)
        except Device.DoesNotExist as exc:
            raise Http404("No such device.") from exc
        initial.update(latitude=device.latitude, longitude=device.longitude, address=device.address)
    for field in ("latitude", "longitude"):
        value = request.GET.get(field[:3]) or request.GET.get(field)
        if value:
            initial[field] = value
    return initial


@staff_required
def incident_new(request: HttpRequest) -> HttpResponse:
    """Open an incident by hand: type, title, place on the map, description."""
    if not selectors.may_handle_incidents(request.user):
        raise PermissionDenied("Department staff see incidents but do not open them.")
    form = IncidentForm(request.POST or None, initial=_initial_place(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            incident = incident_services.incident_create(
                actor=request.user,  # type: ignore[arg-type]
                incident_type=data["incident_type"],
                title=data["title"],
                severity=data["severity"],
                latitude=data["latitude"],
                longitude=data["longitude"],
                address=data["address"],
                description=data["description"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Incident %(ref)s opened.") % {"ref": incident.reference})
            return redirect("ops-incident-detail", pk=incident.pk)
    return render(
        request,
        "ops/incidents/new.html",
        {"nav": "incidents", "form": form, "wards_url": reverse("api-wards-geojson")},
    )


def _alert_for(request: HttpRequest, alert_id: int) -> Alert:
    try:
        return selectors.alert_get_for_user(request.user, alert_id)
    except Alert.DoesNotExist as exc:
        raise Http404("No such alert.") from exc


def _incident_for(request: HttpRequest, pk: int) -> Incident:
    try:
        return selectors.incident_get_for_user(request.user, pk)
    except Incident.DoesNotExist as exc:
        raise Http404("No such incident.") from exc


def _error_text(exc: ValidationError) -> str:
    return " ".join(" ".join(map(str, errors)) for errors in exc.message_dict.values())


@staff_required
@require_POST
def incident_from_alert(request: HttpRequest, alert_id: int) -> HttpResponse:
    """Open an incident about an alert (or go to the one it already belongs to)."""
    if not selectors.may_handle_incidents(request.user):
        raise PermissionDenied("Department staff see incidents but do not open them.")
    alert = _alert_for(request, alert_id)
    if alert.incident_id is not None:
        try:
            existing = selectors.incident_get_for_user(request.user, alert.incident_id)
        except Incident.DoesNotExist:
            existing = None
        if existing is not None:
            return redirect("ops-incident-detail", pk=existing.pk)
    try:
        incident = incident_services.incident_create_from_alert(
            actor=request.user,  # type: ignore[arg-type]
            alert=alert,
        )
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
        return redirect(local_next(request, reverse("ops-incident-list")))
    messages.success(request, _("Incident %(ref)s opened.") % {"ref": incident.reference})
    return redirect("ops-incident-detail", pk=incident.pk)


@staff_required
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One incident: where, what, who, its checklist, linked alerts, suggestions, timeline."""
    incident = _incident_for(request, pk)
    user = request.user
    can_handle = selectors.may_handle_incidents(user)
    alerts = list(selectors.incident_alerts_for(user, incident))
    suggestions = selectors.incident_link_suggestions(user, incident) if incident.is_open else []
    checklist = list(incident.checklist.select_related("done_by"))
    from services.selectors import requests_visible_to

    linked_requests = list(requests_visible_to(user).filter(incident=incident))
    points = [
        {
            "lat": float(alert.device.latitude),
            "lon": float(alert.device.longitude),
            "title": alert.title,
            "linked": linked,
        }
        for linked, pairs in ((True, [(a, 0.0) for a in alerts]), (False, suggestions))
        for alert, _distance in pairs
        if alert.device is not None
    ]
    return render(
        request,
        "ops/incidents/detail.html",
        {
            "nav": "incidents",
            "incident": incident,
            "alerts": alerts,
            "linked_requests": linked_requests,
            "suggestions": suggestions,
            "checklist": checklist,
            "steps_done": sum(1 for item in checklist if item.done_at),
            "timeline": incident.timeline.select_related("actor"),
            "can_handle": can_handle,
            "next_statuses": [
                (status, IncidentStatus(status).label)
                for status in IncidentStatus.values
                if status in incident_services.TRANSITIONS[incident.status]
            ],
            "staff": selectors.incident_staff_for(incident) if can_handle else [],
            "severities": Severity.choices,
            "wards_url": reverse("api-wards-geojson"),
            "map_data": {
                "incident": {
                    "lat": float(incident.latitude),
                    "lon": float(incident.longitude),
                    "title": incident.title,
                },
                "alerts": points,
            },
        },
    )


@staff_required
@require_POST
def incident_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Change status, assign, set severity, add a note, tick a step, link or unlink an
    alert; then back to the incident with a message."""
    if not selectors.may_handle_incidents(request.user):
        raise PermissionDenied("Department staff see incidents but do not handle them.")
    incident = _incident_for(request, pk)
    try:
        done = incident_act(request.user, incident, action, request.POST.dict())  # type: ignore[arg-type]
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, done)
    return redirect(reverse("ops-incident-detail", kwargs={"pk": incident.pk}) + "#timeline")
