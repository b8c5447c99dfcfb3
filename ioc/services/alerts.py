"""Alert services: rules raise and clear alerts; staff acknowledge, assign and resolve them.

One open alert per device and cause (a database constraint): a repeated breach refreshes
the open alert instead of raising another.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from ioc import realtime
from ioc.choices import AlertKind, AlertStatus, Severity
from ioc.models import Alert, User, Ward
from ioc.realtime import event_types
from ioc.selectors import alert_data
from ioc.services.audit import audit_record

SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


def _publish(alert: Alert, *, raised: bool = False) -> None:
    realtime.publish(
        event_types.alert_event(ward=alert.ward.code, alert=alert_data(alert), raised=raised)
    )


@transaction.atomic
def alert_raise(
    *,
    ward: Ward,
    device: Any | None,
    kind: AlertKind,
    cause: str,
    severity: Severity,
    title: str,
    at: datetime | None = None,
    data: dict[str, Any] | None = None,
) -> tuple[Alert, bool]:
    """Raise an alert, or refresh the open one for the same device and cause.

    Returns the alert and whether it is new. A refresh publishes only when the severity
    rises, so a sensor stuck above its limit does not flood the operators.
    """
    now = at or timezone.now()
    data = json.loads(json.dumps(data or {}, cls=DjangoJSONEncoder))  # times become ISO text
    open_alert = (
        Alert.objects.select_for_update(of=("self",))
        .select_related("ward", "device", "assignee")
        .filter(device=device, cause=cause)
        .exclude(status=AlertStatus.RESOLVED)
        .first()
    )
    if open_alert is not None:
        escalated = SEVERITY_RANK[Severity(severity)] > SEVERITY_RANK[Severity(open_alert.severity)]
        open_alert.last_seen_at = max(open_alert.last_seen_at, now)
        open_alert.occurrences += 1
        fields = ["last_seen_at", "occurrences"]
        if escalated:
            open_alert.severity = severity
            open_alert.title = title
            fields += ["severity", "title"]
        if data:
            open_alert.data = {**open_alert.data, **data}
            fields.append("data")
        open_alert.save(update_fields=fields)
        if escalated:
            _publish(open_alert)
        return open_alert, False
    alert = Alert(
        ward=ward,
        device=device,
        kind=kind,
        cause=cause[:80],
        severity=severity,
        title=title[:200],
        raised_at=now,
        last_seen_at=now,
        data=data or {},
    )
    alert.full_clean(validate_constraints=False)
    alert.save()
    _publish(alert, raised=True)
    return alert, True


@transaction.atomic
def alert_clear(*, device: Any, cause: str, at: datetime | None = None) -> Alert | None:
    """The condition behind an alert has cleared: resolve its open alert automatically."""
    alert = (
        Alert.objects.select_for_update(of=("self",))
        .select_related("ward", "device", "assignee")
        .filter(device=device, cause=cause)
        .exclude(status=AlertStatus.RESOLVED)
        .first()
    )
    if alert is None:
        return None
    alert.status = AlertStatus.RESOLVED
    alert.resolved_at = at or timezone.now()
    alert.auto_cleared = True
    alert.save(update_fields=["status", "resolved_at", "auto_cleared"])
    _publish(alert)
    return alert


def _locked(alert: Alert) -> Alert:
    return (
        Alert.objects.select_for_update(of=("self",))
        .select_related("ward", "device", "assignee")
        .get(pk=alert.pk)
    )


@transaction.atomic
def alert_acknowledge(*, actor: User, alert: Alert, note: str = "") -> Alert:
    """An operator has seen the alert and is on it."""
    alert = _locked(alert)
    if alert.status != AlertStatus.ACTIVE:
        raise ValidationError({"status": "Only an active alert can be acknowledged."})
    before = {"status": alert.status}
    alert.status = AlertStatus.ACKNOWLEDGED
    alert.acknowledged_at = timezone.now()
    alert.acknowledged_by = actor
    if note.strip():
        alert.note = note.strip()
    alert.save(update_fields=["status", "acknowledged_at", "acknowledged_by", "note"])
    audit_record(
        actor=actor,
        action="alert.acknowledged",
        obj=alert,
        before=before,
        after={"status": alert.status},
        ward_code=alert.ward.code,
        reason=note.strip(),
    )
    _publish(alert)
    return alert


@transaction.atomic
def alert_assign(*, actor: User, alert: Alert, assignee: User) -> Alert:
    """Give the alert to a staff member who can see its ward."""
    from ioc.selectors import wards_visible_to

    alert = _locked(alert)
    if alert.status == AlertStatus.RESOLVED:
        raise ValidationError({"status": "A resolved alert cannot be assigned."})
    if not wards_visible_to(assignee, include_retired=True).filter(pk=alert.ward_id).exists():
        raise ValidationError({"assignee": "That person cannot see this ward."})
    before = {"assignee": alert.assignee.get_username() if alert.assignee else None}
    alert.assignee = assignee
    alert.save(update_fields=["assignee"])
    audit_record(
        actor=actor,
        action="alert.assigned",
        obj=alert,
        before=before,
        after={"assignee": assignee.get_username()},
        ward_code=alert.ward.code,
    )
    _publish(alert)
    return alert


@transaction.atomic
def alert_resolve(*, actor: User, alert: Alert, note: str) -> Alert:
    """Close the alert by hand; a note says what was done."""
    alert = _locked(alert)
    if alert.status == AlertStatus.RESOLVED:
        raise ValidationError({"status": "The alert is already resolved."})
    if not note.strip():
        raise ValidationError({"note": "Say what was done about the alert."})
    before = {"status": alert.status}
    alert.status = AlertStatus.RESOLVED
    alert.resolved_at = timezone.now()
    alert.resolved_by = actor
    alert.note = note.strip()
    alert.save(update_fields=["status", "resolved_at", "resolved_by", "note"])
    audit_record(
        actor=actor,
        action="alert.resolved",
        obj=alert,
        before=before,
        after={"status": alert.status},
        ward_code=alert.ward.code,
        reason=note.strip(),
    )
    _publish(alert)
    return alert
