"""Incident services: open an incident (by hand or from an alert), work it, link alerts.

Every write here checks that the actor may handle incidents in the incident's ward, keeps
the timeline, leaves an audit entry and publishes ``incident.updated`` after commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ioc import geo, realtime
from ioc.choices import AlertStatus, IncidentEntryKind, IncidentStatus, Severity
from ioc.models import (
    Alert,
    Incident,
    IncidentChecklistItem,
    IncidentEntry,
    IncidentType,
    User,
    Ward,
)
from ioc.realtime import event_types
from ioc.selectors import incident_data
from ioc.services.alerts import alert_acknowledge, alert_resolve
from ioc.services.audit import audit_record
from ioc.text import text_clean as _text

# Which status may follow which; a closed incident is final (open a new one instead).
TRANSITIONS: dict[str, set[str]] = {
    IncidentStatus.OPEN: {IncidentStatus.IN_PROGRESS, IncidentStatus.RESOLVED},
    IncidentStatus.IN_PROGRESS: {IncidentStatus.RESOLVED},
    IncidentStatus.RESOLVED: {IncidentStatus.IN_PROGRESS, IncidentStatus.CLOSED},
    IncidentStatus.CLOSED: set(),
}


def _publish(incident: Incident) -> None:
    realtime.publish(
        event_types.incident_updated(ward=incident.ward.code, incident=incident_data(incident))
    )


def _check_actor(actor: User, ward: Ward) -> None:
    """Only staff who handle alerts, and only in a ward they see, may change incidents."""
    from ioc.selectors import may_handle_incidents, wards_visible_to

    if not may_handle_incidents(actor):
        raise PermissionDenied(_("Department staff see incidents but do not handle them."))
    if not wards_visible_to(actor, include_retired=True).filter(pk=ward.pk).exists():
        raise PermissionDenied(_("This ward is outside your area."))


def _entry(
    incident: Incident,
    actor: User | None,
    kind: IncidentEntryKind,
    text: str = "",
    data: dict[str, Any] | None = None,
) -> IncidentEntry:
    return IncidentEntry.objects.create(
        incident=incident, actor=actor, kind=kind, text=text, data=data or {}
    )


def _touch(incident: Incident, fields: list[str]) -> None:
    incident.updated_at = timezone.now()
    incident.save(update_fields=[*fields, "updated_at"])


def _locked(incident: Incident) -> Incident:
    return (
        Incident.objects.select_for_update(of=("self",))
        .select_related("ward", "incident_type", "assignee")
        .get(pk=incident.pk)
    )


def _audit(
    actor: User,
    action: str,
    incident: Incident,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    reason: str = "",
) -> None:
    audit_record(
        actor=actor,
        action=f"incident.{action}",
        obj=incident,
        before=before,
        after=after,
        ward_code=incident.ward.code,
        reason=reason,
    )


def _link(actor: User, incident: Incident, alert: Alert) -> None:
    """Attach one alert (already checked visible to the actor) to the incident."""
    if alert.incident_id == incident.pk:
        return
    if alert.incident_id is not None:
        raise ValidationError({"alert": _("This alert already belongs to another incident.")})
    if alert.ward_id != incident.ward_id and not actor.has_city_scope:
        raise ValidationError({"alert": _("Only alerts of the incident's ward can be linked.")})
    alert.incident = incident
    alert.save(update_fields=["incident"])
    _entry(
        incident,
        actor,
        IncidentEntryKind.LINKED,
        alert.title,
        {"alert": alert.pk, "device": alert.device.code if alert.device else None},
    )


@transaction.atomic
def incident_create(
    *,
    actor: User,
    incident_type: IncidentType,
    title: str,
    latitude: Decimal | float,
    longitude: Decimal | float,
    severity: str = "",
    description: str = "",
    address: str = "",
    alerts: Iterable[Alert] = (),
    assignee: User | None = None,
) -> Incident:
    """Open an incident at a place; its ward is found from the place, its checklist is
    copied from the type's standard steps, and the given alerts are linked to it."""
    try:
        geo.check_lon_lat(float(longitude), float(latitude))
    except ValueError as exc:
        raise ValidationError({"location": str(exc)}) from exc
    ward_code = geo.ward_for_point(longitude, latitude)
    if ward_code is None:
        raise ValidationError({"location": _("This place is outside the city's wards.")})
    ward = Ward.objects.current().get(code=ward_code)
    _check_actor(actor, ward)
    if not incident_type.is_active:
        raise ValidationError({"incident_type": _("This incident type is no longer in use.")})
    incident = Incident(
        incident_type=incident_type,
        title=_text(title, "title", required=True)[:200],
        description=_text(description, "description", required=False),
        severity=severity or incident_type.default_severity,
        ward=ward,
        latitude=geo.coordinate(latitude),
        longitude=geo.coordinate(longitude),
        address=address.strip()[:200],
        created_by=actor,
    )
    incident.full_clean()
    incident.save()
    IncidentChecklistItem.objects.bulk_create(
        IncidentChecklistItem(incident=incident, position=step.position, text=step.text)
        for step in incident_type.steps.all()
    )
    _entry(incident, actor, IncidentEntryKind.CREATED, incident.description)
    for alert in alerts:
        _link(actor, incident, alert)
    _audit(actor, "created", incident, None, {"title": incident.title, "ward": ward.code})
    if assignee is not None:
        _assign(actor, incident, assignee)
    _publish(incident)
    return incident


