"""A request and the centre's incidents: open one about a request, or link a request to an
open incident about the same event."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from ioc.choices import IncidentEntryKind
from ioc.models import Incident, IncidentEntry, IncidentType, User
from ioc.services.incidents import incident_create
from services.choices import EntryKind
from services.models import ServiceRequest
from services.services.common import audit, entry_add, locked, staff_check, touch
from services.services.notify import request_publish


@transaction.atomic
def request_incident_open(*, actor: User, request: ServiceRequest) -> Incident:
    """Open an incident about a request (at its place) and link the request to it."""
    request = locked(request)
    staff_check(actor, request)
    if request.incident_id is not None:
        raise ValidationError({"incident": _("This request already belongs to an incident.")})
    kind = IncidentType.objects.filter(is_active=True, alert_causes=[]).first()
    kind = kind or IncidentType.objects.filter(is_active=True).first()
    if kind is None:
        raise ValidationError({"incident": _("No incident type is configured.")})
    incident = incident_create(
        actor=actor,
        incident_type=kind,
        title=f"{request.category.name} ({request.code})",
        latitude=request.latitude,
        longitude=request.longitude,
        address=request.address,
        description=request.description,
    )
    return _incident_link(actor, request, incident)


@transaction.atomic
def request_incident_link(*, actor: User, request: ServiceRequest, incident: Incident) -> Incident:
    """Link a request to an incident about the same event (the caller fetched the incident
    through the actor's scope)."""
    request = locked(request)
    staff_check(actor, request)
    return _incident_link(actor, request, incident)


def _incident_link(actor: User, request: ServiceRequest, incident: Incident) -> Incident:
    """Link both ways: a staff note on the request, a ``linked`` entry on the incident."""
    if not incident.is_open:
        raise ValidationError({"incident": _("Link to an open incident.")})
    request.incident = incident
    touch(request, ["incident"])
    entry_add(
        request,
        EntryKind.NOTE,
        actor=actor,
        public=False,
        text=incident.reference,
        data={"incident": incident.pk},
    )
    IncidentEntry.objects.create(
        incident=incident,
        actor=actor,
        kind=IncidentEntryKind.LINKED,
        text=f"{request.code} · {request.category.name}",
        data={"request": request.code},
    )
    audit(actor, "incident_linked", request, None, {"incident": incident.reference})
    request_publish(request)
    return incident