def incident_types_seed() -> None:
    """Create the standard incident types that are missing (a fresh or flushed database)."""
    from ioc.incident_defaults import seed_types
    from ioc.models import IncidentTypeStep

    seed_types(IncidentType, IncidentTypeStep)


def incident_type_for_alert(alert: Alert) -> IncidentType:
    """The active type whose alert causes match the alert's cause, else the catch-all."""
    types = list(IncidentType.objects.filter(is_active=True))
    for kind in types:
        if kind.matches_cause(alert.cause):
            return kind
    fallback = next((kind for kind in types if not kind.alert_causes), None)
    if fallback is None and not types:
        raise ValidationError({"incident_type": _("No incident type is configured.")})
    return fallback or types[0]


@transaction.atomic
def incident_create_from_alert(
    *, actor: User, alert: Alert, incident_type: IncidentType | None = None
) -> Incident:
    """Open an incident about an alert at its device's place; an active alert becomes
    acknowledged, since someone is now on it."""
    alert = (
        Alert.objects.select_for_update(of=("self",))
        .select_related("ward", "device")
        .get(pk=alert.pk)
    )
    if alert.incident_id is not None:
        raise ValidationError({"alert": _("This alert already belongs to an incident.")})
    if alert.device is not None:
        latitude, longitude = alert.device.latitude, alert.device.longitude
    elif alert.ward.centroid_lat is not None and alert.ward.centroid_lon is not None:
        latitude, longitude = alert.ward.centroid_lat, alert.ward.centroid_lon
    else:
        raise ValidationError(
            {"alert": _("This alert's unit has no boundary yet: open the incident at a place.")}
        )
    kind = incident_type or incident_type_for_alert(alert)
    incident = incident_create(
        actor=actor,
        incident_type=kind,
        title=alert.title,
        latitude=latitude,
        longitude=longitude,
        severity=alert.severity,
        description=_("Opened from the alert “%(title)s”.") % {"title": alert.title},
        alerts=[alert],
    )
    if alert.status == AlertStatus.ACTIVE:
        alert_acknowledge(
            actor=actor, alert=alert, note=_("Incident %(ref)s") % {"ref": incident.reference}
        )
    return incident


def _status_note(incident: Incident, status: str, note: str, *, reopening: bool) -> str:
    """The note of a status change: required when resolving (what was done), reopening
    (why) or closing with checklist steps not done (why anyway)."""
    if status == IncidentStatus.RESOLVED:
        return _text(note, "note", required=True, message=_("Say what was done."))
    if reopening:
        return _text(note, "note", required=True, message=_("Say why it is reopened."))
    open_steps = incident.checklist.filter(done_at__isnull=True).count()
    if status == IncidentStatus.CLOSED and open_steps:
        return _text(
            note,
            "note",
            required=True,
            message=_("%(n)s checklist steps are not done: say why you close anyway.")
            % {"n": open_steps},
        )
    return _text(note, "note", required=False)


@transaction.atomic
def incident_status_set(
    *, actor: User, incident: Incident, status: str, note: str = ""
) -> Incident:
    """Move an incident along its life; resolving says what was done (and resolves the
    linked alerts still open), reopening says why, closing with unticked steps says why."""
    incident = _locked(incident)
    _check_actor(actor, incident.ward)
    if status not in IncidentStatus.values:
        raise ValidationError({"status": _("Unknown status.")})
    if status not in TRANSITIONS[incident.status]:
        raise ValidationError(
            {
                "status": _("An incident that is %(from)s cannot become %(to)s.")
                % {
                    "from": IncidentStatus(incident.status).label,
                    "to": IncidentStatus(status).label,
                }
            }
        )
    reopening = incident.status == IncidentStatus.RESOLVED and status == IncidentStatus.IN_PROGRESS
    note = _status_note(incident, status, note, reopening=reopening)
    before = {"status": incident.status}
    now = timezone.now()
    incident.status = status
    fields = ["status"]
    if status == IncidentStatus.RESOLVED:
        incident.resolved_at = now
        fields.append("resolved_at")
    elif reopening:
        incident.resolved_at = None
        fields.append("resolved_at")
    elif status == IncidentStatus.CLOSED:
        incident.closed_at = now
        fields.append("closed_at")
    _touch(incident, fields)
    _entry(
        incident, actor, IncidentEntryKind.STATUS, note, {"from": before["status"], "to": status}
    )
    _audit(actor, "status", incident, before, {"status": status}, note)
    if status == IncidentStatus.RESOLVED:
        for alert in incident.alerts.exclude(status=AlertStatus.RESOLVED).select_related(
            "ward", "device", "assignee"
        ):
            alert_resolve(
                actor=actor,
                alert=alert,
                note=_("Resolved with incident %(ref)s: %(note)s")
                % {"ref": incident.reference, "note": note},
            )
    _publish(incident)
    return incident


def _assign(actor: User, incident: Incident, assignee: User) -> None:
    from ioc.selectors import may_handle_incidents, wards_visible_to

    if not (
        assignee.is_active
        and may_handle_incidents(assignee)
        and wards_visible_to(assignee, include_retired=True).filter(pk=incident.ward_id).exists()
    ):
        raise ValidationError({"assignee": _("That person cannot handle this ward's incidents.")})
    before = {"assignee": incident.assignee.get_username() if incident.assignee else None}
    incident.assignee = assignee
    _touch(incident, ["assignee"])
    name = assignee.get_full_name() or assignee.get_username()
    _entry(incident, actor, IncidentEntryKind.ASSIGNED, name, {"assignee": assignee.get_username()})
    _audit(actor, "assigned", incident, before, {"assignee": assignee.get_username()})


@transaction.atomic
def incident_assign(*, actor: User, incident: Incident, assignee: User) -> Incident:
    """Give the incident to a staff member who handles incidents in its ward."""
    incident = _locked(incident)
    _check_actor(actor, incident.ward)
    if not incident.is_open:
        raise ValidationError({"status": _("Reopen the incident before assigning it.")})
    _assign(actor, incident, assignee)
    _publish(incident)
    return incident


@transaction.atomic
def incident_severity_set(
    *, actor: User, incident: Incident, severity: str, note: str = ""
) -> Incident:
    """Raise or lower how urgent the incident is."""
    incident = _locked(incident)
    _check_actor(actor, incident.ward)
    if severity not in Severity.values:
        raise ValidationError({"severity": _("Unknown severity.")})
    if severity == incident.severity:
        return incident
    before = {"severity": incident.severity}
    incident.severity = severity
    _touch(incident, ["severity"])
    note = _text(note, "note", required=False)
    _entry(incident, actor, IncidentEntryKind.SEVERITY, note, {**before, "to": severity})
    _audit(actor, "severity", incident, before, {"severity": severity}, note)
    _publish(incident)
    return incident


@transaction.atomic
def incident_note_add(*, actor: User, incident: Incident, text: str) -> IncidentEntry:
    """Add a note to the timeline (staff only; notes are never edited)."""
    incident = _locked(incident)
    _check_actor(actor, incident.ward)
    text = _text(text, "text", required=True, message=_("Write the note first."))
    entry = _entry(incident, actor, IncidentEntryKind.NOTE, text)
    _touch(incident, [])
    _audit(actor, "note", incident, None, {"entry": entry.pk}, text)
    _publish(incident)
    return entry


@transaction.atomic
def incident_checklist_set(
    *, actor: User, incident: Incident, item_id: int, done: bool
) -> IncidentChecklistItem:
    """Tick off (or untick) one checklist step, recording who and when."""
    incident = _locked(incident)
    _check_actor(actor, incident.ward)
    try:
        item = incident.checklist.get(pk=item_id)
    except IncidentChecklistItem.DoesNotExist as exc:
        raise ValidationError({"item": _("No such checklist step.")}) from exc
    if done == (item.done_at is not None):
        return item
    if incident.status == IncidentStatus.CLOSED:
        raise ValidationError({"status": _("A closed incident cannot change.")})
    item.done_at = timezone.now() if done else None
    item.done_by = actor if done else None
    item.save(update_fields=["done_at", "done_by"])
    _entry(incident, actor, IncidentEntryKind.CHECKLIST, item.text, {"item": item.pk, "done": done})
    _touch(incident, [])
    _audit(actor, "checklist", incident, {"item": item.pk, "done": not done}, {"done": done})
    _publish(incident)
    return item


@transaction.atomic
def incident_link_alert(*, actor: User, incident: Incident, alert: Alert) -> Incident:
    """Link an alert about the same event (the caller fetched it through the actor's scope)."""
    incident = _locked(incident)
    _check_actor(actor, incident.ward)
    if incident.status == IncidentStatus.CLOSED:
        raise ValidationError({"status": _("A closed incident cannot change.")})
    alert = Alert.objects.select_for_update(of=("self",)).select_related("device").get(pk=alert.pk)
    _link(actor, incident, alert)
    _touch(incident, [])
    _audit(actor, "linked", incident, None, {"alert": alert.pk})
    _publish(incident)
    return incident


@transaction.atomic
def incident_unlink_alert(*, actor: User, incident: Incident, alert: Alert) -> Incident:
    """Detach an alert that turned out to be about something else."""
    incident = _locked(incident)
    _check_actor(actor, incident.ward)
    alert = Alert.objects.select_for_update(of=("self",)).select_related("device").get(pk=alert.pk)
    if alert.incident_id != incident.pk:
        raise ValidationError({"alert": _("This alert is not linked to the incident.")})
    alert.incident = None
    alert.save(update_fields=["incident"])
    _entry(incident, actor, IncidentEntryKind.UNLINKED, alert.title, {"alert": alert.pk})
    _touch(incident, [])
    _audit(actor, "unlinked", incident, {"alert": alert.pk}, None)
    _publish(incident)
    return incident
